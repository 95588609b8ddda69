/**
 * Running work that needs no gradient without the gradient tape.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Runs `f` with tfjs's gradient tape off and returns its tensor: inside
 * `tf.variableGrads` every op otherwise records a tape node and clones the
 * tensors its gradient would need, even where no gradient can flow (the
 * EMA target branch of JEPA, masks and biases from data). On a small
 * model that bookkeeping, not the arithmetic, is most of a step. The
 * result is a constant to the tape: no gradient reaches anything `f`
 * read, so use it only for values that must not be differentiated.
 *
 * How: a `tf.customGrad` with no inputs runs its forward function as one
 * kernel (the engine does not record ops inside a kernel), and a node
 * without inputs is pruned from every backward pass.
 *
 * @example
 * ```ts
 * const wanted = untaped(() => targetTokens(enc, targetParams, x));
 * ```
 */
export function untaped<T extends tf.Tensor>(f: () => T): T {
  // tfjs types customGrad's function with one tensor argument at least;
  // this one takes none but the save function.
  const body = (_save: tf.GradSaveFunc) => ({
    value: f(),
    gradFunc: () => [] as tf.Tensor[],
  });
  const g = tf.customGrad(
    body as unknown as Parameters<typeof tf.customGrad>[0],
  ) as unknown as () => T;
  return g() as T;
}
