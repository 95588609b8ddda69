import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { handlesMatMul } from "../../../kernels/webgpu/matmul.ts";
import { assertClose, cpuAndGpu, normals, skipWebGpu } from "./helpers.ts";

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Logical a [.., m, k] @ b [.., k, n], stored as the transpose flags say. */
function stored(lead: number[], m: number, k: number, t: boolean): number[] {
  return [...lead, ...(t ? [k, m] : [m, k])];
}

async function check(
  la: number[],
  lb: number[],
  m: number,
  k: number,
  n: number,
  tA: boolean,
  tB: boolean,
): Promise<void> {
  const sa = stored(la, m, k, tA), sb = stored(lb, k, n, tB);
  const a = normals(size(sa), `a${sa}`), b = normals(size(sb), `b${sb}`);
  const what = `[${sa}]${tA ? "^T" : ""} x [${sb}]${tB ? "^T" : ""}`;
  const r = await cpuAndGpu(() =>
    tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), tA, tB)
  );
  assertClose(r.gpu[0], r.cpu[0], 1e-4, what);
  assert.match(r.programs, /MmjepaMatMul/, `${what}: ran ${r.programs}`);
}

const flags: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

Deno.test({
  name: "webgpu matmul: 2D model shapes and odd sizes, all transposes",
  ignore: skipWebGpu,
  fn: async () => {
    for (const [tA, tB] of flags) {
      await check([], [], 1536, 32, 96, tA, tB);
      await check([], [], 32, 1536, 96, tA, tB);
      await check([], [], 13, 7, 9, tA, tB);
      await check([], [], 5, 3, 1, tA, tB);
      await check([], [], 1, 1, 1, tA, tB);
      await check([], [], 6, 2, 8, tA, tB);
    }
  },
});

Deno.test({
  name: "webgpu matmul: batched attention shapes and odd sizes, all transposes",
  ignore: skipWebGpu,
  fn: async () => {
    for (const [tA, tB] of flags) {
      await check([256], [256], 12, 16, 12, tA, tB);
      await check([256], [256], 12, 12, 16, tA, tB);
      await check([4, 2], [4, 2], 50, 16, 50, tA, tB);
      await check([2, 3], [2, 3], 13, 6, 9, tA, tB);
    }
  },
});

Deno.test({
  name: "webgpu matmul: one side without batch dims is shared",
  ignore: skipWebGpu,
  fn: async () => {
    await check([3], [], 9, 5, 11, false, false);
    await check([], [3], 9, 5, 11, true, false);
    await check([1, 1], [5], 4, 6, 3, false, true);
  },
});

Deno.test({
  name: "webgpu matmul: int32 and mixed broadcasts go to the stock kernel",
  ignore: skipWebGpu,
  fn: async () => {
    assert.equal(handlesMatMul([2, 1, 4, 5], [1, 3, 5, 6]), false);
    assert.equal(handlesMatMul([4, 5], [5, 6], ["int32", "int32"]), false);
    const a = Int32Array.from(normals(20, "ia"), (v) => Math.round(4 * v));
    const b = Int32Array.from(normals(30, "ib"), (v) => Math.round(4 * v));
    const r = await cpuAndGpu(() =>
      tf.matMul(
        tf.tensor2d(a, [4, 5], "int32"),
        tf.tensor2d(b, [5, 6], "int32"),
      )
    );
    assertClose(r.gpu[0], r.cpu[0], 0, "int32 [4, 5] x [5, 6]");
    assert.doesNotMatch(r.programs, /Mmjepa/);
  },
});

Deno.test({
  name: "webgpu matmul: gradients through tfjs's transposed products",
  ignore: skipWebGpu,
  fn: async () => {
    const a = normals(2 * 12 * 16, "ga"), b = normals(2 * 12 * 16, "gb");
    const w = normals(2 * 12 * 12, "gw");
    const r = await cpuAndGpu(() => {
      const ta = tf.tensor(a, [2, 12, 16]), tb = tf.tensor(b, [2, 12, 16]);
      const tw = tf.tensor(w, [2, 12, 12]);
      return tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        tf.matMul(x, y, false, true).mul(tw).sum()
      )([ta, tb]);
    });
    assertClose(r.gpu[0], r.cpu[0], 1e-4, "d/da");
    assertClose(r.gpu[1], r.cpu[1], 1e-4, "d/db");
    assert.match(r.programs, /MmjepaMatMul/);
  },
});
