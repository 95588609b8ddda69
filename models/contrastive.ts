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
import { IMAGE } from "./batch.ts";
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
  // Both masked means as one batched product ([n, 2, N] @ [n, N, w]):
  // enc.pool's values, in a SIMD kernel each way where a multiply, a sum
  // over the middle axis (a transpose on wasm) and their gradients ran
  // twice.
  const { masks, counts, valid } = x.presentHost
    ? hostMasks(x.presentHost, x.n, enc)
    : tfMasks(x.present, enc);
  const pooled = tf.matMul(masks, out).div(counts);
  const [pi, pe] = tf.unstack(pooled, 1);
  return unitInfoNce(
    dense(pi, p, "con/image"),
    dense(pe, p, "con/ehr"),
    p["con/logitScale"],
    valid,
  );
}

// The pooling masks [n, 2, N] (image tokens, then EHR and demographics
// tokens, where present), their counts floored at 1 [n, 2, 1], and which
// patients have both modalities [n], from tf ops.
function tfMasks(
  present: tf.Tensor,
  enc: Encoder,
): { masks: tf.Tensor; counts: tf.Tensor; valid: tf.Tensor } {
  const imgMask = present.mul(enc.imageTokens);
  const ehrMask = present.mul(enc.ehrTokens);
  const masks = tf.stack([imgMask, ehrMask], 1);
  return {
    masks,
    counts: tf.maximum(masks.sum(2, true), 1),
    valid: imgMask.sum(1).greater(0).logicalAnd(ehrMask.sum(1).greater(0))
      .toFloat(),
  };
}

// The same from `present` on the host: constants instead of a dozen
// recorded ops (0 / 1 entries and integer counts: the same values).
function hostMasks(
  present: Float32Array,
  n: number,
  enc: Encoder,
): { masks: tf.Tensor; counts: tf.Tensor; valid: tf.Tensor } {
  const N = enc.layout.nTokens, img = enc.layout.modality;
  const masks = new Float32Array(n * 2 * N);
  const counts = new Float32Array(n * 2), valid = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < N; k++) {
      if (present[r * N + k] === 0) continue;
      const side = img[k] === IMAGE ? 0 : 1;
      masks[(r * 2 + side) * N + k] = present[r * N + k];
      counts[r * 2 + side] += present[r * N + k];
    }
    valid[r] = counts[r * 2] > 0 && counts[r * 2 + 1] > 0 ? 1 : 0;
    counts[r * 2] = Math.max(counts[r * 2], 1);
    counts[r * 2 + 1] = Math.max(counts[r * 2 + 1], 1);
  }
  return {
    masks: tf.tensor3d(masks, [n, 2, N]),
    counts: tf.tensor3d(counts, [n, 2, 1]),
    valid: tf.tensor1d(valid),
  };
}

/**
 * {@link infoNce} of the rows of xi and xe scaled to unit length (each
 * divided by sqrt(sum of squares + 1e-12)). Where the backend has the
 * fused kernel, the scaling, the logit scale's clamp and exp and all
 * their gradients run inside it (about 50 recorded ops fewer per step);
 * else tf ops. Same values up to float rounding.
 *
 * @example
 * ```ts
 * const loss = unitInfoNce(projImage, projEhr, tf.scalar(Math.log(1 / 0.07)), tf.ones([n]));
 * ```
 */
export function unitInfoNce(
  xi: tf.Tensor,
  xe: tf.Tensor,
  logScale: tf.Tensor,
  valid: tf.Tensor,
): tf.Scalar {
  if (hasKernel(INFONCE)) return fusedInfoNce(xi, xe, logScale, valid, true);
  return infoNce(unit(xi), unit(xe), logScale, valid);
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
  if (hasKernel(INFONCE)) return fusedInfoNce(zi, ze, scale, valid, false);
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
// With `raw`, zi and ze are rows to scale to unit length and `scale` is
// the log scale (clamped and exp'd in the kernel); the gradients are then
// with respect to those.
function fusedInfoNce(
  zi: tf.Tensor,
  ze: tf.Tensor,
  scale: tf.Tensor,
  valid: tf.Tensor,
  raw: boolean,
): tf.Scalar {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    ((a: tf.Tensor, b: tf.Tensor, s: tf.Tensor, save: tf.GradSaveFunc): any => {
      const [loss, da, db, ds] = tf.engine().runKernel(
        INFONCE,
        { zi: a, ze: b, scale: s, valid },
        raw ? { normalize: true, logScale: true } : {},
      ) as tf.Tensor[];
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
