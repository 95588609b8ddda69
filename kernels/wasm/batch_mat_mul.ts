/**
 * BatchMatMul for the wasm backend through mmjepa's SIMD loops.
 * tfjs-wasm hands a product with more than one batch entry to a scalar
 * loop that ran at about 0.5 GFLOP/s here; attention's per-head products
 * ([n * heads, N, d]) all take that path and were a fifth of a JEPA step.
 * Products these loops do not cover return null, for the stock kernel.
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

// a @ b^T as dot products (dots4) up to this many columns; beyond it, and for
// odd sizes, transposing b first and using the row loops was faster (a
// [64, 201, 16] @ [64, 201, 16]^T: dots1 17 ms, transpose + rows about 8).
const DOTS_MAX_N = 32;

// [batch, rows, cols] -> a new [batch, cols, rows] tensor on the heap.
function transposed(
  be: WasmBackendLike,
  x: tf.TensorInfo,
  batch: number,
  rows: number,
  cols: number,
): tf.TensorInfo {
  const out = be.makeOutput([batch, cols, rows], "float32");
  const src = be.typedArrayFromHeap(x), dst = be.typedArrayFromHeap(out);
  for (let t = 0, o = 0; t < batch; t++, o += rows * cols) {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        dst[o + j * rows + i] = src[o + i * cols + j];
      }
    }
  }
  return out;
}

/**
 * A kernelFunc body for "BatchMatMul" on wasm: float32 products with
 * matching leading shapes (at least two batch entries) run in the SIMD
 * loops; anything else returns null so the caller can use the stock kernel.
 *
 * @example
 * ```ts
 * const out = simdBatchMatMul(args) ?? stock.kernelFunc(args);
 * ```
 */
export function simdBatchMatMul(args: KernelArgs): tf.TensorInfo | null {
  const { a, b } = args.inputs;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  if (a.dtype !== "float32" || b.dtype !== "float32") return null;
  if (a.shape.length < 3 || a.shape.length !== b.shape.length) return null;
  const lead = a.shape.slice(0, -2);
  if (lead.some((d, i) => d !== b.shape[i])) return null;
  const batch = lead.reduce((x, y) => x * y, 1);
  const [a0, a1] = a.shape.slice(-2), [b0, b1] = b.shape.slice(-2);
  const m = transposeA ? a1 : a0, k = transposeA ? a0 : a1;
  const n = transposeB ? b0 : b1;
  if ((transposeB ? b1 : b0) !== k) return null;
  if (batch < 2 || m === 0 || n === 0 || k === 0) return null;
  const be = args.backend as WasmBackendLike;
  if (transposeB) {
    if (transposeA) return null;
    const out = be.makeOutput([...lead, m, n], "float32");
    if (k % 4 === 0 && n % 4 === 0 && n <= DOTS_MAX_N) {
      simdOf(be).dots.dots4(
        addr(be, a),
        addr(be, b),
        addr(be, out),
        batch,
        m,
        n / 4,
        k / 4,
        m * k * 4,
        k * 4,
        n * k * 4,
        k * 4,
      );
      return out;
    }
    // Wider or odd products: B^T into scratch, then the blocked row loops.
    const bt = transposed(be, b, batch, n, k);
    matMulInto(
      be,
      { at: addr(be, a), row: k * 4, col: 4 },
      { at: addr(be, bt), row: n * 4, col: 4 },
      addr(be, out),
      m,
      k,
      n,
      0,
      batch,
      m * k * 4,
      k * n * 4,
    );
    be.disposeData(bt.dataId);
    return out;
  }
  if (n < 4) return null;
  const out = be.makeOutput([...lead, m, n], "float32");
  matMulInto(
    be,
    {
      at: addr(be, a),
      row: transposeA ? 4 : k * 4,
      col: transposeA ? m * 4 : 4,
    },
    { at: addr(be, b), row: n * 4, col: 4 },
    addr(be, out),
    m,
    k,
    n,
    0,
    batch,
    m * k * 4,
    k * n * 4,
  );
  return out;
}
