/**
 * A small pre-norm transformer from tf ops: layer norm, dense, multi-head
 * attention with a key padding (or full) mask and optional TDViT time
 * decay, ReLU MLP. All heads are one batched matrix product.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  ATTENTION,
  ATTENTION_GRAD,
  DENSE,
  DENSE_GRAD,
  DENSE_PARAM_GRAD,
  hasKernel,
  NORM_EPS,
  NORMALIZE,
  NORMALIZE_GRAD,
  RELU_GRAD,
  SOFTMAX_GRAD,
} from "../kernels/mod.ts";
import {
  denseSpecs,
  normSpecs,
  type Params,
  type ParamSpec,
} from "./params.ts";

/** Shape of a transformer stack. */
export interface StackShape {
  /** Token width. */
  width: number;
  /** Blocks. */
  depth: number;
  /** Heads (divides width). */
  heads: number;
  /** MLP hidden width over token width. */
  mlpRatio: number;
  /** Whether attention has TDViT time-distance decay parameters. */
  decay: boolean;
}

/**
 * Parameter specs of a stack of pre-norm blocks plus a final norm.
 *
 * @example
 * ```ts
 * const specs = stackSpecs("enc", { width: 32, depth: 2, heads: 2, mlpRatio: 2, decay: false });
 * ```
 */
export function stackSpecs(prefix: string, s: StackShape): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const hidden = Math.round(s.width * s.mlpRatio);
  for (let l = 0; l < s.depth; l++) {
    const b = `${prefix}/block${l}`;
    specs.push(
      ...denseSpecs(`${b}/qkv`, s.width, 3 * s.width),
      ...denseSpecs(`${b}/proj`, s.width, s.width),
      ...denseSpecs(`${b}/fc1`, s.width, hidden),
      ...denseSpecs(`${b}/fc2`, hidden, s.width),
    );
    if (s.decay) {
      // TDViT: weight 1 / (1 + exp(|a| dt - |c|)); starts near 1 for dt < 12 months.
      specs.push(
        {
          name: `${b}/decay/a`,
          shape: [s.heads],
          init: { value: 0.1 },
          decay: false,
        },
        {
          name: `${b}/decay/c`,
          shape: [s.heads],
          init: { value: 3 },
          decay: false,
        },
      );
    }
  }
  specs.push(...normSpecs(`${prefix}/norm`, s.width));
  return specs;
}

/**
 * Layer norm over the last axis; without gain and bias when `name` is null.
 *
 * @example
 * ```ts
 * const y = layerNorm(x, null, null); // zero mean, unit variance per token
 * ```
 */
export function layerNorm(
  x: tf.Tensor,
  p: Params | null,
  name: string | null,
): tf.Tensor {
  if (!(p && name)) return normalize(x);
  if (hasKernel(NORMALIZE) && hasKernel(NORMALIZE_GRAD)) {
    return affineNormalize(x, p[`${name}/g`], p[`${name}/b`]);
  }
  return normalize(x).mul(p[`${name}/g`]).add(p[`${name}/b`]);
}

// t in `shape`, reshaped only when it differs.
function shaped(t: tf.Tensor, shape: number[]): tf.Tensor {
  return t.shape.length === shape.length &&
      t.shape.every((v, i) => v === shape[i])
    ? t
    : t.reshape(shape);
}

