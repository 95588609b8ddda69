/**
 * Known answers at the volume level: labels that are noise-free functions
 * of the rendered nodule (tests/models/volume_fixtures.ts), so the only
 * thing between the label and a perfect score is what the volume shows and
 * what the encoder reads from it.
 *
 * - Size: diameter > 7 mm on round nodules (spiculation held at 0.05).
 *   Spikes lengthen a nodule's apparent extent by up to 1.5 radii, so with
 *   spiculation free the image does not fully determine the diameter. The
 *   encoder must reach 0.95 (the target); it measured 0.954 (seed
 *   1, at 917c8c2; 0.961 before spicules became strands), where a
 *   logistic regression on 11 voxel counts reaches 0.89 (the fixture's
 *   attached vessel and nearby chest wall count as bright too).
 * - Solidity: solid fraction > 0.5 with size, spiculation, margin and lung
 *   density free, so size cannot carry it. Threshold 0.80: with 200 test
 *   patients (about 100 per class) the AUC of a score unrelated to the
 *   label has a standard deviation of about 0.04, so 0.80 is more than 7
 *   of them above chance; the encoder measured 0.868 here (seed 1,
 *   917c8c2; 0.89 before), 11 voxel counts 0.89.
 * - Size among everything else: diameter above its median on cohorts
 *   where all ten properties vary (sim/known_answer.ts, the paper-volume
 *   scanner), so lung density, pleura and vessels, which the encoder reads
 *   easily, vary too. Threshold 0.70: the default encoder measured 0.747,
 *   0.789 and 0.744 on seeds 11-13 (benches/encoder_visibility.ts), and
 *   0.633, 0.622 and 0.672 with the 2-voxel shift augmentation it had
 *   before; 0.70 is about 6 standard deviations of a chance AUC on 300
 *   test patients above 0.5.
 * - Spiculation: with spicules as tapered strands up to 10 mm long
 *   (sim/volume.ts) the 16 nodule measurements read a spiculation-only
 *   label at 0.90 (0.93 at a fixed 14 mm; tests/sim/rendering_test.ts
 *   holds them to 0.75 at 10 mm), but the default encoder (300 steps,
 *   seed 11, same cohort sizes as below; benches/encoder_visibility.ts)
 *   reads it at 0.51, and at 0.51 with the diameter held at 14 mm (with
 *   the 2-voxel shift it had until d1fb4d9: 0.54 and 0.51; README). The
 *   last test holds the opt-in mean-max encoder to it with size and the
 *   other structures fixed; with them free no encoder setting measured so
 *   far reads it (README, volume section).
 */
import assert from "node:assert/strict";
import { initBackend } from "../../kernels/backend.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { finetune } from "../../models/experiment.ts";
import { aucMannWhitney } from "../../reports/auc.ts";
import { noduleSet } from "./volume_fixtures.ts";
import { propertyCohorts } from "../../sim/known_answer.ts";
import { noduleFromSource } from "../../sim/features.ts";

await initBackend("wasm");

// Full budget, best validation check: the test judges what the encoder
// can read, not the stopping rule.
const cfg = (steps: number) =>
  resolveExperimentConfig({ finetune: { steps, patience: 1000 } });

async function imagingAuc(
  set: ReturnType<typeof noduleSet>,
  steps: number,
): Promise<number> {
  const r = await finetune(set, "imaging-only", null, cfg(steps), 1, {}, {
    diagnostics: false,
  });
  const p = r.predictions.internal;
  return aucMannWhitney(p.labels, p.scores);
}

Deno.test("volume known answer: a noise-free size label gives imaging-only AUC >= 0.95", async () => {
  const set = noduleSet({
    seed: 1,
    sizes: { train: 300, val: 100, test: 200 },
    fixed: { 1: -2 },
    label: (n) => n.diameterMm > 7 ? 1 : 0,
  });
  const auc = await imagingAuc(set, 400);
  assert.ok(auc >= 0.95, `size label: imaging-only AUC ${auc.toFixed(3)}`);
});

Deno.test("volume known answer: a solidity-only label gives imaging-only AUC >= 0.80", async () => {
  const set = noduleSet({
    seed: 1,
    sizes: { train: 300, val: 100, test: 200 },
    label: (n) => n.solidFraction > 0.5 ? 1 : 0,
  });
  const auc = await imagingAuc(set, 300);
  assert.ok(auc >= 0.8, `solidity label: imaging-only AUC ${auc.toFixed(3)}`);
});

Deno.test("volume known answer: with every property free, a size label gives imaging-only AUC >= 0.70", async () => {
  const median = noduleFromSource(new Float64Array(10), 1).diameterMm;
  const set = propertyCohorts({
    seed: 11,
    sizes: { train: 300, val: 100, test: 300 },
    label: (n) => n.diameterMm > median ? 1 : 0,
  });
  const r = await finetune(set, "imaging-only", null, cfg(300), 1, {}, {
    diagnostics: false,
  });
  const p = r.predictions.internal;
  const auc = aucMannWhitney(p.labels, p.scores);
  assert.ok(auc >= 0.7, `size among free properties: AUC ${auc.toFixed(3)}`);
});

// Spiculation is read only by the opt-in encoder settings below and only
// with size and the other structures held fixed (sim/known_answer.ts,
// paper-volume scanner, 1.75 mm): mean-max pooling and augmentation by
// flips without shifts measured 0.774 here (benches/encoder_visibility.ts,
// seed 11); the default encoder reads the same cohort at 0.586 (0.471
// with the 2-voxel shift it had until d1fb4d9), and with every property
// free both read it near chance (0.53; the default 0.51). Threshold
// 0.65: about 4.5 standard deviations of a chance AUC on 300 test
// patients above 0.5, and 0.12 below the measured value.
Deno.test("volume known answer: with size and structures fixed, a spiculation-only label gives the mean-max encoder AUC >= 0.65", async () => {
  const set = propertyCohorts({
    seed: 11,
    sizes: { train: 300, val: 100, test: 300 },
    fixed: {
      diameterMm: 14,
      vesselMm: 0.5,
      pleuraGapMm: 28,
      elongation: 1,
      calcification: 0,
    },
    label: (n) => n.spiculation > 0.5 ? 1 : 0,
  });
  const r = await finetune(
    set,
    "imaging-only",
    null,
    resolveExperimentConfig({
      model: { pooling: "meanmax" },
      finetune: {
        steps: 300,
        patience: 1000,
        augment: "flips",
        augmentShift: 0,
      },
    }),
    1,
    {},
    { diagnostics: false },
  );
  const p = r.predictions.internal;
  const auc = aucMannWhitney(p.labels, p.scores);
  assert.ok(
    auc >= 0.65,
    `spiculation label: imaging-only AUC ${auc.toFixed(3)}`,
  );
});
