/**
 * ATTENTION and ATTENTION_GRAD (contracts in kernels/names.ts) for
 * tfjs-webgpu: multi-head attention read straight from the fused qkv
 * projection [n*N, 3w] and written straight in token-major order, one
 * dispatch each way.
 *
 * Written with tf ops, one attention layer is a transpose of qkv, an
 * unstack, three head transposes, the q scaling, two batched products, the
 * bias add, the softmax and a transpose back: a dozen dispatches forward
 * and more backward, which dominate small models on a GPU. Here the
 * forward gives each (patient, head, query) one invocation with an online
 * softmax (running max, sum and weighted sum of v in registers) and stores
 * the row's log-sum-exp; the backward recomputes the probabilities from it
 * (as FlashAttention does), with one range of invocations per query row
 * (dq) and one per key row (dk, dv), so no [N, N] tensor is stored either
 * way. Head size is a shader constant (register arrays).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { ATTENTION, ATTENTION_GRAD } from "../names.ts";
import {
  flatIndex,
  type GpuBackend,
  type KernelArgs,
  runShader,
  uniformDecl,
} from "./runner.ts";

/** Largest head size the kernels take (register arrays of this length). */
export const MAX_HEAD = 64;

interface Dims {
  n: number;
  N: number;
  h: number;
  d: number;
  w: number;
  /** Bias elements between patients (0: shared) and between query rows (0: key bias). */
  biasBatch: number;
  biasRow: number;
  scale: number;
}

function dims(name: string, args: KernelArgs): Dims {
  const { qkv, bias } = args.inputs;
  const a = args.attrs as unknown as {
    n: number;
    heads: number;
    scale: number;
  };
  const n = a.n, h = a.heads;
  if (qkv.shape.length !== 2 || qkv.shape[1] % (3 * h) !== 0) {
    throw new Error(
      `${name}: qkv [n*N, 3*width] with width divisible by ${h} heads expected, got ${qkv.shape}`,
    );
  }
  if (qkv.shape[0] % n !== 0) {
    throw new Error(`${name}: ${qkv.shape[0]} rows are not ${n} patients x N`);
  }
  const N = qkv.shape[0] / n, w = qkv.shape[1] / 3, d = w / h;
  if (d > MAX_HEAD) {
    throw new Error(`${name}: head size ${d} > ${MAX_HEAD}`);
  }
  const bs = bias.shape;
  if (
    bs.length !== 4 || (bs[0] !== 1 && bs[0] !== n) || bs[1] !== 1 ||
    (bs[2] !== 1 && bs[2] !== N) || bs[3] !== N
  ) {
    throw new Error(
      `${name}: bias [n or 1, 1, N or 1, N] expected for n ${n}, N ${N}, got ${bs}`,
    );
  }
  for (const t of Object.values(args.inputs)) {
    if (t.dtype !== "float32") {
      throw new Error(`${name}: float32 inputs expected, got ${t.dtype}`);
    }
  }
  return {
    n,
    N,
    h,
    d,
    w,
    biasBatch: bs[0] === 1 ? 0 : bs[2] * N,
    biasRow: bs[2] === 1 ? 0 : N,
    scale: a.scale,
  };
}

// Uniforms shared by both shaders: u0 threads of the first range, u1 N,
// u2 h, u3 w, u4 bias batch stride, u5 bias row stride, u6 scale (f32
// bits), u7 total threads.
function uniforms(m: Dims, first: number, total: number): number[] {
  const s = new Int32Array(Float32Array.of(m.scale).buffer)[0];
  return [first, m.N, m.h, m.w, m.biasBatch, m.biasRow, s, total];
}

// Row r = (b * h + hh) * N + i -> b, hh, i; the token row b * N + i holds
// q at column hh*d, k at w + hh*d, v at 2w + hh*d.
const DECODE = `
  let N = u.u1; let H = u.u2; let W = u.u3;
  let scale = bitcast<f32>(u.u6);
  let i = r % N; let bh = r / N; let hh = bh % H; let b = bh / H;
  let qrow = (b * N + i) * 3 * W + hh * D;
  let brow = b * u.u4 + i * u.u5;`;

function forwardCode(d: number): string {
  return `
const D = ${d};
@group(0) @binding(0) var<storage, read_write> O: array<f32>;
@group(0) @binding(1) var<storage, read_write> LSE: array<f32>;
@group(0) @binding(2) var<storage, read> QKV: array<f32>;
@group(0) @binding(3) var<storage, read> BIAS: array<f32>;
${uniformDecl(8, 4)}
${flatIndex()}
  if (gi >= u.u0) { return; }
  let r = gi;
  ${DECODE}
  var q: array<f32, D>;
  for (var c = 0; c < D; c++) { q[c] = QKV[qrow + c] * scale; }
  var acc: array<f32, D>;
  var mx = -3.0e38;
  var l = 0.0;
  for (var j = 0; j < N; j++) {
    let krow = (b * N + j) * 3 * W + W + hh * D;
    var s = BIAS[brow + j];
    for (var c = 0; c < D; c++) { s += q[c] * QKV[krow + c]; }
    let nm = max(mx, s);
    let f = exp(mx - nm);
    let e = exp(s - nm);
    l = l * f + e;
    for (var c = 0; c < D; c++) { acc[c] = acc[c] * f + e * QKV[krow + W + c]; }
    mx = nm;
  }
  let orow = (b * N + i) * W + hh * D;
  for (var c = 0; c < D; c++) { O[orow + c] = acc[c] / l; }
  LSE[gi] = mx + log(l);
}`;
}

