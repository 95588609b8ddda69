// The stratified bootstrap resamples both classes, each at its own size.
import assert from "node:assert/strict";
import { bootstrapAucCi } from "../../reports/bootstrap.ts";

Deno.test("bootstrap resamples the negatives: constant positives still get an interval", () => {
  // All positives score 0.5; negatives straddle it, so all the sampling
  // variability of the AUC comes from the negatives.
  const neg = Array.from({ length: 40 }, (_, i) => (i + 0.5) / 40);
  const labels = [...Array(20).fill(1), ...Array(40).fill(0)];
  const scores = [...Array(20).fill(0.5), ...neg];
  const r = bootstrapAucCi(labels, scores, { resamples: 400, seed: 2 });
  assert.ok(Math.abs(r.auc - 0.5) < 1e-12, `${r.auc}`);
  assert.ok(r.ci[1] - r.ci[0] > 0.1, `interval ${r.ci}`);
});

Deno.test("bootstrap resamples the positives: constant negatives still get an interval", () => {
  const pos = Array.from({ length: 40 }, (_, i) => (i + 0.5) / 40);
  const labels = [...Array(40).fill(1), ...Array(20).fill(0)];
  const scores = [...pos, ...Array(20).fill(0.5)];
  const r = bootstrapAucCi(labels, scores, { resamples: 400, seed: 2 });
  assert.ok(r.ci[1] - r.ci[0] > 0.1, `interval ${r.ci}`);
});

Deno.test("bootstrap keeps class counts: one positive never vanishes from a resample", () => {
  // With one positive among 30, an unstratified resample lacks it about a
  // third of the time and its AUC is undefined.
  const labels = [1, ...Array(30).fill(0)];
  const scores = [0.605, ...Array.from({ length: 30 }, (_, i) => i / 30)];
  const r = bootstrapAucCi(labels, scores, { resamples: 300, seed: 5 });
  assert.ok(Number.isFinite(r.ci[0]) && Number.isFinite(r.ci[1]), `${r.ci}`);
  // The AUC here is the share of negatives below 0.605: 19/30.
  assert.ok(Math.abs(r.auc - 19 / 30) < 1e-12, `${r.auc}`);
  assert.ok(r.ci[0] < r.auc && r.ci[1] > r.auc, `${r.ci}`);
});
