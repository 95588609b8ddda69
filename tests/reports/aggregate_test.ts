import assert from "node:assert/strict";
import { aggregateOverSeeds, meanSd } from "../../reports/aggregate.ts";
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
