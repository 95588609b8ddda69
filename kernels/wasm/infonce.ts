/**
 * Symmetric InfoNCE with its gradients (INFONCE of kernels/names.ts) for
 * the wasm backend. tf ops record about 200 kernel calls for the
 * contrastive loss and its gradient (two log-softmaxes, a transposed
 * product tfjs-wasm runs slowly, eye masks); here the two products and
 * the two back-products run in the SIMD loops and the [n, n] softmax
 * statistics in one JavaScript pass (in float64).
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

// What colBias adds to the logits of an invalid patient's column.
const MASK = -1e9;
// CLIP's cap on the logit scale, log 100, as a float32 (what tf.minimum
// compares the log scale with).
const LOG_CAP = Math.fround(Math.log(100));

// Scratch arrays, reused between calls (a features step calls this once
// per step; fresh [n, n] float64 arrays every call were garbage to
// collect).
let scratch = new Float64Array(0);
function scratchOf(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(size);
  return scratch;
}

/**
 * Kernel: `{ zi, ze, scale, valid }` -> `[loss, dzi, dze, dscale]`. With
 * attribute `normalize: true`, zi and ze are any nonzero rows: the kernel
 * divides each by sqrt(sum of squares + 1e-12) (models/contrastive.ts's
 * `unit`) and returns the gradients with respect to the raw rows.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: INFONCE, backendName: "wasm", kernelFunc: infoNceWasm });
 * ```
 */
