/**
 * mmjepa's kernels for tfjs-backend-wasm: SIMD batched matrix products
 * (attention), a memory-sharing Identity and float32 Cast, and the fused
 * dense layer, layer norm, softmax and ReLU gradients, InfoNCE, attention,
 * AdamW and EMA of kernels/names.ts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  ADAMW,
  ATTENTION,
  ATTENTION_GRAD,
  DENSE,
  DENSE_GRAD,
  DENSE_PARAM_GRAD,
  EMA,
  INFONCE,
  NORMALIZE,
  NORMALIZE_GRAD,
  RELU_GRAD,
  SOFTMAX_GRAD,
} from "../names.ts";
import { attentionGradWasm, attentionWasm } from "./attention.ts";
import { gatherRowsWasm, splitWasm } from "./gather.ts";
import { denseGradWasm, denseParamGradWasm, denseWasm } from "./dense.ts";
import { simdBatchMatMul } from "./batch_mat_mul.ts";
import type { KernelArgs } from "./heap.ts";
import { normalizeGradWasm, normalizeWasm } from "./normalize.ts";
import { adamWWasm, emaWasm } from "./optim.ts";
import { infoNceWasm } from "./infonce.ts";
import { reluGradWasm } from "./relu.ts";
import { softmaxGradWasm } from "./softmax.ts";
import { leadingSumWasm } from "./sum.ts";

export { simdBatchMatMul } from "./batch_mat_mul.ts";
export { attentionGradWasm, attentionWasm } from "./attention.ts";
export { denseGradWasm, denseParamGradWasm, denseWasm } from "./dense.ts";
export { gatherRowsWasm, splitWasm } from "./gather.ts";
export {
  addr,
  type KernelArgs,
  matMulInto,
  relaxedFma,
  setRelaxedFma,
  simdOf,
  type Strided,
  type WasmBackendLike,
} from "./heap.ts";
export { normalizeGradWasm, normalizeWasm } from "./normalize.ts";
export { adamWWasm, emaWasm } from "./optim.ts";
export { infoNceWasm } from "./infonce.ts";
export { reluGradWasm } from "./relu.ts";
export { softmaxGradWasm } from "./softmax.ts";
export { leadingSumWasm } from "./sum.ts";
export { compileSimdKernels, type SimdKernels } from "./simd.ts";

/**
 * Replaces wasm's BatchMatMul (batched products go to the SIMD loops, the
 * rest to the stock kernel), GatherV2 (whole rows by copies) and SplitV
 * (float32 by block copies; other cases to the stock kernels), Sum (over
 * leading axes by SIMD column sums; other cases to the stock kernel), Identity
 * and Cast (float32 to float32 shares the bytes), and registers the fused
 * kernels.
 * Call once; kernels/mod.ts does.
 *
 * @example
 * ```ts
 * registerWasmKernels();
 * ```
 */
export function registerWasmKernels(): void {
  withFastPath("BatchMatMul", simdBatchMatMul);
  withFastPath("GatherV2", gatherRowsWasm);
  withFastPath("SplitV", splitWasm);
  withFastPath("Sum", leadingSumWasm);
  // The engine clones every tensor it saves for the backward pass; stock
  // wasm copies the bytes, while the cpu backend shares them, as Reshape
  // does on wasm. Tensors are immutable, so sharing is safe.
  withFastPath(
    "Identity",
    (args) => args.inputs.x.dtype === "string" ? null : shareBytes(args),
  );
  // Gradients of tf's binary ops cast their saved inputs to float32, and
  // stock wasm copies the bytes even when the dtype does not change.
  withFastPath(
    "Cast",
    (args) =>
      args.inputs.x.dtype === "float32" && args.attrs?.dtype === "float32"
        ? shareBytes(args)
        : null,
  );
  for (
    const [kernelName, fn] of [
      [NORMALIZE, normalizeWasm],
      [NORMALIZE_GRAD, normalizeGradWasm],
      [DENSE, denseWasm],
      [DENSE_GRAD, denseGradWasm],
      [DENSE_PARAM_GRAD, denseParamGradWasm],
      [SOFTMAX_GRAD, softmaxGradWasm],
      [RELU_GRAD, reluGradWasm],
      [INFONCE, infoNceWasm],
      [ATTENTION, attentionWasm],
      [ATTENTION_GRAD, attentionGradWasm],
      [ADAMW, adamWWasm],
      [EMA, emaWasm],
    ] as const
  ) {
    tf.registerKernel({
      kernelName,
      backendName: "wasm",
      kernelFunc: fn as unknown as tf.KernelFunc,
    });
  }
}

type Result = tf.TensorInfo | tf.TensorInfo[];

// Replaces tfjs-wasm's kernel `name` by `fast`, which returns null for
// the cases it leaves to the stock kernel.
function withFastPath(
  name: string,
  fast: (args: KernelArgs) => Result | null,
): void {
  const stock = tf.getKernel(name, "wasm");
  if (!stock) return;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({
    ...stock,
    kernelFunc: (args) =>
      fast(args as unknown as KernelArgs) ?? (stock.kernelFunc(args) as Result),
  });
}

// A new tensor on the input's bytes (its reference count raised).
function shareBytes(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x;
  (args.backend as { incRef(id: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
