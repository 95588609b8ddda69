/**
 * mmjepa's kernels for tfjs-webgpu: the fused NORMALIZE, NORMALIZE_GRAD,
 * DENSE, DENSE_GRAD, DENSE_PARAM_GRAD, ATTENTION, ATTENTION_GRAD, ADAMW
 * and EMA (kernels/names.ts), and overrides of BatchMatMul,
 * Softmax, Sum and Mean that take the small shapes mmjepa's transformers
 * produce and hand everything else to the stock kernels they replace.
 *
 * On lavapipe (Mesa's CPU Vulkan driver) one JEPA pretraining step in
 * features mode spent about two thirds of its GPU time in BatchMatMul and
 * 10%, 5% and 4% in Mean, Softmax and Sum (benches/webgpu_bench.ts
 * measures this): tfjs's programs for those give small rows whole
 * workgroups with barriers. Each kernel here is checked against the cpu
 * backend in tests/kernels/webgpu/. Importing this module also re-registers
 * the webgpu backend factory with a higher storage-buffer limit and a faster
 * upload (kernels/webgpu/device.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import {
  ADAMW,
  ATTENTION,
  ATTENTION_GRAD,
  DENSE,
  DENSE_GRAD,
  DENSE_PARAM_GRAD,
  EMA,
  NORMALIZE,
  NORMALIZE_GRAD,
} from "../names.ts";
import { denseGradWebGpu, denseParamGradWebGpu, denseWebGpu } from "./dense.ts";
import { attentionGradWebGpu, attentionWebGpu } from "./attention.ts";
import { raiseWebGpuLimits, useWriteBufferUploads } from "./device.ts";
import { matMulWebGpu } from "./matmul.ts";
import { adamWFits, adamWWebGpu, emaWebGpu } from "./optim.ts";
import type { GpuBackend, KernelFunc } from "./runner.ts";
import { normalizeGradWebGpu, normalizeWebGpu } from "./normalize.ts";
import { reduceWebGpu } from "./reduce.ts";
import { softmaxWebGpu } from "./softmax.ts";

const BACKEND = "webgpu";

// Before any webgpu backend exists: its device should bind more than
// WebGPU's default 8 storage buffers (kernels/webgpu/device.ts).
raiseWebGpuLimits();
useWriteBufferUploads();

let registered = false;

const overrides: [string, (stock: KernelFunc) => KernelFunc][] = [
  ["BatchMatMul", matMulWebGpu],
  ["Softmax", softmaxWebGpu],
  ["Sum", (stock) => reduceWebGpu("sum", stock)],
  ["Mean", (stock) => reduceWebGpu("mean", stock)],
];

/**
 * Registers the WebGPU kernels (idempotent): the fused ones listed above
 * (ADAMW only where the device binds at least 9 storage buffers) and the
 * BatchMatMul, Softmax, Sum and Mean overrides.
 * kernels/mod.ts calls it when the webgpu backend starts, and its
 * `setCustomKernels(false)` swaps the stock kernels back.
 *
 * @example
 * ```ts
 * registerWebGpuKernels();
 * ```
 */
export function registerWebGpuKernels(): void {
  if (registered) return;
  registered = true;
  const fused: [string, unknown][] = [
    [NORMALIZE, normalizeWebGpu],
    [NORMALIZE_GRAD, normalizeGradWebGpu],
    [DENSE, denseWebGpu],
    [DENSE_GRAD, denseGradWebGpu],
    [DENSE_PARAM_GRAD, denseParamGradWebGpu],
    [EMA, emaWebGpu],
    [ATTENTION, attentionWebGpu],
    [ATTENTION_GRAD, attentionGradWebGpu],
  ];
  const be = tf.findBackend(BACKEND) as unknown as GpuBackend | null;
  // With the default limit of 8 the update pass cannot bind a parameter;
  // models/optim.ts then uses its tf-op path.
  if (be && adamWFits(be)) fused.push([ADAMW, adamWWebGpu]);
  for (const [kernelName, f] of fused) {
    tf.registerKernel({
      kernelName,
      backendName: BACKEND,
      kernelFunc: f as tf.KernelFunc,
    });
  }
  for (const [name, make] of overrides) {
    const stock = tf.getKernel(name, BACKEND);
    if (!stock) continue;
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({
      ...stock,
      kernelFunc: make(
        stock.kernelFunc as unknown as KernelFunc,
      ) as unknown as tf.KernelFunc,
    });
  }
}