export function infoNceWasm(args: KernelArgs): tf.TensorInfo[] {
  const { zi, ze, scale, valid } = args.inputs;
  const normalize = args.attrs?.normalize === true;
  const logScale = args.attrs?.logScale === true;
  const be = args.backend as WasmBackendLike;
  const [n, w] = zi.shape;
  if (
    ze.shape[0] !== n || ze.shape[1] !== w || valid.shape.length !== 1 ||
    valid.shape[0] !== n
  ) {
    throw new Error(
      `MmjepaInfoNce (wasm): zi [${zi.shape}], ze [${ze.shape}], valid [${valid.shape}]: expected [n, w], [n, w], [n]`,
    );
  }
  // Every allocation first: a growing heap replaces the buffer that views
  // are made from.
  const loss = be.makeOutput([], "float32");
  const dzi = be.makeOutput([n, w], "float32");
  const dze = be.makeOutput([n, w], "float32");
  const dscale = be.makeOutput([], "float32");
  const sS = be.makeOutput([Math.max(1, n * n)], "float32");
  // The unit rows, when the kernel normalizes.
  const ui = normalize ? be.makeOutput([n, w], "float32") : zi;
  const ue = normalize ? be.makeOutput([n, w], "float32") : ze;
  const norms = new Float64Array(normalize ? 2 * n : 0);
  if (normalize) {
    unitRows(be.typedArrayFromHeap(zi), be.typedArrayFromHeap(ui), norms, 0, w);
    unitRows(be.typedArrayFromHeap(ze), be.typedArrayFromHeap(ue), norms, n, w);
  }
  const pzi = addr(be, ui), pze = addr(be, ue), ps = addr(be, sS);
  // S = zi ze^T: dot products along w, contiguous in both.
  if (n > 0 && w > 0 && w % 4 === 0) {
    const four = n % 4 === 0;
    simdOf(be).dots[four ? "dots4" : "dots1"](
      pzi,
      pze,
      ps,
      1,
      n,
      four ? n / 4 : n,
      w / 4,
      0,
      4 * w,
      0,
      4 * w,
    );
  } else if (n > 0) {
    const a = be.typedArrayFromHeap(ui), b = be.typedArrayFromHeap(ue);
    const s = be.typedArrayFromHeap(sS);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let t = 0;
        for (let q = 0; q < w; q++) t += a[i * w + q] * b[j * w + q];
        s[i * n + j] = t;
      }
    }
  }
  const S = be.typedArrayFromHeap(sS);
  const v = be.typedArrayFromHeap(valid);
  // With `logScale`, the input is the log scale: clamped at log 100 and
  // exp'd here (models/contrastive.ts's infoNce), in float32 as tf would.
  const s0 = be.typedArrayFromHeap(scale)[0];
  const capped = logScale && s0 > LOG_CAP ? LOG_CAP : s0;
  const sc = logScale ? Math.fround(Math.exp(capped)) : s0;
  let nValid = 0, binary = true;
  for (let i = 0; i < n; i++) {
    nValid += v[i];
    if (v[i] !== 0 && v[i] !== 1) binary = false;
  }
  const wt = 1 / Math.max(nValid, 1);
  // Row softmaxes P (over l, for each k) and column softmaxes Q (over k,
  // for each l) of the logits L = fround(scale S), with -1e9 added to
  // invalid patients' columns (in P) and rows (in Q); their log-sum-exps
  // r, c. Only valid rows of P and valid columns of Q reach the loss and
  // the gradient, and there a masked entry's exp(-1e9 - max) is exactly 0
  // in float64: so both come from one exp per valid pair, shifted by one
  // shared maximum. The shift cannot underflow a whole row or column:
  // when the valid logits span more than SPAN, the two-shift path runs.
  const E = scratchOf(n * n);
  const r = new Float64Array(n), c = new Float64Array(n);
  let total = 0;
  if (nValid > 0 && !binary) {
    total = twoShifts(S, v, sc, n, wt, E, be.typedArrayFromHeap(dscale));
  } else if (nValid > 0) {
    let M = -Infinity, lo = Infinity;
    for (let k = 0; k < n; k++) {
      if (v[k] === 0) continue;
      for (let l = 0; l < n; l++) {
        if (v[l] === 0) continue;
        const x = Math.fround(S[k * n + l] * sc);
        if (x > M) M = x;
        if (x < lo) lo = x;
      }
    }
    if (M - lo <= SPAN) {
      for (let k = 0; k < n * n; k++) E[k] = 0;
      for (let k = 0; k < n; k++) {
        if (v[k] === 0) continue;
        for (let l = 0; l < n; l++) {
          if (v[l] === 0) continue;
          const e = Math.exp(Math.fround(S[k * n + l] * sc) - M);
          E[k * n + l] = e;
          r[k] += e;
          c[l] += e;
        }
      }
      // P = E / rowSum, Q = E / colSum; then the log-sum-exps.
      const ir = new Float64Array(n), ic = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        if (v[k] === 0) continue;
        const d = Math.fround(S[k * n + k] * sc);
        ir[k] = 1 / r[k];
        ic[k] = 1 / c[k];
        r[k] = M + Math.log(r[k]);
        c[k] = M + Math.log(c[k]);
        total += (d - r[k]) + (d - c[k]);
      }
      // dloss/dL[k, l] = -(w_k (delta - P[k, l]) + w_l (delta - Q[k, l]))
      // / 2 with w = valid / count; L = scale S, so dS = scale dL (into
      // S's buffer) and dscale = sum dL S.
      let ds = 0;
      for (let k = 0; k < n; k++) {
        const wk = v[k] * wt, irk = ir[k];
        for (let l = 0; l < n; l++) {
          const wl = v[l] * wt;
          const e = E[k * n + l];
          const p = e * irk, q = e * ic[l];
          const delta = k === l ? 1 : 0;
          const g = -0.5 * (wk * (delta - p) + wl * (delta - q));
          ds += g * S[k * n + l];
          S[k * n + l] = g * sc;
        }
      }
      be.typedArrayFromHeap(dscale)[0] = ds;
    } else {
      total = twoShifts(S, v, sc, n, wt, E, be.typedArrayFromHeap(dscale));
    }
  } else {
    // Nobody valid: loss 0 and no gradient.
    for (let k = 0; k < n * n; k++) S[k] = 0;
    be.typedArrayFromHeap(dscale)[0] = 0;
  }
  if (logScale) {
    // Through exp (its derivative is sc) and the clamp (tf.minimum passes
    // the gradient to its first input where it is <= the cap).
    const d = be.typedArrayFromHeap(dscale);
    d[0] = s0 <= LOG_CAP ? d[0] * sc : 0;
  }
  // (+ 0: a loss of -0 when nobody is valid reads oddly.)
  be.typedArrayFromHeap(loss)[0] = -0.5 * total * wt + 0;
  // dzi = dS ze, dze = dS^T zi (dS read transposed through its strides).
  if (n > 0 && w > 0) {
    matMulInto(
      be,
      { at: ps, row: 4 * n, col: 4 },
      { at: pze, row: 4 * w, col: 4 },
      addr(be, dzi),
      n,
      n,
      w,
    );
    matMulInto(
      be,
      { at: ps, row: 4, col: 4 * n },
      { at: pzi, row: 4 * w, col: 4 },
      addr(be, dze),
      n,
      n,
      w,
    );
  }
  if (normalize) {
    // Through u = x / |x|: dx = (du - u (u . du)) / |x|.
    unitGrad(
      be.typedArrayFromHeap(ui),
      be.typedArrayFromHeap(dzi),
      norms,
      0,
      w,
    );
    unitGrad(
      be.typedArrayFromHeap(ue),
      be.typedArrayFromHeap(dze),
      norms,
      n,
      w,
    );
    be.disposeData(ui.dataId);
    be.disposeData(ue.dataId);
  }
  be.disposeData(sS.dataId);
  return [loss, dzi, dze, dscale];
}

