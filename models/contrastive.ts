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
import { hasKernel, INFONCE } from "../kernels/mod.ts";
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
  // Both masked means as one batched product ([n, 2, N] @ [n, N, w]):
  // enc.pool's values, in a SIMD kernel each way where a multiply, a sum
  // over the middle axis (a transpose on wasm) and their gradients ran
  // twice.
  const masks = tf.stack([imgMask, ehrMask], 1);
  const pooled = tf.matMul(masks, out).div(
    tf.maximum(masks.sum(2, true), 1),
  );
  const [pi, pe] = tf.unstack(pooled, 1);
  const zi = unit(dense(pi, p, "con/image"));
  const ze = unit(dense(pe, p, "con/ehr"));
  const valid = imgMask.sum(1).greater(0).logicalAnd(ehrMask.sum(1).greater(0))
    .toFloat();
  return infoNce(zi, ze, p["con/logitScale"], valid);
}

/**
 * Symmetric InfoNCE of unit embeddings zi, ze [n, w] with logit scale
 * exp(min(logScale, log 100)), over the patients where `valid` [n] is 1:
 * the mean over them of -(log p(ehr i | image i) + log p(image i | ehr
 * i)) / 2, other patients masked out of both softmaxes. One fused kernel
 * (loss and gradients together) where the backend has it (kernels/), else
 * tf ops; same values either way.
 *
 * @example
 * ```ts
 * const loss = infoNce(zi, ze, tf.scalar(Math.log(1 / 0.07)), tf.ones([n]));
 * ```
 */
export function infoNce(
  zi: tf.Tensor,
  ze: tf.Tensor,
  logScale: tf.Tensor,
  valid: tf.Tensor,
): tf.Scalar {
  // CLIP clamps the scale at 100 so the logits cannot blow up.
  const scale = tf.minimum(logScale, Math.log(100)).exp();
  if (hasKernel(INFONCE)) return fusedInfoNce(zi, ze, scale, valid);
  const n = zi.shape[0];
  const logits = tf.matMul(zi, ze, false, true).mul(scale);
  const colBias = tf.scalar(1).sub(valid).mul(-1e9).expandDims(0);
  const eye = tf.eye(n);
  const i2e = tf.logSoftmax(logits.add(colBias)).mul(eye).sum(1);
  const e2i = tf.logSoftmax(logits.transpose().add(colBias)).mul(eye).sum(1);
  const perPatient = i2e.add(e2i).mul(-0.5).mul(valid);
  return perPatient.sum().div(tf.maximum(valid.sum(), 1)) as tf.Scalar;
}

// The kernel returns the gradients with the loss (cheap next to the
// encoder: a few [n, n] passes); the backward pass only scales them.
function fusedInfoNce(
  zi: tf.Tensor,
  ze: tf.Tensor,
  scale: tf.Tensor,
  valid: tf.Tensor,
): tf.Scalar {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    ((a: tf.Tensor, b: tf.Tensor, s: tf.Tensor, save: tf.GradSaveFunc): any => {
      const [loss, da, db, ds] = tf.engine().runKernel(INFONCE, {
        zi: a,
        ze: b,
        scale: s,
        valid,
      }) as tf.Tensor[];
      save([da, db, ds]);
      return {
        value: loss,
        gradFunc: (dy: tf.Tensor, [sa, sb, sd]: tf.Tensor[]) => [
          sa.mul(dy),
          sb.mul(dy),
          sd.mul(dy),
        ],
      };
      // deno-lint-ignore no-explicit-any
    }) as any,
  ) as (a: tf.Tensor, b: tf.Tensor, s: tf.Tensor) => tf.Scalar;
  return f(zi, ze, scale);
}
