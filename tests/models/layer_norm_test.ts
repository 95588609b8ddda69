import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { RngStreams } from "../../core/rng.ts";
import { setCustomKernels } from "../../kernels/mod.ts";
import { layerNorm } from "../../models/transformer.ts";

function normals(n: number, seed: string): Float32Array {
  return Float32Array.from(new RngStreams(5).get(seed).normals(n));
}

// Value and gradients (x, g, b) of layerNorm with gain and bias, weighted
// by fixed random numbers so every entry counts; `composite`: the
// unfused form normalize(x) * g + b.
async function run(
  backend: "cpu" | "wasm",
  custom: boolean,
  shape: number[],
  composite: boolean,
): Promise<Float32Array[]> {
  await initBackend(backend);
  setCustomKernels(custom);
  try {
    const w = shape[shape.length - 1];
    const size = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(normals(size, `x${shape}`), shape);
    const wts = tf.tensor(normals(size, `w${shape}`), shape);
    const g = tf.tensor1d(normals(w, `g${shape}`).map((v) => 1 + 0.3 * v));
    const b = tf.tensor1d(normals(w, `b${shape}`));
    const before = tf.memory().numTensors;
    const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const y = composite
        ? layerNorm(xx, null, null).mul(gg).add(bb)
        : layerNorm(xx, { "n/g": gg, "n/b": bb }, "n");
      return y.mul(wts).sum() as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)([x, g, b]);
    const out = [value, ...grads].map((t) => Float32Array.from(t.dataSync()));
    tf.dispose([value, ...grads]);
    assert.equal(tf.memory().numTensors, before, "tensors left behind");
    tf.dispose([x, wts, g, b]);
    return out;
  } finally {
    setCustomKernels(true);
  }
}

for (const shape of [[7, 12], [3, 5, 8], [1536, 32], [1, 4]]) {
  Deno.test(`layerNorm with gain and bias on wasm (one fused tape node), shape [${shape}]: the unfused ops' value and gradients to the bit, and cpu's`, async () => {
    const fused = await run("wasm", true, shape, false);
    const unfused = await run("wasm", true, shape, true);
    const stock = await run("wasm", false, shape, false);
    const cpu = await run("cpu", true, shape, false);
    assert.ok(fused[2].some((v) => Math.abs(v) > 1e-3), "no gain gradient");
    fused.forEach((got, i) => {
      // (Not deepEqual: its diff of 49,152 numbers takes minutes.)
      assert.equal(got.length, unfused[i].length);
      const at = got.findIndex((v, j) => !Object.is(v, unfused[i][j]));
      assert.equal(
        at,
        -1,
        `tensor ${i}[${at}]: ${got[at]} vs unfused ${unfused[i][at]}`,
      );
      for (const [want, what] of [[stock, "stock"], [cpu, "cpu"]] as const) {
        const scale = Math.max(1, ...want[i].map(Math.abs));
        got.forEach((v, j) =>
          assert.ok(
            Math.abs(v - want[i][j]) <= 2e-4 * scale,
            `tensor ${i}[${j}]: ${v} vs ${what} ${want[i][j]}`,
          )
        );
      }
    });
  });
}
