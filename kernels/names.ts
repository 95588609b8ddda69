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

/**
 * One AdamW update of many parameters (models/optim.ts): inputs `m`, `v`
 * (flat moments over all parameters, in order) and `p0..p{K-1}`,
 * `g0..g{K-1}` (parameters and their gradients); attributes `lr`, `beta1`,
 * `beta2`, `eps`, `weightDecay`, `clipNorm` (0: off), `t` (the update's
 * 1-based count) and `decay` (per parameter, 1 where weight decay applies).
 * Outputs the K new parameters, then m, v and the global gradient norm
 * before clipping (a scalar). The arithmetic is AdamW.apply's.
 *
 * @example
 * ```ts
 * const outs = tf.engine().runKernel(ADAMW, { m, v, p0, g0 }, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clipNorm: 1, t: 1, decay: [1] }) as tf.Tensor[];
 * ```
 */
export const ADAMW = "MmjepaAdamW";

/**
 * target <- momentum * target + (1 - momentum) * online, with the online
 * parameters as separate tensors: inputs `target` (flat) and `p0..p{K-1}`,
 * attribute `momentum`; output the new flat target.
 *
 * @example
 * ```ts
 * const next = tf.engine().runKernel(EMA, { target, p0, p1 }, { momentum: 0.996 }) as tf.Tensor;
 * ```
 */
export const EMA = "MmjepaEma";

/**
 * Multi-head attention on the fused qkv projection: inputs `{ qkv, bias }`
 * with qkv [n*N, 3*w] (token rows of n patients; q, k, v side by side,
 * each [w] = heads x d, head-major) and an additive bias [n or 1, 1, N or
 * 1, N]; attributes `n`, `heads`, `scale`. Outputs `[o, lse]`: o [n*N, w]
 * = softmax(scale * q k^T + bias) v per head, in token-major order, and
 * lse [n*heads*N], each row's log-sum-exp of the logits (for the gradient).
 * Optional attribute `skipHidden` (1): the caller never reads the rows of
 * hidden tokens (keys whose bias is -1e6 or less for every query), so a
 * kernel may skip them as queries (o and lse 0 there, and the gradient
 * takes their dy as 0); other rows are unchanged. A backend may return a
 * third output, its softmax P in a layout of its own, which
 * {@link ATTENTION_GRAD} then takes as input `p` instead of recomputing it.
 *
 * @example
 * ```ts
 * const [o, lse] = tf.engine().runKernel(ATTENTION, { qkv, bias }, { n, heads: 2, scale: 0.25 }) as tf.Tensor[];
 * ```
 */
export const ATTENTION = "MmjepaAttention";

/**
 * Gradient of {@link ATTENTION} with respect to qkv: inputs
 * `{ dy, qkv, bias, o, lse, p? }` (dy like o; p the forward pass's third
 * output where the backend returns one), same attributes; output dqkv
 * with the shape of qkv. The bias gets no gradient (it is a mask).
 *
 * @example
 * ```ts
 * const dqkv = tf.engine().runKernel(ATTENTION_GRAD, { dy, qkv, bias, o, lse }, { n, heads: 2, scale: 0.25 }) as tf.Tensor;
 * ```
 */
export const ATTENTION_GRAD = "MmjepaAttentionGrad";

/** The norm's variance floor, shared by kernels and the composite. */
export const NORM_EPS = 1e-5;

/**
 * Gradient of ReLU from its output: inputs `{ dy, y }` (y = relu(x), same
 * shape as dy); output dx = dy where y > 0, else 0 (what tfjs's
 * dy * step(x) gives, in one pass instead of two kernels).
 *
 * @example
 * ```ts
 * const dx = tf.engine().runKernel(RELU_GRAD, { dy, y }) as tf.Tensor;
 * ```
 */
export const RELU_GRAD = "MmjepaReluGrad";

/**
 * Symmetric InfoNCE (CLIP) over n patients, with its gradients in the same
 * pass: inputs `{ zi, ze, scale, valid }` with zi, ze [n, w] (unit rows),
 * scale a scalar (the logit scale, already exp'd and clamped) and valid
 * [n] (1 for patients with both modalities, else 0). With logits
 * L = scale * zi ze^T and -1e9 added to the columns of invalid patients,
 * the loss is -1/(2 max(1, sum valid)) sum over valid i of
 * (logSoftmax over row i of L)[i] + (logSoftmax over column i of L)[i]
 * (models/contrastive.ts's tf-op formula). Outputs `[loss, dzi, dze,
 * dscale]`: the loss (a scalar) and its gradients with respect to zi, ze
 * and scale. Optional attributes (models/contrastive.ts's unitInfoNce):
 * `normalize: true`, zi and ze are raw rows the kernel first divides by
 * sqrt(sum of squares + 1e-12); `logScale: true`, scale is the log scale,
 * clamped at log 100 and exp'd in the kernel; the gradients are then with
 * respect to those inputs.
 *
 * @example
 * ```ts
 * const [loss, dzi, dze, ds] = tf.engine().runKernel(INFONCE, { zi, ze, scale, valid }) as tf.Tensor[];
 * ```
 */
export const INFONCE = "MmjepaInfoNce";
