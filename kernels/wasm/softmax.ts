/**
 * The softmax gradient (kernels/names.ts) for the wasm backend: one pass
 * per row where tfjs records a product, a row sum, a difference and
 * another product, each over the whole [n, heads, N, N] attention tensor.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { addr, type KernelArgs, simdOf, type WasmBackendLike } from "./heap.ts";

/**
 * Gradient kernel: `{ dy, y }` -> dx.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: SOFTMAX_GRAD, backendName: "wasm", kernelFunc: softmaxGradWasm });
 * ```
 */
export function softmaxGradWasm(args: KernelArgs): tf.TensorInfo {
  const { dy, y } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const w = dy.shape[dy.shape.length - 1] ?? 1;
  const rows = dy.shape.slice(0, -1).reduce((p, q) => p * q, 1);
  const dx = be.makeOutput(dy.shape, "float32");
  if (rows > 0 && w > 0) {
    simdOf(be).softmaxGrad(
      addr(be, dy),
      addr(be, y),
      addr(be, dx),
      rows,
      Math.floor(w / 4),
      w % 4,
    );
  }
  return dx;
}
