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
  const stock = tf.getKernel("BatchMatMul", "wasm");
  if (stock) {
    tf.unregisterKernel("BatchMatMul", "wasm");
    tf.registerKernel({
      ...stock,
      kernelFunc: (args) =>
        simdBatchMatMul(args as unknown as KernelArgs) ??
          (stock.kernelFunc(args) as tf.TensorInfo),
    });
  }
  const gather = tf.getKernel("GatherV2", "wasm");
  if (gather) {
    tf.unregisterKernel("GatherV2", "wasm");
    tf.registerKernel({
      ...gather,
      kernelFunc: (args) =>
        gatherRowsWasm(args as unknown as KernelArgs) ??
          (gather.kernelFunc(args) as tf.TensorInfo),
    });
  }
  const split = tf.getKernel("SplitV", "wasm");
  if (split) {
    tf.unregisterKernel("SplitV", "wasm");
    tf.registerKernel({
      ...split,
      kernelFunc: (args) =>
        splitWasm(args as unknown as KernelArgs) ??
          (split.kernelFunc(args) as tf.TensorInfo[]),
    });
  }
  // The engine clones every tensor it saves for the backward pass; stock
  // wasm copies the bytes, while the cpu backend shares them, as Reshape
  // does on wasm. Tensors are immutable, so sharing is safe.
  const identity = tf.getKernel("Identity", "wasm");
  if (identity) {
    tf.unregisterKernel("Identity", "wasm");
    tf.registerKernel({
      ...identity,
      kernelFunc: ({ inputs, backend }) => {
        const x = inputs.x as tf.TensorInfo;
        if (x.dtype === "string") {
          return identity.kernelFunc({ inputs, backend, attrs: {} });
        }
        (backend as { incRef(id: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      },
    });
  }
  const sum = tf.getKernel("Sum", "wasm");
  if (sum) {
    tf.unregisterKernel("Sum", "wasm");
    tf.registerKernel({
      ...sum,
      kernelFunc: (args) =>
        leadingSumWasm(args as unknown as KernelArgs) ??
          (sum.kernelFunc(args) as tf.TensorInfo),
    });
  }
  // Gradients of tf's binary ops cast their saved inputs to float32, and
  // stock wasm copies the bytes even when the dtype does not change.
  const cast = tf.getKernel("Cast", "wasm");
  if (cast) {
    tf.unregisterKernel("Cast", "wasm");
    tf.registerKernel({
      ...cast,
      kernelFunc: (args) => {
        const x = args.inputs.x as tf.TensorInfo;
        if (x.dtype !== "float32" || args.attrs?.dtype !== "float32") {
          return cast.kernelFunc(args);
        }
        (args.backend as { incRef(id: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      },
    });
  }
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
