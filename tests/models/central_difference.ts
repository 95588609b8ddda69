/**
 * The finite-difference probe shared by the gradient checks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Central difference of a loss in one element of a variable: sets element
 * k to base[k] +- eps, reads the loss each time, and restores the variable.
 *
 * @example
 * ```ts
 * const numeric = await centralDifference(v, base, 3, 1e-3, lossValue);
 * ```
 */
export async function centralDifference(
  v: tf.Variable,
  base: Float32Array,
  k: number,
  eps: number,
  lossValue: () => Promise<number>,
): Promise<number> {
  const probe = async (delta: number) => {
    const moved = base.slice();
    moved[k] += delta;
    tf.tidy(() => v.assign(tf.tensor(moved, v.shape)));
    return await lossValue();
  };
  const numeric = ((await probe(eps)) - (await probe(-eps))) / (2 * eps);
  tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
  return numeric;
}

/**
 * Reads a scalar loss function's value without leaking tensors: what
 * {@link centralDifference} calls at each probe.
 *
 * @example
 * ```ts
 * const lossValue = lossReader(() => tf.scalar(1));
 * ```
 */
export function lossReader(lossFn: () => tf.Scalar): () => Promise<number> {
  return async () => {
    const l = tf.tidy(lossFn);
    const v = (await l.data())[0];
    l.dispose();
    return v;
  };
}
