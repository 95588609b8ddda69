// Leakage: the internal test split must not shape the model. Rewriting
// every internal test patient (images, EHR, demographics, labels) must
// leave the normaliser, the pretrained weights and the validation scores
// bit-identical.
import assert from "node:assert/strict";
import type { CohortSet } from "../../cohort/types.ts";
import { initBackend } from "../../kernels/backend.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { finetune, pretrain } from "../../models/experiment.ts";
import { easySet } from "./fixtures.ts";

await initBackend("cpu");

const set = easySet({
  seed: 7,
  sizes: { pretrain: 40, train: 30, val: 16, test: 30 },
  external: 10,
});

function perturbedTest(s: CohortSet): CohortSet {
  const c = structuredClone(s);
  for (const p of c.internal.patients) {
    if (p.split !== "test") continue;
    for (const scan of p.scans) scan.data = scan.data.map((v) => 5 * v + 3);
    for (const r of p.ehr) r.values = r.values.map((v) => -4 * v + 7);
    p.demographics = { age: 99, sex: 1, packYears: 200 };
    p.label = p.label === 1 ? 0 : 1;
  }
  return c;
}

const cfg = resolveExperimentConfig({
  model: { width: 8, depth: 1, heads: 2, predictorWidth: 8, maxEhr: 1 },
  pretrain: { steps: 4, batchSize: 32, readEvery: 4, lr: 1e-2 },
  finetune: { steps: 6, batchSize: 32, readEvery: 3 },
});

Deno.test("internal test patients shape neither normaliser, pretraining nor validation", async () => {
  const other = perturbedTest(set);
  // Sanity: the perturbation is real.
  const t0 = set.internal.patients.find((p) => p.split === "test")!;
  const t1 = other.internal.patients.find((p) => p.split === "test")!;
  assert.notEqual(t0.scans[0].data[0], t1.scans[0].data[0]);

  for (const method of ["jepa+contrastive", "multimodal"] as const) {
    const a = await pretrain(set, method, cfg, 1);
    const b = await pretrain(other, method, cfg, 1);
    if (a && b) {
      assert.deepEqual(b.norm, a.norm, `${method}: normaliser`);
      assert.deepEqual(
        await b.encoder.values(),
        await a.encoder.values(),
        `${method}: pretrained weights`,
      );
    }
    const ra = await finetune(set, method, a, cfg, 1);
    const rb = await finetune(other, method, b, cfg, 1);
    assert.deepEqual(rb.validation, ra.validation, `${method}: validation`);
    assert.deepEqual(
      rb.predictions["external-A"],
      ra.predictions["external-A"],
      `${method}: external predictions`,
    );
    assert.deepEqual(rb.curves, ra.curves, `${method}: loss curves`);
    a?.dispose();
    b?.dispose();
  }
});
