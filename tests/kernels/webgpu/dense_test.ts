import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { DENSE, DENSE_GRAD, DENSE_PARAM_GRAD } from "../../../kernels/names.ts";
import { assertClose, cpuAndGpu, normals, skipWebGpu } from "./helpers.ts";
import { SPLIT_MIN_ROWS, splitRows } from "../../../kernels/webgpu/dense.ts";

// [rows, in, out]: the model's layers, then every in/out remainder mod 4.
const SHAPES = [
  [1536, 32, 96],
  [1536, 64, 32],
  [384, 16, 48],
  [5, 3, 7],
  [
    9,
    8,
    5,
  ],
  [6, 7, 8],
  [1, 1, 1],
  [13, 12, 4],
];

// Row counts that split the weight and bias gradients (splitRows): an
// exact multiple of the chunk, a ragged last chunk, and a volume step.
const SPLIT = [[512, 8, 12], [1537, 7, 5], [6432, 32, 32], [2049, 16, 33]];

Deno.test({
  name: "webgpu DENSE matches x @ w (+ b) on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const [r, i, o] of SHAPES) {
      const x = normals(r * i, `x${r},${i}`), w = normals(i * o, `w${i},${o}`);
      const b = normals(o, `b${o}`);
      for (const bias of [false, true]) {
        const what = `[${r}, ${i}] x [${i}, ${o}]${bias ? " + b" : ""}`;
        const mk = () => ({
          x: tf.tensor2d(x, [r, i]),
          w: tf.tensor2d(w, [i, o]),
          b: tf.tensor1d(b),
        });
        const got = await cpuAndGpu(
          () => {
            const t = mk(), y = tf.matMul(t.x, t.w);
            return bias ? y.add(t.b) : y;
          },
          () => {
            const t = mk();
            return tf.engine().runKernel(
              DENSE,
              bias ? t : { x: t.x, w: t.w },
            ) as tf.Tensor;
          },
        );
        assert.match(got.programs, /MmjepaDense/);
        assertClose(got.gpu[0], got.cpu[0], 1e-4, what);
      }
    }
  },
});

Deno.test({
  name: "webgpu DENSE_GRAD matches dy @ w^T, x^T @ dy and column sums on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const [r, i, o] of [...SHAPES, ...SPLIT]) {
      const x = normals(r * i, `x${r},${i}`), w = normals(i * o, `w${i},${o}`);
      const g = normals(r * o, `dy${r},${o}`);
      const mk = () => ({
        dy: tf.tensor2d(g, [r, o]),
        x: tf.tensor2d(x, [r, i]),
        w: tf.tensor2d(w, [i, o]),
      });
      for (const bias of [false, true]) {
        const got = await cpuAndGpu(
          () => {
            const t = mk();
            return [
              tf.matMul(t.dy, t.w, false, true),
              tf.matMul(t.x, t.dy, true, false),
              ...(bias ? [t.dy.sum(0)] : []),
            ];
          },
          () =>
            tf.engine().runKernel(DENSE_GRAD, mk(), { bias }) as tf.Tensor[],
        );
        const what = `r ${r}, in ${i}, out ${o}, bias ${bias}`;
        assert.match(got.programs, /MmjepaDenseGrad/);
        assert.equal(
          /MmjepaDenseGradSum/.test(got.programs),
          splitRows(r) > 0,
          `${what}: second dispatch iff split`,
        );
        assert.equal(got.gpu.length, bias ? 3 : 2, what);
        got.gpu.forEach((v, k) =>
          assertClose(v, got.cpu[k], 1e-4, `${what}: output ${k}`)
        );
      }
    }
  },
});

Deno.test({
  name: "webgpu DENSE_PARAM_GRAD matches x^T @ dy and column sums on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const [r, i, o] of [...SHAPES, [201, 511, 33], ...SPLIT]) {
      const x = normals(r * i, `x${r},${i}`), g = normals(r * o, `dy${r},${o}`);
      const mk = () => ({
        dy: tf.tensor2d(g, [r, o]),
        x: tf.tensor2d(x, [r, i]),
      });
      for (const bias of [false, true]) {
        const got = await cpuAndGpu(
          () => {
            const t = mk();
            return [
              tf.matMul(t.x, t.dy, true, false),
              ...(bias ? [t.dy.sum(0)] : []),
            ];
          },
          () =>
            tf.engine().runKernel(DENSE_PARAM_GRAD, mk(), {
              bias,
            }) as tf.Tensor[],
        );
        const what = `r ${r}, in ${i}, out ${o}, bias ${bias}`;
        assert.match(got.programs, /MmjepaDenseParamGrad/);
        assert.equal(
          /MmjepaDenseParamGradSum/.test(got.programs),
          splitRows(r) > 0,
          `${what}: second dispatch iff split`,
        );
        assert.equal(got.gpu.length, bias ? 2 : 1, what);
        got.gpu.forEach((v, k) =>
          assertClose(v, got.cpu[k], 1e-4, `${what}: output ${k}`)
        );
      }
    }
  },
});

Deno.test("splitRows keeps short row sums whole and caps the chunk count", () => {
  assert.equal(splitRows(SPLIT_MIN_ROWS - 1), 0);
  for (const r of [SPLIT_MIN_ROWS, 1537, 6432, 16672, 1e6]) {
    const c = splitRows(r);
    assert.ok(c >= 128, `rows ${r}: chunk ${c}`);
    assert.ok(Math.ceil(r / c) <= 64, `rows ${r}: ${Math.ceil(r / c)} chunks`);
  }
});
