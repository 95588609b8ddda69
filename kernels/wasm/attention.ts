/**
 * Fused multi-head attention (ATTENTION and ATTENTION_GRAD of
 * kernels/names.ts) for the wasm backend. q, k and v are read in place
 * from the fused qkv rows through strides, and each head's output is
 * written straight into its columns of o (and each gradient into its
 * columns of dqkv): no head transposes, no unstack copies, no [N, N]
 * tensor kept for the backward pass (it is recomputed, as in
 * FlashAttention).
 *
 * Per patient: only the keys some query can attend to (bias above -1e6;
 * padding gets -1e9, whose softmax weight is exactly 0 in float32) are
 * gathered, k^T, v and the bias columns into scratch blocks (about a third
 * of the keys are padding in a volume 32^3 batch, so about a third of the
 * work goes); S = q k^T in the SIMD row kernels; E = exp(scale S + bias -
 * max) with each row's max and sum (lse = max + log sum is an output);
 * o = (E v) / rowsum(E). The gradient recomputes P from S (its own max and
 * sum: from lse it would lose the sum's digits when every key is masked),
 * then dv = P^T do, dP = do v^T, dS = scale P (dP - rowsum(dP P)),
 * dq = dS k, dk = dS^T q; dropped keys get dk = dv = 0 exactly.
 *
 * With the `skipHidden` attribute the dropped keys are dropped as queries
 * too (their q and dy rows are not gathered; o, lse and dq are 0 there):
 * the work per patient goes from N x kept to kept x kept.
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
  /** Whether rows of tokens no query may attend to are skipped (attr skipHidden). */
  skip: boolean;
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
  return {
    n,
    heads,
    scale,
    N,
    w,
    d,
    nb,
    Nb,
    skip: Boolean(args.attrs?.skipHidden),
  };
}

const f32Bits = (v: number): number =>
  new Int32Array(new Float32Array([v]).buffer)[0];

// Scratch tensors on the heap; freed by the caller.
function scratch(be: WasmBackendLike, size: number): tf.TensorInfo {
  return be.makeOutput([Math.max(1, size)], "float32");
}

// A bias at or below this adds exactly 0 to a softmax in float32 (exp
// underflows long before), so such a key contributes nothing.
const MASKED = -1e6;

// The keys of patient p that some query may attend to: those whose bias is
// above MASKED in at least one query row. Returns how many, their indices
// in idx. All N when some query row has no such key (then tfjs's softmax
// spreads it over every key, and so must this kernel).
function keptKeys(
  bias: Float32Array,
  g: Geometry,
  p: number,
  idx: Int32Array,
): number {
  const { N, Nb } = g;
  const b0 = (g.nb > 1 ? p : 0) * Nb * N;
  let nk = 0;
  const keep = new Uint8Array(N);
  for (let i = 0; i < Nb; i++) {
    let any = false;
    const row = b0 + i * N;
    for (let j = 0; j < N; j++) {
      if (bias[row + j] > MASKED) {
        keep[j] = 1;
        any = true;
      }
    }
    if (!any) keep.fill(1);
  }
  for (let j = 0; j < N; j++) if (keep[j]) idx[nk++] = j;
  return nk;
}

// Per patient: the kept keys' rows of k and v and of the bias, gathered
// into scratch blocks the SIMD products read contiguously.
interface Gathered {
  /** Kept keys. */
  nk: number;
  /** Their indices. */
  idx: Int32Array;
}

// dst[c * nk + j] = column col0 + c of key idx[j]'s row (k^T or v^T).
function gatherT(
  heap: Float32Array,
  qkvAt: number,
  dstAt: number,
  g: Geometry,
  p: number,
  col0: number,
  k: Gathered,
): void {
  const { N, w } = g, { nk, idx } = k;
  const src = (qkvAt >> 2) + p * N * 3 * w + col0, dst = dstAt >> 2;
  for (let j = 0; j < nk; j++) {
    const row = src + idx[j] * 3 * w;
    for (let c = 0; c < w; c++) heap[dst + c * nk + j] = heap[row + c];
  }
}

// dst[j * w + c] = column col0 + c of key idx[j]'s row (k or v rows).
function gatherRows(
  heap: Float32Array,
  qkvAt: number,
  dstAt: number,
  g: Geometry,
  p: number,
  col0: number,
  k: Gathered,
): void {
  const { N, w } = g, { nk, idx } = k;
  const src = (qkvAt >> 2) + p * N * 3 * w + col0, dst = dstAt >> 2;
  for (let j = 0; j < nk; j++) {
    heap.copyWithin(
      dst + j * w,
      src + idx[j] * 3 * w,
      src + idx[j] * 3 * w + w,
    );
  }
}

