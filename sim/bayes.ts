/**
 * Ceilings only a simulator can know: the Bayes-optimal AUC of the full
 * latent state, and of what each modality alone can reveal.
 *
 * "Reveal" is taken at the latent level (an upper bound on any model):
 * the image shows z_s when crossModalCorrelation > 0 and z_i when it is
 * < 1; the EHR shows z_s (same rule), z_e, the demographics and the site's
 * coding-habit variable h. The hidden rest is integrated out by Monte Carlo
 * over the cohort's own latent prior (common random numbers for all
 * patients), with h entering as an importance weight N(h; sqrt(k) lin, 1 - k).
 *
 * @module
 */
import type { Draws } from "./fast_rng.ts";
import {
  type Biology,
  logitOf,
  type RiskInputs,
  type RiskModel,
  sigmoid,
} from "./latent.ts";
import { aucMannWhitney, StatsError } from "../reports/auc.ts";

// The project's one AUC (reports/auc.ts); NaN where a class is empty, since
// a ceiling is a number to record, not an error.
function auc(scores: number[], labels: number[]): number {
  try {
    return aucMannWhitney(labels, scores);
  } catch (e) {
    if (e instanceof StatsError) return NaN;
    throw e;
  }
}

/** What the ceilings need to know about one labeled test patient. */
export interface CeilingPatient {
  /** Risk projections of the patient's latents. */
  r: RiskInputs;
  /** True P(malignant). */
  p: number;
  /** Observed label. */
  label: 0 | 1;
  /** The patient's coding-habit value. */
  habit: number;
}

/** The cohort-level context of the ceilings. */
export interface CeilingContext {
  bio: Biology;
  model: RiskModel;
  intercept: number;
  /** The cohort's cross-modal correlation. */
  rho: number;
  /** The cohort's latent prior. */
  covariate: { mean: number; scale: number };
  /** The cohort's coding-habit strength k. */
  habitK: number;
  /** Draws for the Monte Carlo integral. */
  rng: Draws;
  /** Number of Monte Carlo draws (default 256, shared by all patients). */
  draws?: number;
}

/**
 * Full, image-only and EHR-only Bayes AUCs on the given patients.
 *
 * @example
 * ```ts
 * const c = bayesCeilings(patients, ctx); // {full, image, ehr}
 * ```
 */
export function bayesCeilings(
  patients: CeilingPatient[],
  ctx: CeilingContext,
): { full: number; image: number; ehr: number } {
  const K = ctx.draws ?? 256;
  const { bio, model, intercept, rho, habitK, rng } = ctx;
  const { mean, scale } = ctx.covariate;
  const sum = (a: Float64Array) => a.reduce((s, x) => s + x, 0);
  const prior = (dir: Float64Array) => {
    const m = mean * sum(dir);
    return Float64Array.from({ length: K }, () => m + scale * rng.normal());
  };
  const d = bio.riskDirs;
  const draws = {
    us: prior(d.shared[0]),
    vs: prior(d.shared[1]),
    ui: prior(d.image[0]),
    vi: prior(d.image[1]),
    ue: prior(d.ehr[0]),
    ve: prior(d.ehr[1]),
    d: Float64Array.from({ length: K }, () => rng.normal()),
  };
  const seeShared = rho > 0;
  const seesUnique = rho < 1;
  const labels = patients.map((p) => p.label);
  const full = auc(patients.map((p) => p.p), labels);

  const p = (
    us: number,
    vs: number,
    ui: number,
    vi: number,
    ue: number,
    ve: number,
    d: number,
  ) => sigmoid(logitOf(model, us, vs, ui, vi, ue, ve, d) + intercept);
  const { ws, wi, we } = model;
  const image = patients.map(({ r }) => {
    let s = 0;
    for (let k = 0; k < K; k++) {
      s += p(
        seeShared ? r.us : draws.us[k],
        seeShared ? r.vs : draws.vs[k],
        seesUnique ? r.ui : draws.ui[k],
        seesUnique ? r.vi : draws.vi[k],
        draws.ue[k],
        draws.ve[k],
        draws.d[k],
      );
    }
    return s / K;
  });

  const sk = Math.sqrt(habitK), hv = Math.max(1e-6, 1 - habitK);
  const e2 = new Float64Array(K), pk = new Float64Array(K);
  const ehr = patients.map(({ r, habit }) => {
    let best = Infinity;
    for (let k = 0; k < K; k++) {
      const us = seeShared ? r.us : draws.us[k];
      const ue = seesUnique ? r.ue : draws.ue[k];
      const e = habit - sk * (ws * us + wi * draws.ui[k] + we * ue);
      e2[k] = e * e / (2 * hv);
      pk[k] = p(
        us,
        seeShared ? r.vs : draws.vs[k],
        draws.ui[k],
        draws.vi[k],
        ue,
        seesUnique ? r.ve : draws.ve[k],
        r.d,
      );
      best = Math.min(best, e2[k]);
    }
    // Weights relative to the best draw, so they never all underflow.
    let s = 0, wsum = 0;
    for (let k = 0; k < K; k++) {
      const w = Math.exp(best - e2[k]);
      s += w * pk[k];
      wsum += w;
    }
    return s / wsum;
  });
  return { full, image: auc(image, labels), ehr: auc(ehr, labels) };
}
