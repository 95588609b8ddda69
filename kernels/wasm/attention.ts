/**
 * Fused multi-head attention (ATTENTION and ATTENTION_GRAD of
 * kernels/names.ts) for the wasm backend. q, k and v are read in place
 * from the fused qkv rows through strides, and each head's output is
 * written straight into its columns of o (and each gradient into its
 * columns of dqkv): no head transposes, no unstack copies, no [N, N]
 * tensor kept for the backward pass (it is recomputed from lse, as in
 * FlashAttention).
 *
 * Per patient: S = q k^T (k transposed once into a scratch row block, so
 * the product runs in the SIMD row kernels), E = exp(scale S + bias - max)
 * with each row's log-sum-exp, o = (E v) / rowsum(E). The gradient: P again from lse,
 * dv = P^T do, dP = do v^T, dS = scale P (dP - rowsum(dP P)),
 * dq = dS k, dk = dS^T q.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import {
  addr,
  type KernelArgs,
  matMulInto,
  simdOf,
  type WasmBackendLike,
} from "./heap.ts";

interface Geometry {
  n: number;
  heads: number;
  scale: number;
  /** Tokens per patient. */
  N: number;
  /** Model width (heads x d). */
  w: number;
  /** Head size. */
  d: number;
  /** Bias patients (1 or n) and bias query rows (1 or N). */
  nb: number;
  Nb: number;
}

function geometry(args: KernelArgs): Geometry {
  const { qkv, bias } = args.inputs;
  const n = Number(args.attrs?.n), heads = Number(args.attrs?.heads);
  const scale = Number(args.attrs?.scale);
  const [rows, w3] = qkv.shape;
  const w = w3 / 3, N = rows / n, d = w / heads;
  const [nb, one, Nb, Nk] = bias.shape;
  if (
    !Number.isInteger(N) || !Number.isInteger(d) || one !== 1 || Nk !== N ||
    (nb !== 1 && nb !== n) || (Nb !== 1 && Nb !== N)
  ) {
    throw new Error(
      `MmjepaAttention (wasm): qkv [${qkv.shape}], bias [${bias.shape}] do not fit n ${n}, heads ${heads}`,
    );
  }
  return { n, heads, scale, N, w, d, nb, Nb };
}

const f32Bits = (v: number): number =>
  new Int32Array(new Float32Array([v]).buffer)[0];

// Scratch tensors on the heap; freed by the caller.
function scratch(be: WasmBackendLike, size: number): tf.TensorInfo {
  return be.makeOutput([Math.max(1, size)], "float32");
}

// Copies columns [col0, col0 + w) of patient p's rows (stride 3w) into
// dst as [w, N] (each column a contiguous row), so that products with
// k^T or v^T read B row-major.
function transposeBlock(
  heap: Float32Array,
  qkvAt: number,
  dstAt: number,
  g: Geometry,
  p: number,
  col0: number,
): void {
  const { N, w } = g;
  const src = (qkvAt >> 2) + p * N * 3 * w + col0, dst = dstAt >> 2;
  for (let j = 0; j < N; j++) {
    const row = src + j * 3 * w;
    for (let c = 0; c < w; c++) heap[dst + c * N + j] = heap[row + c];
  }
}

// S_h = q_h @ k_h^T for every head of patient p, into s [heads, N, N].
function scores(
  be: WasmBackendLike,
  g: Geometry,
  qkvAt: number,
  kT: number,
  s: number,
  p: number,
): void {
  const { N, w, d, heads } = g;
  matMulInto(
    be,
    { at: qkvAt + 4 * p * N * 3 * w, row: 12 * w, col: 4 },
    { at: kT, row: 4 * N, col: 4 },
    s,
    N,
    d,
    N,
    0,
    heads,
    4 * d,
    4 * d * N,
  );
}

// Address of patient p's first bias row, and the bytes between rows.
function biasRows(
  g: Geometry,
  biasAt: number,
  p: number,
): [number, number] {
  const at = biasAt + 4 * (g.nb > 1 ? p : 0) * g.Nb * g.N;
  return [at, g.Nb > 1 ? 4 * g.N : 0];
}

/**
 * Forward kernel: `{ qkv, bias }`, attrs `{ n, heads, scale }` -> `[o, lse]`.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: ATTENTION, backendName: "wasm", kernelFunc: attentionWasm });
 * ```
 */
