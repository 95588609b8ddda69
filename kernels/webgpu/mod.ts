/**
 * WebGPU kernels: none registered yet, so the webgpu backend runs tfjs's
 * stock kernels and the composite fallbacks.
 *
 * @module
 */

/**
 * Registers the WebGPU kernels (none yet).
 *
 * @example
 * ```ts
 * registerWebGpuKernels();
 * ```
 */
export function registerWebGpuKernels(): void {}
