import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import { fitNormalizer, hostBatch, makeLayout } from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { contrastiveLoss, contrastiveSpecs } from "../../models/contrastive.ts";
import { Encoder } from "../../models/encoder.ts";
import { ParamSet } from "../../models/params.ts";
import {
  bceWithLogits,
  fusedEmbedding,
  headLogits,
  headSpecs,
} from "../../models/supervised.ts";
import { toInputs } from "../../models/tokenizers.ts";
import { easySet } from "./fixtures.ts";
import { centralDifference, lossReader } from "./central_difference.ts";

await initBackend("cpu");

Deno.test("finite differences match gradients of a tiny encoder", async () => {
  const set = easySet({
    sizes: { pretrain: 0, train: 6, val: 0, test: 0 },
    external: 0,
  });
  const cfg = resolveExperimentConfig({
    model: {
      width: 8,
      heads: 2,
      depth: 1,
      maxEhr: 1,
      ehrGroups: 4,
      timeEncoding: "both",
    },
  });
  const L = makeLayout(set.internal, cfg.model);
  const ps = set.internal.patients;
  const h = hostBatch(ps, ps.map((_, i) => i), L, fitNormalizer(ps, L), {
    image: true,
    ehr: true,
  });
  const enc = new Encoder(L, cfg.model);
  const rng = new Rng("gradcheck");
  const params = ParamSet.create(
    [...enc.specs(), ...headSpecs(8), ...contrastiveSpecs(8)],
    rng,
  );
  const lossFn = () => {
    const x = toInputs(h, L, cfg.model);
    const sup = bceWithLogits(
      headLogits(params.dict, fusedEmbedding(enc, params.dict, x)),
      x.labels,
    );
    return sup.add(contrastiveLoss(enc, params.dict, x).mul(0.5)) as tf.Scalar;
  };
  const lossValue = lossReader(lossFn);
  const { grads, value } = tf.variableGrads(lossFn, params.vars);
  value.dispose();
  // 1e-3: small enough that curvature is negligible, large enough for float32.
  const eps = 1e-3;
  let checked = 0, worst = 0;
  for (let i = 0; i < params.vars.length; i++) {
    const v = params.vars[i];
    const g = await grads[v.name].data();
    const base = new Float32Array(await v.data());
    for (let rep = 0; rep < 2; rep++) {
      const k = rng.int(base.length);
      const numeric = await centralDifference(v, base, k, eps, lossValue);
      const err = Math.abs(numeric - g[k]) /
        (Math.abs(numeric) + Math.abs(g[k]) + 1e-2);
      worst = Math.max(worst, err);
      assert.ok(
        err < 1e-2,
        `${params.names[i]}[${k}]: numeric ${numeric} vs analytic ${g[k]}`,
      );
      checked++;
    }
  }
  assert.ok(checked >= 40, `checked ${checked}`);
  tf.dispose(grads);
  params.dispose();
  enc.dispose();
});
