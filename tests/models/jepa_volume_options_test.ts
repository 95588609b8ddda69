/**
 * The volume JEPA options of issue 20: target normalizations, centred
 * target blocks and centre-weighted pooling. Their defaults leave the
 * existing behaviour unchanged.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import {
  fitNormalizer,
  hostBatch,
  IMAGE,
  makeLayout,
} from "../../models/batch.ts";
import {
  DEFAULT_FINETUNE,
  DEFAULT_MODEL,
  DEFAULT_PRETRAIN,
  resolveExperimentConfig,
} from "../../models/config.ts";
import { finetune, pretrain } from "../../models/experiment.ts";
import { batchStandardize, instanceStandardize } from "../../models/jepa.ts";
import { drawMask } from "../../models/masks.ts";
import { centreWeights } from "../../models/supervised.ts";
import { easySet } from "./fixtures.ts";

await initBackend("cpu");

Deno.test("volume JEPA options default to the old behaviour", () => {
  assert.equal(DEFAULT_PRETRAIN.targetNorm, "layer");
  assert.equal(DEFAULT_PRETRAIN.centreTargets, 0);
  assert.equal(DEFAULT_PRETRAIN.augment, false);
  assert.equal(DEFAULT_MODEL.poolCentre, 0);
  assert.equal(DEFAULT_FINETUNE.probeFirst, false);
});

// [2 patients, 3 tokens, 2 channels]; patient 1 lacks token 2.
const t = tf.tensor3d([
  [[1, 5], [2, 7], [6, 0]],
  [[3, 1], [4, 2], [9, 9]],
]);
const present = tf.tensor2d([[1, 1, 1], [1, 1, 0]]);

Deno.test("instanceStandardize: each channel has mean 0 and variance 1 over a patient's present tokens", async () => {
  const out = await instanceStandardize(t, present).array() as number[][][];
  const pres = [[1, 1, 1], [1, 1, 0]];
  for (let b = 0; b < 2; b++) {
    for (let c = 0; c < 2; c++) {
      const v = out[b].filter((_, k) => pres[b][k]).map((r) => r[c]);
      const mean = v.reduce((a, x) => a + x, 0) / v.length;
      const variance = v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length;
      assert.ok(Math.abs(mean) < 1e-5, `mean ${mean}`);
      assert.ok(Math.abs(variance - 1) < 1e-3, `variance ${variance}`);
    }
  }
  assert.deepEqual(out[1][2], [0, 0]);
});

Deno.test("batchStandardize: each position and channel has mean 0 across the patients that have it", async () => {
  const out = await batchStandardize(t, present).array() as number[][][];
  for (let k = 0; k < 2; k++) {
    for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(out[0][k][c] + out[1][k][c]) < 1e-5);
      assert.ok(Math.abs(Math.abs(out[0][k][c]) - 1) < 1e-3);
    }
  }
  // One patient has token 2: nothing differs between patients there.
  assert.deepEqual(out[0][2], [0, 0]);
});

const volumeLayout = () => {
  const set = easySet({
    mode: "volume",
    volumeEdge: 32,
    sizes: { pretrain: 20, train: 0, val: 0, test: 0 },
    external: 0,
  });
  const cfg = resolveExperimentConfig({ model: { patchSize: 8 } });
  return { set, L: makeLayout(set.internal, cfg.model) };
};

Deno.test("centreWeights: a scan's patches average 1, the centre outweighs the corners, EHR tokens keep 1", () => {
  const { L } = volumeLayout();
  const w = centreWeights(L, 0.75);
  const g = Math.round(Math.cbrt(L.patchesPerScan));
  assert.equal(g, 4);
  let sum = 0;
  for (let q = 0; q < L.patchesPerScan; q++) sum += w[q];
  assert.ok(Math.abs(sum / L.patchesPerScan - 1) < 1e-5);
  const centre = (1 * g + 1) * g + 1, corner = 0;
  assert.ok(w[centre] > 5 * w[corner], `${w[centre]} vs ${w[corner]}`);
  for (let t = L.nImage; t < L.nTokens; t++) assert.equal(w[t], 1);
});

Deno.test("centreTargets 1: every one-patch image block is a central patch, none is in the context", () => {
  const { set, L } = volumeLayout();
  const norm = fitNormalizer(set.internal.patients, L);
  const ps = set.internal.patients;
  const h = hostBatch(ps, ps.map((_, i) => i), L, norm, {
    image: true,
    ehr: false,
  });
  const g = 4, central = (c: number) => c === 1 || c === 2;
  const rng = new Rng("centre-targets");
  let blocks = 0;
  for (let rep = 0; rep < 50; rep++) {
    for (let b = 0; b < h.n; b++) {
      const m = drawMask(
        L,
        h.present.subarray(b * L.nTokens, (b + 1) * L.nTokens),
        {
          crossModalShare: 0,
          masks: ["block"],
          // One-patch blocks (round(4 * cbrt(0.02)) = 1): each must be
          // one of the 8 central patches.
          blockFraction: 0.02,
          targetBlocks: 1,
          centreTargets: 1,
        },
        rng,
      );
      const ctx = new Set(m.context);
      for (const t of m.target) {
        assert.equal(L.modality[t], IMAGE);
        assert.ok(!ctx.has(t));
        const q = L.within[t];
        const [z, y, x] = [Math.floor(q / 16), Math.floor(q / 4) % 4, q % 4];
        assert.ok(
          central(z) && central(y) && central(x),
          `target patch ${q} of a ${g}^3 grid is not central`,
        );
        blocks++;
      }
    }
  }
  assert.ok(blocks > 100);
});

Deno.test("finetune.probeFirst (LP-FT) starts a pretrained encoder's finetuning from a fitted head: a lower first training loss", async () => {
  await initBackend("wasm");
  const set = easySet({
    sizes: { pretrain: 200, train: 120, val: 40, test: 40 },
    external: 0,
  });
  const cfg = (probeFirst: boolean) =>
    resolveExperimentConfig({
      pretrain: { steps: 20, readEvery: 10 },
      finetune: { steps: 1, readEvery: 1, patience: 1000, probeFirst },
    });
  const pre = await pretrain(set, "jepa", cfg(false), 1);
  try {
    const first = async (probeFirst: boolean) =>
      (await finetune(set, "jepa", pre, cfg(probeFirst), 1, {}, {
        diagnostics: false,
      })).curves.finetune[0];
    const lp = await first(true), plain = await first(false);
    assert.ok(lp < plain - 0.02, `LP-FT ${lp} vs random head ${plain}`);
  } finally {
    pre?.dispose();
  }
});
