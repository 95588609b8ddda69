/**
 * Fused and faster kernels registered on top of the stock tfjs backends.
 *
 * `registerKernels(backend)` runs once per backend when kernels/backend.ts
 * activates it. Model code asks {@link hasKernel} before calling a fused
 * kernel by name and otherwise uses plain tf ops, so a backend without a
 * kernel still trains, just slower.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerWasmKernels, relaxedFma } from "./wasm/mod.ts";
import { registerWebGpuKernels } from "./webgpu/mod.ts";

export { relaxedFma, setRelaxedFma } from "./wasm/mod.ts";
export {
  ADAMW,
  ATTENTION,
  ATTENTION_GRAD,
  DENSE,
  DENSE_GRAD,
  DENSE_PARAM_GRAD,
  EMA,
  INFONCE,
  NORM_EPS,
  NORMALIZE,
  NORMALIZE_GRAD,
  RELU_GRAD,
  SOFTMAX_GRAD,
} from "./names.ts";

// Per backend: the kernels registerKernels changed, with what they replaced
// (undefined where tfjs had no such kernel), so both can be swapped back in.
const swaps = new Map<
  string,
  { custom: tf.KernelConfig[]; stock: (tf.KernelConfig | undefined)[] }
>();
let customOn = true;

/**
 * Registers mmjepa's kernels for one backend (idempotent). Set
 * MMJEPA_STOCK_KERNELS=1 to keep tfjs's own kernels, e.g. to measure what
 * the custom ones gain.
 *
 * @example
 * ```ts
 * await tf.setBackend("wasm");
 * registerKernels("wasm");
 * ```
 */
export function registerKernels(backend: string): void {
  if (swaps.has(backend) || stockKernelsOnly()) return;
  const before = new Map(
    tf.getKernelsForBackend(backend).map((k) => [k.kernelName, k]),
  );
  if (backend === "wasm") registerWasmKernels();
  if (backend === "webgpu") registerWebGpuKernels();
  const custom = tf.getKernelsForBackend(backend).filter((k) =>
    before.get(k.kernelName) !== k
  );
  swaps.set(backend, {
    custom,
    stock: custom.map((k) => before.get(k.kernelName)),
  });
  if (!customOn) setCustomKernels(false);
}

/**
 * Switches every backend between mmjepa's kernels (true, the default) and
 * tfjs's stock ones, in this process; benchmarks use it to time both in
 * one run.
 *
 * @example
 * ```ts
 * setCustomKernels(false); // stock tfjs from here on
 * ```
 */
export function setCustomKernels(on: boolean): void {
  customOn = on;
  for (const [backend, { custom, stock }] of swaps) {
    custom.forEach((k, i) => {
      const want = on ? k : stock[i];
      const now = tf.getKernel(k.kernelName, backend);
      if (now === want) return;
      if (now) tf.unregisterKernel(k.kernelName, backend);
      if (want) tf.registerKernel(want);
    });
  }
}

/**
 * Whether the active backend has a kernel of this name.
 *
 * @example
 * ```ts
 * if (hasKernel(NORMALIZE)) tf.engine().runKernel(NORMALIZE, { x });
 * ```
 */
export function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * Which kernels the active backend runs, for provenance: "mmjepa kernels"
 * where this module registered some (", relaxed-SIMD FMA" added on wasm
 * when that is on), else "stock tfjs kernels".
 *
 * @example
 * ```ts
 * kernelsInUse(); // "mmjepa kernels" on wasm by default
 * ```
 */
export function kernelsInUse(): string {
  const mine = customOn && (swaps.get(tf.getBackend())?.custom.length ?? 0) > 0;
  if (!mine) return "stock tfjs kernels";
  // Relaxed-SIMD FMA changes the last bits: results record it.
  return tf.getBackend() === "wasm" && relaxedFma()
    ? "mmjepa kernels, relaxed-SIMD FMA"
    : "mmjepa kernels";
}

function stockKernelsOnly(): boolean {
  try {
    return Deno.env.get("MMJEPA_STOCK_KERNELS") === "1";
  } catch {
    return false;
  }
}
