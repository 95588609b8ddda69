import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../kernels/backend.ts";
import { RngStreams } from "../../../core/rng.ts";
import { hasKernel, INFONCE, RELU_GRAD } from "../../../kernels/mod.ts";
import { infoNce, unitInfoNce } from "../../../models/contrastive.ts";
import { relu } from "../../../models/transformer.ts";

function normals(n: number, seed: number): Float32Array {
  return Float32Array.from(new RngStreams(seed).get("x").normals(n));
}

function assertClose(
  got: Float32Array,
  want: Float32Array,
  what: string,
  tol = 2e-5,
) {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = Math.max(1e-3, ...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Number.isFinite(got[i]) && Math.abs(got[i] - want[i]) <= tol * scale,
      `${what}[${i}]: wasm ${got[i]} vs cpu ${want[i]}`,
    );
  }
}

// Loss and gradients (a, b, log scale) of a loss(a, b, logScale, valid);
// a and b are disposed, and the backend must hold as many buffers after as
// `heapBefore`.
async function lossAndGrads(
  loss: (
    a: tf.Tensor,
    b: tf.Tensor,
    s: tf.Tensor,
    v: tf.Tensor,
  ) => tf.Scalar,
  a: tf.Tensor,
  b: tf.Tensor,
  logScale: number,
  valid: number[],
  heapBefore: number,
): Promise<Float32Array[]> {
  const s = tf.scalar(logScale), v = tf.tensor1d(valid);
  const { value, grads } = tf.tidy(() =>
    tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
      loss(x, y, z, v)
    )([a, b, s])
  );
  const out = await Promise.all(
    [value, ...grads].map((t) => t.data() as Promise<Float32Array>),
  );
  tf.dispose([a, b, s, v, value, ...grads]);
  assert.equal(tf.engine().backend.numDataIds(), heapBefore, "heap buffers");
  return out;
}

// Loss and gradients (zi, ze, log scale) of infoNce on one backend.
async function infoNceOn(
  backend: "cpu" | "wasm",
  n: number,
  w: number,
  valid: number[],
  logScale: number,
): Promise<Float32Array[]> {
  await initBackend(backend);
  const heapBefore = tf.engine().backend.numDataIds();
  const unit = (x: tf.Tensor) => x.div(x.square().sum(1, true).sqrt());
  const a = tf.tidy(() => unit(tf.tensor2d(normals(n * w, 1), [n, w])));
  const b = tf.tidy(() => unit(tf.tensor2d(normals(n * w, 2), [n, w])));
  return await lossAndGrads(infoNce, a, b, logScale, valid, heapBefore);
}

const validOf = (n: number, drop: number[]) =>
  Array.from({ length: n }, (_, i) => drop.includes(i) ? 0 : 1);

for (
  const [n, w, drop, logScale] of [
    [13, 12, [2, 7], Math.log(1 / 0.07)], // dots1: n % 4 != 0
    [16, 8, [0], Math.log(1 / 0.07)], // dots4
    [7, 6, [], 2], // w % 4 != 0: scalar products
    [9, 5, [3], 5], // scale clamped at 100
    [5, 4, [0, 1, 2, 3, 4], 1], // nobody valid: loss 0, no gradient
    [1, 4, [], 1],
  ] as [number, number, number[], number][]
) {
  Deno.test(`wasm InfoNCE = cpu tf ops, n ${n}, w ${w}, ${drop.length} invalid`, async () => {
    const want = await infoNceOn("cpu", n, w, validOf(n, drop), logScale);
    await initBackend("wasm");
    assert.ok(hasKernel(INFONCE), "wasm registers INFONCE");
    const got = await infoNceOn("wasm", n, w, validOf(n, drop), logScale);
    for (const [i, what] of ["loss", "dzi", "dze", "dlogScale"].entries()) {
      assertClose(got[i], want[i], what, 1e-4);
    }
    if (drop.length === n) assert.equal(got[0][0], 0);
  });
}

