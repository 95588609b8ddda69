/**
 * Sum over leading axes for the wasm backend through the SIMD column sum.
 * tfjs-wasm reduces over the last axes only, so a sum over the first axis
 * (every broadcast add's and every per-channel scale's gradient: bias,
 * layer-norm gain, position embeddings) first transposes its input; at the
 * features level that was three of the heaviest kernel calls of a
 * contrastive step. Other sums return null, for the stock kernel.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { addr, type KernelArgs, simdOf, type WasmBackendLike } from "./heap.ts";

/**
 * A kernelFunc body for "Sum" on wasm: a float32 sum over the first k
 * axes (any keepDims) whose remaining size is a multiple of 4 runs as
 * column sums, row by row in order; anything else returns null.
 *
 * @example
 * ```ts
 * const out = leadingSumWasm(args) ?? stock.kernelFunc(args);
 * ```
 */
export function leadingSumWasm(args: KernelArgs): tf.TensorInfo | null {
  const { x } = args.inputs;
  if (x.dtype !== "float32" || x.shape.length < 2) return null;
  const axes = tf.util.parseAxisParam(
    args.attrs?.axis as number | number[],
    x.shape,
  ).sort((a, b) => a - b);
  const k = axes.length;
  if (k === 0 || k === x.shape.length) return null;
  if (!axes.every((a, i) => a === i)) return null;
  const rows = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
  const rest = x.shape.slice(k);
  const inner = rest.reduce((a, b) => a * b, 1);
  if (inner % 4 !== 0 || inner === 0) return null;
  const be = args.backend as WasmBackendLike;
  const shape = args.attrs?.keepDims
    ? [...x.shape.slice(0, k).map(() => 1), ...rest]
    : rest;
  const out = be.makeOutput(shape, "float32");
  if (rows === 0) {
    be.typedArrayFromHeap(out).fill(0);
    return out;
  }
  simdOf(be).colsum(addr(be, x), addr(be, out), rows, inner / 4);
  return out;
}
