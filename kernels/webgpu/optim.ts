/**
 * ADAMW and EMA (contracts in kernels/names.ts) for tfjs-webgpu.
 *
 * Written with tf ops, one AdamW update concatenates every gradient and
 * parameter, runs a dozen elementwise ops over the flat vectors and splits
 * the result back into the parameters; the EMA concatenates the parameters
 * again. In a features-mode JEPA step on lavapipe those were about 100 of
 * 301 dispatches (SplitV alone 53). Here the AdamW update is one pass of
 * sum-of-squares partials plus one pass that clips, updates the moments and
 * writes the new parameters, and the EMA one pass; each pass binds as many
 * parameters as the device's storage-buffer limit allows
 * (`maxStorageBuffersPerShaderStage`, raised from WebGPU's default 8 to the
 * adapter's in kernels/webgpu/device.ts), so a pass is one dispatch where
 * the limit is high and a few where it is low.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { ADAMW, EMA } from "../names.ts";
import {
  flatIndex,
  type GpuBackend,
  type KernelArgs,
  runShader,
  sizeOf,
  uniformDecl,
  WORKGROUP,
} from "./runner.ts";

function count(args: KernelArgs): number {
  let k = 0;
  while (args.inputs[`p${k}`]) k++;
  return k;
}

// f32 bits as an i32 uniform; shaders read them back with bitcast<f32>.
function f32Bits(x: number): number {
  return new Int32Array(Float32Array.of(x).buffer)[0];
}

function storageLimit(be: GpuBackend): number {
  const l = be.device.limits;
  // MMJEPA_WEBGPU_MAX_STORAGE_BUFFERS lowers the cap, so that the multi-pass
  // path can be tested on adapters that bind every parameter in one pass.
  const cap = Number(
    Deno.env.get("MMJEPA_WEBGPU_MAX_STORAGE_BUFFERS") ?? Infinity,
  );
  // One binding of a group is the uniform buffer.
  return Math.min(
    l.maxStorageBuffersPerShaderStage,
    l.maxBindingsPerBindGroup - 1,
    cap > 1 ? cap : Infinity,
  );
}

/** Splits indices into consecutive groups of at most `size`. */
function groups(ids: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
}

/** An empty float32 tensor (no dispatch can write a zero-size buffer). */
function empty(be: GpuBackend, shape: number[]): tf.TensorInfo {
  const t = be.makeTensorInfo(shape, "float32");
  be.tensorMap.get(t.dataId).values = new Float32Array(0);
  return t;
}

/**
 * Whether this device can bind enough buffers for the ADAMW passes (one
 * parameter per pass needs 9 storage buffers; WebGPU's default is 8).
 *
 * @example
 * ```ts
 * if (adamWFits(backend)) tf.registerKernel({ kernelName: ADAMW, backendName: "webgpu", kernelFunc: adamWWebGpu });
 * ```
 */
export function adamWFits(be: GpuBackend): boolean {
  return storageLimit(be) >= 9;
}

// Sum of squares of each gradient in the group: one workgroup per
// gradient, a tree reduction in workgroup memory. Bindings: SUMS, G0...
function sumsCode(n: number): string {
  const branches = Array.from(
    { length: n },
    (_, j) =>
      `${j ? "else " : ""}if (j == ${j}) {
    for (var i = i32(lid); i < u.u${
        j + 1
      }; i += ${WORKGROUP}) { let x = G${j}[i]; s += x * x; }
  }`,
  ).join(" ");
  return [
    `@group(0) @binding(0) var<storage, read_write> SUMS: array<f32>;`,
    ...Array.from(
      { length: n },
      (_, j) =>
        `@group(0) @binding(${j + 1}) var<storage, read> G${j}: array<f32>;`,
    ),
    uniformDecl(n + 1, n + 1),
    `var<workgroup> part: array<f32, ${WORKGROUP}>;`,
    `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let j = i32(wid.x);
  var s = 0.0;
  ${branches}
  part[lid] = s;
  workgroupBarrier();
  for (var w = ${WORKGROUP / 2}u; w > 0u; w = w >> 1u) {
    if (lid < w) { part[lid] += part[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { SUMS[u.u0 + j] = part[0]; }
}`,
  ].join("\n");
}

