/**
 * Names and contracts of the fused kernels mmjepa registers on top of the
 * stock tfjs backends. A backend may implement any subset; model code asks
 * {@link hasKernel} (kernels/mod.ts) and falls back to plain tf ops, so every
 * kernel must compute what its composite fallback computes (tests compare
 * both on random inputs).
 *
 * @module
 */

/**
 * Normalization over the last axis without gain or bias.
 * Inputs `{ x }` (float32, any rank >= 1, last axis w).
 * Outputs `[y, inv]`: y = (x - mean) * inv with the shape of x, and
 * inv = 1 / sqrt(mean((x - mean)^2) + 1e-5) with shape [...x.shape[:-1], 1].
 *
 * @example
 * ```ts
 * const [y, inv] = tf.engine().runKernel(NORMALIZE, { x }) as tf.Tensor[];
 * ```
 */
export const NORMALIZE = "MmjepaNormalize";

/**
 * Gradient of {@link NORMALIZE}.
 * Inputs `{ dy, y, inv }` as above; output dx with the shape of dy:
 * dx = (dy - mean(dy) - y * mean(dy * y)) * inv, means over the last axis.
 *
 * @example
 * ```ts
 * const dx = tf.engine().runKernel(NORMALIZE_GRAD, { dy, y, inv }) as tf.Tensor;
 * ```
 */
export const NORMALIZE_GRAD = "MmjepaNormalizeGrad";

/**
 * A dense layer on rows: inputs `{ x, w }` or `{ x, w, b }` with x [r, in],
 * w [in, out], b [out]; output y = x @ w (+ b), [r, out].
 *
 * @example
 * ```ts
 * const y = tf.engine().runKernel(DENSE, { x, w, b }) as tf.Tensor2D;
 * ```
 */
export const DENSE = "MmjepaDense";

/**
 * Gradient of {@link DENSE}: inputs `{ dy, x, w }` (dy [r, out]), attribute
 * `bias` (whether the layer had b); outputs `[dx, dw]` or `[dx, dw, db]`
 * with dx = dy @ w^T, dw = x^T @ dy, db = column sums of dy.
 *
 * @example
 * ```ts
 * const [dx, dw, db] = tf.engine().runKernel(DENSE_GRAD, { dy, x, w }, { bias: true }) as tf.Tensor[];
 * ```
 */
export const DENSE_GRAD = "MmjepaDenseGrad";

/**
 * The parameter half of {@link DENSE_GRAD}, for layers whose input is data
 * (no gradient wanted): inputs `{ dy, x }`, attribute `bias`; outputs
 * `[dw]` or `[dw, db]`.
 *
 * @example
 * ```ts
 * const [dw, db] = tf.engine().runKernel(DENSE_PARAM_GRAD, { dy, x }, { bias: true }) as tf.Tensor[];
 * ```
 */
export const DENSE_PARAM_GRAD = "MmjepaDenseParamGrad";

/**
 * Gradient of a softmax over the last axis, from its output: inputs
 * `{ dy, y }` (same shape); output dx = y * (dy - sum(dy * y)), the sum over
 * the last axis. The forward pass is tf.softmax.
 *
 * @example
 * ```ts
 * const dx = tf.engine().runKernel(SOFTMAX_GRAD, { dy, y }) as tf.Tensor;
 * ```
 */
export const SOFTMAX_GRAD = "MmjepaSoftmaxGrad";

/** The norm's variance floor, shared by kernels and the composite. */
export const NORM_EPS = 1e-5;
