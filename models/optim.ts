/**
 * AdamW with linear warmup, cosine decay and global-norm gradient clipping,
 * written with tf ops on one flat vector of all parameters, so a step is a
 * dozen fused ops whatever the parameter count, and the state (two moment
 * vectors and a step count) checkpoints as plain tensors.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ADAMW, hasKernel } from "../kernels/mod.ts";
import { type ParamSet, variableFrom } from "./params.ts";

/**
 * Learning rate at `step` (0-based) of `total`: linear warmup, then cosine
 * decay to zero.
 *
 * @example
 * ```ts
 * lrAt(0, 100, 1e-3, 0.1); // 1e-4
 * ```
 */
export function lrAt(
  step: number,
  total: number,
  peak: number,
  warmupFraction: number,
): number {
  const warm = Math.max(1, Math.round(total * warmupFraction));
  if (step < warm) return peak * (step + 1) / warm;
  const progress = (step - warm) / Math.max(1, total - warm);
  return peak * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}

/** AdamW settings. */
export interface AdamWConfig {
  /** Decoupled weight decay (on matrices only). */
  weightDecay: number;
  /** Global gradient norm clip; 0 turns clipping off. */
  clipNorm: number;
  /** First moment decay. */
  beta1?: number;
  /** Second moment decay. */
  beta2?: number;
  /** Denominator floor. */
  eps?: number;
}

/**
 * AdamW over one or more parameter sets.
 *
 * @example
 * ```ts
 * const opt = new AdamW([params], { weightDecay: 0.05, clipNorm: 1 });
 * tf.tidy(() => {
 *   const { grads } = tf.variableGrads(() => loss(), opt.vars);
 *   opt.apply(opt.vars.map((v) => grads[v.name]), 1e-3);
 * });
 * ```
 */
export class AdamW {
  /** The trainable variables, in flat-vector order. */
  readonly vars: tf.Variable[];
  /** First moments, flat. */
  readonly m: tf.Variable;
  /** Second moments, flat. */
  readonly v: tf.Variable;
  /** Updates applied so far. */
  t = 0;
  readonly #sets: ParamSet[];
  readonly #cfg: Required<AdamWConfig>;
  readonly #decay: tf.Tensor;
  // 1 where a variable is decayed, per variable (for the fused kernel).
  readonly #decayPerVar: number[];

  /** Zero moments for the given sets. */
  constructor(sets: ParamSet[], cfg: AdamWConfig) {
    this.#sets = sets;
    this.vars = sets.flatMap((s) => s.vars);
    this.#cfg = { beta1: 0.9, beta2: 0.999, eps: 1e-8, ...cfg };
    const total = sets.reduce((a, s) => a + s.total, 0);
    this.m = variableFrom(tf.zeros([total]), false);
    this.v = variableFrom(tf.zeros([total]), false);
    const mask = new Float32Array(total);
    let o = 0;
    for (const s of sets) {
      mask.set(s.decayMask, o);
      o += s.total;
    }
    this.#decay = tf.tensor1d(mask);
    this.#decayPerVar = sets.flatMap((s) => {
      let at = 0;
      return s.sizes.map((n) => {
        const d = n > 0 && s.decayMask[at] === 1 ? 1 : 0;
        at += n;
        return d;
      });
    });
  }

  /**
   * One update from gradients (same order as {@link vars}); returns the
   * global gradient norm before clipping. Call inside tf.tidy.
   */
  apply(grads: tf.Tensor[], lr: number): tf.Scalar {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.#cfg;
    this.t += 1;
    if (hasKernel(ADAMW)) {
      // One fused kernel (kernels/) instead of a reshape, concatenation and
      // split of every parameter and gradient; same arithmetic.
      const inputs: tf.NamedTensorMap = { m: this.m, v: this.v };
      this.vars.forEach((p, i) => {
        inputs[`p${i}`] = p;
        inputs[`g${i}`] = grads[i];
      });
      const outs = tf.engine().runKernel(ADAMW, inputs, {
        lr,
        beta1,
        beta2,
        eps,
        weightDecay,
        clipNorm,
        t: this.t,
        decay: this.#decayPerVar,
        // deno-lint-ignore no-explicit-any
      } as any) as tf.Tensor[];
      const k = this.vars.length;
      this.vars.forEach((p, i) => p.assign(outs[i]));
      this.m.assign(outs[k]);
      this.v.assign(outs[k + 1]);
      return outs[k + 2] as tf.Scalar;
    }
    let g: tf.Tensor = tf.concat(grads.map((x) => x.reshape([-1])));
    const norm = g.square().sum().sqrt() as tf.Scalar;
    if (clipNorm > 0) {
      g = g.mul(tf.minimum(1, tf.scalar(clipNorm).div(norm.add(1e-6))));
    }
    const m = this.m.mul(beta1).add(g.mul(1 - beta1));
    const v = this.v.mul(beta2).add(g.square().mul(1 - beta2));
    this.m.assign(m);
    this.v.assign(v);
    const c1 = 1 - Math.pow(beta1, this.t), c2 = 1 - Math.pow(beta2, this.t);
    const flat = tf.concat(this.#sets.map((s) => s.flat()));
    const step = m.div(c1).div(v.div(c2).sqrt().add(eps))
      .add(flat.mul(this.#decay).mul(weightDecay));
    const next = flat.sub(step.mul(lr));
    let o = 0;
    for (const s of this.#sets) {
      s.assignFlat(next.slice(o, s.total));
      o += s.total;
    }
    return norm;
  }

  /** Frees the moments. */
  dispose(): void {
    this.m.dispose();
    this.v.dispose();
    this.#decay.dispose();
  }
}
