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

/**
 * Kernel: `{ zi, ze, scale, valid }` -> `[loss, dzi, dze, dscale]`.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: INFONCE, backendName: "wasm", kernelFunc: infoNceWasm });
 * ```
 */
export function infoNceWasm(args: KernelArgs): tf.TensorInfo[] {
  const { zi, ze, scale, valid } = args.inputs;
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
  const pzi = addr(be, zi), pze = addr(be, ze), ps = addr(be, sS);
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
    const a = be.typedArrayFromHeap(zi), b = be.typedArrayFromHeap(ze);
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
  const sc = be.typedArrayFromHeap(scale)[0];
  // Logits as tf rounds them (float32 product, then the float32 bias).
  const L = new Float32Array(n * n);
  for (let i = 0; i < n * n; i++) L[i] = Math.fround(S[i] * sc);
  const b = Float32Array.from(v, (x) => Math.fround((1 - x) * MASK));
  let nValid = 0;
  for (let i = 0; i < n; i++) nValid += v[i];
  const wt = 1 / Math.max(nValid, 1);
  // Row and column softmaxes of the masked logits (P by rows, Q by
  // columns) and their log-sum-exps.
  const r = new Float64Array(n), c = new Float64Array(n);
  const P = new Float64Array(n * n), Q = new Float64Array(n * n);
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
  // dloss/dL[k, l] = -(w_k (delta - P[k, l]) + w_l (delta - Q[k, l])) / 2
  // with P the row softmax, Q the column softmax and w = valid / count;
  // L = scale S, so dS = scale dL (into S's buffer) and dscale = sum dL S.
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
  // (+ 0: a loss of -0 when nobody is valid reads oddly.)
  be.typedArrayFromHeap(loss)[0] = -0.5 * total * wt + 0;
  be.typedArrayFromHeap(dscale)[0] = ds;
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
  be.disposeData(sS.dataId);
  return [loss, dzi, dze, dscale];
}