function backwardCode(d: number): string {
  return `
const D = ${d};
@group(0) @binding(0) var<storage, read_write> DQKV: array<f32>;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> QKV: array<f32>;
@group(0) @binding(3) var<storage, read> BIAS: array<f32>;
@group(0) @binding(4) var<storage, read> O: array<f32>;
@group(0) @binding(5) var<storage, read> LSE: array<f32>;
${uniformDecl(8, 6)}
${flatIndex()}
  if (gi >= u.u7) { return; }
  let first = gi < u.u0;
  var r = gi;
  if (!first) { r = gi - u.u0; }
  ${DECODE}
  // This invocation's own row (a query row in the first range, a key row
  // in the second), then the loop over the other side.
  let own = (b * N + i);
  if (first) {
    var q: array<f32, D>;
    var g: array<f32, D>;
    var delta = 0.0;
    for (var c = 0; c < D; c++) {
      q[c] = QKV[qrow + c] * scale;
      let y = DY[own * W + hh * D + c];
      g[c] = y;
      delta += y * O[own * W + hh * D + c];
    }
    let lse = LSE[r];
    var dq: array<f32, D>;
    for (var j = 0; j < N; j++) {
      let krow = (b * N + j) * 3 * W + W + hh * D;
      var s = BIAS[brow + j];
      var dp = 0.0;
      for (var c = 0; c < D; c++) {
        s += q[c] * QKV[krow + c];
        dp += g[c] * QKV[krow + W + c];
      }
      let ds = exp(s - lse) * (dp - delta);
      for (var c = 0; c < D; c++) { dq[c] += ds * QKV[krow + c]; }
    }
    for (var c = 0; c < D; c++) { DQKV[qrow + c] = dq[c] * scale; }
  } else {
    // r decodes as (b, hh, j = i): key row j.
    let j = i;
    var k: array<f32, D>;
    var v: array<f32, D>;
    for (var c = 0; c < D; c++) {
      k[c] = QKV[qrow + W + c];
      v[c] = QKV[qrow + 2 * W + c];
    }
    var dk: array<f32, D>;
    var dv: array<f32, D>;
    for (var qi = 0; qi < N; qi++) {
      let qr = (b * N + qi) * 3 * W + hh * D;
      let yr = (b * N + qi) * W + hh * D;
      var s = BIAS[b * u.u4 + qi * u.u5 + j];
      var dp = 0.0;
      var delta = 0.0;
      for (var c = 0; c < D; c++) {
        s += QKV[qr + c] * scale * k[c];
        let y = DY[yr + c];
        dp += y * v[c];
        delta += y * O[yr + c];
      }
      let p = exp(s - LSE[(b * H + hh) * N + qi]);
      let ds = p * (dp - delta);
      for (var c = 0; c < D; c++) {
        dk[c] += ds * QKV[qr + c];
        dv[c] += p * DY[yr + c];
      }
    }
    for (var c = 0; c < D; c++) {
      DQKV[qrow + W + c] = dk[c] * scale;
      DQKV[qrow + 2 * W + c] = dv[c];
    }
  }
}`;
}

/**
 * ATTENTION's kernel function for tfjs-webgpu.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: ATTENTION, backendName: "webgpu", kernelFunc: attentionWebGpu });
 * ```
 */
export function attentionWebGpu(args: KernelArgs): tf.TensorInfo[] {
  const m = dims(ATTENTION, args);
  const rows = m.n * m.h * m.N;
  return runShader(args.backend as GpuBackend, {
    name: ATTENTION,
    key: `${ATTENTION}/${m.d}`,
    code: () => forwardCode(m.d),
    inputs: [args.inputs.qkv, args.inputs.bias],
    outputs: [[m.n * m.N, m.w], [rows]],
    uniforms: uniforms(m, rows, rows),
    threads: rows,
  });
}

/**
 * ATTENTION_GRAD's kernel function for tfjs-webgpu.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: ATTENTION_GRAD, backendName: "webgpu", kernelFunc: attentionGradWebGpu });
 * ```
 */
export function attentionGradWebGpu(args: KernelArgs): tf.TensorInfo {
  const m = dims(ATTENTION_GRAD, args);
  const { dy, qkv, bias, o, lse } = args.inputs;
  const rows = m.n * m.h * m.N;
  if (
    dy.shape.join() !== `${m.n * m.N},${m.w}` ||
    o.shape.join() !== dy.shape.join() || lse.shape.join() !== `${rows}`
  ) {
    throw new Error(
      `${ATTENTION_GRAD}: dy and o [${
        m.n * m.N
      }, ${m.w}], lse [${rows}] expected, got ${dy.shape}, ${o.shape}, ${lse.shape}`,
    );
  }
  return runShader(args.backend as GpuBackend, {
    name: ATTENTION_GRAD,
    key: `${ATTENTION_GRAD}/${m.d}`,
    code: () => backwardCode(m.d),
    inputs: [dy, qkv, bias, o, lse],
    outputs: [qkv.shape],
    uniforms: uniforms(m, rows, 2 * rows),
    threads: 2 * rows,
  })[0];
}
