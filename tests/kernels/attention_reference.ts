/**
 * What the fused attention kernels (wasm and WebGPU) are checked against:
 * the tf-op attention models/transformer.ts runs without them, and a small
 * encoder stack's loss with every parameter gradient.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { RngStreams } from "../../core/rng.ts";
import { ParamSet } from "../../models/params.ts";
import { keyBias, stack, stackSpecs } from "../../models/transformer.ts";

/**
 * The composite attention: qkv [n*N, 3w] -> heads, scaled q, logits +
 * bias, softmax, weighted v, back to token rows [n*N, w].
 *
 * @example
 * ```ts
 * const o = composite(qkv, bias, 2, 3, 1 / Math.sqrt(4));
 * ```
 */
export function composite(
  qkv: tf.Tensor2D,
  bias: tf.Tensor,
  n: number,
  h: number,
  scale: number,
): tf.Tensor2D {
  const N = qkv.shape[0] / n, w = qkv.shape[1] / 3, d = w / h;
  const [q, k, v] = tf.unstack(
    qkv.reshape([n, N, 3, w]).transpose([2, 0, 1, 3]),
  ).map((t) => t.reshape([n, N, h, d]).transpose([0, 2, 1, 3]));
  const logits = tf.matMul(q.mul(scale), k, false, true).add(bias);
  return tf.matMul(tf.softmax(logits), v).transpose([0, 2, 1, 3])
    .reshape([n * N, w]) as tf.Tensor2D;
}

/**
 * A two-block stack (width 12, `heads` heads) over 3 patients of 7
 * tokens with every fourth key padded: `run` gives the summed squared
 * output and every parameter's gradient (the same inputs on any backend),
 * `names` what each of them is.
 *
 * @example
 * ```ts
 * const { run, names } = stackLossAndGrads(3);
 * const [loss, ...grads] = run(); // names: ["loss", "enc/0/...", ...]
 * ```
 */
export function stackLossAndGrads(
  heads: number,
): { run: () => tf.Tensor[]; names: string[] } {
  const shape = { width: 12, depth: 2, heads, mlpRatio: 2, decay: false };
  const n = 3, N = 7;
  const specs = stackSpecs("enc", shape);
  const x0 = new RngStreams(7).get("stack-x").normals(n * N * shape.width);
  const keep = Float32Array.from(
    { length: n * N },
    (_, i) => i % 4 === 2 ? 0 : 1,
  );
  const run = () => {
    const set = ParamSet.create(specs, new RngStreams(5).get("init"));
    const x = tf.tensor3d(x0, [n, N, shape.width]);
    const { value, grads } = tf.variableGrads(
      () =>
        // The key bias is disposed before the backward pass: the kernel's
        // gradient must get it through the tape.
        tf.tidy(() => {
          const bias = keyBias(tf.tensor2d(keep, [n, N]));
          const y = stack(x, set.dict, "enc", shape, bias, null);
          bias.dispose();
          return y;
        }).square().sum() as tf.Scalar,
      set.vars,
    );
    const out = [value, ...set.vars.map((v) => grads[v.name])];
    set.dispose();
    x.dispose();
    return out;
  };
  return { run, names: ["loss", ...specs.map((s) => s.name)] };
}
