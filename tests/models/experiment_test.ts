import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import {
  finetune,
  isBaseline,
  pretrain,
  runExperiment,
} from "../../models/experiment.ts";
import { METHODS } from "../../models/methods.ts";
import { auc, easySet } from "./fixtures.ts";

// wasm: the end-to-end runs take about a sixth of the cpu backend's time.
await initBackend("wasm");

const set = easySet({ seed: 2, missingEhr: 0.1 });
const cfg = resolveExperimentConfig({
  model: { width: 16, depth: 1, heads: 2, predictorWidth: 16 },
  pretrain: { steps: 60, batchSize: 64, readEvery: 10 },
  finetune: { steps: 60, batchSize: 64, readEvery: 10 },
});

// logreg-volume and radiomics-image measure voxels: they run on volumes
// (tests/sim/radiomics_test.ts, tests/models/radiomics_pretext_test.ts).
for (
  const method of METHODS.filter((m) =>
    m !== "logreg-volume" && m !== "radiomics-image"
  )
) {
  Deno.test(`easy scenario: ${method} reaches test AUC >= 0.85`, async () => {
    const before = tf.memory().numTensors;
    const r = await runExperiment(set, method, cfg, 1);
    const test = r.predictions.internal;
    assert.equal(test.scores.length, 200);
    assert.equal(r.predictions["external-A"].scores.length, 100);
    assert.ok(test.scores.every((s) => s > 0 && s < 1));
    const a = auc(test.labels, test.scores);
    assert.ok(a >= 0.85, `${method}: AUC ${a.toFixed(3)}`);
    if (!isBaseline(method)) {
      assert.ok(r.embeddingStd > 0.05, `embedding std ${r.embeddingStd}`);
      assert.ok(
        r.latentR2 && r.latentR2.shared > 0.3,
        `R2 ${JSON.stringify(r.latentR2)}`,
      );
    }
    if (method === "jepa" || method === "jepa+contrastive") {
      const c = r.curves.pretrain;
      assert.ok(c[c.length - 1] < c[0], `pretraining loss ${c}`);
    }
    assert.equal(tf.memory().numTensors, before);
  });
}

Deno.test("a pretrained encoder is reusable: linear probe, label fraction, full finetune", async () => {
  const pre = (await pretrain(set, "jepa", cfg, 1))!;
  const w0 = (await pre.encoder.values()).flatMap((v) => Array.from(v));
  const probeCfg = resolveExperimentConfig({
    model: cfg.model,
    pretrain: cfg.pretrain,
    finetune: {
      ...cfg.finetune,
      protocol: "linear",
      labelFraction: 0.5,
      lr: 3e-2,
      steps: 300,
      patience: 10,
    },
  });
  const probe = await finetune(set, "jepa", pre, probeCfg, 1);
  const full = await finetune(set, "jepa", pre, cfg, 1);
  const w1 = (await pre.encoder.values()).flatMap((v) => Array.from(v));
  assert.deepEqual(w1, w0);
  // A 60-step JEPA on a 16-wide encoder gives a usable but weaker frozen
  // embedding than full finetuning (measured: about 0.78 against 0.9+).
  const pa = auc(
    probe.predictions.internal.labels,
    probe.predictions.internal.scores,
  );
  const fa = auc(
    full.predictions.internal.labels,
    full.predictions.internal.scores,
  );
  assert.ok(pa >= 0.7, `linear probe AUC ${pa.toFixed(3)}`);
  assert.ok(fa >= 0.85, `full finetune AUC ${fa.toFixed(3)}`);
  pre.dispose();
});
