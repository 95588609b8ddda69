import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { ATTENTION, ATTENTION_GRAD } from "../../../kernels/names.ts";
import { composite, stackLossAndGrads } from "../attention_reference.ts";
import { assertClose, cpuAndGpu, normals, skipWebGpu } from "./helpers.ts";

// [n, N, heads, d, bias kind]: the model's shapes, odd token counts, one
// token, head sizes not a multiple of 4, shared and per-query biases.
const CASES: [number, number, number, number, "key" | "full" | "shared"][] = [
  [4, 12, 2, 16, "key"],
  [3, 7, 2, 16, "full"],
  [2, 5, 3, 5, "key"],
  [1, 1, 1, 3, "key"],
  [2, 33, 2, 7, "shared"],
  [2, 9, 1, 64, "full"],
];

function inputs(c: typeof CASES[number]) {
  const [n, N, h, d, kind] = c;
  const w = h * d;
  const qkv = normals(n * N * 3 * w, `qkv${c}`);
  const shape = kind === "key"
    ? [n, 1, 1, N]
    : kind === "full"
    ? [n, 1, N, N]
    : [1, 1, N, N];
  const b = normals(shape.reduce((a, x) => a * x, 1), `bias${c}`);
  // Masked keys as the model makes them (-1e9), but never a whole row.
  for (let i = 0; i < b.length; i++) b[i] = i % 5 === 3 ? -1e9 : b[i];
  if (N === 1) b.fill(0);
  const dy = normals(n * N * w, `dy${c}`);
  return { n, N, h, d, w, qkv, b, shape, dy, scale: 1 / Math.sqrt(d) };
}

Deno.test({
  name: "webgpu ATTENTION matches the tf-op attention on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const c of CASES) {
      const t = inputs(c);
      const mk = () => ({
        qkv: tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w]),
        bias: tf.tensor(t.b, t.shape),
      });
      const got = await cpuAndGpu(
        () => {
          const x = mk();
          return composite(x.qkv, x.bias, t.n, t.h, t.scale);
        },
        () =>
          (tf.engine().runKernel(ATTENTION, mk(), {
            n: t.n,
            heads: t.h,
            scale: t.scale,
          }) as tf.Tensor[])[0],
      );
      assert.match(got.programs, /MmjepaAttention/);
      assertClose(got.gpu[0], got.cpu[0], 1e-4, `case ${c}`);
    }
  },
});

Deno.test({
  name: "webgpu ATTENTION_GRAD matches autodiff of the tf-op attention on cpu",
  ignore: skipWebGpu,
  fn: async () => {
    for (const c of CASES) {
      const t = inputs(c);
      const attrs = { n: t.n, heads: t.h, scale: t.scale };
      const got = await cpuAndGpu(
        () => {
          const bias = tf.tensor(t.b, t.shape);
          const dy = tf.tensor2d(t.dy, [t.n * t.N, t.w]);
          return tf.grad((x: tf.Tensor) =>
            composite(x as tf.Tensor2D, bias, t.n, t.h, t.scale).mul(dy).sum()
          )(tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w]));
        },
        () => {
          const qkv = tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w]);
          const bias = tf.tensor(t.b, t.shape);
          const [o, lse] = tf.engine().runKernel(
            ATTENTION,
            { qkv, bias },
            attrs,
          ) as tf.Tensor[];
          const dy = tf.tensor2d(t.dy, [t.n * t.N, t.w]);
          return tf.engine().runKernel(
            ATTENTION_GRAD,
            { dy, qkv, bias, o, lse },
            attrs,
          ) as tf.Tensor;
        },
      );
      assert.match(got.programs, /MmjepaAttentionGrad/);
      assertClose(got.gpu[0], got.cpu[0], 1e-4, `case ${c}`);
    }
  },
});

Deno.test({
  name:
    "webgpu stack() with the fused attention: output and gradients match cpu, bias disposed before the backward pass",
  ignore: skipWebGpu,
  fn: async () => {
    const { run, names } = stackLossAndGrads(2);
    const got = await cpuAndGpu(run);
    assert.match(got.programs, /MmjepaAttentionGrad/);
    got.gpu.forEach((g, i) => assertClose(g, got.cpu[i], 1e-4, names[i]));
    // Once more outside tf.profile (which changes when tfjs-webgpu submits
    // and frees buffers), submitting after every dispatch.
    assert.ok(await tf.setBackend("webgpu"));
    const batch = tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE");
    tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", 1);
    try {
      const outs = run();
      const again = await Promise.all(
        outs.map(async (t) => new Float32Array(await t.data())),
      );
      tf.dispose(outs);
      again.forEach((g, i) =>
        assertClose(g, got.cpu[i], 1e-4, `unprofiled ${i}`)
      );
    } finally {
      tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", batch);
      await tf.setBackend("cpu");
    }
  },
});
