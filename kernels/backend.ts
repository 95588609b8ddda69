/**
 * Tensor backend selection for TensorFlow.js under Deno; activating a
 * backend also registers mmjepa's kernels for it (kernels/mod.ts).
 *
 * Order of preference with `auto`: `webgpu` on a hardware adapter, else
 * `wasm` (SIMD, one core), else `cpu`. Software WebGPU adapters (lavapipe,
 * llvmpipe) are slower than wasm, so `auto` skips them; `--backend webgpu`
 * still uses them, which is how the tests check the WebGPU path on a CPU.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import {
  type BackendChoice,
  type BackendInfo,
  BACKENDS,
} from "../core/backend.ts";
import { UserError } from "../core/errors.ts";
import { kernelsInUse, registerKernels } from "./mod.ts";

export { type BackendChoice, type BackendInfo, BACKENDS };

// tfjs believes Deno is Node and prints an "install tfjs-node" banner on first
// use. PROD mode silences tfjs warnings (and skips debug-only checks).
tf.env().set("PROD", true);

let wasmPathsSet = false;
function wasmDist(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + "/";
}

type GpuAdapterLike = {
  info?: { description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
};

// Vulkan's loader prints "XDG_RUNTIME_DIR is invalid" once per process (and
// per worker) when it is unset; a private temporary one silences that.
function quietVulkan(): void {
  try {
    if (!Deno.env.get("XDG_RUNTIME_DIR")) {
      Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync());
    }
  } catch {
    // No env or write permission: the message stays, nothing else changes.
  }
}

/**
 * Looks for a WebGPU adapter; returns null when none or on error.
 *
 * @example
 * ```ts
 * const gpu = await probeWebGpu(); // { description, software } or null
 * ```
 */
export async function probeWebGpu(): Promise<
  { description: string; software: boolean } | null
> {
  const gpu = (navigator as unknown as {
    gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> };
  }).gpu;
  if (!gpu) return null;
  try {
    quietVulkan();
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const description = adapter.info?.description ?? "unknown adapter";
    const software = Boolean(
      adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter,
    ) || /llvmpipe|lavapipe|swiftshader|software/i.test(description);
    return { description, software };
  } catch {
    return null;
  }
}

async function trySet(name: "webgpu" | "wasm" | "cpu"): Promise<boolean> {
  if (name === "wasm" && !wasmPathsSet) {
    setWasmPaths(wasmDist());
    wasmPathsSet = true;
  }
  try {
    if (!await tf.setBackend(name) || tf.getBackend() !== name) return false;
  } catch {
    return false;
  }
  registerKernels(name);
  return true;
}

/**
 * Activates a tfjs backend and reports which one.
 *
 * @example
 * ```ts
 * const info = await initBackend("auto");
 * console.error(`backend: ${info.name} (${info.detail})`);
 * ```
 */
export async function initBackend(
  choice: BackendChoice = "auto",
): Promise<BackendInfo> {
  active = await pickBackend(choice);
  return active;
}

let active: BackendInfo | null = null;

/**
 * The backend {@link initBackend} activated; if none was, activates the
 * `auto` choice first. Library entry points that need tensors call this,
 * so a caller who never thought about backends still gets a working one.
 *
 * @example
 * ```ts
 * const info = await ensureBackend();
 * console.error(`backend: ${info.name}`);
 * ```
 */
export async function ensureBackend(): Promise<BackendInfo> {
  return active ?? await initBackend("auto");
}

async function pickBackend(choice: BackendChoice): Promise<BackendInfo> {
  if (!BACKENDS.includes(choice)) {
    throw new UserError(
      `unknown backend "${choice}"; expected one of ${BACKENDS.join(", ")}`,
    );
  }
  if (choice === "webgpu" || choice === "auto") {
    const probe = await probeWebGpu();
    if (choice === "webgpu") {
      if (!probe) {
        throw new UserError(
          "--backend webgpu: no WebGPU adapter found (on Debian, install mesa-vulkan-drivers for a CPU adapter, or use --backend wasm)",
        );
      }
      if (!await trySet("webgpu")) {
        throw new UserError("--backend webgpu: tfjs could not start webgpu");
      }
      return {
        name: "webgpu",
        detail: `${probe.description}, ${kernelsInUse()}`,
        reason: "forced",
      };
    }
    if (probe && !probe.software && await trySet("webgpu")) {
      return {
        name: "webgpu",
        detail: `${probe.description}, ${kernelsInUse()}`,
        reason: "hardware GPU adapter found",
      };
    }
  }
  if (choice === "wasm" || choice === "auto") {
    if (await trySet("wasm")) {
      return {
        name: "wasm",
        detail: `simd, ${kernelsInUse()}`,
        reason: choice === "wasm" ? "forced" : "no hardware GPU adapter",
      };
    }
    if (choice === "wasm") {
      throw new UserError("--backend wasm: the wasm backend failed to start");
    }
  }
  if (!await trySet("cpu")) {
    throw new UserError("the cpu backend failed to start");
  }
  return {
    name: "cpu",
    detail: "js",
    reason: choice === "cpu" ? "forced" : "wasm unavailable",
  };
}
