/**
 * The ReLU gradient (kernels/names.ts) for the wasm backend: one SIMD pass
 * where tfjs runs Step (slow on wasm: about 2 ns per element) and a
 * product. The volume stem's ReLU covers 3M numbers per batch of 32.
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
 * tf.registerKernel({ kernelName: RELU_GRAD, backendName: "wasm", kernelFunc: reluGradWasm });
 * ```
 */
export function reluGradWasm(args: KernelArgs): tf.TensorInfo {
  const { dy, y } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const size = dy.shape.reduce((p, q) => p * q, 1);
  const dx = be.makeOutput(dy.shape, "float32");
  const quads = size >> 2;
  if (quads > 0) {
    simdOf(be).reluGrad(addr(be, dy), addr(be, y), addr(be, dx), quads);
  }
  // The last size % 4 numbers in JavaScript.
  if (size & 3) {
    const g = be.typedArrayFromHeap(dy), v = be.typedArrayFromHeap(y);
    const out = be.typedArrayFromHeap(dx);
    for (let i = quads * 4; i < size; i++) out[i] = v[i] > 0 ? g[i] : 0;
  }
  return dx;
}
