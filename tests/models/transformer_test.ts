import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import { setCustomKernels } from "../../kernels/mod.ts";
import { linear } from "../../models/transformer.ts";

await initBackend("wasm");

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

// With mmjepa's kernels linear() is the fused dense kernel; with tfjs's
// stock ones it is the transpose-free product of models/transformer.ts.
for (const custom of [true, false]) {
  Deno.test(`linear on wasm (${custom ? "mmjepa" : "stock"} kernels): value and gradients match tf.matMul`, async () => {
    setCustomKernels(custom);
    try {
      await checkLinear();
    } finally {
      setCustomKernels(true);
    }
  });
}

async function checkLinear(): Promise<void> {
  assert.equal(tf.getBackend(), "wasm");
  const rng = new Rng("matmul2d");
  const [m, k, n] = [37, 13, 7];
  const a = tf.tensor2d(rng.normals(m * k), [m, k]);
  const b = tf.tensor2d(rng.normals(k * n), [k, n]);
  // A random cotangent, so every output entry weighs differently.
  const r = tf.tensor2d(rng.normals(m * n), [m, n]);
  const loss = (f: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor) =>
    tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      f(x as tf.Tensor2D, y as tf.Tensor2D).mul(r).sum()
    );
  const mm = (x: tf.Tensor2D, y: tf.Tensor2D) => linear(x, y, null);
  const [gaFast, gbFast] = loss(mm)([a, b]);
  const [gaRef, gbRef] = loss((x, y) => tf.matMul(x, y))([a, b]);
  const vFast = await mm(a, b).data() as Float32Array;
  const vRef = await tf.matMul(a, b).data() as Float32Array;
  assert.deepEqual(gaFast.shape, [m, k]);
  assert.deepEqual(gbFast.shape, [k, n]);
  assert.ok(maxAbsDiff(vFast, vRef) < 1e-5);
  const da = maxAbsDiff(
    await gaFast.data() as Float32Array,
    await gaRef.data() as Float32Array,
  );
  const db = maxAbsDiff(
    await gbFast.data() as Float32Array,
    await gbRef.data() as Float32Array,
  );
  assert.ok(da < 1e-4, `d loss / d a differs by ${da}`);
  assert.ok(db < 1e-4, `d loss / d b differs by ${db}`);
  // Not all zeros: the comparison above would pass on two zero gradients.
  assert.ok((await gbRef.abs().sum().data())[0] > 1);
  tf.dispose([a, b, r, gaFast, gbFast, gaRef, gbRef]);
}
