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
    assert.equal(got.length, want.length);
    const at = want.findIndex((v, j) => got[j] !== v);
    assert.equal(at, -1, `case ${JSON.stringify(c)}: differs at ${at}`);
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

// [x shape, numOrSizeSplits, axis]: every axis, sizes with -1, equal parts,
// empty parts, the volume token gradient's shape.
const SPLITS: [number[], number | number[], number][] = [
  [[32, 201, 32], [192, 8, 1], 1],
  [[5, 7, 3], [2, -1, 1], 1],
  [[6, 5], 3, 0],
  [[4, 9], [0, 4, 5], 1],
  [[3, 4, 6], 2, -1],
  [[7], [3, 4], 0],
];

Deno.test("wasm SplitV (block copies) equals cpu on every axis, -1 and empty parts", async () => {
  for (const [shape, spec, axis] of SPLITS) {
    const parts: Float32Array[][] = [];
    for (const backend of ["cpu", "wasm"] as const) {
      await initBackend(backend);
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(
        Float32Array.from(new RngStreams(4).get(`split${shape}`).normals(size)),
        shape,
      );
      const ys = tf.split(x, spec, axis);
      parts.push(
        await Promise.all(ys.map(async (y) => {
          assert.deepEqual(y.shape.length, shape.length);
          return new Float32Array(await y.data());
        })),
      );
      tf.dispose([x, ...ys]);
    }
    // Element by element: a failing deepEqual on 200k numbers takes minutes.
    const what = `split ${shape} by ${spec} on ${axis}`;
    assert.equal(parts[1].length, parts[0].length, what);
    parts[0].forEach((want, i) => {
      assert.equal(parts[1][i].length, want.length, `${what}: part ${i}`);
      const at = want.findIndex((v, j) => parts[1][i][j] !== v);
      assert.equal(at, -1, `${what}: part ${i} differs at ${at}`);
    });
  }
});
