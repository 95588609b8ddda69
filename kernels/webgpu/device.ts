/**
 * The tfjs-webgpu backend factory, re-registered so that the device binds
 * as many storage buffers per shader as the adapter allows.
 *
 * tfjs 4.22 asks its device for a few raised limits but not
 * `maxStorageBuffersPerShaderStage`, which then stays at WebGPU's default
 * of 8: too few for the fused optimizer (kernels/webgpu/optim.ts), whose
 * passes bind several parameters each (lavapipe offers 16). Everything
 * else is tfjs's own factory (its `base.js`): same adapter request,
 * features and limits, same WebGPUBackend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";

let done = false;
let patched = false;

/**
 * Replaces tfjs-webgpu's upload of host data (float32 and int32 tensors)
 * by `queue.writeBuffer` (idempotent; MMJEPA_WEBGPU_MAPPED_UPLOAD=1 keeps
 * tfjs's own path).
 *
 * tfjs 4.22 uploads through a buffer mapped at creation and fills it via
 * `getMappedRange()`. On the H200 under Deno 2.9.6 that ran at about 30
 * MB/s (a volume batch of 13 MB took about 400 ms of a 480 ms step;
 * benches/gpu_main.ts `diag`), presumably because the mapped range is
 * copied out of write-combined memory; on lavapipe it is fast. writeBuffer
 * hands the bytes to the driver's own staging. Ordering stays right: the
 * write lands before the commands recorded after it, and a buffer comes
 * from tfjs's pool only when no unsubmitted command uses it.
 *
 * @example
 * ```ts
 * useWriteBufferUploads();
 * ```
 */
export function useWriteBufferUploads(): void {
  if (patched || mappedUploadWanted()) return;
  patched = true;
  // deno-lint-ignore no-explicit-any
  const proto = WebGPUBackend.prototype as any;
  const stock = proto.uploadToGPU;
  proto.uploadToGPU = function (this: Uploader, dataId: object): void {
    const td = this.tensorMap.get(dataId);
    const v = td.values;
    const plain = (td.dtype === "float32" && v instanceof Float32Array) ||
      (td.dtype === "int32" && v instanceof Int32Array);
    if (td.resource != null || !plain) {
      stock.call(this, dataId);
      return;
    }
    const n = td.shape.reduce((a, b) => a * b, 1);
    const buffer = this.bufferManager.acquireBuffer(
      4 * n,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
        GPUBufferUsage.COPY_DST,
    );
    this.device.queue.writeBuffer(
      buffer,
      0,
      v as Float32Array<ArrayBuffer>,
      0,
      n,
    );
    td.values = null;
    td.resource = buffer;
  };
}

/** The parts of WebGPUBackend the upload touches. */
interface Uploader {
  device: GPUDevice;
  tensorMap: {
    get(id: object): {
      values: unknown;
      resource: unknown;
      dtype: string;
      shape: number[];
    };
  };
  bufferManager: {
    acquireBuffer(size: number, usage: number): GPUBuffer;
  };
}

function mappedUploadWanted(): boolean {
  try {
    return Deno.env.get("MMJEPA_WEBGPU_MAPPED_UPLOAD") === "1";
  } catch {
    return false;
  }
}

/**
 * Replaces tfjs's "webgpu" backend factory by one that also raises
 * `maxStorageBuffersPerShaderStage` (idempotent; a no-op once the webgpu
 * backend has been created, or where tfjs registered no webgpu backend).
 *
 * @example
 * ```ts
 * raiseWebGpuLimits(); // before tf.setBackend("webgpu")
 * ```
 */
export function raiseWebGpuLimits(): void {
  if (done) return;
  done = true;
  const factory = tf.findBackendFactory("webgpu");
  if (!factory || tf.engine().registry["webgpu"]) return;
  tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", async () => {
    const gpu = (navigator as unknown as { gpu: GPU }).gpu;
    const adapter = await gpu.requestAdapter({
      powerPreference: tf.env().get("WEBGPU_USE_LOW_POWER_GPU")
        ? "low-power"
        : "high-performance",
    });
    if (!adapter) throw new Error("webgpu: no adapter");
    const features: GPUFeatureName[] = [];
    for (const f of ["timestamp-query", "bgra8unorm-storage"] as const) {
      if (adapter.features.has(f)) features.push(f);
    }
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: features,
      requiredLimits: {
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        // The one addition; capped, since a bind group holds at most
        // maxBindingsPerBindGroup entries anyway.
        maxStorageBuffersPerShaderStage: Math.min(
          l.maxStorageBuffersPerShaderStage,
          256,
        ),
      },
    });
    const info = (adapter as unknown as { info?: GPUAdapterInfo }).info;
    return new WebGPUBackend(device, info);
  }, 3);
}
