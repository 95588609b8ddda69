// The external site's shift belongs to the external site: the internal
// cohort is the same with or without it, and external patients are new
// draws, not copies of internal ones.
import assert from "node:assert/strict";
import type { Cohort } from "../../cohort/types.ts";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";
import type { Scenario } from "../../sim/mod.ts";
import { hashCohorts } from "./helpers.ts";

const small = (extra: Record<string, unknown> = {}): Scenario =>
  withOverrides(preset("paper"), {
    "internal.pretrain": 100,
    "internal.train": 100,
    "internal.val": 20,
    "internal.test": 80,
    "externals.0.size": 300,
    ...extra,
  });

// The paper preset's external site is shifted already; start from none.
const NEUTRAL = {
  "externals.0.shift.prevalence": null,
  "externals.0.shift.covariate": { mean: 0, scale: 1 },
  "externals.0.shift.acquisition": {
    noiseHu: null,
    blur: null,
    spacingMm: null,
    offsetHu: null,
  },
  "externals.0.shift.concept": 0,
  "externals.0.shift.crossModalCorrelation": null,
};

const SHIFTED = {
  "externals.0.shift.prevalence": 0.6,
  "externals.0.shift.covariate": { mean: 1.5, scale: 2 },
  "externals.0.shift.acquisition": {
    noiseHu: 80,
    blur: 2,
    spacingMm: null,
    offsetHu: 50,
  },
  "externals.0.shift.concept": 1,
  "externals.0.shift.crossModalCorrelation": 0,
};

function latentStats(c: Cohort): { mean: number; sd: number } {
  const xs = c.patients.flatMap((p) => Array.from(p.truth!.zShared));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(
    xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1),
  );
  return { mean, sd };
}

Deno.test("an external shift leaves the internal cohort bit-identical", () => {
  const plain = generateCohorts(small(NEUTRAL), 11);
  const shifted = generateCohorts(small(SHIFTED), 11);
  assert.equal(
    hashCohorts({ internal: shifted.internal, externals: [] }),
    hashCohorts({ internal: plain.internal, externals: [] }),
  );
  const inner = latentStats(shifted.internal);
  assert.ok(
    Math.abs(inner.mean) < 0.1 && Math.abs(inner.sd - 1) < 0.1,
    JSON.stringify(inner),
  );
  // And the shift does reach the external site.
  const outer = latentStats(shifted.externals[0]);
  assert.ok(
    Math.abs(outer.mean - 1.5) < 0.2 && Math.abs(outer.sd - 2) < 0.2,
    JSON.stringify(outer),
  );
  const ext = shifted.externals[0].patients;
  const prevalence = ext.filter((p) => p.label === 1).length / ext.length;
  assert.ok(
    Math.abs(prevalence - 0.6) < 0.1,
    `external prevalence ${prevalence}`,
  );
});

Deno.test("external patients are new draws, not copies of internal ones", () => {
  // Without a shift, a shared random stream would give identical latents.
  const set = generateCohorts(small(NEUTRAL), 12);
  const key = (z: Float32Array) => Array.from(z).join(",");
  const internal = new Set(
    set.internal.patients.map((p) => key(p.truth!.zShared)),
  );
  const copies = set.externals[0].patients.filter((p) =>
    internal.has(key(p.truth!.zShared))
  );
  assert.equal(
    copies.length,
    0,
    `${copies.length} external patients copy internal ones`,
  );
});