// The kept columns of patient p's bias rows: [Nb, nk], or [nq, nk] for
// the query rows in q when Nb = N; returns the bytes between rows (0 when
// one row serves every query).
function gatherBias(
  heap: Float32Array,
  biasAt: number,
  dstAt: number,
  g: Geometry,
  p: number,
  k: Gathered,
  q: Queries,
): number {
  const { N, Nb } = g, { nk, idx } = k;
  const src = (biasAt >> 2) + (g.nb > 1 ? p : 0) * Nb * N, dst = dstAt >> 2;
  const rows = Nb > 1 ? q.nq : 1;
  for (let i = 0; i < rows; i++) {
    const from = src + (Nb > 1 && q.idx ? q.idx[i] : i) * N;
    for (let j = 0; j < nk; j++) {
      heap[dst + i * nk + j] = heap[from + idx[j]];
    }
  }
  return Nb > 1 ? 4 * nk : 0;
}

// The query rows of patient p: every token's, read in place from qkv, or
// (skipHidden) only the kept keys' own rows, gathered into a scratch block.
interface Queries {
  /** Query rows. */
  nq: number;
  /** Their token indices; null: all N in order. */
  idx: Int32Array | null;
  /** Byte address of the first row's q and the bytes between rows. */
  at: number;
  row: number;
}

function queriesOf(
  heap: Float32Array,
  g: Geometry,
  qkvAt: number,
  qAt: number,
  p: number,
  k: Gathered,
): Queries {
  const { N, w } = g;
  if (!g.skip || k.nk === N) {
    return { nq: N, idx: null, at: qkvAt + 4 * p * N * 3 * w, row: 12 * w };
  }
  gatherRows(heap, qkvAt, qAt, g, p, 0, k);
  return { nq: k.nk, idx: k.idx, at: qAt, row: 4 * w };
}

// Rows [nq, w] of src (row stride srcRow bytes) to the query rows of dst
// (dstRow bytes apart, from patient p's first row); the rows of skipped
// queries get zeros.
function scatterQueries(
  heap: Float32Array,
  src: number,
  srcRow: number,
  dst: number,
  dstRow: number,
  w: number,
  N: number,
  q: Queries,
): void {
  const idx = q.idx!, s = src >> 2, sr = srcRow >> 2, d0 = dst >> 2;
  const dr = dstRow >> 2;
  for (let j = 0, t = 0; j < N; j++) {
    const row = d0 + j * dr;
    if (t < q.nq && idx[t] === j) {
      heap.copyWithin(row, s + t * sr, s + t * sr + w);
      t++;
    } else {
      heap.fill(0, row, row + w);
    }
  }
}

// S_h = q_h @ k_h^T over the query rows and kept keys, every head of
// patient p, into s [heads, nq, nk]; kT holds the gathered k^T [w, nk].
function scores(
  be: WasmBackendLike,
  g: Geometry,
  q: Queries,
  kT: number,
  s: number,
  nk: number,
): void {
  const { d, heads } = g;
  matMulInto(
    be,
    { at: q.at, row: q.row, col: 4 },
    { at: kT, row: 4 * nk, col: 4 },
    s,
    q.nq,
    d,
    nk,
    0,
    heads,
    4 * d,
    4 * d * nk,
  );
}

// Scratch of one call: sized for every key kept.
function scratchSet(be: WasmBackendLike, g: Geometry, backward: boolean) {
  const { N, w, heads } = g;
  const rows = g.skip ? w * N : 0;
  return {
    kT: scratch(be, w * N),
    v: scratch(be, w * N),
    bias: scratch(be, g.Nb * N),
    s: scratch(be, heads * N * N),
    stats: scratch(be, 2 * heads * N),
    dp: backward ? scratch(be, heads * N * N) : null,
    dkv: backward ? scratch(be, 2 * w * N) : null,
    // Gathered query rows, and their o (forward) or dy and dq (backward).
    q: scratch(be, rows),
    qo: scratch(be, rows),
    qd: backward ? scratch(be, rows) : null,
  };
}

