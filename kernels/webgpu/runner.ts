/**
 * Runs a hand-written WGSL compute shader on tfjs-webgpu's own device,
 * command encoder and buffers, with any number of outputs.
 *
 * tfjs's `runWebGPUProgram` binds exactly one output, wraps every shader in
 * a preamble of shape helpers and sizes dispatches for its own programs.
 * Fused kernels such as NORMALIZE write two tensors in one dispatch, so
 * this runner records the dispatch itself, following the backend's
 * `recordAndSubmit` step by step (tfjs 4.22 is pinned in deno.json): the
 * same deferred-submit batching, the same disposal bookkeeping for buffers
 * the queue still owns, and the same timestamp queries under `tf.profile`,
 * so profiles list these kernels with their GPU time like stock ones.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Threads per workgroup of every mmjepa shader (a multiple of 8, lavapipe's SIMD width). */
export const WORKGROUP = 64;

/** A timer entry as tfjs-webgpu's `time()` collects them. */
interface KernelTimer {
  name: string;
  query: Promise<number>;
}

/** The parts of tfjs-webgpu's WebGPUBackend (4.22) this runner touches. */
export interface GpuBackend {
  device: GPUDevice;
  tensorMap: {
    get(dataId: object): {
      values: unknown;
      resource?: unknown;
    };
  };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(dataId: object): void;
  disposeData(dataId: object, force?: boolean): boolean;
  makeUniforms(
    u: { type: string; data: number[] }[],
  ): { offset: number; size: number; buffer: GPUBuffer };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  getQueryTime(): Promise<number>;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  activeTimers: KernelTimer[] | null | undefined;
  supportTimestampQuery: boolean;
  querySet: GPUQuerySet | null;
  querySetCount: number;
}

/** What tfjs passes a kernel function (inputs by name). */
export interface KernelArgs {
  /** Input tensors by the kernel's input names. */
  inputs: Record<string, tf.TensorInfo>;
  /** The backend (tfjs-webgpu's WebGPUBackend). */
  backend: unknown;
  /** Attributes. */
  attrs?: tf.NamedAttrMap;
}

/** A kernel function; overrides also receive the stock one as this type. */
export type KernelFunc = (
  args: KernelArgs,
) => tf.TensorInfo | tf.TensorInfo[];

/** One dispatch of a shader. */
export interface ShaderRun {
  /** Kernel name shown by tf.profile. */
  name: string;
  /** Unique per distinct shader text; the pipeline cache key. */
  key: string;
  /** WGSL; called only when `key` is not cached. Entry point `main`. */
  code: () => string;
  /** Input tensors, bound at 0..outputs-1 after the outputs, read-only. */
  inputs: tf.TensorInfo[];
  /** Output shapes (float32), bound first, read_write. */
  outputs: number[][];
  /**
   * Tensors made earlier by the same kernel call (e.g. by a previous
   * dispatch of a multi-dispatch kernel) that this dispatch also writes:
   * bound read_write after the new outputs and before the inputs. Never
   * pass a tensor another part of the program may hold.
   */
  writes?: tf.TensorInfo[];
  /** i32 uniforms, bound last as one struct of i32 fields. */
  uniforms: number[];
  /** Flat invocation count; the shader gets it as {@link flatIndex}. */
  threads: number;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/**
 * WGSL that declares the uniform struct `u` with fields u0..u{n-1} (padded to
 * a multiple of four) at `binding`, for {@link ShaderRun.uniforms} of length n.
 *
 * @example
 * ```ts
 * const decl = uniformDecl(3, 2); // struct U { u0: i32, ..., u3: i32 } ...
 * ```
 */
export function uniformDecl(n: number, binding: number): string {
  const fields = Array.from(
    { length: paddedLength(n) },
    (_, i) => `u${i}: i32`,
  );
  return `struct U { ${
    fields.join(", ")
  } }\n@group(0) @binding(${binding}) var<uniform> u: U;`;
}

function paddedLength(n: number): number {
  return Math.max(4, Math.ceil(n / 4) * 4);
}

/**
 * The WGSL entry-point header: `main` with the flat invocation index `gi`
 * (dispatches wider than the per-dimension workgroup limit fold into y).
 *
 * @example
 * ```ts
 * const src = `${flatIndex()} if (gi >= u.u0) { return; } ... }`;
 * ```
 */
export function flatIndex(): string {
  return `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let gi = i32((wid.y * nwg.x + wid.x) * ${WORKGROUP}u + lid);`;
}

function pipelineFor(device: GPUDevice, run: ShaderRun): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  let p = cache.get(run.key);
  if (!p) {
    const module = device.createShaderModule({
      code: run.code(),
      label: run.name,
    });
    p = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label: run.name,
    });
    cache.set(run.key, p);
  }
  return p;
}

