/**
 * NORMALIZE and NORMALIZE_GRAD (contracts in kernels/names.ts) for
 * tfjs-webgpu, one dispatch each.
 *
 * One invocation owns one row: the rows of a transformer's activations are
 * short (16 to a few hundred values) and there are thousands of them, so a
 * thread per row keeps every lane busy without workgroup barriers. tfjs's
 * ReduceProgram instead gives each row a whole workgroup with barriers,
 * which costs about 4 ms per mean of [128, 12, 32] on lavapipe.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { NORM_EPS, NORMALIZE, NORMALIZE_GRAD } from "../names.ts";
import {
  flatIndex,
  type GpuBackend,
  type KernelArgs,
  runShader,
  sizeOf,
  uniformDecl,
} from "./runner.ts";

// Rows are read as vec4 when the width allows it; the width is baked into
// the shader so the loops have constant trip counts.
function rowType(w: number): { t: string; n: number; sum: string } {
  return w % 4 === 0
    ? { t: "vec4<f32>", n: w / 4, sum: "dot(v, vec4<f32>(1.0))" }
    : { t: "f32", n: w, sum: "v" };
}

function normalizeCode(w: number): string {
  const { t, n, sum } = rowType(w);
  const sq = t === "f32" ? "d * d" : "dot(d, d)";
  return `
@group(0) @binding(0) var<storage, read_write> y: array<${t}>;
@group(0) @binding(1) var<storage, read_write> inv: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<${t}>;
${uniformDecl(1, 3)}
${flatIndex()}
  if (gi >= u.u0) { return; }
  let base = gi * ${n};
  var s = 0.0;
  for (var k = 0; k < ${n}; k++) { let v = x[base + k]; s += ${sum}; }
  let mean = s / ${w}.0;
  var q = 0.0;
  for (var k = 0; k < ${n}; k++) { let d = x[base + k] - mean; q += ${sq}; }
  let iv = inverseSqrt(q / ${w}.0 + ${NORM_EPS});
  for (var k = 0; k < ${n}; k++) { y[base + k] = (x[base + k] - mean) * iv; }
  inv[gi] = iv;
}`;
}

function normalizeGradCode(w: number): string {
  const { t, n } = rowType(w);
  const red = (e: string) => t === "f32" ? e : `dot(${e}, vec4<f32>(1.0))`;
  return `
@group(0) @binding(0) var<storage, read_write> dx: array<${t}>;
@group(0) @binding(1) var<storage, read> dy: array<${t}>;
@group(0) @binding(2) var<storage, read> y: array<${t}>;
@group(0) @binding(3) var<storage, read> inv: array<f32>;
${uniformDecl(1, 4)}
${flatIndex()}
  if (gi >= u.u0) { return; }
  let base = gi * ${n};
  var s = 0.0;
  var sy = 0.0;
  for (var k = 0; k < ${n}; k++) {
    let g = dy[base + k];
    s += ${red("g")};
    sy += ${red("g * y[base + k]")};
  }
  let m = s / ${w}.0;
  let my = sy / ${w}.0;
  let iv = inv[gi];
  for (var k = 0; k < ${n}; k++) {
    dx[base + k] = (dy[base + k] - m - y[base + k] * my) * iv;
  }
}`;
}

function checkFloat(name: string, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== "float32") {
      throw new Error(`${name}: expected float32, got ${t.dtype}`);
    }
  }
}

/**
 * NORMALIZE's kernel function for tfjs-webgpu.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: NORMALIZE, backendName: "webgpu", kernelFunc: normalizeWebGpu });
 * ```
 */
export function normalizeWebGpu(
  args: KernelArgs,
): tf.TensorInfo[] {
  const x = args.inputs.x;
  checkFloat(NORMALIZE, x);
  const w = x.shape[x.shape.length - 1];
  const rows = sizeOf(x.shape) / Math.max(w, 1);
  return runShader(args.backend as GpuBackend, {
    name: NORMALIZE,
    key: `${NORMALIZE}/${w}`,
    code: () => normalizeCode(w),
    inputs: [x],
    outputs: [x.shape, [...x.shape.slice(0, -1), 1]],
    uniforms: [rows],
    threads: w === 0 ? 0 : rows,
  });
}

/**
 * NORMALIZE_GRAD's kernel function for tfjs-webgpu.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: NORMALIZE_GRAD, backendName: "webgpu", kernelFunc: normalizeGradWebGpu });
 * ```
 */
export function normalizeGradWebGpu(
  args: KernelArgs,
): tf.TensorInfo {
  const { dy, y, inv } = args.inputs;
  checkFloat(NORMALIZE_GRAD, dy, y, inv);
  const w = dy.shape[dy.shape.length - 1];
  const rows = sizeOf(dy.shape) / Math.max(w, 1);
  return runShader(args.backend as GpuBackend, {
    name: NORMALIZE_GRAD,
    key: `${NORMALIZE_GRAD}/${w}`,
    code: () => normalizeGradCode(w),
    inputs: [dy, y, inv],
    outputs: [dy.shape],
    uniforms: [rows],
    threads: w === 0 ? 0 : rows,
  })[0];
}
