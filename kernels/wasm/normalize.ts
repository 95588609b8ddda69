/**
 * The fused normalization kernels (kernels/names.ts) for the wasm backend:
 * one kernel call where the composite records seven ops forward and seven
 * backward, each with its own engine bookkeeping and heap allocation. SIMD
 * when the row width is a multiple of 4, scalar loops otherwise.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { NORM_EPS } from "../names.ts";
import { addr, type KernelArgs, simdOf, type WasmBackendLike } from "./heap.ts";

/**
 * Forward kernel: `{ x }` -> `[y, inv]`.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: NORMALIZE, backendName: "wasm", kernelFunc: normalizeWasm });
 * ```
 */
export function normalizeWasm(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const w = x.shape[x.shape.length - 1];
  const y = be.makeOutput(x.shape, "float32");
  const inv = be.makeOutput([...x.shape.slice(0, -1), 1], "float32");
  const rows = x.shape.slice(0, -1).reduce((p, q) => p * q, 1);
  if (w % 4 === 0 && rows > 0) {
    simdOf(be).normalize(addr(be, x), addr(be, y), addr(be, inv), rows, w / 4);
    return [y, inv];
  }
  // Views are taken after both allocations: an allocation may grow the heap
  // and detach earlier views.
  const xs = be.typedArrayFromHeap(x), ys = be.typedArrayFromHeap(y);
  const is = be.typedArrayFromHeap(inv);
  for (let r = 0, o = 0; r < rows; r++, o += w) {
    let mean = 0;
    for (let j = 0; j < w; j++) mean += xs[o + j];
    mean /= w;
    let sq = 0;
    for (let j = 0; j < w; j++) {
      const d = xs[o + j] - mean;
      ys[o + j] = d;
      sq += d * d;
    }
    const s = 1 / Math.sqrt(sq / w + NORM_EPS);
    is[r] = s;
    for (let j = 0; j < w; j++) ys[o + j] *= s;
  }
  return [y, inv];
}

/**
 * Gradient kernel: `{ dy, y, inv }` -> dx.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: NORMALIZE_GRAD, backendName: "wasm", kernelFunc: normalizeGradWasm });
 * ```
 */
export function normalizeGradWasm(args: KernelArgs): tf.TensorInfo {
  const { dy, y, inv } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const w = dy.shape[dy.shape.length - 1];
  const dx = be.makeOutput(dy.shape, "float32");
  const rows = dy.shape.slice(0, -1).reduce((p, q) => p * q, 1);
  if (w % 4 === 0 && rows > 0) {
    simdOf(be).normalizeGrad(
      addr(be, dy),
      addr(be, y),
      addr(be, inv),
      addr(be, dx),
      rows,
      w / 4,
    );
    return dx;
  }
  const ds = be.typedArrayFromHeap(dy), ys = be.typedArrayFromHeap(y);
  const is = be.typedArrayFromHeap(inv), out = be.typedArrayFromHeap(dx);
  for (let r = 0, o = 0; r < rows; r++, o += w) {
    let md = 0, mdy = 0;
    for (let j = 0; j < w; j++) {
      md += ds[o + j];
      mdy += ds[o + j] * ys[o + j];
    }
    md /= w;
    mdy /= w;
    const s = is[r];
    for (let j = 0; j < w; j++) {
      out[o + j] = (ds[o + j] - md - ys[o + j] * mdy) * s;
    }
  }
  return dx;
}
