import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../kernels/backend.ts";
import { RngStreams } from "../../../core/rng.ts";

// [x shape, indices shape, axis]: odd row counts and widths, rank 1 to 3,
// 2D indices, repeated rows; axis 1 and the last axis go to the stock kernel.
const CASES: [number[], number[], number][] = [
  [[7, 5], [4], 0],
  [[1, 1], [3], 0],
  [[13], [9], 0],
  [[9, 3, 5], [2, 3], 0],
  [[6144 + 3, 32], [4161], 0],
  [[7, 5], [4], 1],
  [[4, 6, 3], [5], -1],
];

async function gatherOn(
  backend: "cpu" | "wasm",
  c: typeof CASES[number],
): Promise<Float32Array> {
  await initBackend(backend);
  const [xs, is, axis] = c;
  const rng = new RngStreams(3).get(`gather${c}`);
  const size = xs.reduce((a, b) => a * b, 1);
  const x = tf.tensor(Float32Array.from(rng.normals(size)), xs);
  const dim = xs.at(axis)!;
  const count = is.reduce((a, b) => a * b, 1);
  const idx = tf.tensor(
    Int32Array.from({ length: count }, (_, i) => (i * 5 + 2) % dim),
    is,
    "int32",
  );
  const y = tf.gather(x, idx, axis);
  const out = new Float32Array(await y.data());
  tf.dispose([x, idx, y]);
  return out;
}

Deno.test("wasm GatherV2 (whole rows by copies) equals cpu on odd sizes, ranks and index shapes; other axes go to the stock kernel", async () => {
  for (const c of CASES) {
    const want = await gatherOn("cpu", c);
    const got = await gatherOn("wasm", c);
    assert.deepEqual(got, want, `case ${JSON.stringify(c)}`);
  }
});

Deno.test("wasm GatherV2 rejects a row index out of range, as the stock kernel does", async () => {
  await initBackend("wasm");
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  for (const bad of [2, -1]) {
    const idx = tf.tensor1d([0, bad], "int32");
    assert.throws(() => tf.gather(x, idx), /index value/);
    idx.dispose();
  }
  x.dispose();
});
