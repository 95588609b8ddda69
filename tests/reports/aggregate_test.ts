import assert from "node:assert/strict";
import {
  aggregateOverSeeds,
  holm,
  meanSd,
  tHalfWidth,
  tTestP,
} from "../../reports/aggregate.ts";
import type { ResultRow } from "../../core/results.ts";

const row = (
  method: string,
  seed: number,
  auc: number,
  value?: number,
): ResultRow => ({
  schema: 1,
  runId: `${method}-${seed}-${value}`,
  study: value === undefined ? "paper" : "sweep/k",
  scenario: "s",
  sweep: value === undefined ? undefined : { knob: "k", value },
  method,
  seed,
  backend: { name: "cpu", detail: "" },
  versions: {},
  gitCommit: null,
  startedAt: "",
  wallSeconds: 1,
  config: {},
  metrics: { internal: { n: 10, nPositive: 5, auc, brier: 0.2 } },
  predictions: {},
});

Deno.test("meanSd by hand", () => {
  assert.deepEqual(meanSd([1, 2, 3]), { mean: 2, sd: 1 });
  assert.deepEqual(meanSd([0.7]), { mean: 0.7, sd: 0 });
});

Deno.test("aggregateOverSeeds groups per method and sweep value", () => {
  const g = aggregateOverSeeds([
    row("a", 1, 0.6),
    row("a", 2, 0.8),
    row("b", 1, 0.5),
    row("a", 1, 0.9, 0.5),
    row("a", 2, 0.7, 0.5),
    row("a", 1, 0.4, 1),
  ]);
  assert.equal(g.length, 4);
  const a = g.find((x) => x.method === "a" && x.value === null)!;
  assert.equal(a.n, 2);
  assert.ok(Math.abs(a.mean - 0.7) < 1e-12);
  assert.ok(Math.abs(a.sd - Math.sqrt(0.02)) < 1e-12);
  assert.deepEqual([a.min, a.max, a.seeds], [0.6, 0.8, [1, 2]]);
  const s = g.find((x) => x.value === 0.5)!;
  assert.equal(s.knob, "k");
  assert.ok(Math.abs(s.mean - 0.8) < 1e-12);
  const b = aggregateOverSeeds([row("a", 1, 0.6)], "brier")[0];
  assert.equal(b.mean, 0.2);
});

Deno.test("t interval over 3 seeds matches R's t.test", () => {
  // R: t.test(c(0.80, 0.85, 0.83))$conf.int = 0.7641506 0.8891828
  const x = [0.80, 0.85, 0.83];
  const { mean, sd } = meanSd(x);
  const h = tHalfWidth(sd, x.length);
  assert.ok(Math.abs(mean - h - 0.7641506) < 1e-6, `lo ${mean - h}`);
  assert.ok(Math.abs(mean + h - 0.8891828) < 1e-6, `hi ${mean + h}`);
  // By hand: t(0.975, 2) = 4.302653 is 2.2 times the normal 1.96.
  assert.ok(Math.abs(h - 4.302653 * sd / Math.sqrt(3)) < 1e-6);
  assert.equal(tHalfWidth(0.1, 1), 0);
});

Deno.test("one-sample t test p matches R's t.test", () => {
  // R: t.test(c(0.05, 0.07, 0.06))$p.value = 0.009133
  assert.ok(Math.abs(tTestP([0.05, 0.07, 0.06]) - 0.009133) < 1e-6);
  // R: t.test(c(0.1, -0.05, 0.02, 0.04))$p.value = 0.4394 (scipy: 0.439354)
  assert.ok(Math.abs(tTestP([0.1, -0.05, 0.02, 0.04]) - 0.439354) < 1e-5);
});

Deno.test("Holm adjustment matches R's p.adjust(method = 'holm')", () => {
  // R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm")
  assert.deepEqual(
    holm([0.01, 0.02, 0.03, 0.04, 0.05]).map((x) => +x.toFixed(10)),
    [0.05, 0.08, 0.09, 0.09, 0.09],
  );
  // R: p.adjust(c(0.04, 0.001, 0.5, 0.03), "holm") = 0.09 0.004 0.5 0.09
  assert.deepEqual(
    holm([0.04, 0.001, 0.5, 0.03]).map((x) => +x.toFixed(10)),
    [0.09, 0.004, 0.5, 0.09],
  );
});
