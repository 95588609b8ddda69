import assert from "node:assert/strict";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";

Deno.test("ceilings follow what each modality can see", () => {
  const base = {
    "internal.pretrain": 0,
    "internal.train": 0,
    "internal.val": 0,
    "internal.test": 3000,
    "label.strength": 4,
    externals: [],
  };
  // Shared cause, but no modality shows z_s: the image sees nothing of the
  // risk, the EHR only the demographics.
  const blind = generateCohorts(
    withOverrides(preset("shared-cause"), {
      ...base,
      crossModalCorrelation: 0,
    }),
    1,
  ).internal.truth!.bayesAuc;
  assert.ok(Math.abs(blind.image - 0.5) < 0.04, JSON.stringify(blind));
  assert.ok(
    blind.ehr > 0.51 && blind.ehr < blind.full - 0.3,
    JSON.stringify(blind),
  );
  // A coding habit lets the EHR see the image-only part of the risk.
  const ind = withOverrides(preset("independent-causes"), base);
  const plain = generateCohorts(ind, 2).internal.truth!.bayesAuc;
  const habit = generateCohorts(
    withOverrides(ind, { "ehr.codingHabit": 0.9 }),
    2,
  ).internal.truth!.bayesAuc;
  assert.ok(habit.ehr > plain.ehr + 0.05, `${habit.ehr} vs ${plain.ehr}`);
  assert.ok(Math.abs(habit.image - plain.image) < 0.005);
});
