/**
 * Softmax over the last axis for tfjs-webgpu, one invocation per row.
 *
 * Attention rows are short (12 to a few hundred keys) and many (batch x
 * heads x queries); tfjs's SoftmaxProgram spends a 64-thread workgroup
 * with barriers on each row, about 25 ms for [128, 2, 12, 12] on lavapipe.
 * Rows longer than {@link MAX_ROW} go to the stock kernel, whose
 * workgroup-per-row shape suits them.
 *
 * @module
 */
import {
  flatIndex,
  type GpuBackend,
  type KernelFunc,
  runShader,
  sizeOf,
  uniformDecl,
} from "./runner.ts";

/** Longest row this kernel takes. */
export const MAX_ROW = 1024;

function softmaxCode(w: number): string {
  return `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${uniformDecl(1, 2)}
${flatIndex()}
  if (gi >= u.u0) { return; }
  let base = gi * ${w};
  var mx = x[base];
  for (var k = 1; k < ${w}; k++) { mx = max(mx, x[base + k]); }
  var s = 0.0;
  for (var k = 0; k < ${w}; k++) {
    let e = exp(x[base + k] - mx);
    y[base + k] = e;
    s += e;
  }
  let r = 1.0 / s;
  for (var k = 0; k < ${w}; k++) { y[base + k] = y[base + k] * r; }
}`;
}

/**
 * Builds the Softmax kernel function: one row per invocation for float32
 * rows up to {@link MAX_ROW} long, `stock` otherwise.
 *
 * @example
 * ```ts
 * const stock = tf.getKernel("Softmax", "webgpu")!.kernelFunc;
 * tf.registerKernel({ kernelName: "Softmax", backendName: "webgpu", kernelFunc: softmaxWebGpu(stock) });
 * ```
 */
export function softmaxWebGpu(stock: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.logits;
    const w = x.shape[x.shape.length - 1];
    const dim = Number(args.attrs?.dim ?? -1);
    const last = dim === -1 || dim === x.shape.length - 1;
    if (x.dtype !== "float32" || !last || w > MAX_ROW || w === 0) {
      return stock(args);
    }
    const rows = sizeOf(x.shape) / w;
    return runShader(args.backend as GpuBackend, {
      name: "MmjepaSoftmax",
      key: `mmjepa/softmax/${w}`,
      code: () => softmaxCode(w),
      inputs: [x],
      outputs: [x.shape],
      uniforms: [rows],
      threads: rows,
    })[0];
  };
}
