import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { NORM_EPS, NORMALIZE, NORMALIZE_GRAD } from "../../../kernels/names.ts";
import { assertClose, cpuAndGpu, normals, skipWebGpu } from "./helpers.ts";

const SHAPES = [[128, 12, 32], [7, 5], [3, 4, 1], [10], [2, 3, 48], [5, 6]];

/** The composite NORMALIZE stands for (kernels/names.ts). */
function composite(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const xc = x.sub(x.mean(-1, true));
  const inv = xc.square().mean(-1, true).add(NORM_EPS).rsqrt();
  return [xc.mul(inv), inv];
}

/** tf.customGrad over the fused kernels, as models/transformer.ts uses them. */
const fused = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  ((x: tf.Tensor, save: tf.GradSaveFunc): any => {
    const [y, inv] = tf.engine().runKernel(NORMALIZE, { x }) as tf.Tensor[];
    save([y, inv]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sy, sinv]: tf.Tensor[]) =>
        tf.engine().runKernel(NORMALIZE_GRAD, { dy, y: sy, inv: sinv }),
    };
    // deno-lint-ignore no-explicit-any
  }) as any,
) as (x: tf.Tensor) => tf.Tensor;

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
// Scaled and shifted rows, so the mean and the variance both matter.
const input = (s: number[], seed: string) =>
  normals(size(s), seed).map((v, i) => 3 * v + (i % 7) - 2);

Deno.test({
  name: "webgpu NORMALIZE matches the composite on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const s of SHAPES) {
      const x = input(s, `x${s}`);
      const r = await cpuAndGpu(
        () => composite(tf.tensor(x, s)),
        () =>
          tf.engine().runKernel(NORMALIZE, {
            x: tf.tensor(x, s),
          }) as tf.Tensor[],
      );
      assert.match(r.programs, /MmjepaNormalize/);
      assert.deepEqual(r.gpu.map((v) => v.length), [
        size(s),
        size(s) / s.at(-1)!,
      ]);
      assertClose(r.gpu[0], r.cpu[0], 1e-4, `y of [${s}]`);
      assertClose(r.gpu[1], r.cpu[1], 1e-4, `inv of [${s}]`);
    }
  },
});

Deno.test({
  name: "webgpu NORMALIZE_GRAD matches its formula on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const s of SHAPES) {
      const x = input(s, `x${s}`), g = normals(size(s), `dy${s}`);
      const inputs = () => {
        const [y, inv] = composite(tf.tensor(x, s));
        return { dy: tf.tensor(g, s), y, inv };
      };
      const r = await cpuAndGpu(
        () => {
          const { dy, y, inv } = inputs();
          return dy.sub(dy.mean(-1, true))
            .sub(y.mul(dy.mul(y).mean(-1, true))).mul(inv);
        },
        () => tf.engine().runKernel(NORMALIZE_GRAD, inputs()) as tf.Tensor,
      );
      assert.match(r.programs, /MmjepaNormalizeGrad/);
      assertClose(r.gpu[0], r.cpu[0], 1e-4, `dx of [${s}]`);
    }
  },
});

Deno.test({
  name:
    "webgpu normalize through tf.customGrad: value and gradient match autodiff of the composite on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const s of [[64, 12, 32], [9, 5]]) {
      const x = input(s, `gx${s}`), w = normals(size(s), `gw${s}`);
      const loss = (f: (x: tf.Tensor) => tf.Tensor) => () => {
        const tw = tf.tensor(w, s);
        const { value, grad } = tf.valueAndGrad((t: tf.Tensor) =>
          f(t).mul(tw).square().sum()
        )(tf.tensor(x, s));
        return [value, grad];
      };
      const r = await cpuAndGpu(loss((t) => composite(t)[0]), loss(fused));
      assert.match(r.programs, /MmjepaNormalizeGrad/);
      assertClose(r.gpu[0], r.cpu[0], 1e-4, `loss of [${s}]`);
      assertClose(r.gpu[1], r.cpu[1], 1e-4, `gradient of [${s}]`);
    }
  },
});
