/**
 * The optimizer kernels (kernels/names.ts) for the wasm backend. AdamW and
 * the EMA written with tf ops reshape and concatenate the gradients and
 * parameters and split them back every step: in a features-mode JEPA step
 * they made 150 of 808 kernel calls. Here each is one pass over the heap.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { KernelArgs, WasmBackendLike } from "./heap.ts";

function count(args: KernelArgs): number {
  let k = 0;
  while (args.inputs[`p${k}`]) k++;
  return k;
}

/**
 * AdamW kernel: `{ m, v, p0.., g0.. }` -> `[p0'.., m', v', norm]`.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: ADAMW, backendName: "wasm", kernelFunc: adamWWasm });
 * ```
 */
export function adamWWasm(args: KernelArgs): tf.TensorInfo[] {
  const be = args.backend as WasmBackendLike;
  const a = args.attrs as {
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
  const outP = ps.map((p) => be.makeOutput(p.shape, "float32"));
  const outM = be.makeOutput(m.shape, "float32");
  const outV = be.makeOutput(v.shape, "float32");
  const outN = be.makeOutput([], "float32");
  // Views only after every allocation: one may grow the heap.
  const view = (t: tf.TensorInfo) => be.typedArrayFromHeap(t);
  let sq = 0;
  for (const g of gs) {
    const x = view(g);
    for (let j = 0; j < x.length; j++) sq += x[j] * x[j];
  }
  const norm = Math.fround(Math.sqrt(Math.fround(sq)));
  view(outN)[0] = norm;
  const scale = a.clipNorm > 0
    ? Math.min(1, Math.fround(a.clipNorm / Math.fround(norm + 1e-6)))
    : 1;
  const c1 = 1 - Math.pow(a.beta1, a.t), c2 = 1 - Math.pow(a.beta2, a.t);
  const mi = view(m), vi = view(v), mo = view(outM), vo = view(outV);
  let o = 0;
  for (let i = 0; i < k; i++) {
    const p = view(ps[i]), g = view(gs[i]), out = view(outP[i]);
    const wd = a.decay[i] ? a.weightDecay : 0;
    for (let j = 0; j < p.length; j++, o++) {
      const gg = g[j] * scale;
      const mm = mi[o] * a.beta1 + gg * (1 - a.beta1);
      const vv = vi[o] * a.beta2 + gg * gg * (1 - a.beta2);
      mo[o] = mm;
      vo[o] = vv;
      const step = (mm / c1) / (Math.sqrt(vv / c2) + a.eps) + p[j] * wd;
      out[j] = p[j] - step * a.lr;
    }
  }
  return [...outP, outM, outV, outN];
}

/**
 * EMA kernel: `{ target, p0.. }`, attrs `{ momentum }` -> new target.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: EMA, backendName: "wasm", kernelFunc: emaWasm });
 * ```
 */
export function emaWasm(args: KernelArgs): tf.TensorInfo {
  const be = args.backend as WasmBackendLike;
  const mom = (args.attrs as { momentum: number }).momentum;
  const { target } = args.inputs;
  const out = be.makeOutput(target.shape, "float32");
  const t = be.typedArrayFromHeap(target), o = be.typedArrayFromHeap(out);
  let at = 0;
  for (let i = 0, n = count(args); i < n; i++) {
    const p = be.typedArrayFromHeap(args.inputs[`p${i}`]);
    for (let j = 0; j < p.length; j++, at++) {
      o[at] = t[at] * mom + p[j] * (1 - mom);
    }
  }
  return out;
}
