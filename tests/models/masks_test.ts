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
import { resolveExperimentConfig } from "../../models/config.ts";
import { Encoder } from "../../models/encoder.ts";
import { drawMask, only } from "../../models/masks.ts";
import { ParamSet } from "../../models/params.ts";
import { toInputs } from "../../models/tokenizers.ts";
import { easySet } from "./fixtures.ts";

for (const mode of ["features", "volume"] as const) {
  Deno.test(`${mode}: no target token is ever in the context`, () => {
    const set = easySet({
      mode,
      sizes: { pretrain: 60, train: 0, val: 0, test: 0 },
      external: 0,
      missingEhr: 0.3,
    });
    const cfg = resolveExperimentConfig({ model: { patchSize: 8 } });
    const L = makeLayout(set.internal, cfg.model);
    const norm = fitNormalizer(set.internal.patients, L);
    const ps = set.internal.patients;
    const h = hostBatch(ps, ps.map((_, i) => i), L, norm, {
      image: true,
      ehr: true,
    });
    const rng = new Rng("mask-test");
    const seen = new Map<string, number>();
    for (const strategy of ["block", "modality", "time"] as const) {
      for (let rep = 0; rep < 30; rep++) {
        for (let b = 0; b < h.n; b++) {
          const present = h.present.subarray(
            b * L.nTokens,
            (b + 1) * L.nTokens,
          );
          const m = drawMask(L, present, only([strategy]), rng);
          seen.set(m.strategy, (seen.get(m.strategy) ?? 0) + 1);
          const ctx = new Set(m.context);
          for (const t of m.target) {
            assert.ok(!ctx.has(t), `${strategy}: token ${t} in both`);
          }
          for (const t of [...m.context, ...m.target]) {
            assert.equal(present[t], 1);
          }
          if (m.strategy === "none") continue;
          assert.ok(m.context.length > 0 && m.target.length > 0);
          if (m.strategy === "modality") {
            const mods = new Set(m.target.map((t) => L.modality[t] === IMAGE));
            assert.equal(mods.size, 1);
            assert.ok(
              m.context.every((t) =>
                (L.modality[t] === IMAGE) !== [...mods][0]
              ),
            );
          }
          if (m.strategy === "time") {
            const slot = L.slot[m.target[0]];
            assert.ok(
              m.target.every((t) =>
                L.modality[t] === IMAGE && L.slot[t] === slot
              ),
            );
            assert.ok(
              m.context.every((t) =>
                L.modality[t] !== IMAGE || L.slot[t] < slot
              ),
            );
          }
        }
      }
    }
    for (const s of ["block", "modality", "time"]) {
      assert.ok((seen.get(s) ?? 0) > 100, `${s} drawn`);
    }
  });
}

Deno.test("context outputs do not depend on hidden tokens", async () => {
  await initBackend("cpu");
  const set = easySet({
    sizes: { pretrain: 8, train: 0, val: 0, test: 0 },
    external: 0,
  });
  const cfg = resolveExperimentConfig({
    model: { width: 16, heads: 2, timeEncoding: "both" },
  });
  const L = makeLayout(set.internal, cfg.model);
  const norm = fitNormalizer(set.internal.patients, L);
  const ps = set.internal.patients;
  const idx = ps.map((_, i) => i);
  const h = hostBatch(ps, idx, L, norm, { image: true, ehr: true });
  const enc = new Encoder(L, cfg.model);
  const params = ParamSet.create(enc.specs(), new Rng("init"));
  // Hide the EHR side; change the EHR values wildly; image outputs must not move.
  const ctx = new Float32Array(h.present.length);
  for (let i = 0; i < ctx.length; i++) {
    ctx[i] = L.modality[i % L.nTokens] === IMAGE ? h.present[i] : 0;
  }
  const run = async (ehrScale: number) => {
    const h2 = {
      ...h,
      ehr: h.ehr.map((v) => v * ehrScale + ehrScale),
      demo: h.demo.map((v) => v + ehrScale),
    };
    const out = tf.tidy(() =>
      enc.forward(
        params.dict,
        toInputs(h2, L, cfg.model),
        tf.tensor2d(ctx, [h.n, L.nTokens]),
      )
    );
    const v = await out.data();
    out.dispose();
    return v;
  };
  const a = await run(1), b = await run(50);
  let changedHidden = 0;
  for (let i = 0; i < h.n * L.nTokens; i++) {
    for (let j = 0; j < cfg.model.width; j++) {
      const k = i * cfg.model.width + j;
      if (ctx[i] === 1) {
        assert.ok(Math.abs(a[k] - b[k]) < 1e-5, `visible token ${i} moved`);
      } else if (Math.abs(a[k] - b[k]) > 1e-3) changedHidden++;
    }
  }
  // The perturbation is real: hidden tokens' own outputs do change.
  assert.ok(changedHidden > 100);
  params.dispose();
  enc.dispose();
});

Deno.test("features mode: crossModalShare sets how often one modality is predicted from the other", () => {
  const set = easySet({
    sizes: { pretrain: 80, train: 0, val: 0, test: 0 },
    external: 0,
  });
  const cfg = resolveExperimentConfig();
  const L = makeLayout(set.internal, cfg.model);
  const norm = fitNormalizer(set.internal.patients, L);
  const ps = set.internal.patients;
  const h = hostBatch(ps, ps.map((_, i) => i), L, norm, {
    image: true,
    ehr: true,
  });
  const share = (crossModalShare: number) => {
    const rng = new Rng(`share-${crossModalShare}`);
    let cross = 0, imageTarget = 0, total = 0;
    for (let rep = 0; rep < 20; rep++) {
      for (let b = 0; b < h.n; b++) {
        const m = drawMask(
          L,
          h.present.subarray(b * L.nTokens, (b + 1) * L.nTokens),
          {
            crossModalShare,
            masks: ["block"],
            blockFraction: 0.4,
            targetBlocks: 2,
          },
          rng,
        );
        total++;
        if (m.strategy === "modality" || m.strategy === "time") cross++;
        if (m.target.some((t) => L.modality[t] === IMAGE)) imageTarget++;
      }
    }
    return { cross: cross / total, image: imageTarget / total };
  };
  // Every easy patient has a scan and EHR, so the share is exact in expectation.
  const none = share(0), half = share(0.5), all = share(1);
  assert.equal(none.cross, 0);
  assert.ok(Math.abs(half.cross - 0.5) < 0.05, `half: ${half.cross}`);
  assert.equal(all.cross, 1);
  // Image from EHR is a third of the cross-modal draws (image, EHR, time).
  assert.ok(all.image > 0.25, `image targets ${all.image}`);
});