// The update of n parameters. Bindings: P'0..P'{n-1}, [NORM], MO, VO
// (written by every group), M, V, SUMS, P0.., G0...; uniforms: u0 number
// of sums, u1..u8 lr, beta1, beta2, eps, weight decay, clip, c1, c2 (f32
// bits), then per parameter: end of its invocation range, offset in m/v,
// decay flag.
function updateCode(n: number, norm: boolean): string {
  let b = 0;
  const decl = (name: string, write: boolean) =>
    `@group(0) @binding(${b++}) var<storage, ${
      write ? "read_write" : "read"
    }> ${name}: array<f32>;`;
  const lines: string[] = [];
  for (let j = 0; j < n; j++) lines.push(decl(`PO${j}`, true));
  if (norm) lines.push(decl("NORM", true));
  lines.push(decl("MO", true), decl("VO", true));
  lines.push(decl("M", false), decl("V", false), decl("SUMS", false));
  for (let j = 0; j < n; j++) lines.push(decl(`P${j}`, false));
  for (let j = 0; j < n; j++) lines.push(decl(`G${j}`, false));
  const nu = 9 + 3 * n;
  lines.push(uniformDecl(nu, b));
  const f = (i: number) => `bitcast<f32>(u.u${i})`;
  const end = (j: number) => `u.u${9 + 3 * j}`;
  const off = (j: number) => `u.u${10 + 3 * j}`;
  const dec = (j: number) => `u.u${11 + 3 * j}`;
  const pick = Array.from(
    { length: n },
    (_, j) =>
      `${j ? "else " : ""}if (gi < ${end(j)}) {
    k = ${j}; e = gi - ${j ? end(j - 1) : "0"}; o = ${off(j)} + e;
    p = P${j}[e]; g = G${j}[e]; decay = ${dec(j)};
  }`,
  ).join(" ");
  const store = Array.from(
    { length: n },
    (_, j) => `${j ? "else " : ""}if (k == ${j}) { PO${j}[e] = np; }`,
  ).join(" ");
  lines.push(`${flatIndex()}
  if (gi >= ${end(n - 1)}) { return; }
  var sq = 0.0;
  for (var i = 0; i < u.u0; i++) { sq += SUMS[i]; }
  let norm = sqrt(sq);
  ${norm ? "if (gi == 0) { NORM[0] = norm; }" : ""}
  var scale = 1.0;
  if (${f(6)} > 0.0) { scale = min(1.0, ${f(6)} / (norm + 1e-6)); }
  var k = 0; var e = 0; var o = 0; var p = 0.0; var g = 0.0; var decay = 0;
  ${pick}
  let b1 = ${f(2)}; let b2 = ${f(3)};
  let gg = g * scale;
  let mm = M[o] * b1 + gg * (1.0 - b1);
  let vv = V[o] * b2 + gg * gg * (1.0 - b2);
  MO[o] = mm;
  VO[o] = vv;
  var wd = 0.0;
  if (decay != 0) { wd = ${f(5)}; }
  let step = (mm / ${f(7)}) / (sqrt(vv / ${f(8)}) + ${f(4)}) + p * wd;
  let np = p - step * ${f(1)};
  ${store}
}`);
  return lines.join("\n");
}

/**
 * ADAMW's kernel function for tfjs-webgpu: `{ m, v, p0.., g0.. }` ->
 * `[p0'.., m', v', norm]`, the arithmetic of the wasm kernel and of
 * AdamW.apply in float32.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: ADAMW, backendName: "webgpu", kernelFunc: adamWWebGpu });
 * ```
 */
export function adamWWebGpu(args: KernelArgs): tf.TensorInfo[] {
  const be = args.backend as GpuBackend;
  const a = args.attrs as unknown as {
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    clipNorm: number;
    t: number;
    decay: number[];
  };
  const k = count(args);
  const { m, v } = args.inputs;
  const ps = Array.from({ length: k }, (_, i) => args.inputs[`p${i}`]);
  const gs = Array.from({ length: k }, (_, i) => args.inputs[`g${i}`]);
  const sizes = ps.map((p) => sizeOf(p.shape));
  const total = sizes.reduce((s, n) => s + n, 0);
  for (let i = 0; i < k; i++) {
    if (sizeOf(gs[i].shape) !== sizes[i]) {
      throw new Error(
        `${ADAMW}: g${i} has ${sizeOf(gs[i].shape)} elements, p${i} ${
          sizes[i]
        }`,
      );
    }
  }
  if (sizeOf(m.shape) !== total || sizeOf(v.shape) !== total) {
    throw new Error(
      `${ADAMW}: m and v need ${total} elements (all parameters), got ${
        sizeOf(m.shape)
      } and ${sizeOf(v.shape)}`,
    );
  }
  if (!adamWFits(be)) {
    throw new Error(
      `${ADAMW}: the device binds ${
        storageLimit(be)
      } storage buffers per shader, 9 needed`,
    );
  }
  const offsets: number[] = [];
  sizes.reduce((o, n, i) => (offsets[i] = o, o + n), 0);
  const live = sizes.map((_, i) => i).filter((i) => sizes[i] > 0);
  // Empty parameters get empty outputs; the others come from pass 2.
  const outP: (tf.TensorInfo | null)[] = ps.map((p, i) =>
    sizes[i] === 0 ? empty(be, p.shape) : null
  );
  if (live.length === 0) {
    const norm = be.makeTensorInfo([], "float32");
    be.tensorMap.get(norm.dataId).values = new Float32Array(1);
    return [
      ...outP as tf.TensorInfo[],
      empty(be, m.shape),
      empty(be, v.shape),
      norm,
    ];
  }
  const limit = storageLimit(be);
  // Pass 1: each live gradient's sum of squares into SUMS.
  const sums = be.makeTensorInfo([live.length], "float32");
  let at = 0;
  for (const grp of groups(live, limit - 1)) {
    runShader(be, {
      name: ADAMW,
      key: `${ADAMW}/sums${grp.length}`,
      code: () => sumsCode(grp.length),
      inputs: grp.map((i) => gs[i]),
      outputs: [],
      writes: [sums],
      uniforms: [at, ...grp.map((i) => sizes[i])],
      threads: grp.length * WORKGROUP,
    });
    at += grp.length;
  }
  // Pass 2: the update, parameters grouped to fit the binding limit.
  const mo = be.makeTensorInfo(m.shape, "float32");
  const vo = be.makeTensorInfo(v.shape, "float32");
  const c1 = 1 - Math.pow(a.beta1, a.t), c2 = 1 - Math.pow(a.beta2, a.t);
  const floats = [
    a.lr,
    a.beta1,
    a.beta2,
    a.eps,
    a.weightDecay,
    a.clipNorm,
    c1,
    c2,
  ].map(f32Bits);
  let norm: tf.TensorInfo | null = null;
  let rest = live;
  while (rest.length > 0) {
    const first = norm === null;
    const n = Math.max(1, Math.floor((limit - 5 - (first ? 1 : 0)) / 3));
    const grp = rest.slice(0, n);
    rest = rest.slice(n);
    const per: number[] = [];
    let end = 0;
    for (const i of grp) {
      end += sizes[i];
      per.push(end, offsets[i], a.decay[i] ? 1 : 0);
    }
    const outs = runShader(be, {
      name: ADAMW,
      key: `${ADAMW}/update${grp.length}${first ? "n" : ""}`,
      code: () => updateCode(grp.length, first),
      inputs: [m, v, sums, ...grp.map((i) => ps[i]), ...grp.map((i) => gs[i])],
      outputs: [...grp.map((i) => ps[i].shape), ...(first ? [[]] : [])],
      writes: [mo, vo],
      uniforms: [live.length, ...floats, ...per],
      threads: end,
    });
    grp.forEach((i, j) => outP[i] = outs[j]);
    if (first) norm = outs[grp.length];
  }
  be.disposeData(sums.dataId);
  return [...outP as tf.TensorInfo[], mo, vo, norm!];
}

