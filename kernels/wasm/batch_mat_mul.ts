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
    if (transposeA || k % 4 !== 0) return null;
    const out = be.makeOutput([...lead, m, n], "float32");
    const four = n % 4 === 0;
    simdOf(be).dots[four ? "dots4" : "dots1"](
      addr(be, a),
      addr(be, b),
      addr(be, out),
      batch,
      m,
      four ? n / 4 : n,
      k / 4,
      m * k * 4,
      k * 4,
      n * k * 4,
      k * 4,
    );
    return out;
  }
  if (n % 4 !== 0) return null;
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