export function attentionWasm(args: KernelArgs): tf.TensorInfo[] {
  const be = args.backend as WasmBackendLike;
  const g = geometry(args);
  const { n, heads, N, w, d } = g;
  const o = be.makeOutput([n * N, w], "float32");
  const lse = be.makeOutput([n * heads * N], "float32");
  if (n * N === 0 || w === 0) return [o, lse];
  const kT = scratch(be, w * N);
  const s = scratch(be, heads * N * N);
  const stats = scratch(be, 2 * heads * N);
  // Addresses and views only after every allocation (the heap may grow).
  const qkvAt = addr(be, args.inputs.qkv), biasAt = addr(be, args.inputs.bias);
  const [pk, ps, pst, po] = [kT, s, stats, o].map((t) => addr(be, t));
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const lseOut = be.typedArrayFromHeap(lse);
  const k = simdOf(be), scaleBits = f32Bits(g.scale);
  const quads = N >> 2, rem = N & 3;
  for (let p = 0; p < n; p++) {
    transposeBlock(heap, qkvAt, pk, g, p, w);
    scores(be, g, qkvAt, pk, ps, p);
    const [b0, bRow] = biasRows(g, biasAt, p);
    if (bRow === 0) {
      k.softmaxRows(ps, b0, ps, pst, heads * N, quads, rem, 0, scaleBits);
    } else {
      for (let h = 0; h < heads; h++) {
        k.softmaxRows(
          ps + 4 * h * N * N,
          b0,
          ps + 4 * h * N * N,
          pst + 8 * h * N,
          N,
          quads,
          rem,
          bRow,
          scaleBits,
        );
      }
    }
    const st = heap.subarray(pst >> 2, (pst >> 2) + 2 * heads * N);
    for (let r = 0; r < heads * N; r++) {
      lseOut[p * heads * N + r] = st[2 * r] + Math.log(st[2 * r + 1]);
    }
    // o_h = (E_h @ v_h) / rowsum(E_h), E = exp(x - max) unnormalized:
    // dividing the [N, d] product costs N / d times less than P itself.
    // o_h = P_h @ v_h, into head h's columns of o.
    matMulInto(
      be,
      { at: ps, row: 4 * N, col: 4 },
      { at: qkvAt + 4 * (p * N * 3 * w + 2 * w), row: 12 * w, col: 4 },
      po + 4 * p * N * w,
      N,
      N,
      d,
      0,
      heads,
      4 * N * N,
      4 * d,
      4 * w,
      4 * d,
    );
    const o0 = (po >> 2) + p * N * w;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < N; i++) {
        const inv = 1 / st[2 * (h * N + i) + 1], at = o0 + i * w + h * d;
        for (let c = 0; c < d; c++) heap[at + c] *= inv;
      }
    }
  }
  for (const t of [kT, s, stats]) be.disposeData(t.dataId);
  return [o, lse];
}

/**
 * Gradient kernel: `{ dy, qkv, bias, o, lse }`, attrs `{ n, heads, scale }`
 * -> dqkv.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: ATTENTION_GRAD, backendName: "wasm", kernelFunc: attentionGradWasm });
 * ```
 */
export function attentionGradWasm(args: KernelArgs): tf.TensorInfo {
  const be = args.backend as WasmBackendLike;
  const g = geometry(args);
  const { n, heads, N, w, d } = g;
  const dqkv = be.makeOutput([n * N, 3 * w], "float32");
  if (n * N === 0 || w === 0) return dqkv;
  const kT = scratch(be, w * N);
  const s = scratch(be, heads * N * N);
  const dp = scratch(be, heads * N * N);
  const qkvAt = addr(be, args.inputs.qkv), biasAt = addr(be, args.inputs.bias);
  const dyAt = addr(be, args.inputs.dy), lseAt = addr(be, args.inputs.lse);
  const [pk, ps, pdp, pdq] = [kT, s, dp, dqkv].map((t) => addr(be, t));
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const k = simdOf(be), scaleBits = f32Bits(g.scale);
  const quads = N >> 2, rem = N & 3;
  for (let p = 0; p < n; p++) {
    const base = qkvAt + 4 * p * N * 3 * w;
    const dyP = dyAt + 4 * p * N * w, dqP = pdq + 4 * p * N * 3 * w;
    // P again, from the saved log-sum-exp.
    transposeBlock(heap, qkvAt, pk, g, p, w);
    scores(be, g, qkvAt, pk, ps, p);
    const [b0, bRow] = biasRows(g, biasAt, p);
    for (let h = 0; h < heads; h++) {
      k.expRows(
        ps + 4 * h * N * N,
        b0,
        ps + 4 * h * N * N,
        lseAt + 4 * (p * heads + h) * N,
        N,
        quads,
        rem,
        bRow,
        scaleBits,
      );
    }
    // dv_h = P_h^T @ do_h, P read transposed through its strides.
    matMulInto(
      be,
      { at: ps, row: 4, col: 4 * N },
      { at: dyP, row: 4 * w, col: 4 },
      dqP + 8 * w,
      N,
      N,
      d,
      0,
      heads,
      4 * N * N,
      4 * d,
      12 * w,
      4 * d,
    );
    // dP_h = do_h @ v_h^T, with v transposed into the scratch block.
    transposeBlock(heap, qkvAt, pk, g, p, 2 * w);
    matMulInto(
      be,
      { at: dyP, row: 4 * w, col: 4 },
      { at: pk, row: 4 * N, col: 4 },
      pdp,
      N,
      d,
      N,
      0,
      heads,
      4 * d,
      4 * d * N,
    );
    // dS = scale * P * (dP - rowsum(dP * P)), in place over dP.
    k.softmaxGradScaled(pdp, ps, pdp, heads * N, quads, rem, scaleBits);
    // dq_h = dS_h @ k_h and dk_h = dS_h^T @ q_h, into their columns.
    matMulInto(
      be,
      { at: pdp, row: 4 * N, col: 4 },
      { at: base + 4 * w, row: 12 * w, col: 4 },
      dqP,
      N,
      N,
      d,
      0,
      heads,
      4 * N * N,
      4 * d,
      12 * w,
      4 * d,
    );
    matMulInto(
      be,
      { at: pdp, row: 4, col: 4 * N },
      { at: base, row: 12 * w, col: 4 },
      dqP + 4 * w,
      N,
      N,
      d,
      0,
      heads,
      4 * N * N,
      4 * d,
      12 * w,
      4 * d,
    );
  }
  for (const t of [kT, s, dp]) be.disposeData(t.dataId);
  return dqkv;
}
