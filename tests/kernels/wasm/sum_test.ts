import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../kernels/backend.ts";
import { RngStreams } from "../../../core/rng.ts";
import { setCustomKernels } from "../../../kernels/mod.ts";

function normals(n: number, seed: number): Float32Array {
  return Float32Array.from(new RngStreams(seed).get("x").normals(n));
}

// [shape, axis, keepDims]: sums over leading axes (the SIMD path: inner
// size a multiple of 4) at odd sizes, negative and unsorted axes, and
// cases the stock kernel keeps (inner axes, inner size not a multiple of
// 4, everything summed, int32).
const CASES: [number[], number | number[], boolean][] = [
  [[7, 12], 0, false],
  [[13, 3, 4], 0, false],
  [[5, 3, 8], [1, 0], true],
  [[9, 7, 4], -3, true],
  [[3, 5, 2, 6], [0, 1], false],
  [[1, 20], 0, false],
  [[0, 8], 0, false],
  [[1536, 32], 0, false],
  [[128, 12, 32], 0, false],
  // Stock: inner axes, an odd inner size, everything.
  [[6, 8], 1, false],
  [[5, 3, 8], [0, 2], false],
  [[7, 5], 0, true],
  [[4, 8], [0, 1], false],
];

async function sumOn(
  backend: "cpu" | "wasm",
  custom: boolean,
  shape: number[],
  axis: number | number[],
  keepDims: boolean,
  dtype: "float32" | "int32" = "float32",
): Promise<{ shape: number[]; values: Float32Array | Int32Array }> {
  await initBackend(backend);
  setCustomKernels(custom);
  try {
    const size = shape.reduce((a, b) => a * b, 1);
    const vals = normals(size, size + shape.length);
    const x = dtype === "int32"
      ? tf.tensor(
        Int32Array.from(vals, (v) => Math.round(10 * v)),
        shape,
        dtype,
      )
      : tf.tensor(vals, shape);
    const before = tf.engine().backend.numDataIds();
    const y = tf.sum(x, axis, keepDims);
    const out = {
      shape: y.shape,
      values: (await y.data()) as Float32Array | Int32Array,
    };
    y.dispose();
    assert.equal(tf.engine().backend.numDataIds(), before, "heap buffers");
    x.dispose();
    return out;
  } finally {
    setCustomKernels(true);
  }
}

for (const [shape, axis, keepDims] of CASES) {
  Deno.test(
    `wasm Sum over [${shape}] axis ${JSON.stringify(axis)}${
      keepDims ? " (keepDims)" : ""
    } = cpu and stock wasm`,
    async () => {
      const want = await sumOn("cpu", true, shape, axis, keepDims);
      const got = await sumOn("wasm", true, shape, axis, keepDims);
      const stock = await sumOn("wasm", false, shape, axis, keepDims);
      assert.deepEqual(got.shape, want.shape);
      assert.deepEqual(stock.shape, want.shape);
      assert.equal(got.values.length, want.values.length);
      // Rows are added in order in float32 (the cpu backend adds in float64,
      // stock wasm in another order): rounding grows with the rows summed.
      const size = shape.reduce((a, b) => a * b, 1);
      const tol = 1e-6 * Math.max(1, size / Math.max(1, want.values.length));
      for (let i = 0; i < want.values.length; i++) {
        for (
          const [other, what] of [[want, "cpu"], [stock, "stock"]] as const
        ) {
          assert.ok(
            Math.abs(got.values[i] - other.values[i]) <=
              tol * Math.max(1, Math.abs(other.values[i])),
            `[${i}]: wasm ${got.values[i]} vs ${what} ${other.values[i]}`,
          );
        }
      }
    },
  );
}

Deno.test("wasm Sum of int32 over the first axis stays int32 and exact", async () => {
  const want = await sumOn("cpu", true, [9, 8], 0, false, "int32");
  const got = await sumOn("wasm", true, [9, 8], 0, false, "int32");
  assert.deepEqual(Array.from(got.values), Array.from(want.values));
  assert.ok(got.values instanceof Int32Array);
});