/**
 * Records one dispatch; returns the output tensors (float32).
 *
 * @example
 * ```ts
 * const [y] = runShader(backend, { name: "Copy", key: "copy", code, inputs: [x],
 *   outputs: [x.shape], uniforms: [n], threads: n });
 * ```
 */
export function runShader(be: GpuBackend, run: ShaderRun): tf.TensorInfo[] {
  const outs = run.outputs.map((s) => be.makeTensorInfo(s, "float32"));
  const writes = run.writes ?? [];
  if (
    run.threads === 0 ||
    [...outs, ...writes].some((o) => sizeOf(o.shape) === 0)
  ) {
    for (const o of outs) {
      be.tensorMap.get(o.dataId).values = new Float32Array(sizeOf(o.shape));
    }
    return outs;
  }
  const bound = [...outs, ...writes, ...run.inputs];
  for (const t of bound) be.uploadToGPU(t.dataId);
  const pipeline = pipelineFor(be.device, run);
  const uniforms = [...run.uniforms];
  while (uniforms.length < paddedLength(run.uniforms.length)) uniforms.push(0);
  const bindings: GPUBindingResource[] = [
    ...bound.map((t) => ({
      buffer: be.tensorMap.get(t.dataId).resource as GPUBuffer,
    })),
    be.makeUniforms(uniforms.map((v) => ({ type: "int32", data: [v] }))),
  ];
  for (const t of bound) {
    be.commandQueueOwnedIds.add(t.dataId);
  }
  const bindGroup = be.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((resource, binding) => ({ binding, resource })),
  });
  const groups = Math.ceil(run.threads / WORKGROUP);
  const maxDim = be.device.limits.maxComputeWorkgroupsPerDimension;
  const gy = Math.ceil(groups / maxDim);
  const gx = Math.ceil(groups / gy);

  // From here on this mirrors WebGPUBackend.recordAndSubmit (tfjs 4.22).
  const timed = be.activeTimers != null;
  be.ensureCommandEncoderReady();
  if (timed && be.supportTimestampQuery) {
    be.endComputePassEncoder();
    if (be.querySet == null) {
      be.querySet = be.device.createQuerySet({
        type: "timestamp",
        count: be.querySetCount,
      });
    }
    be.computePassEncoder = be.commandEncoder!.beginComputePass({
      timestampWrites: {
        querySet: be.querySet,
        beginningOfPassWriteIndex: 0,
        endOfPassWriteIndex: 1,
      },
    });
  } else if (!be.computePassEncoder) {
    be.computePassEncoder = be.commandEncoder!.beginComputePass({});
  }
  const pass = be.computePassEncoder!;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(gx, gy, 1);
  be.dispatchCountInPass++;
  const batch = tf.env().getNumber("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE");
  if (timed || batch <= be.dispatchCountInPass) {
    be.endComputePassEncoder();
    if (timed) {
      be.activeTimers!.push({ name: run.name, query: be.getQueryTime() });
    } else {
      be.submitQueue();
    }
  }
  return outs;
}

/**
 * Product of a shape.
 *
 * @example
 * ```ts
 * sizeOf([2, 3]); // 6
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