// normalize(x) * g + b as one tape node: the same ops forward, and
// backward the gradients autodiff would form (dx through dy * g, dg the
// sum of dy * y, db the sum of dy over every leading axis) from four ops,
// where the separate multiply and add recorded their own nodes, clones,
// casts and reshapes.
const affineNormalize = tf.customGrad(
  ((
    x: tf.Tensor,
    g: tf.Tensor,
    b: tf.Tensor,
    save: tf.GradSaveFunc,
    // deno-lint-ignore no-explicit-any
  ): any => {
    const [y, inv] = tf.engine().runKernel(NORMALIZE, { x }) as tf.Tensor[];
    save([y, inv, g]);
    return {
      value: y.mul(g).add(b),
      gradFunc: (dy: tf.Tensor, [sy, sinv, sg]: tf.Tensor[]) => {
        const lead = Array.from({ length: dy.rank - 1 }, (_, i) => i);
        return [
          tf.engine().runKernel(NORMALIZE_GRAD, {
            dy: dy.mul(sg),
            y: sy,
            inv: sinv,
          }),
          shaped(dy.mul(sy).sum(lead), sg.shape),
          shaped(dy.sum(lead), sg.shape),
        ];
      },
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;

// (x - mean) / sqrt(var + eps) over the last axis, with the closed-form
// gradient inv * (dy - mean(dy) - y * mean(dy * y)): one fused kernel each
// way where the backend has one (kernels/), else 5 ops instead of the ~20
// that differentiating mean, variance and rsqrt op by op records.
const normalize = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  ((x: tf.Tensor, save: tf.GradSaveFunc): any => {
    let y: tf.Tensor, inv: tf.Tensor;
    if (hasKernel(NORMALIZE)) {
      [y, inv] = tf.engine().runKernel(NORMALIZE, { x }) as tf.Tensor[];
    } else {
      const xc = x.sub(x.mean(-1, true));
      inv = xc.square().mean(-1, true).add(NORM_EPS).rsqrt();
      y = xc.mul(inv);
    }
    save([y, inv]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sy, sinv]: tf.Tensor[]) =>
        hasKernel(NORMALIZE_GRAD)
          ? tf.engine().runKernel(NORMALIZE_GRAD, { dy, y: sy, inv: sinv })
          : dy.sub(dy.mean(-1, true)).sub(sy.mul(dy.mul(sy).mean(-1, true)))
            .mul(sinv),
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (x: tf.Tensor) => tf.Tensor;

// The gradient of a @ b needs dy @ b^T and a^T @ dy. tfjs-wasm runs
// transposed products far slower than plain ones (about 15x for
// [1536, 32]^T @ [1536, 96]), so on wasm the transposes are done first.
const plainGradMatMul = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  ((a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc): any => {
    save([a, b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: tf.Tensor2D, [sa, sb]: tf.Tensor2D[]) => [
        tf.matMul(dy, sb.transpose()),
        tf.matMul(sa.transpose(), dy),
      ],
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

// Softmax over the last axis; its gradient is one fused kernel where the
// backend has it (kernels/), else tf's own.
const fusedSoftmax = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  ((x: tf.Tensor, save: tf.GradSaveFunc): any => {
    const y = tf.softmax(x);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sy]: tf.Tensor[]) =>
        tf.engine().runKernel(SOFTMAX_GRAD, { dy, y: sy }),
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (x: tf.Tensor) => tf.Tensor;

// ReLU whose gradient is one fused kernel from the saved output (kernels/),
// where tfjs records Step and a product over the input.
const fusedRelu = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  ((x: tf.Tensor, save: tf.GradSaveFunc): any => {
    const y = tf.relu(x);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sy]: tf.Tensor[]) =>
        tf.engine().runKernel(RELU_GRAD, { dy, y: sy }),
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (x: tf.Tensor) => tf.Tensor;

/**
 * max(x, 0), with the fused gradient kernel where the backend has one;
 * same values as tf.relu and its gradient.
 *
 * @example
 * ```ts
 * const h = relu(dense(x, params, "enc/block0/fc1"));
 * ```
 */
export function relu(x: tf.Tensor): tf.Tensor {
  return hasKernel(RELU_GRAD) ? fusedRelu(x) : tf.relu(x);
}

function softmax(x: tf.Tensor): tf.Tensor {
  return hasKernel(SOFTMAX_GRAD) ? fusedSoftmax(x) : tf.softmax(x);
}

// One fused kernel each way where the backend has them (kernels/): the
// product, the bias and all three gradients without transposes.
const fusedDense = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  ((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc): any => {
    save([x, w]);
    return {
      value: tf.engine().runKernel(DENSE, { x, w }),
      gradFunc: (dy: tf.Tensor2D, [sx, sw]: tf.Tensor2D[]) =>
        tf.engine().runKernel(DENSE_GRAD, { dy, x: sx, w: sw }, {
          bias: false,
        }),
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

const fusedDenseBias = tf.customGrad(
  ((
    x: tf.Tensor2D,
    w: tf.Tensor2D,
    b: tf.Tensor1D,
    save: tf.GradSaveFunc,
    // deno-lint-ignore no-explicit-any
  ): any => {
    save([x, w]);
    return {
      value: tf.engine().runKernel(DENSE, { x, w, b }),
      gradFunc: (dy: tf.Tensor2D, [sx, sw]: tf.Tensor2D[]) =>
        tf.engine().runKernel(DENSE_GRAD, { dy, x: sx, w: sw }, {
          bias: true,
        }),
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

// For a layer on data: the gradient reaches w and b only. tf ops prune the
// unneeded input gradient themselves; a fused gradient kernel would compute
// it anyway (for the 512-wide patch embedding, half the layer's cost).
function fusedDenseOnData(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D | null,
): tf.Tensor2D {
  const bias = b !== null;
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    ((...args: any[]): any => {
      const save = args.at(-1) as tf.GradSaveFunc;
      save([x]);
      const inputs: tf.NamedTensorMap = bias
        ? { x, w: args[0], b: args[1] }
        : { x, w: args[0] };
      return {
        value: tf.engine().runKernel(DENSE, inputs),
        gradFunc: (dy: tf.Tensor2D, [sx]: tf.Tensor2D[]) =>
          tf.engine().runKernel(DENSE_PARAM_GRAD, { dy, x: sx }, { bias }),
      };
      // deno-lint-ignore no-explicit-any
    }) as any,
    // deno-lint-ignore no-explicit-any
  ) as (...t: tf.Tensor[]) => any;
  return (bias ? f(w, b) : f(w)) as tf.Tensor2D;
}

/**
 * x [m, k] @ w [k, n] (+ b [n]): the fused dense kernels where the backend
 * has them; on plain wasm a product whose gradient avoids transposed
 * products; tf.matMul elsewhere. Same values on every path. Pass
 * `inputGrad: false` when x is data, so no gradient is computed for it.
 *
 * @example
 * ```ts
 * const y = linear(x, params["enc/image/w"] as tf.Tensor2D, null);
 * ```
 */
export function linear(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor | null,
  opts: { inputGrad?: boolean } = {},
): tf.Tensor2D {
  if (
    opts.inputGrad === false && hasKernel(DENSE) &&
    hasKernel(DENSE_PARAM_GRAD)
  ) {
    return fusedDenseOnData(x, w, b ? vector(b) : null);
  }
  if (hasKernel(DENSE) && hasKernel(DENSE_GRAD)) {
    return b ? fusedDenseBias(x, w, vector(b)) : fusedDense(x, w);
  }
  const y: tf.Tensor2D = tf.getBackend() === "wasm"
    ? plainGradMatMul(x, w)
    : tf.matMul(x, w);
  return b ? y.add(b) : y;
}

// A bias as a vector; no Reshape op when it already is one.
function vector(b: tf.Tensor): tf.Tensor1D {
  return (b.rank === 1 ? b : b.reshape([-1])) as tf.Tensor1D;
}

/**
 * x [..., in] @ w + b, for any leading shape.
 *
 * @example
 * ```ts
 * const y = dense(x, params, "enc/block0/fc1"); // [n, N, in] -> [n, N, out]
 * ```
 */
export function dense(x: tf.Tensor, p: Params, name: string): tf.Tensor {
  const w = p[`${name}/w`];
  // Rows in, rows out: no Reshape ops (each costs an op, a saved clone and
  // a backward op on the tape; a features step is op-bound).
  if (x.rank === 2) {
    return linear(x as tf.Tensor2D, w as tf.Tensor2D, p[`${name}/b`] ?? null);
  }
  const lead = x.shape.slice(0, -1) as number[];
  const y = linear(
    x.reshape([-1, w.shape[0]]) as tf.Tensor2D,
    w as tf.Tensor2D,
    p[`${name}/b`] ?? null,
  );
  return y.reshape([...lead, w.shape[1] as number]);
}

// Attention straight from the fused qkv rows [n*N, 3w] to token rows
// [n*N, w], one kernel each way where the backend has them (kernels/): no
// head transposes, no [N, N] tensors kept. The bias is a mask: no gradient.
function fusedAttention(
  qkv: tf.Tensor2D,
  bias: tf.Tensor,
  attrs: { n: number; heads: number; scale: number; skipHidden: number },
): tf.Tensor2D {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    ((x: tf.Tensor2D, save: tf.GradSaveFunc): any => {
      // A backend may return P as a third output, for its gradient.
      const [o, lse, probs] = tf.engine().runKernel(
        ATTENTION,
        { qkv: x, bias },
        // deno-lint-ignore no-explicit-any
        attrs as any,
      ) as tf.Tensor[];
      // The bias too: a tidy around the forward pass may dispose it
      // before the backward pass runs, unless the tape keeps it.
      save(probs ? [x, o, lse, bias, probs] : [x, o, lse, bias]);
      return {
        value: o,
        gradFunc: (dy: tf.Tensor2D, [sx, so, sl, sb, sp]: tf.Tensor[]) =>
          tf.engine().runKernel(
            ATTENTION_GRAD,
            sp
              ? { dy, qkv: sx, bias: sb, o: so, lse: sl, p: sp }
              : { dy, qkv: sx, bias: sb, o: so, lse: sl },
            // deno-lint-ignore no-explicit-any
            attrs as any,
          ),
      };
      // deno-lint-ignore no-explicit-any
    }) as any,
  ) as (x: tf.Tensor2D) => tf.Tensor2D;
  return f(qkv);
}

/**
 * Runs the stack on tokens x [n, N, width].
 *
 * @param bias additive attention bias, [n, 1, 1, N] (key padding) or [n, 1, N, N]
 * @param dt |t_i - t_j| in months [n, 1, N, N], needed when the stack decays
 * @param opts.hiddenUnread the caller never reads the output rows of
 *   hidden tokens (keys that no query may attend to), so the fused
 *   attention may skip them as queries (a third of a volume batch's
 *   tokens are padding): those rows then differ from the tf-op values
 *   (their attention output is 0) and get no gradient; every other row,
 *   and every gradient when the loss does not depend on those rows, is
 *   the same
 *
 * @example
 * ```ts
 * const out = stack(tokens, params, "enc", shape, keyBias(present), null);
 * ```
 */
export function stack(
  x: tf.Tensor,
  p: Params,
  prefix: string,
  s: StackShape,
  bias: tf.Tensor,
  dt: tf.Tensor | null,
  opts: { hiddenUnread?: boolean } = {},
): tf.Tensor {
  const [n, N, w] = x.shape;
  if (rowsFusable(n, N, w, s, bias, dt)) {
    return stackRows(x.reshape([n * N, w]), n, p, prefix, s, bias, dt, opts)
      .reshape([n, N, w]);
  }
  return stack3d(x, p, prefix, s, bias, dt);
}

// Whether the stack runs on token rows with the fused attention.
function rowsFusable(
  n: number,
  N: number,
  w: number,
  s: StackShape,
  bias: tf.Tensor,
  dt: tf.Tensor | null,
): boolean {
  return hasKernel(ATTENTION) && hasKernel(ATTENTION_GRAD) &&
    !(s.decay && dt) && fusable(bias.shape, n, N, w / s.heads);
}

/**
 * {@link stack} on token rows [n * N, width] (n patients of N tokens),
 * returning rows: with the fused attention no reshape at all, else through
 * the [n, N, width] form.
 *
 * @example
 * ```ts
 * const rows = stackRows(tokens.reshape([n * N, 32]), n, params, "enc", shape, keyBias(present), null);
 * ```
 */
export function stackRows(
  x: tf.Tensor,
  n: number,
  p: Params,
  prefix: string,
  s: StackShape,
  bias: tf.Tensor,
  dt: tf.Tensor | null,
  opts: { hiddenUnread?: boolean } = {},
): tf.Tensor {
  const [rows, w] = x.shape;
  const N = rows / n;
  if (!rowsFusable(n, N, w, s, bias, dt)) {
    return stack3d(x.reshape([n, N, w]), p, prefix, s, bias, dt)
      .reshape([rows, w]);
  }
  const h = s.heads, d = w / h;
  const scale = 1 / Math.sqrt(d);
  // Fused attention reads and writes token rows [n * N, .]: the whole
  // stack runs on rows.
  let r = x;
  for (let l = 0; l < s.depth; l++) {
    const b = `${prefix}/block${l}`;
    const att = fusedAttention(
      dense(layerNorm(r, null, null), p, `${b}/qkv`) as tf.Tensor2D,
      bias,
      { n, heads: h, scale, skipHidden: opts.hiddenUnread ? 1 : 0 },
    );
    r = r.add(dense(att, p, `${b}/proj`));
    r = r.add(mlp(r, p, b));
  }
  return layerNorm(r, p, `${prefix}/norm`);
}

// The stack on [n, N, w] with tf-op attention.
function stack3d(
  x: tf.Tensor,
  p: Params,
  prefix: string,
  s: StackShape,
  bias: tf.Tensor,
  dt: tf.Tensor | null,
): tf.Tensor {
  const [n, N, w] = x.shape;
  const h = s.heads, d = w / h;
  const scale = 1 / Math.sqrt(d);
  for (let l = 0; l < s.depth; l++) {
    const b = `${prefix}/block${l}`;
    // Block norms have no gain or bias: the dense layer after each absorbs them.
    // q, k and v leading, so that splitting them apart copies contiguous
    // blocks: on wasm a split along an inner axis, and any 5D transpose,
    // are several times slower than these 4D transposes.
    const proj = dense(layerNorm(x, null, null), p, `${b}/qkv`);
    const qkv = proj.reshape([n, N, 3, w]).transpose([2, 0, 1, 3]);
    const [q, k, v] = tf.unstack(qkv).map((t) =>
      t.reshape([n, N, h, d]).transpose([0, 2, 1, 3])
    );
    // Scaling q rather than the logits touches N times fewer numbers.
    let logits = tf.matMul(q.mul(scale), k, false, true).add(bias);
    if (s.decay && dt) {
      // log of the TDViT weight, so softmax rescales by it and renormalizes.
      const a = p[`${b}/decay/a`].abs().reshape([1, h, 1, 1]);
      const c = p[`${b}/decay/c`].abs().reshape([1, h, 1, 1]);
      logits = logits.sub(tf.softplus(dt.mul(a).sub(c)));
    }
    const att = tf.matMul(softmax(logits), v)
      .transpose([0, 2, 1, 3]).reshape([n, N, w]);
    x = x.add(dense(att, p, `${b}/proj`));
    x = x.add(mlp(x, p, b));
  }
  return layerNorm(x, p, `${prefix}/norm`);
}

// The shapes ATTENTION takes (kernels/names.ts): bias [n or 1, 1, N or 1,
// N], head size up to 64.
function fusable(b: number[], n: number, N: number, d: number): boolean {
  return b.length === 4 && (b[0] === 1 || b[0] === n) && b[1] === 1 &&
    (b[2] === 1 || b[2] === N) && b[3] === N && d <= 64;
}

function mlp(x: tf.Tensor, p: Params, b: string): tf.Tensor {
  return dense(
    relu(dense(layerNorm(x, null, null), p, `${b}/fc1`)),
    p,
    `${b}/fc2`,
  );
}

/**
 * Key padding bias [n, 1, 1, N]: 0 where `keep` is 1, -1e9 elsewhere.
 *
 * @example
 * ```ts
 * const bias = keyBias(tf.tensor2d([[1, 1, 0]])); // [[[[0, 0, -1e9]]]]
 * ```
 */
export function keyBias(keep: tf.Tensor): tf.Tensor {
  const [n, N] = keep.shape;
  return tf.scalar(1).sub(keep).mul(-1e9).reshape([n, 1, 1, N]);
}
