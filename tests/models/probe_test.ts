import assert from "node:assert/strict";
import { Rng } from "../../core/rng.ts";
import { initBackend } from "../../kernels/backend.ts";
import { fitNormalizer, makeLayout } from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import {
  finetune,
  labelBudget,
  methodUses,
  rawFeatures,
} from "../../models/experiment.ts";
import {
  embeddingStd,
  fitLogistic,
  predictLogistic,
  ridgeR2,
} from "../../models/probe.ts";
import { aucMannWhitney } from "../../reports/auc.ts";
import type { Method } from "../../models/methods.ts";
import { easySet } from "./fixtures.ts";

Deno.test("embedding std per dimension", () => {
  // Column 0: 0, 2 (std 1); column 1: constant (std 0).
  assert.equal(embeddingStd(new Float32Array([0, 5, 2, 5]), 2, 2), 0.5);
});

Deno.test("ridge R^2: near 1 for a linear map, near 0 for noise", () => {
  const rng = new Rng("probe");
  const dim = 6, k = 2;
  const make = (n: number) => {
    const x = rng.normals(n * dim);
    const y = new Float32Array(n * k), noise = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      y[i * k] = 2 * x[i * dim] - x[i * dim + 3] + 0.5;
      y[i * k + 1] = x[i * dim + 1] + 0.01 * rng.normal();
      noise[i * k] = rng.normal();
      noise[i * k + 1] = rng.normal();
    }
    return { x, y, noise };
  };
  const tr = make(300), te = make(200);
  const fit = ridgeR2(tr.x, tr.y, te.x, te.y, dim, k);
  assert.ok(fit > 0.99, `linear R2 ${fit}`);
  const none = ridgeR2(tr.x, tr.noise, te.x, te.noise, dim, k);
  assert.ok(none < 0.05 && none > -0.2, `noise R2 ${none}`);
});

Deno.test("logistic probe: converged to the ridge optimum (zero penalized gradient)", () => {
  const rng = new Rng("irls");
  const n = 400, dim = 5;
  const x = rng.normals(n * dim);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const eta = 1.5 * x[i * dim] - x[i * dim + 2] + 0.3;
    y.push(rng.bernoulli(1 / (1 + Math.exp(-eta))) ? 1 : 0);
  }
  const ridge = 2;
  const m = fitLogistic(x, y, dim, ridge);
  const p = predictLogistic(m, x, dim);
  // d/dw_j: sum z_ij (y_i - p_i) - ridge w_j = 0; d/db: sum (y_i - p_i) = 0.
  let gb = 0;
  const gw = new Array(dim).fill(0);
  for (let i = 0; i < n; i++) {
    gb += y[i] - p[i];
    for (let j = 0; j < dim; j++) {
      gw[j] += (x[i * dim + j] - m.mean[j]) / m.std[j] * (y[i] - p[i]);
    }
  }
  assert.ok(Math.abs(gb) < 1e-6, `intercept gradient ${gb}`);
  gw.forEach((g, j) =>
    assert.ok(
      Math.abs(g - ridge * m.w[j]) < 1e-6,
      `w${j}: ${g - ridge * m.w[j]}`,
    )
  );
  assert.ok(m.iterations < 20, `${m.iterations} Newton steps`);
  // The informative features carry the weight.
  assert.ok(m.w[0] > 0.5 && m.w[2] < -0.3 && Math.abs(m.w[4]) < 0.3);
});

const set = easySet({
  seed: 5,
  sizes: { pretrain: 100, train: 200, val: 100, test: 200 },
});

Deno.test("label budget: the fraction applies to validation labels too", () => {
  const b = labelBudget(set.internal, 0.2, new Rng("budget"));
  const count = (ps: { label: 0 | 1 | null }[], c: number) =>
    ps.filter((p) => p.label === c).length;
  for (const split of ["train", "val"] as const) {
    const all = set.internal.patients.filter((p) => p.split === split);
    const kept = split === "train" ? b.train : b.val;
    for (const c of [0, 1]) {
      assert.ok(
        Math.abs(count(kept, c) - 0.2 * count(all, c)) <= 1,
        `${split} class ${c}: ${count(kept, c)} of ${count(all, c)}`,
      );
    }
  }
});

Deno.test("baselines read the modalities their names say", () => {
  const cfg = resolveExperimentConfig();
  const L = makeLayout(set.internal, cfg.model);
  const norm = fitNormalizer(set.internal.patients, L);
  const ps = set.internal.patients.slice(0, 10);
  const dim = (m: Method) => rawFeatures(ps, L, norm, methodUses(m)).dim;
  assert.equal(dim("logreg-image"), L.imageDim + 1);
  assert.equal(dim("logreg-ehr"), L.ehrDim + 7);
  assert.equal(dim("logreg-both"), L.imageDim + L.ehrDim + 8);
});

Deno.test("the random-init row is the encoder a linear probe without pretraining reads", async () => {
  await initBackend("wasm");
  const cfg = resolveExperimentConfig({
    model: { width: 16, predictorWidth: 16 },
    finetune: { protocol: "linear" },
  });
  const r = await finetune(set, "multimodal", null, cfg, 3);
  const test = r.predictions.internal;
  const auc = aucMannWhitney(test.labels, test.scores);
  const rand = r.representation["random-init"]!.probeAuc!;
  assert.ok(Math.abs(auc - rand) < 1e-3, `probe ${auc} vs random-init ${rand}`);
  assert.deepEqual(r.labels, { train: 200, val: 100 });
});
