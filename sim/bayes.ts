/**
 * Ceilings only a simulator can know: the Bayes-optimal AUC of the full
 * latent state, and of what each modality alone can reveal.
 *
 * "Reveal" is taken at the latent level (an upper bound on any model).
 * The image shows exactly the linear functionals of (z_s, z_i) behind the
 * drawn nodule properties ({@link CeilingContext.imageRows}: the property
 * scores in `volume` mode, the detector's read-out of them in `features`
 * mode; both are what sim/features.ts renders or measures, noise-free), so
 * the image ceiling integrates the risk over the rest of (z_s, z_i): the
 * part of the prior orthogonal to those functionals. Without imageRows it
 * falls back to "the image shows z_s when crossModalCorrelation > 0 and z_i
 * when it is < 1". The EHR shows z_s (same rule), z_e, the demographics and
 * the site's coding-habit variable h.
 *
 * With several scans per patient the nodule's growth also follows the true
 * risk (sim/generate.ts), which the image ceiling does not count: with
 * scansPerPatient > 1 it is a ceiling for the first scan only. The hidden rest is integrated out by Monte Carlo
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
  /** The patient's shared and image-only latents (needed with imageRows). */
  z?: { shared: ArrayLike<number>; image: ArrayLike<number> };
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
  /**
   * What the image reveals: rows (row-major, sharedDim + imageDim columns,
   * z_s first) of the linear functionals of the latents that the rendered
   * or measured nodule properties determine. Absent: the latent-group rule.
   */
  imageRows?: Float64Array;
}

/**
 * An orthonormal basis (rows) of the span of `rows` (row-major, `dim`
 * columns), by Gram-Schmidt; rows that add less than 1e-9 of new length
 * are dropped (the span's rank is the basis length / dim).
 *
 * @example
 * ```ts
 * rowBasis(Float64Array.of(1, 0, 2, 0), 2); // one row: [1, 0]
 * ```
 */
export function rowBasis(rows: Float64Array, dim: number): Float64Array[] {
  const basis: Float64Array[] = [];
  for (let r = 0; r * dim < rows.length; r++) {
    const v = Float64Array.from(rows.subarray(r * dim, (r + 1) * dim));
    const n0 = Math.hypot(...v);
    for (const b of basis) {
      let d = 0;
      for (let j = 0; j < dim; j++) d += v[j] * b[j];
      for (let j = 0; j < dim; j++) v[j] -= d * b[j];
    }
    const n = Math.hypot(...v);
    if (n0 === 0 || n < 1e-9 * n0 || n < 1e-12) continue;
    for (let j = 0; j < dim; j++) v[j] /= n;
    basis.push(v);
  }
  return basis;
}

/** Projects `z` onto the span of `basis` (orthonormal rows). */
function project(basis: Float64Array[], z: Float64Array): Float64Array {
  const out = new Float64Array(z.length);
  for (const b of basis) {
    let d = 0;
    for (let j = 0; j < z.length; j++) d += b[j] * z[j];
    for (let j = 0; j < z.length; j++) out[j] += d * b[j];
  }
  return out;
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
  const { full, image, ehr } = posteriors(patients, ctx);
  const labels = patients.map((p) => p.label);
  return { full, image: auc(image, labels), ehr: auc(ehr, labels) };
}

/**
 * Each patient's P(malignant | what the image shows): the scores whose AUC
 * is the image ceiling of {@link bayesCeilings} (same draws, same order).
 *
 * @example
 * ```ts
 * const p = imagePosteriors(patients, ctx); // one probability per patient
 * ```
 */
export function imagePosteriors(
  patients: CeilingPatient[],
  ctx: CeilingContext,
): number[] {
  return posteriors(patients, ctx).image;
}

function posteriors(
  patients: CeilingPatient[],
  ctx: CeilingContext,
): { full: number; image: number[]; ehr: number[] } {
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
  // Drawn after the draws above, so the EHR ceiling keeps its numbers.
  const imageFrom = ctx.imageRows ? imageProjection(ctx, K) : null;
  const image = patients.map(({ r, z }, i) => {
    let s = 0;
    if (imageFrom) {
      if (!z) {
        throw new Error(
          `bayesCeilings: patient ${i} lacks z (needed with imageRows)`,
        );
      }
      const seen = imageFrom.seen(z);
      for (let k = 0; k < K; k++) {
        s += p(
          seen[0] + imageFrom.us[k],
          seen[1] + imageFrom.vs[k],
          seen[2] + imageFrom.ui[k],
          seen[3] + imageFrom.vi[k],
          draws.ue[k],
          draws.ve[k],
          draws.d[k],
        );
      }
      return s / K;
    }
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
  return { full, image, ehr };
}

/**
 * The image ceiling's Monte Carlo pieces: the latents are split into the
 * part the image reveals (projection P onto the span of imageRows) and the
 * hidden rest; a draw k replaces the hidden rest by (I - P) of a draw from
 * the cohort's prior (exact for the Gaussian prior, whose covariance is
 * scale^2 I). `us[k]` etc. are the hidden parts' risk projections, common
 * to all patients; `seen(z)` the revealed part's, per patient.
 */
function imageProjection(ctx: CeilingContext, K: number) {
  const { bio, rng } = ctx;
  const { mean, scale } = ctx.covariate;
  const ks = bio.sharedDim, dim = ks + bio.imageDim;
  const basis = rowBasis(ctx.imageRows!, dim);
  const d = bio.riskDirs;
  const dirs = [d.shared[0], d.shared[1], d.image[0], d.image[1]];
  const proj = (v: Float64Array) =>
    dirs.map((dir, i) => {
      const o = i < 2 ? 0 : ks;
      let t = 0;
      for (let j = 0; j < dir.length; j++) t += dir[j] * v[o + j];
      return t;
    });
  const hidden = [0, 1, 2, 3].map(() => new Float64Array(K));
  for (let k = 0; k < K; k++) {
    const u = Float64Array.from(
      { length: dim },
      () => mean + scale * rng.normal(),
    );
    const pu = project(basis, u);
    for (let j = 0; j < dim; j++) u[j] -= pu[j];
    proj(u).forEach((t, i) => hidden[i][k] = t);
  }
  return {
    us: hidden[0],
    vs: hidden[1],
    ui: hidden[2],
    vi: hidden[3],
    seen: (z: { shared: ArrayLike<number>; image: ArrayLike<number> }) => {
      const v = new Float64Array(dim);
      for (let j = 0; j < ks; j++) v[j] = z.shared[j];
      for (let j = 0; j < bio.imageDim; j++) v[ks + j] = z.image[j];
      return proj(project(basis, v));
    },
  };
}
