/**
 * Fused multi-head attention (ATTENTION and ATTENTION_GRAD of
 * kernels/names.ts) for the wasm backend. q, k and v are read in place
 * from the fused qkv rows through strides, and each head's output is
 * written straight into its columns of o (and each gradient into its
 * columns of dqkv): no head transposes, no unstack copies. The forward
 * pass returns P over the kept keys, packed per patient (about 5 MB for a
 * volume batch of 32) as a third output; the gradient takes it back
 * instead of recomputing the scores and the softmax (that was about a
 * third of its time), and recomputes when it is not given.
 *
 * Per patient: only the keys some query can attend to (bias above -1e6;
 * padding gets -1e9, whose softmax weight is exactly 0 in float32) are
 * gathered, k^T, v and the bias columns into scratch blocks (about a third
 * of the keys are padding in a volume 32^3 batch, so about a third of the
 * work goes); S = q k^T in the SIMD row kernels; E = exp(scale S + bias -
 * max) with each row's max and sum (lse = max + log sum is an output),
 * P = E / rowsum(E), o = P v. The gradient (recomputing P from S when it
 * is not given, with its own max and sum: from lse it would lose the
 * sum's digits when every key is masked) computes
 * dv = P^T do, dP = do v^T, dS = scale P (dP - rowsum(dP P)),
 * dq = dS k, dk = dS^T q; dropped keys get dk = dv = 0 exactly.
 *
 * With the `skipHidden` attribute the dropped keys are dropped as queries
 * too (their q and dy rows are not gathered; o, lse and dq are 0 there):
 * the work per patient goes from N x kept to kept x kept.
 *
 * Up to SMALL_N tokens per patient (the features level has 12) the
 * per-patient calls and gathers cost more than the arithmetic, so both
 * kernels run batched over all patients instead: a few SIMD products per
 * head, masked keys kept in them (their softmax weight is exactly 0), the
 * bias expanded to every score row; the forward pass returns P of every
 * patient and head [n * heads * N * N] as its third output, and the
 * gradient reads it back (recomputing it, scores, transposes and softmax,
 * was about a third of the gradient kernel's time).
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

let keepFlags = new Uint8Array(0);

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
  // One flag array for every call (this runs per patient, per call).
  if (keepFlags.length < N) keepFlags = new Uint8Array(N);
  const keep = keepFlags;
  keep.fill(0, 0, N);
  for (let i = 0; i < Nb; i++) {
    let any = false;
    const row = b0 + i * N;
    for (let j = 0; j < N; j++) {
      if (bias[row + j] > MASKED) {
        keep[j] = 1;
        any = true;
      }
    }
    if (!any) keep.fill(1, 0, N);
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

// Every patient's kept keys, and where its P [heads, nq, nk] sits in the
// packed P the forward pass returns (floats from the start).
interface Plan {
  keys: Gathered[];
  offsets: number[];
  total: number;
}

// The plan depends only on the bias, which does not change while its
// tensor lives, and on the geometry: the forward pass and its gradient
// share one (scanning the bias costs about 1 ms per call on a volume batch).
const plans = new WeakMap<object, { key: string; plan: Plan }>();

function planFor(be: WasmBackendLike, bias: tf.TensorInfo, g: Geometry): Plan {
  const key = `${g.n} ${g.N} ${g.nb} ${g.Nb} ${g.heads} ${g.skip}`;
  const hit = plans.get(bias.dataId);
  if (hit?.key === key) return hit.plan;
  const plan = planOf(be.typedArrayFromHeap(bias), g);
  plans.set(bias.dataId, { key, plan });
  return plan;
}

function planOf(bias: Float32Array, g: Geometry): Plan {
  const keys: Gathered[] = [], offsets: number[] = [];
  let total = 0;
  for (let p = 0; p < g.n; p++) {
    const idx = new Int32Array(g.N), nk = keptKeys(bias, g, p, idx);
    const nq = g.skip && nk < g.N ? nk : g.N;
    keys.push({ nk, idx });
    offsets.push(total);
    total += g.heads * nq * nk;
  }
  return { keys, offsets, total };
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
  if (n * N === 0 || w === 0) return [o, lse, be.makeOutput([0], "float32")];
  if (N <= SMALL_N) return [o, lse, attentionSmall(args, be, g, o, lse)];
  const plan = planFor(be, args.inputs.bias, g);
  // P of every patient, packed: the gradient kernel takes it back instead
  // of recomputing the scores and the softmax.
  const probs = be.makeOutput([plan.total], "float32");
  const sc = scratchSet(be, g, false);
  // Addresses and views only after every allocation (the heap may grow).
  const qkvAt = addr(be, args.inputs.qkv), biasAt = addr(be, args.inputs.bias);
  const [pk, pv, pb, pP, pst, po, pq, pqo] = [
    sc.kT,
    sc.v,
    sc.bias,
    probs,
    sc.stats,
    o,
    sc.q,
    sc.qo,
  ].map((t) => addr(be, t));
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const lseOut = be.typedArrayFromHeap(lse);
  const k = simdOf(be);
  for (let p = 0; p < n; p++) {
    const keys = plan.keys[p], nk = keys.nk, ps = pP + 4 * plan.offsets[p];
    const q = queriesOf(heap, g, qkvAt, pq, p, keys), nq = q.nq;
    gatherT(heap, qkvAt, pk, g, p, w, keys);
    gatherRows(heap, qkvAt, pv, g, p, 2 * w, keys);
    const bRow = gatherBias(heap, biasAt, pb, g, p, keys, q);
    scores(be, g, q, pk, ps, nk);
    softmaxHeads(k, g, ps, pb, pst, bRow, nq, nk, 1, true);
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
    // o_h = P_h @ v_h.
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
    if (q.idx) {
      scatterQueries(heap, pqo, 4 * w, po + 4 * p * N * w, 4 * w, w, N, q);
    }
  }
  for (const t of Object.values(sc)) if (t) be.disposeData(t.dataId);
  return [o, lse, probs];
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
  if (N <= SMALL_N) {
    attentionGradSmall(args, be, g, dqkv);
    return dqkv;
  }
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
  const plan = planFor(be, args.inputs.bias, g);
  // The forward pass's P when given (and of this plan's size), else P is
  // recomputed per patient into the scores scratch.
  const savedP = args.inputs.p;
  const pSaved = savedP && savedP.shape[0] === plan.total && plan.total > 0
    ? addr(be, savedP)
    : 0;
  const k = simdOf(be), scaleBits = f32Bits(g.scale);
  for (let p = 0; p < n; p++) {
    const keys = plan.keys[p], nk = keys.nk;
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
    let P = pSaved + 4 * plan.offsets[p];
    if (!pSaved) {
      // P again, over the kept keys.
      P = ps;
      gatherT(heap, qkvAt, pk, g, p, w, keys);
      const bRow = gatherBias(heap, biasAt, pb, g, p, keys, q);
      scores(be, g, q, pk, ps, nk);
      // From its own max and sum, not from lse: max + log(sum) loses the
      // sum's digits when the max is huge (a row whose keys are all masked
      // has max -1e9, where a float32 step is 64).
      softmaxHeads(k, g, ps, pb, pst, bRow, nq, nk, 1, false);
    }
    // dv_h = P_h^T @ do_h (P read transposed through its strides), into
    // the kept keys' rows of the dkv scratch [2, nk, w].
    matMulInto(
      be,
      { at: P, row: 4, col: 4 * nk },
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
    k.softmaxGradScaled(pdp, P, pdp, heads * nq, quads, rem, scaleBits);
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

// Up to this many tokens per patient, attention runs batched over all
// patients: a few SIMD calls per head for the whole batch instead of about
// ten per patient (for 12 tokens the per-patient calls and gathers cost
// several times the arithmetic). Masked keys stay in the products; their
// softmax weight is exactly 0, as when they are dropped.
const SMALL_N = 48;

// Small-N scratch: k^T (or v^T) of every patient [n, w, N], the bias
// expanded to every score row [n, heads, N, N], the scores, their stats
// (none of these three when P is given) and (backward) dP and dy with
// hidden rows zeroed.
function smallScratch(
  be: WasmBackendLike,
  g: Geometry,
  backward: boolean,
  probsGiven = false,
) {
  const { n, N, w, heads } = g;
  return {
    t: scratch(be, n * w * N),
    bias: probsGiven ? null : scratch(be, n * heads * N * N),
    s: probsGiven ? null : scratch(be, n * heads * N * N),
    stats: probsGiven ? null : scratch(be, 2 * n * heads * N),
    dp: backward ? scratch(be, n * heads * N * N) : null,
    dy: backward && g.skip ? scratch(be, n * N * w) : null,
  };
}

// Per token (n * N): whether it is hidden (skipHidden: a key no query may
// attend to, in a patient where every query row has some key).
function hiddenTokens(bias: Float32Array, g: Geometry): Uint8Array | null {
  if (!g.skip) return null;
  const { n, N } = g, out = new Uint8Array(n * N), idx = new Int32Array(N);
  for (let p = 0; p < n; p++) {
    const nk = keptKeys(bias, g, p, idx);
    out.fill(1, p * N, (p + 1) * N);
    for (let t = 0; t < nk; t++) out[p * N + idx[t]] = 0;
  }
  return out;
}

// dst[p, c, j] = column col0 + c of token j of patient p (k^T or v^T).
function transposeAll(
  heap: Float32Array,
  qkvAt: number,
  dstAt: number,
  g: Geometry,
  col0: number,
): void {
  const { n, N, w } = g, src = qkvAt >> 2, dst = dstAt >> 2;
  for (let p = 0; p < n; p++) {
    for (let j = 0; j < N; j++) {
      const row = src + (p * N + j) * 3 * w + col0, at = dst + p * w * N + j;
      for (let c = 0; c < w; c++) heap[at + c * N] = heap[row + c];
    }
  }
}

// P = softmax(scale * q k^T + bias) of every patient and head, [n, heads,
// N, N], normalized; stats gets each row's [max, sum].
function smallProbs(
  be: WasmBackendLike,
  g: Geometry,
  heap: Float32Array,
  biasIn: Float32Array,
  qkvAt: number,
  sc: ReturnType<typeof smallScratch>,
): void {
  const { n, N, w, d, heads, Nb } = g;
  const [pt, pb, ps, pst] = [sc.t, sc.bias!, sc.s!, sc.stats!].map((t) =>
    addr(be, t)
  );
  transposeAll(heap, qkvAt, pt, g, w);
  // The bias row of every score row (p, h, i): patient p's Nb rows, then
  // copies doubling in length up to heads * N rows.
  const b = pb >> 2, block = heads * N * N;
  for (let p = 0; p < n; p++) {
    const src = (g.nb > 1 ? p : 0) * Nb * N, at = b + p * block;
    heap.set(biasIn.subarray(src, src + Nb * N), at);
    for (let have = Nb * N; have < block; have *= 2) {
      heap.copyWithin(at + have, at, at + Math.min(have, block - have));
    }
  }
  for (let h = 0; h < heads; h++) {
    matMulInto(
      be,
      { at: qkvAt + 4 * h * d, row: 12 * w, col: 4 },
      { at: pt + 4 * h * d * N, row: 4 * N, col: 4 },
      ps + 4 * h * N * N,
      N,
      d,
      N,
      0,
      n,
      12 * w * N,
      4 * w * N,
      4 * N,
      4 * heads * N * N,
    );
  }
  simdOf(be).softmaxRows(
    ps,
    pb,
    ps,
    pst,
    n * heads * N,
    N >> 2,
    N & 3,
    4 * N,
    f32Bits(g.scale),
    1,
  );
}

// Returns P [n * heads * N * N] (the scores scratch, kept).
function attentionSmall(
  args: KernelArgs,
  be: WasmBackendLike,
  g: Geometry,
  o: tf.TensorInfo,
  lse: tf.TensorInfo,
): tf.TensorInfo {
  const { n, heads, N, w, d } = g;
  const sc = smallScratch(be, g, false);
  const qkvAt = addr(be, args.inputs.qkv), po = addr(be, o);
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const biasIn = be.typedArrayFromHeap(args.inputs.bias);
  smallProbs(be, g, heap, biasIn, qkvAt, sc);
  const ps = addr(be, sc.s!), st = be.typedArrayFromHeap(sc.stats!);
  // o_h = P_h @ v_h, straight into head h's columns of o.
  for (let h = 0; h < heads; h++) {
    matMulInto(
      be,
      { at: ps + 4 * h * N * N, row: 4 * N, col: 4 },
      { at: qkvAt + 4 * (2 * w + h * d), row: 12 * w, col: 4 },
      po + 4 * h * d,
      N,
      N,
      d,
      0,
      n,
      4 * heads * N * N,
      12 * w * N,
      4 * w,
      4 * w * N,
    );
  }
  const lseOut = be.typedArrayFromHeap(lse);
  for (let r = 0; r < n * heads * N; r++) {
    lseOut[r] = st[2 * r] + Math.log(st[2 * r + 1]);
  }
  const hidden = hiddenTokens(biasIn, g);
  if (hidden) {
    const out = be.typedArrayFromHeap(o);
    for (let t = 0; t < n * N; t++) {
      if (!hidden[t]) continue;
      out.fill(0, t * w, (t + 1) * w);
      const p = Math.floor(t / N), i = t % N;
      for (let h = 0; h < heads; h++) lseOut[(p * heads + h) * N + i] = 0;
    }
  }
  for (const t of Object.values(sc)) {
    if (t && t !== sc.s) be.disposeData(t.dataId);
  }
  return sc.s!;
}

function attentionGradSmall(
  args: KernelArgs,
  be: WasmBackendLike,
  g: Geometry,
  dqkv: tf.TensorInfo,
): void {
  const { n, heads, N, w, d } = g;
  // The forward pass's P when given (of this size), else computed again.
  const saved = args.inputs.p;
  const given = saved !== undefined && saved.shape.length === 1 &&
    saved.shape[0] === n * heads * N * N;
  const sc = smallScratch(be, g, true, given);
  const qkvAt = addr(be, args.inputs.qkv), pdq = addr(be, dqkv);
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const biasIn = be.typedArrayFromHeap(args.inputs.bias);
  if (!given) smallProbs(be, g, heap, biasIn, qkvAt, sc);
  const [ps, pt, pdp] = [given ? saved : sc.s!, sc.t, sc.dp!].map((t) =>
    addr(be, t)
  );
  // dy, with the rows of hidden tokens taken as 0 (skipHidden).
  let dyAt = addr(be, args.inputs.dy);
  const hidden = hiddenTokens(biasIn, g);
  if (hidden) {
    const to = addr(be, sc.dy!);
    heap.copyWithin(to >> 2, dyAt >> 2, (dyAt >> 2) + n * N * w);
    for (let t = 0; t < n * N; t++) {
      if (hidden[t]) heap.fill(0, (to >> 2) + t * w, (to >> 2) + (t + 1) * w);
    }
    dyAt = to;
  }
  transposeAll(heap, qkvAt, pt, g, 2 * w);
  const batchP = 4 * heads * N * N, batchQkv = 12 * w * N;
  for (let h = 0; h < heads; h++) {
    const P = ps + 4 * h * N * N, dP = pdp + 4 * h * N * N;
    // dv_h = P_h^T @ do_h, into v's columns of dqkv.
    matMulInto(
      be,
      { at: P, row: 4, col: 4 * N },
      { at: dyAt + 4 * h * d, row: 4 * w, col: 4 },
      pdq + 4 * (2 * w + h * d),
      N,
      N,
      d,
      0,
      n,
      batchP,
      4 * w * N,
      12 * w,
      batchQkv,
    );
    // dP_h = do_h @ v_h^T.
    matMulInto(
      be,
      { at: dyAt + 4 * h * d, row: 4 * w, col: 4 },
      { at: pt + 4 * h * d * N, row: 4 * N, col: 4 },
      dP,
      N,
      d,
      N,
      0,
      n,
      4 * w * N,
      4 * w * N,
      4 * N,
      batchP,
    );
  }
  // dS = scale * P * (dP - rowsum(dP * P)), in place over dP.
  simdOf(be).softmaxGradScaled(
    pdp,
    ps,
    pdp,
    n * heads * N,
    N >> 2,
    N & 3,
    f32Bits(g.scale),
  );
  for (let h = 0; h < heads; h++) {
    const dS = pdp + 4 * h * N * N;
    // dq_h = dS_h @ k_h and dk_h = dS_h^T @ q_h, into dqkv.
    matMulInto(
      be,
      { at: dS, row: 4 * N, col: 4 },
      { at: qkvAt + 4 * (w + h * d), row: 12 * w, col: 4 },
      pdq + 4 * h * d,
      N,
      N,
      d,
      0,
      n,
      batchP,
      batchQkv,
      12 * w,
      batchQkv,
    );
    matMulInto(
      be,
      { at: dS, row: 4, col: 4 * N },
      { at: qkvAt + 4 * h * d, row: 12 * w, col: 4 },
      pdq + 4 * (w + h * d),
      N,
      N,
      d,
      0,
      n,
      batchP,
      batchQkv,
      12 * w,
      batchQkv,
    );
  }
  for (const t of Object.values(sc)) if (t) be.disposeData(t.dataId);
}
