/**
 * Known answer for JEPA pretraining on volumes: pretrained on unlabeled
 * nodule volumes whose ten properties are drawn independently
 * (sim/known_answer.ts), the frozen encoder must read a noise-free size
 * label (diameter > 7 mm) better than the random-init encoder it started
 * from, through the same converged logistic probe on 200 labels.
 *
 * Settings: instance-normalized targets (`targetNorm: layer+instance`)
 * and centre-weighted pooling (`poolCentre: 0.75`). With the defaults
 * (`layer` targets, mean pooling) JEPA pretraining does not read size
 * here (probe 0.528 against 0.571 for random init at 200 labels,
 * benches/jepa_volume_probe.ts, seed 1), which is the finding of issue 20;
 * with these settings it measured 0.729 against 0.633 (600 unlabeled
 * volumes, 200 steps, batch 128). The margin asked for, 0.05, is about
 * half the gain measured; the AUC of one probe on 300 test patients has a
 * standard error of about 0.03, and the two probes share their patients.
 *
 * What it does not catch (measured by mutation, issue 20): dropping the
 * instance norm (0.702: the centre pooling carries most of the gain) and
 * a frozen EMA target (0.768: predicting random-init targets also teaches
 * size). It catches target tokens leaking into the context (0.651).
 */
import assert from "node:assert/strict";
import { initBackend } from "../../kernels/backend.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { pretrain, randomInitEncoder } from "../../models/experiment.ts";
import { propertyCohorts } from "../../sim/known_answer.ts";
import { sizeProbe } from "./size_probe.ts";

await initBackend("wasm");

Deno.test("jepa volume known answer: pretrained frozen features read nodule size better than random init", async () => {
  const set = propertyCohorts({
    seed: 1,
    sizes: { pretrain: 600, train: 200, test: 300 },
    label: () => 0,
  });
  const cfg = resolveExperimentConfig({
    model: { poolCentre: 0.75 },
    pretrain: { steps: 200, targetNorm: "layer+instance" },
  });
  const train = set.internal.patients.filter((p) => p.split === "train");
  const test = set.internal.patients.filter((p) => p.split === "test");
  const pre = await pretrain(set, "jepa-image", cfg, 1);
  const random = await randomInitEncoder(set, "jepa-image", cfg, 1);
  try {
    const a = await sizeProbe(random, train, test);
    const b = await sizeProbe(pre!, train, test);
    console.log(
      `size probe: pretrained ${b.toFixed(3)}, random ${a.toFixed(3)}`,
    );
    assert.ok(
      b >= a + 0.05,
      `size probe: pretrained ${b.toFixed(3)}, random init ${a.toFixed(3)}`,
    );
  } finally {
    pre?.dispose();
    random.dispose();
  }
});
