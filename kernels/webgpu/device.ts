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
