import assert from "node:assert/strict";
import { bootstrapAucCi, quantile7 } from "../../reports/bootstrap.ts";
import { delong, StatsError } from "../../reports/auc.ts";
import { Rng } from "../../core/rng.ts";

function sample(n: number, seed: string) {
  const rng = new Rng(seed);
  const labels = Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0));
  const scores = labels.map((y) =>
    1 / (1 + Math.exp(-(y * 1.2 + rng.normal())))
  );
  return { labels, scores };
}

Deno.test("quantile7 matches R quantile(type = 7) by hand", () => {
  // R: quantile(c(1, 2, 3, 4), c(0.025, 0.5, 0.975)) -> 1.075, 2.5, 3.925
  assert.equal(quantile7([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantile7([1, 2, 3, 4], 0.025) - 1.075) < 1e-12);
  assert.ok(Math.abs(quantile7([1, 2, 3, 4], 0.975) - 3.925) < 1e-12);
});

Deno.test("bootstrap CI is seeded, reproducible and contains the AUC", () => {
  const { labels, scores } = sample(200, "boot");
  const a = bootstrapAucCi(labels, scores, { resamples: 500, seed: 3 });
  const b = bootstrapAucCi(labels, scores, { resamples: 500, seed: 3 });
  const c = bootstrapAucCi(labels, scores, { resamples: 500, seed: 4 });
  assert.deepEqual(a.ci, b.ci);
  assert.notDeepEqual(a.ci, c.ci);
  assert.ok(a.ci[0] < a.auc && a.auc < a.ci[1], `${a.ci} around ${a.auc}`);
  assert.equal(a.resamples, 500);
  // For n = 200 the percentile interval and DeLong's agree to ~0.02.
  const d = delong(labels, scores);
  assert.ok(Math.abs(a.ci[0] - d.ci[0]) < 0.025, `${a.ci[0]} vs ${d.ci[0]}`);
  assert.ok(Math.abs(a.ci[1] - d.ci[1]) < 0.025, `${a.ci[1]} vs ${d.ci[1]}`);
});

Deno.test("stratified bootstrap keeps class sizes: perfect separation gives [1, 1]", () => {
  const r = bootstrapAucCi([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9], {
    resamples: 200,
    seed: 1,
  });
  assert.deepEqual(r.ci, [1, 1]);
});

Deno.test("bootstrap rejects one class and bad resample counts", () => {
  assert.throws(
    () => bootstrapAucCi([1, 1, 1], [0.2, 0.3, 0.4]),
    (e: unknown) =>
      e instanceof StatsError && /all 3 labels are 1/.test(e.message),
  );
  assert.throws(
    () => bootstrapAucCi([0, 1], [0.2, 0.3], { resamples: 1 }),
    (e: unknown) => e instanceof StatsError && /resamples/.test(e.message),
  );
});
