import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { RngStreams } from "../../../core/rng.ts";
import { ATTENTION, ATTENTION_GRAD } from "../../../kernels/names.ts";
import { ParamSet } from "../../../models/params.ts";
import { keyBias, stack, stackSpecs } from "../../../models/transformer.ts";
import { assertClose, cpuAndGpu, normals, skipWebGpu } from "./helpers.ts";

// The composite models/transformer.ts runs without the kernel: qkv
// [n*N, 3w] -> heads, scaled q, logits + bias, softmax, weighted v, back to
// token rows.
function composite(
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
    const shape = { width: 12, depth: 2, heads: 2, mlpRatio: 2, decay: false };
    const n = 3, N = 7;
    const specs = stackSpecs("enc", shape);
    const x0 = normals(n * N * shape.width, "stack-x");
    const keep = Float32Array.from(
      { length: n * N },
      (_, i) => i % 4 === 2 ? 0 : 1,
    );
    const run = () => {
      const set = ParamSet.create(specs, new RngStreams(5).get("init"));
      const x = tf.tensor3d(x0, [n, N, shape.width]);
      const { value, grads } = tf.variableGrads(
        () =>
          // The key bias is disposed before the backward pass (the
          // kernel's gradient must get it through the tape).
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
    const got = await cpuAndGpu(run);
    assert.match(got.programs, /MmjepaAttentionGrad/);
    got.gpu.forEach((g, i) =>
      assertClose(g, got.cpu[i], 1e-4, i ? specs[i - 1].name : "loss")
    );
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
