/**
 * The fused dense-layer kernels (kernels/names.ts) for the wasm backend.
 * Forward is one SIMD product with the bias folded into the accumulators;
 * the gradient computes dx, dw and db in one kernel call, reading x
 * transposed through strides, where tf ops record two transposes, two
 * products and a reduction (which tfjs-wasm also runs via a transpose).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  addr,
  type KernelArgs,
  matMulInto,
  simdOf,
  type WasmBackendLike,
} from "./heap.ts";

// dx = dy @ w^T as dot products up to this many input columns; wider
// inputs transpose w and use the row loops (measured here: 512 -> 32 about
// 8% faster that way, 64 -> 32 as fast or slower; kernels/wasm/
// batch_mat_mul.ts found a similar crossover for batched products).
const DOTS_MAX_IN = 64;

/**
 * Forward kernel: `{ x, w, b? }` -> y.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE, backendName: "wasm", kernelFunc: denseWasm });
 * ```
 */
export function denseWasm(args: KernelArgs): tf.TensorInfo {
  const { x, w, b } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const [r, nIn] = x.shape, nOut = w.shape[1];
  const y = be.makeOutput([r, nOut], "float32");
  if (r === 0 || nOut === 0) return y;
  matMulInto(
    be,
    { at: addr(be, x), row: 4 * nIn, col: 4 },
    { at: addr(be, w), row: 4 * nOut, col: 4 },
    addr(be, y),
    r,
    nIn,
    nOut,
    b ? addr(be, b) : 0,
  );
  return y;
}

/**
 * Gradient kernel: `{ dy, x, w }`, attrs `{ bias }` -> `[dx, dw, db?]`.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE_GRAD, backendName: "wasm", kernelFunc: denseGradWasm });
 * ```
 */
export function denseGradWasm(args: KernelArgs): tf.TensorInfo[] {
  const { dy, x, w } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const [r, nIn] = x.shape, nOut = w.shape[1];
  const dx = be.makeOutput([r, nIn], "float32");
  if (r === 0 || nIn === 0 || nOut === 0) {
    be.typedArrayFromHeap(dx).fill(0);
  } else if (nIn > DOTS_MAX_IN && nIn % 4 === 0) {
    // dx = dy @ w^T for wide inputs (the 512-wide patch embedding): w^T
    // into scratch (in x out numbers, next to r x out x in multiply-adds),
    // then the row loops, which beat per-column dot products there.
    const wt = be.makeOutput([nOut, nIn], "float32");
    const src = be.typedArrayFromHeap(w), dst = be.typedArrayFromHeap(wt);
    for (let i = 0; i < nIn; i++) {
      for (let j = 0; j < nOut; j++) dst[j * nIn + i] = src[i * nOut + j];
    }
    matMulInto(
      be,
      { at: addr(be, dy), row: 4 * nOut, col: 4 },
      { at: addr(be, wt), row: 4 * nIn, col: 4 },
      addr(be, dx),
      r,
      nOut,
      nIn,
    );
    be.disposeData(wt.dataId);
  } else if (nOut % 4 === 0) {
    // dx = dy @ w^T: dot products along out, contiguous in both.
    const four = nIn % 4 === 0;
    simdOf(be).dots[four ? "dots4" : "dots1"](
      addr(be, dy),
      addr(be, w),
      addr(be, dx),
      1,
      r,
      four ? nIn / 4 : nIn,
      nOut / 4,
      0,
      4 * nOut,
      0,
      4 * nOut,
    );
  } else {
    matMulInto(
      be,
      { at: addr(be, dy), row: 4 * nOut, col: 4 },
      { at: addr(be, w), row: 4, col: 4 * nOut },
      addr(be, dx),
      r,
      nOut,
      nIn,
    );
  }
  return [dx, ...denseParamGradWasm(args)];
}

/**
 * Parameter-gradient kernel: `{ dy, x }`, attrs `{ bias }` -> `[dw, db?]`.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE_PARAM_GRAD, backendName: "wasm", kernelFunc: denseParamGradWasm });
 * ```
 */
export function denseParamGradWasm(args: KernelArgs): tf.TensorInfo[] {
  const { dy, x } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const bias = Boolean(args.attrs?.bias);
  const [r, nIn] = x.shape, nOut = dy.shape[1];
  const dw = be.makeOutput([nIn, nOut], "float32");
  const db = bias ? be.makeOutput([nOut], "float32") : null;
  if (r === 0 || nIn === 0 || nOut === 0) {
    for (const t of [dw, db]) if (t) be.typedArrayFromHeap(t).fill(0);
    return db ? [dw, db] : [dw];
  }
  const pdy = addr(be, dy);
  // dw = x^T @ dy, x read transposed through its strides.
  matMulInto(
    be,
    { at: addr(be, x), row: 4, col: 4 * nIn },
    { at: pdy, row: 4 * nOut, col: 4 },
    addr(be, dw),
    nIn,
    r,
    nOut,
  );
  if (db) {
    if (nOut % 4 === 0) {
      simdOf(be).colsum(pdy, addr(be, db), r, nOut / 4);
    } else {
      const g = be.typedArrayFromHeap(dy), out = be.typedArrayFromHeap(db);
      out.fill(0);
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < nOut; j++) out[j] += g[i * nOut + j];
      }
    }
  }
  return db ? [dw, db] : [dw];
}