// EMA over n parameters. Bindings: OUT, T, P0..; uniforms: u0 momentum
// (f32 bits), then per parameter the end of its range and its offset.
function emaCode(n: number): string {
  const pick = Array.from(
    { length: n },
    (_, j) =>
      `${j ? "else " : ""}if (gi < u.u${1 + 2 * j}) {
    let o = u.u${2 + 2 * j} + gi - ${j ? `u.u${1 + 2 * (j - 1)}` : "0"};
    OUT[o] = T[o] * mom + P${j}[gi - ${
        j ? `u.u${1 + 2 * (j - 1)}` : "0"
      }] * (1.0 - mom);
  }`,
  ).join(" ");
  return [
    `@group(0) @binding(0) var<storage, read_write> OUT: array<f32>;`,
    `@group(0) @binding(1) var<storage, read> T: array<f32>;`,
    ...Array.from(
      { length: n },
      (_, j) =>
        `@group(0) @binding(${j + 2}) var<storage, read> P${j}: array<f32>;`,
    ),
    uniformDecl(1 + 2 * n, n + 2),
    `${flatIndex()}
  let mom = bitcast<f32>(u.u0);
  ${pick}
}`,
  ].join("\n");
}

/**
 * EMA's kernel function for tfjs-webgpu: `{ target, p0.. }`, attrs
 * `{ momentum }` -> the new flat target.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: EMA, backendName: "webgpu", kernelFunc: emaWebGpu });
 * ```
 */
export function emaWebGpu(args: KernelArgs): tf.TensorInfo {
  const be = args.backend as GpuBackend;
  const mom = (args.attrs as { momentum: number }).momentum;
  const { target } = args.inputs;
  const k = count(args);
  const ps = Array.from({ length: k }, (_, i) => args.inputs[`p${i}`]);
  const sizes = ps.map((p) => sizeOf(p.shape));
  const total = sizes.reduce((s, n) => s + n, 0);
  if (sizeOf(target.shape) !== total) {
    throw new Error(
      `${EMA}: target has ${
        sizeOf(target.shape)
      } elements, the parameters ${total}`,
    );
  }
  if (total === 0) return empty(be, target.shape);
  const offsets: number[] = [];
  sizes.reduce((o, n, i) => (offsets[i] = o, o + n), 0);
  const live = sizes.map((_, i) => i).filter((i) => sizes[i] > 0);
  const out = be.makeTensorInfo(target.shape, "float32");
  for (const grp of groups(live, storageLimit(be) - 2)) {
    const per: number[] = [];
    let end = 0;
    for (const i of grp) {
      end += sizes[i];
      per.push(end, offsets[i]);
    }
    runShader(be, {
      name: EMA,
      key: `${EMA}/${grp.length}`,
      code: () => emaCode(grp.length),
      inputs: [target, ...grp.map((i) => ps[i])],
      outputs: [],
      writes: [out],
      uniforms: [f32Bits(mom), ...per],
      threads: end,
    });
  }
  return out;
}
