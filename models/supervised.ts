/**
 * Supervised finetuning: binary cross-entropy on a linear head over the
 * fused (mean over all present tokens) embedding.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Layout } from "./batch.ts";
import type { Encoder } from "./encoder.ts";
import { denseSpecs, type Params, type ParamSpec } from "./params.ts";
import type { Inputs } from "./tokenizers.ts";
import { dense } from "./transformer.ts";

/**
 * The head's specs (names start with "head/").
 *
 * @example
 * ```ts
 * const head = ParamSet.create(headSpecs(32), streams.get("init/head"));
 * ```
 */
export function headSpecs(width: number): ParamSpec[] {
  return denseSpecs("head", width, 1);
}

/**
 * Fused embedding [n, w]: masked mean of the encoder output over present
 * tokens; zeros for a patient with no token (the head then gives its bias).
 *
 * @example
 * ```ts
 * const e = fusedEmbedding(enc, params.dict, x);
 * ```
 */
export function fusedEmbedding(enc: Encoder, p: Params, x: Inputs): tf.Tensor {
  const out = enc.forward(p, x, x.present);
  const sigma = enc.model.poolCentre ?? 0;
  if (enc.layout.mode !== "volume" || sigma <= 0) {
    return enc.pool(out, x.present);
  }
  const w = tf.tensor2d(
    centreWeights(enc.layout, sigma),
    [1, enc.layout.nTokens],
  );
  const m = x.present.mul(w).expandDims(2);
  return out.mul(m).sum(1).div(tf.maximum(m.sum(1), 1e-6));
}

/**
 * Pooling weight per token [nTokens] for {@link fusedEmbedding} in
 * `volume` mode: image patches get exp(-d^2 / (2 sigma^2)), d the
 * distance of the patch centre from the scan centre in patches, scaled so
 * that a scan's patches average 1 (the image side keeps its weight
 * against EHR tokens, which get 1). Why: a volume ROI is cropped around
 * its nodule, so the finding sits in the few central patches, and a plain
 * mean over 64 patches lets the surrounding lung dominate the embedding.
 *
 * @example
 * ```ts
 * centreWeights(layout, 1)[layout.patchesPerScan / 2]; // > 1 near the centre
 * ```
 */
export function centreWeights(L: Layout, sigma: number): Float32Array {
  const g = Math.round(Math.cbrt(L.patchesPerScan));
  const c = (g - 1) / 2;
  const per = new Float64Array(L.patchesPerScan);
  let sum = 0;
  for (let q = 0; q < L.patchesPerScan; q++) {
    const z = Math.floor(q / (g * g)), y = Math.floor(q / g) % g, x = q % g;
    const d2 = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2;
    per[q] = Math.exp(-d2 / (2 * sigma * sigma));
    sum += per[q];
  }
  const w = new Float32Array(L.nTokens).fill(1);
  for (let t = 0; t < L.nImage; t++) {
    w[t] = per[L.within[t]] * L.patchesPerScan / sum;
  }
  return w;
}

/**
 * Head logits [n] from embeddings [n, w].
 *
 * @example
 * ```ts
 * const p = tf.sigmoid(headLogits(head.dict, fusedEmbedding(enc, params.dict, x)));
 * ```
 */
export function headLogits(p: Params, emb: tf.Tensor): tf.Tensor {
  return dense(emb, p, "head").reshape([-1]);
}

/**
 * Mean binary cross-entropy from logits, computed stably.
 *
 * @example
 * ```ts
 * bceWithLogits(tf.tensor1d([0]), tf.tensor1d([1])); // log 2
 * ```
 */
export function bceWithLogits(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.softplus(logits).sub(labels.mul(logits)).mean() as tf.Scalar;
}