// Widest spread of valid logits for the one-shift path: exp(-SPAN) stays
// far above float64's smallest normal (about exp(-708)).
const SPAN = 600;

// u = x / sqrt(sum x^2 + 1e-12) per row; the norms go to norms[at + row].
function unitRows(
  x: Float32Array,
  u: Float32Array,
  norms: Float64Array,
  at: number,
  w: number,
): void {
  const n = x.length / Math.max(w, 1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let q = 0; q < w; q++) s += x[i * w + q] * x[i * w + q];
    const nrm = Math.sqrt(s + 1e-12);
    norms[at + i] = nrm;
    for (let q = 0; q < w; q++) u[i * w + q] = x[i * w + q] / nrm;
  }
}

// In place: du -> (du - u (u . du)) / |x| per row.
function unitGrad(
  u: Float32Array,
  du: Float32Array,
  norms: Float64Array,
  at: number,
  w: number,
): void {
  const n = u.length / Math.max(w, 1);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let q = 0; q < w; q++) dot += u[i * w + q] * du[i * w + q];
    const inv = 1 / norms[at + i];
    for (let q = 0; q < w; q++) {
      du[i * w + q] = (du[i * w + q] - u[i * w + q] * dot) * inv;
    }
  }
}

// The general path (valid logits spanning more than SPAN; only reachable
// with rows far from unit length): each row and each column shifted by
// its own maximum, two exps per pair. Writes dS into S and dscale; returns
// the summed log-probabilities.
function twoShifts(
  S: Float32Array,
  v: Float32Array,
  sc: number,
  n: number,
  wt: number,
  P: Float64Array,
  dscale: Float32Array,
): number {
  const L = new Float32Array(n * n);
  for (let i = 0; i < n * n; i++) L[i] = Math.fround(S[i] * sc);
  const b = Float32Array.from(v, (x) => Math.fround((1 - x) * MASK));
  const r = new Float64Array(n), c = new Float64Array(n);
  const Q = new Float64Array(n * n);
  const colMax = new Float64Array(n).fill(-Infinity);
  const colSum = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      m = Math.max(m, Math.fround(L[i * n + j] + b[j]));
      colMax[j] = Math.max(colMax[j], Math.fround(L[i * n + j] + b[i]));
    }
    let s = 0;
    for (let j = 0; j < n; j++) {
      s += P[i * n + j] = Math.exp(Math.fround(L[i * n + j] + b[j]) - m);
    }
    r[i] = m + Math.log(s);
    for (let j = 0; j < n; j++) P[i * n + j] /= s;
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const e = Math.exp(Math.fround(L[i * n + j] + b[i]) - colMax[j]);
      Q[i * n + j] = e;
      colSum[j] += e;
    }
  }
  for (let j = 0; j < n; j++) c[j] = colMax[j] + Math.log(colSum[j]);
  for (let i = 0; i < n * n; i++) Q[i] /= colSum[i % n];
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (v[i] === 0) continue;
    const d = Math.fround(L[i * n + i] + b[i]);
    total += v[i] * ((d - r[i]) + (d - c[i]));
  }
  let ds = 0;
  for (let k = 0; k < n; k++) {
    const wk = v[k] * wt;
    for (let l = 0; l < n; l++) {
      const wl = v[l] * wt;
      const p = P[k * n + l], q = Q[k * n + l];
      const delta = k === l ? 1 : 0;
      const g = -0.5 * (wk * (delta - p) + wl * (delta - q));
      ds += g * S[k * n + l];
      S[k * n + l] = g * sc;
    }
  }
  dscale[0] = ds;
  return total;
}
