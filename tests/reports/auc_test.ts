import assert from "node:assert/strict";
import {
  aucMannWhitney,
  delong,
  delongPaired,
  midranks,
  normalQuantile,
  StatsError,
  twoSidedP,
} from "../../reports/auc.ts";
import { Rng } from "../../core/rng.ts";

const close = (a: number, b: number, tol = 1e-12, msg = "") =>
  assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b} (tol ${tol})`);

/**
 * The original DeLong et al. (1988) formulas, O(m n): the kernel psi over
 * all positive-negative pairs, structural components as row and column
 * means, covariance matrices S10 and S01. Independent of the midrank code.
 */
function delongBrute(labels: number[], scoresList: number[][]) {
  const k = scoresList.length;
  const pi = labels.flatMap((y, i) => (y === 1 ? [i] : []));
  const ni = labels.flatMap((y, i) => (y === 0 ? [i] : []));
  const m = pi.length, n = ni.length;
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = scoresList.map((s) =>
    pi.map((i) => ni.reduce((a, j) => a + psi(s[i], s[j]), 0) / n)
  );
  const v01 = scoresList.map((s) =>
    ni.map((j) => pi.reduce((a, i) => a + psi(s[i], s[j]), 0) / m)
  );
  const auc = v10.map((v) => v.reduce((a, b) => a + b, 0) / m);
  const cov = (a: number[], b: number[], ma: number, mb: number) =>
    a.reduce((s, _, i) => s + (a[i] - ma) * (b[i] - mb), 0) / (a.length - 1);
  const S: number[][] = [];
  for (let r = 0; r < k; r++) {
    S.push([]);
    for (let c = 0; c < k; c++) {
      S[r].push(
        cov(v10[r], v10[c], auc[r], auc[c]) / m +
          cov(v01[r], v01[c], auc[r], auc[c]) / n,
      );
    }
  }
  return { auc, S };
}

Deno.test("midranks average tied positions", () => {
  assert.deepEqual(Array.from(midranks([0.3, 0.1, 0.3, 0.2, 0.3])), [
    4,
    1,
    4,
    2,
    4,
  ]);
});

Deno.test("AUC: sklearn documentation example", () => {
  // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
  // (the example in sklearn's roc_auc_score / roc_curve documentation).
  assert.equal(aucMannWhitney([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
});

Deno.test("AUC with ties, 3 vs 3 worked by hand", () => {
  // positives {0.5, 0.7, 0.9}, negatives {0.1, 0.5, 0.5}:
  // 0.5 wins 1 and ties 2 -> 2; 0.7 -> 3; 0.9 -> 3; AUC = 8 / 9.
  close(
    aucMannWhitney([0, 0, 0, 1, 1, 1], [0.1, 0.5, 0.5, 0.5, 0.7, 0.9]),
    8 / 9,
  );
});

Deno.test("AUC with imbalance (1 vs 5) and ties worked by hand", () => {
  // positive 0.5 beats 0.1, 0.2, ties 0.5 twice, loses to 0.6: 3 / 5.
  close(
    aucMannWhitney([0, 1, 0, 0, 0, 0], [0.1, 0.5, 0.5, 0.6, 0.2, 0.5]),
    0.6,
  );
});

Deno.test("AUC of all-tied scores is 0.5; worse than chance is not flipped", () => {
  assert.equal(aucMannWhitney([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]), 0.5);
  assert.equal(aucMannWhitney([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]), 0);
});

Deno.test("DeLong variance and CI, 3 vs 3 with ties, worked by hand", () => {
  // V10 = [2/3, 1, 1] -> var 1/27; V01 = [1, 5/6, 5/6] -> var 1/108;
  // var(AUC) = (1/27)/3 + (1/108)/3 = 5/324.
  const r = delong([0, 0, 0, 1, 1, 1], [0.1, 0.5, 0.5, 0.5, 0.7, 0.9]);
  close(r.auc, 8 / 9);
  close(r.variance, 5 / 324, 1e-15);
  const z = 1.959963984540054; // R: qnorm(0.975)
  close(r.ci[0], 8 / 9 - z * Math.sqrt(5 / 324), 1e-9);
  assert.equal(r.ci[1], 1, "upper bound clipped to 1 as pROC does");
  assert.equal(r.nPositive, 3);
});

Deno.test("DeLong equals the O(n^2) original formulas on random tied data", () => {
  const rng = new Rng("delong-brute");
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + rng.int(60);
    const labels = Array.from(
      { length: n },
      (_, i) =>
        i < 2
          ? 1
          : i < 4
          ? 0
          : rng.bernoulli(0.2 + 0.6 * rng.uniform())
          ? 1
          : 0,
    );
    // rounding creates many ties
    const s = labels.map((y) => Math.round((rng.normal() + y) * 3) / 3);
    const brute = delongBrute(labels, [s]);
    const r = delong(labels, s);
    close(r.auc, brute.auc[0], 1e-12, "auc");
    close(r.variance, brute.S[0][0], 1e-12, "variance");
  }
});

Deno.test("paired DeLong, worked by hand", () => {
  // A: V10 = [0.5, 1], V01 = [1, 0.5] -> var 0.125/2 + 0.125/2 = 0.125.
  // B separates perfectly: zero variance, zero covariance.
  // z = (0.75 - 1) / sqrt(0.125) = -1/sqrt(2); p = erfc(1/2).
  const t = delongPaired([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9], [
    0.2,
    0.1,
    0.7,
    0.8,
  ]);
  assert.equal(t.aucA, 0.75);
  assert.equal(t.aucB, 1);
  close(t.z, -1 / Math.SQRT2, 1e-12);
  close(t.p, 0.4795001221869535, 1e-9); // erfc(0.5), e.g. R: 2*pnorm(-1/sqrt(2))
});

Deno.test("paired DeLong equals brute force, is symmetric, p = 1 for identical", () => {
  const rng = new Rng("paired");
  for (let trial = 0; trial < 10; trial++) {
    const n = 20 + rng.int(80);
    const labels = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const latent = labels.map((y) => y + rng.normal());
    const a = latent.map((x) => Math.round((x + 0.5 * rng.normal()) * 4) / 4);
    const b = latent.map((x) => x + 1.5 * rng.normal());
    const brute = delongBrute(labels, [a, b]);
    const t = delongPaired(labels, a, b);
    const v = brute.S[0][0] + brute.S[1][1] - 2 * brute.S[0][1];
    close(t.z, (brute.auc[0] - brute.auc[1]) / Math.sqrt(v), 1e-9, "z");
    const u = delongPaired(labels, b, a);
    close(u.z, -t.z, 1e-12);
    close(u.p, t.p, 1e-12);
    assert.ok(t.p > 0 && t.p <= 1);
    const same = delongPaired(labels, a, a);
    assert.equal(same.p, 1);
    assert.match(same.note ?? "", /zero variance/);
    // a monotone transform ranks identically: same AUC, p = 1
    assert.equal(delongPaired(labels, a, a.map((x) => 3 * x + 1)).p, 1);
  }
});

Deno.test("normal quantile and p-value match R", () => {
  close(normalQuantile(0.975), 1.959963984540054, 1e-9); // R: qnorm(0.975)
  close(twoSidedP(1.96), 0.04999579029644087, 1e-9); // R: 2*pnorm(-1.96)
  // 2*pnorm(-5) = erfc(5/sqrt(2)) (python math.erfc); relative error < 1e-9
  close(twoSidedP(-5) / 5.733031437583892e-07, 1, 1e-9);
});

Deno.test("edge cases throw StatsError with a clear message", () => {
  assert.throws(
    () => aucMannWhitney(new Array(40).fill(0), new Array(40).fill(0.2)),
    (e: unknown) =>
      e instanceof StatsError &&
      e.message === "AUC undefined: all 40 labels are 0 (need both classes)",
  );
  assert.throws(
    () => aucMannWhitney([0, 1, 1], [0.1, NaN, 0.3]),
    (e: unknown) => e instanceof StatsError && /score 1 is NaN/.test(e.message),
  );
  assert.throws(
    () => delong([0, 1, 0, 0], [0.1, 0.9, 0.2, 0.3]),
    (e: unknown) =>
      e instanceof StatsError && /1 positives and 3 negatives/.test(e.message),
  );
  assert.throws(
    () => delong([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]),
    (e: unknown) =>
      e instanceof StatsError && /all 4 scores are tied/.test(e.message),
  );
  assert.throws(
    () => aucMannWhitney([0, 2], [0.1, 0.2]),
    (e: unknown) =>
      e instanceof StatsError && /labels must be 0 or 1/.test(e.message),
  );
  assert.throws(
    () => delongPaired([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3]),
    (e: unknown) => e instanceof StatsError && /same patients/.test(e.message),
  );
});

Deno.test("perfect separation: DeLong variance 0 and CI [1, 1] as in pROC", () => {
  const r = delong([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]);
  assert.equal(r.auc, 1);
  assert.equal(r.variance, 0);
  assert.deepEqual(r.ci, [1, 1]);
});