for (const shape of [[7, 13], [3, 5, 4], [1], [4001]]) {
  Deno.test(`wasm ReLU gradient = cpu, shape [${shape}]`, async () => {
    const size = shape.reduce((p, q) => p * q, 1);
    const x0 = normals(size, 3), dy0 = normals(size, 4);
    x0[0] = 0; // step(0) = 0
    const run = async (backend: "cpu" | "wasm") => {
      await initBackend(backend);
      const x = tf.tensor(x0, shape), dy = tf.tensor(dy0, shape);
      const [y, dx] = tf.tidy(() => {
        const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => relu(t))(
          x,
          dy,
        );
        return [value, grad];
      });
      const out = [await y.data(), await dx.data()] as Float32Array[];
      tf.dispose([x, dy, y, dx]);
      return out;
    };
    const want = await run("cpu");
    await initBackend("wasm");
    assert.ok(hasKernel(RELU_GRAD), "wasm registers RELU_GRAD");
    const got = await run("wasm");
    assertClose(got[0], want[0], "relu");
    assertClose(got[1], want[1], "relu grad");
  });
}

// Loss and gradients (xi, xe, log scale) of unitInfoNce on raw rows (of
// norm about `norm`), on one backend.
async function unitInfoNceOn(
  backend: "cpu" | "wasm",
  n: number,
  w: number,
  valid: number[],
  logScale: number,
  norm: number,
): Promise<Float32Array[]> {
  await initBackend(backend);
  const heapBefore = tf.engine().backend.numDataIds();
  const a = tf.tensor2d(normals(n * w, 5).map((x) => x * norm), [n, w]);
  const b = tf.tensor2d(normals(n * w, 6).map((x) => x * norm), [n, w]);
  return await lossAndGrads(unitInfoNce, a, b, logScale, valid, heapBefore);
}

for (
  const [n, w, drop, logScale, norm] of [
    [13, 12, [2, 7], Math.log(1 / 0.07), 3], // dots1: n % 4 != 0
    [16, 8, [0], Math.log(1 / 0.07), 0.2], // dots4
    [7, 6, [], 2, 1], // w % 4 != 0: scalar products
    [9, 5, [3], 5, 2], // scale clamped at 100: no log-scale gradient
    [5, 4, [0, 1, 2, 3, 4], 1, 1], // nobody valid: loss 0, no gradient
    [1, 4, [], 1, 4],
    [128, 32, [5, 77], Math.log(1 / 0.07), 1], // the features bench's size
  ] as [number, number, number[], number, number][]
) {
  Deno.test(
    `wasm InfoNCE of unit rows (fused normalize and scale) = cpu tf ops, n ${n}, w ${w}, ${drop.length} invalid, log scale ${
      logScale.toFixed(2)
    }`,
    async () => {
      const args = [n, w, validOf(n, drop), logScale, norm] as const;
      const want = await unitInfoNceOn("cpu", ...args);
      await initBackend("wasm");
      assert.ok(hasKernel(INFONCE), "wasm registers INFONCE");
      const got = await unitInfoNceOn("wasm", ...args);
      for (const [i, what] of ["loss", "dxi", "dxe", "dlogScale"].entries()) {
        assertClose(got[i], want[i], what, 1e-4);
      }
      if (logScale > Math.log(100)) assert.equal(got[3][0], 0);
      if (drop.length === n) assert.equal(got[0][0], 0);
      else if (n > 1) {
        assert.ok(want[1].some((g) => Math.abs(g) > 1e-3), "no gradient");
      }
    },
  );
}

Deno.test("wasm InfoNCE on rows far from unit length (logits spanning more than 600: two shifts) = cpu tf ops", async () => {
  const n = 11, w = 8;
  const run = async (backend: "cpu" | "wasm") => {
    await initBackend(backend);
    // Rows of norm about 6: scale 100 makes logits of about +-3600.
    const a = tf.tensor2d(normals(n * w, 7).map((x) => 2 * x), [n, w]);
    const b = tf.tensor2d(normals(n * w, 8).map((x) => 2 * x), [n, w]);
    const s = tf.scalar(Math.log(100)), v = tf.tensor1d(validOf(n, [4]));
    const { value, grads } = tf.tidy(() =>
      tf.valueAndGrads((x: tf.Tensor, y: tf.Tensor) => infoNce(x, y, s, v))([
        a,
        b,
      ])
    );
    const out = [value, ...grads].map((t) => t.dataSync() as Float32Array);
    tf.dispose([a, b, s, v, value, ...grads]);
    return out;
  };
  const want = await run("cpu");
  assert.ok(want[0][0] > 100, `loss ${want[0][0]}: logits not large`);
  const got = await run("wasm");
  for (const [i, what] of ["loss", "dzi", "dze"].entries()) {
    assertClose(got[i], want[i], what, 1e-4);
  }
});
