/**
 * Patient-level contrastive learning (CLIP-style): symmetric InfoNCE
 * between the pooled image embedding and the pooled EHR embedding of the
 * same encoder, with a learnable temperature starting at 1/0.07.
 *
 * The encoder runs with attention restricted to each modality's own
 * tokens; otherwise both pooled embeddings could copy each other through
 * attention and the task would be trivial.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Encoder } from "./encoder.ts";
import { denseSpecs, type Params, type ParamSpec } from "./params.ts";
import type { Inputs } from "./tokenizers.ts";
import { dense } from "./transformer.ts";

/**
 * Projection heads and the log logit scale (names start with "con/").
 *
 * @example
 * ```ts
 * const con = ParamSet.create(contrastiveSpecs(32), streams.get("init/con"));
 * ```
 */
export function contrastiveSpecs(width: number): ParamSpec[] {
  return [
    ...denseSpecs("con/image", width, width, false),
    ...denseSpecs("con/ehr", width, width, false),
    {
      name: "con/logitScale",
      shape: [],
      init: { value: Math.log(1 / 0.07) },
      decay: false,
    },
  ];
}

function unit(x: tf.Tensor): tf.Tensor {
  return x.div(x.square().sum(1, true).add(1e-12).sqrt());
}

/**
 * Symmetric InfoNCE over the patients in `x` that have both modalities.
 *
 * @param p encoder and "con/" parameters in one dictionary
 *
 * @example
 * ```ts
 * const loss = contrastiveLoss(enc, { ...encParams.dict, ...conParams.dict }, x);
 * ```
 */
export function contrastiveLoss(enc: Encoder, p: Params, x: Inputs): tf.Scalar {
  const out = enc.forward(p, x, x.present, true);
  const imgMask = x.present.mul(enc.imageTokens);
  const ehrMask = x.present.mul(enc.ehrTokens);
  const zi = unit(dense(enc.pool(out, imgMask), p, "con/image"));
  const ze = unit(dense(enc.pool(out, ehrMask), p, "con/ehr"));
  const valid = imgMask.sum(1).greater(0).logicalAnd(ehrMask.sum(1).greater(0))
    .toFloat();
  // CLIP clamps the scale at 100 so the logits cannot blow up.
  const scale = tf.minimum(p["con/logitScale"], Math.log(100)).exp();
  const logits = tf.matMul(zi, ze, false, true).mul(scale);
  const colBias = tf.scalar(1).sub(valid).mul(-1e9).expandDims(0);
  const eye = tf.eye(x.n);
  const i2e = tf.logSoftmax(logits.add(colBias)).mul(eye).sum(1);
  const e2i = tf.logSoftmax(logits.transpose().add(colBias)).mul(eye).sum(1);
  const perPatient = i2e.add(e2i).mul(-0.5).mul(valid);
  return perPatient.sum().div(tf.maximum(valid.sum(), 1)) as tf.Scalar;
}
