/**
 * Supervised finetuning: binary cross-entropy on a linear head over the
 * fused (mean over all present tokens) embedding.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
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
  return enc.pool(enc.forward(p, x, x.present), x.present);
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
