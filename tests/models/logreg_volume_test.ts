/**
 * The `logreg-volume` baseline: logistic regression on nodule measurements
 * (core/radiomics.ts) of the latest volume, wired as a method.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../kernels/backend.ts";
import { UserError } from "../../core/errors.ts";
import { volumeFeatureMatrix } from "../../core/radiomics.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { finetune } from "../../models/experiment.ts";
import { fitLogistic, predictLogistic } from "../../models/probe.ts";
import { aucMannWhitney } from "../../reports/auc.ts";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";
import type { SyntheticScan } from "../../sim/mod.ts";
import type { CohortSet } from "../../cohort/types.ts";

await initBackend("cpu");

const s = withOverrides(preset("paper-volume"), {
  "internal.pretrain": 0,
  "internal.train": 150,
  "internal.val": 50,
  "internal.test": 150,
  "externals.0.size": 100,
});
const cfg = resolveExperimentConfig({});

Deno.test("logreg-volume fits on train + val measurements and scores every cohort", async () => {
  const set = generateCohorts(s, 3);
  const r = await finetune(set, "logreg-volume", null, cfg, 1);
  const fitOn = set.internal.patients.filter((p) =>
    p.split === "train" || p.split === "val"
  );
  const shape = set.internal.imaging.shape;
  const f = volumeFeatureMatrix(fitOn, shape);
  const model = fitLogistic(
    f.x,
    fitOn.map((p) => p.label ?? 0),
    f.dim,
  );
  const test = set.internal.patients.filter((p) => p.split === "test");
  const want = predictLogistic(
    model,
    volumeFeatureMatrix(test, shape).x,
    f.dim,
  );
  assert.deepEqual(r.predictions.internal.scores, Array.from(want));
  assert.equal(r.predictions.external.scores.length, 100);
  assert.equal(r.labels.train + r.labels.val, 200);
});

Deno.test("logreg-volume reads size: a noise-free size label gives AUC >= 0.95 at home, >= 0.90 abroad", async () => {
  const set: CohortSet = generateCohorts(s, 4);
  // Relabel: malignant when the drawn diameter exceeds 7 mm (the median).
  for (const c of [set.internal, ...set.externals]) {
    for (const p of c.patients) {
      if (p.label === null) continue;
      p.label = (p.scans[0] as SyntheticScan).properties.diameterMm > 7 ? 1 : 0;
    }
  }
  const r = await finetune(set, "logreg-volume", null, cfg, 1);
  // The home scanner reads size almost perfectly. The external scanner is
  // noisier and blurrier, and since spicules became strands up to 10 mm
  // long that a thresholded segmentation partly merges with the body, the
  // same fit transfers less well there (0.930 at commit c242f95, 0.95+
  // with the earlier sub-voxel spicules): 0.90 still separates a size
  // reading from patch means (the unwired mutation) by a wide margin.
  const floor: Record<string, number> = { internal: 0.95, external: 0.9 };
  for (const name of ["internal", "external"]) {
    const { labels, scores } = r.predictions[name];
    const a = aucMannWhitney(labels, scores);
    assert.ok(a >= floor[name], `${name}: AUC ${a}`);
  }
});

Deno.test("logreg-volume on feature vectors is a user error that says why", async () => {
  const set = generateCohorts(
    withOverrides(s, { "imaging.level": "features" }),
    3,
  );
  await assert.rejects(
    () => finetune(set, "logreg-volume", null, cfg, 1),
    (e: Error) =>
      e instanceof UserError && /logreg-volume/.test(e.message) &&
      /cube/.test(e.message),
  );
});