// softmaxRows over the [heads, nq, nk] scores of one patient: one call
// when one bias row serves all, else one per head (the bias rows restart).
function softmaxHeads(
  k: ReturnType<typeof simdOf>,
  g: Geometry,
  ps: number,
  pb: number,
  pst: number,
  bRow: number,
  nq: number,
  nk: number,
  normalize: number,
  statsPerHead: boolean,
): void {
  const quads = nk >> 2, rem = nk & 3, scaleBits = f32Bits(g.scale);
  if (bRow === 0) {
    k.softmaxRows(
      ps,
      pb,
      ps,
      pst,
      g.heads * nq,
      quads,
      rem,
      0,
      scaleBits,
      normalize,
    );
    return;
  }
  for (let h = 0; h < g.heads; h++) {
    k.softmaxRows(
      ps + 4 * h * nq * nk,
      pb,
      ps + 4 * h * nq * nk,
      pst + (statsPerHead ? 8 * h * nq : 0),
      nq,
      quads,
      rem,
      bRow,
      scaleBits,
      normalize,
    );
  }
}

/**
 * Forward kernel: `{ qkv, bias }`, attrs `{ n, heads, scale, skipHidden? }`
 * -> `[o, lse]`. With `skipHidden`, the rows of tokens that no query may
 * attend to get o = 0 and lse = 0 (the caller never reads them).
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
  const sc = scratchSet(be, g, false);
  // Addresses and views only after every allocation (the heap may grow).
  const qkvAt = addr(be, args.inputs.qkv), biasAt = addr(be, args.inputs.bias);
  const [pk, pv, pb, ps, pst, po, pq, pqo] = [
    sc.kT,
    sc.v,
    sc.bias,
    sc.s,
    sc.stats,
    o,
    sc.q,
    sc.qo,
  ].map((t) => addr(be, t));
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const biasIn = be.typedArrayFromHeap(args.inputs.bias);
  const lseOut = be.typedArrayFromHeap(lse);
  const k = simdOf(be);
  const keys: Gathered = { nk: 0, idx: new Int32Array(N) };
  for (let p = 0; p < n; p++) {
    const nk = keys.nk = keptKeys(biasIn, g, p, keys.idx);
    const q = queriesOf(heap, g, qkvAt, pq, p, keys), nq = q.nq;
    gatherT(heap, qkvAt, pk, g, p, w, keys);
    gatherRows(heap, qkvAt, pv, g, p, 2 * w, keys);
    const bRow = gatherBias(heap, biasAt, pb, g, p, keys, q);
    scores(be, g, q, pk, ps, nk);
    softmaxHeads(k, g, ps, pb, pst, bRow, nq, nk, 0, true);
    const st = heap.subarray(pst >> 2, (pst >> 2) + 2 * heads * nq);
    const lseP = lseOut.subarray(p * heads * N, (p + 1) * heads * N);
    if (q.idx) lseP.fill(0);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        const r = h * nq + i;
        lseP[h * N + (q.idx ? q.idx[i] : i)] = st[2 * r] +
          Math.log(st[2 * r + 1]);
      }
    }
    // o_h = (E_h @ v_h) / rowsum(E_h), E = exp(x - max) unnormalized:
    // dividing the [N, d] product costs N / d times less than P itself.
    const out = q.idx ? pqo : po + 4 * p * N * w;
    matMulInto(
      be,
      { at: ps, row: 4 * nk, col: 4 },
      { at: pv, row: 4 * w, col: 4 },
      out,
      nq,
      nk,
      d,
      0,
      heads,
      4 * nq * nk,
      4 * d,
      4 * w,
      4 * d,
    );
    const o0 = out >> 2;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        const inv = 1 / st[2 * (h * nq + i) + 1], at = o0 + i * w + h * d;
        for (let c = 0; c < d; c++) heap[at + c] *= inv;
      }
    }
    if (q.idx) {
      scatterQueries(heap, pqo, 4 * w, po + 4 * p * N * w, 4 * w, w, N, q);
    }
  }
  for (const t of Object.values(sc)) if (t) be.disposeData(t.dataId);
  return [o, lse];
}

/**
 * Gradient kernel: `{ dy, qkv, bias, o, lse }`, attrs `{ n, heads, scale,
 * skipHidden? }` -> dqkv. With `skipHidden`, dy is taken as 0 on the rows
 * of tokens no query may attend to (the forward pass's unread rows), so
 * their dq is 0.
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
  const sc = scratchSet(be, g, true);
  const qkvAt = addr(be, args.inputs.qkv), biasAt = addr(be, args.inputs.bias);
  const dyAt = addr(be, args.inputs.dy);
  const [pk, pv, pb, ps, pst, pdp, pdkv, pdq, pq, pqy, pqd] = [
    sc.kT,
    sc.v,
    sc.bias,
    sc.s,
    sc.stats,
    sc.dp!,
    sc.dkv!,
    dqkv,
    sc.q,
    sc.qo,
    sc.qd!,
  ].map((t) => addr(be, t));
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const biasIn = be.typedArrayFromHeap(args.inputs.bias);
  const k = simdOf(be), scaleBits = f32Bits(g.scale);
  const keys: Gathered = { nk: 0, idx: new Int32Array(N) };
  for (let p = 0; p < n; p++) {
    const nk = keys.nk = keptKeys(biasIn, g, p, keys.idx);
    const quads = nk >> 2, rem = nk & 3;
    const q = queriesOf(heap, g, qkvAt, pq, p, keys), nq = q.nq;
    // dy rows of the queries, and where their dq goes.
    let dyP = dyAt + 4 * p * N * w;
    const dqP = pdq + 4 * p * N * 3 * w;
    if (q.idx) {
      for (let t = 0; t < nq; t++) {
        const from = (dyP >> 2) + q.idx[t] * w;
        heap.copyWithin((pqy >> 2) + t * w, from, from + w);
      }
      dyP = pqy;
    }
    const dqOut = q.idx ? { at: pqd, row: 4 * w } : { at: dqP, row: 12 * w };
    // P again, over the kept keys.
    gatherT(heap, qkvAt, pk, g, p, w, keys);
    const bRow = gatherBias(heap, biasAt, pb, g, p, keys, q);
    scores(be, g, q, pk, ps, nk);
    // From its own max and sum, not from lse: max + log(sum) loses the
    // sum's digits when the max is huge (a row whose keys are all masked
    // has max -1e9, where a float32 step is 64).
    softmaxHeads(k, g, ps, pb, pst, bRow, nq, nk, 1, false);
    // dv_h = P_h^T @ do_h (P read transposed through its strides), into
    // the kept keys' rows of the dkv scratch [2, nk, w].
    matMulInto(
      be,
      { at: ps, row: 4, col: 4 * nk },
      { at: dyP, row: 4 * w, col: 4 },
      pdkv + 4 * nk * w,
      nk,
      nq,
      d,
      0,
      heads,
      4 * nq * nk,
      4 * d,
      4 * w,
      4 * d,
    );
    // dP_h = do_h @ v_h^T, with v^T gathered into the scratch block.
    gatherT(heap, qkvAt, pk, g, p, 2 * w, keys);
    matMulInto(
      be,
      { at: dyP, row: 4 * w, col: 4 },
      { at: pk, row: 4 * nk, col: 4 },
      pdp,
      nq,
      d,
      nk,
      0,
      heads,
      4 * d,
      4 * d * nk,
    );
    // dS = scale * P * (dP - rowsum(dP * P)), in place over dP.
    k.softmaxGradScaled(pdp, ps, pdp, heads * nq, quads, rem, scaleBits);
    // dq_h = dS_h @ k_h (k rows gathered), into q's columns of dqkv.
    gatherRows(heap, qkvAt, pv, g, p, w, keys);
    matMulInto(
      be,
      { at: pdp, row: 4 * nk, col: 4 },
      { at: pv, row: 4 * w, col: 4 },
      dqOut.at,
      nq,
      nk,
      d,
      0,
      heads,
      4 * nq * nk,
      4 * d,
      dqOut.row,
      4 * d,
    );
    // dk_h = dS_h^T @ q_h, into the dkv scratch.
    matMulInto(
      be,
      { at: pdp, row: 4, col: 4 * nk },
      { at: q.at, row: q.row, col: 4 },
      pdkv,
      nk,
      nq,
      d,
      0,
      heads,
      4 * nq * nk,
      4 * d,
      4 * w,
      4 * d,
    );
    if (q.idx) scatterQueries(heap, pqd, 4 * w, dqP, 12 * w, w, N, q);
    // Scatter dk, dv to the kept keys' rows; the others get exactly 0 (P
    // is 0 there, as in tfjs's softmax).
    const dkv = pdkv >> 2, out = dqP >> 2;
    for (let j = 0, t = 0; j < N; j++) {
      const row = out + j * 3 * w;
      if (t < nk && keys.idx[t] === j) {
        heap.copyWithin(row + w, dkv + t * w, dkv + t * w + w);
        heap.copyWithin(
          row + 2 * w,
          dkv + (nk + t) * w,
          dkv + (nk + t) * w + w,
        );
        t++;
      } else {
        heap.fill(0, row + w, row + 3 * w);
      }
    }
  }
  for (const t of Object.values(sc)) if (t) be.disposeData(t.dataId);
  return dqkv;
}
