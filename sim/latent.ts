/**
 * The latent model: per patient, shared latents z_s (cause both
 * modalities), image-only z_i and EHR-only z_e, demographics, and the
 * malignancy risk built from them.
 *
 * The "biology" (mixing matrices, risk directions) is drawn from a stream
 * that depends on the seed only, never on the cohort, so internal and
 * external sites of one seed share it and differ only by their shift knobs.
 *
 * @module
 */
import type { RngStreams } from "../core/rng.ts";
import type { Draws } from "./fast_rng.ts";
import { effectiveWeights, type Scenario } from "./scenario.ts";
import { NODULE_PROPERTIES } from "./features.ts";

/** Returns a zeroed Float32Array of length n (possibly a view into a block). */
export type Alloc = (n: number) => Float32Array;

/** Fixed, seed-level parameters shared by every cohort of a study. */
export interface Biology {
  /** Latent sizes. */
  sharedDim: number;
  imageDim: number;
  ehrDim: number;
  /** Unit risk directions per latent group: `a` drives the linear score, `b` the interaction. */
  riskDirs: {
    shared: [Float64Array, Float64Array];
    image: [Float64Array, Float64Array];
    ehr: [Float64Array, Float64Array];
  };
  /**
   * Image source = sqrt(rho) A z_s + sqrt(1-rho) B z_i; rows of unit norm
   * (NODULE_PROPERTIES x dim): entry j is the score behind nodule property j
   * (sim/features.ts), so everything the image shows goes through them.
   */
  imgA: Float64Array;
  imgB: Float64Array;
  /**
   * Detector read-out (featureDim x NODULE_PROPERTIES): how `features` mode
   * turns the nodule's property scores into a feature vector. Rows
   * 0..NODULE_PROPERTIES-1 are the identity (each property measured on its
   * own), the rest unit-norm random mixtures (what a deep detector adds).
   */
  featureMix: Float64Array;
  /** EHR source = sqrt(rho) C z_s + sqrt(1-rho) D z_e; rows of unit norm (ehr.dim x dim). */
  ehrC: Float64Array;
  ehrD: Float64Array;
  /** Per-feature response of a detector to a scanner's HU offset. */
  featureOffset: Float64Array;
  /** Sign and size with which the coding habit enters each habit dimension. */
  habitLoading: Float64Array;
}

/** One patient's latent state (before any rendering). */
export interface Latents {
  zShared: Float32Array;
  zImage: Float32Array;
  zEhr: Float32Array;
  /** Standard normal scores behind age and smoking. */
  ageZ: number;
  packZ: number;
  sex: 0 | 1;
}

/** Projections of the latents that the risk function reads. */
export interface RiskInputs {
  /** Projections on the `a` directions (linear score). */
  us: number;
  ui: number;
  ue: number;
  /** Projections on the `b` directions (interaction). */
  vs: number;
  vi: number;
  ve: number;
  /** Standardised demographic risk score (age + smoking). */
  d: number;
}

function unitRows(rng: Draws, rows: number, cols: number): Float64Array {
  const m = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let c = 0; c < cols; c++) {
      const v = rng.normal();
      m[r * cols + c] = v;
      n += v * v;
    }
    n = Math.sqrt(n);
    for (let c = 0; c < cols; c++) m[r * cols + c] /= n;
  }
  return m;
}

/** Two unit vectors, orthogonal when dim >= 2 (Gram-Schmidt). */
function riskPair(rng: Draws, dim: number): [Float64Array, Float64Array] {
  const a = unitRows(rng, 1, dim);
  const b = unitRows(rng, 1, dim);
  if (dim < 2) return [a, a];
  let dot = 0;
  for (let i = 0; i < dim; i++) dot += a[i] * b[i];
  let n = 0;
  for (let i = 0; i < dim; i++) {
    b[i] -= dot * a[i];
    n += b[i] * b[i];
  }
  n = Math.sqrt(n);
  for (let i = 0; i < dim; i++) b[i] /= n;
  return [a, b];
}

/**
 * Draws the seed-level biology of a scenario.
 *
 * @example
 * ```ts
 * const bio = makeBiology(preset("paper"), new RngStreams(1));
 * ```
 */
export function makeBiology(s: Scenario, streams: RngStreams): Biology {
  const rng = streams.get("sim/biology");
  const { sharedDim, imageDim, ehrDim } = s.latent;
  const f = s.imaging.featureDim, e = s.ehr.dim;
  const riskDirs = {
    shared: riskPair(rng, sharedDim),
    image: riskPair(rng, imageDim),
    ehr: riskPair(rng, ehrDim),
  };
  const K = NODULE_PROPERTIES;
  const imgA = unitRows(rng, K, sharedDim);
  const imgB = unitRows(rng, K, imageDim);
  const ehrC = unitRows(rng, e, sharedDim);
  const ehrD = unitRows(rng, e, ehrDim);
  const featureOffset = new Float64Array(f);
  for (let k = 0; k < f; k++) featureOffset[k] = rng.range(0.5, 1.5);
  const habitLoading = new Float64Array(s.ehr.habitDims);
  for (let k = 0; k < habitLoading.length; k++) {
    habitLoading[k] = (rng.bernoulli(0.5) ? 1 : -1) * rng.range(0.7, 1.3);
  }
  // Drawn last so that adding it left the draws above unchanged.
  const featureMix = new Float64Array(f * K);
  for (let k = 0; k < Math.min(f, K); k++) featureMix[k * K + k] = 1;
  if (f > K) featureMix.set(unitRows(rng, f - K, K), K * K);
  return {
    sharedDim,
    imageDim,
    ehrDim,
    riskDirs,
    imgA,
    imgB,
    featureMix,
    ehrC,
    ehrD,
    featureOffset,
    habitLoading,
  };
}

/**
 * Draws one patient's latents: each latent is mean + scale * N(0, 1)
 * (the covariate-shift knobs); demographics are not shifted.
 *
 * @example
 * ```ts
 * const z = drawLatents(rng, bio, { mean: 0, scale: 1 }, 0.55);
 * ```
 */
export function drawLatents(
  rng: Draws,
  bio: Biology,
  covariate: { mean: number; scale: number },
  maleFraction: number,
  alloc: Alloc = (n) => new Float32Array(n),
): Latents {
  const { mean, scale } = covariate;
  const draw = (n: number) => {
    const z = alloc(n);
    for (let i = 0; i < n; i++) z[i] = mean + scale * rng.normal();
    return z;
  };
  return {
    zShared: draw(bio.sharedDim),
    zImage: draw(bio.imageDim),
    zEhr: draw(bio.ehrDim),
    ageZ: rng.normal(),
    packZ: rng.normal(),
    sex: rng.bernoulli(maleFraction) ? 1 : 0,
  };
}

function dot(a: Float64Array, z: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * z[i];
  return s;
}

/**
 * The projections of a patient's latents that enter the risk.
 *
 * @example
 * ```ts
 * const r = riskInputs(bio, z);
 * ```
 */
export function riskInputs(bio: Biology, z: Latents): RiskInputs {
  const d = bio.riskDirs;
  return {
    us: dot(d.shared[0], z.zShared),
    ui: dot(d.image[0], z.zImage),
    ue: dot(d.ehr[0], z.zEhr),
    vs: dot(d.shared[1], z.zShared),
    vi: dot(d.image[1], z.zImage),
    ve: dot(d.ehr[1], z.zEhr),
    d: (z.ageZ + z.packZ) / Math.SQRT2,
  };
}

/** The pieces of a scenario the risk function needs, precomputed. */
export interface RiskModel {
  ws: number;
  wi: number;
  we: number;
  strength: number;
  riskWeight: number;
  /** The nonlinearity as a number: 0 none, 1 interaction, 2 threshold. */
  mode: 0 | 1 | 2;
}

/**
 * Builds the risk model of a scenario.
 *
 * @example
 * ```ts
 * const m = riskModel(preset("shared-cause"));
 * ```
 */
export function riskModel(s: Scenario): RiskModel {
  const w = effectiveWeights(s);
  return {
    ws: w.shared,
    wi: w.image,
    we: w.ehr,
    strength: s.label.strength,
    riskWeight: s.demographics.riskWeight,
    mode: s.label.nonlinearity === "interaction"
      ? 1
      : s.label.nonlinearity === "threshold"
      ? 2
      : 0,
  };
}

/**
 * The weighted linear latent score, unit variance at unshifted covariates.
 *
 * @example
 * ```ts
 * const lin = linearScore(m, r);
 * ```
 */
export function linearScore(m: RiskModel, r: RiskInputs): number {
  return m.ws * r.us + m.wi * r.ui + m.we * r.ue;
}

/**
 * The malignancy logit without intercept:
 * strength * core(latents) + riskWeight * demographic score, where core is
 * `none`: the linear score; `interaction`: (lin + lin * v) / sqrt 2 with v
 * the score along a second, orthogonal set of directions (risk needs two
 * factors at once); `threshold`: 0.5 lin + 2 [lin > 0.5] (risk jumps when
 * the score crosses +0.5 SD).
 *
 * @example
 * ```ts
 * const p = sigmoid(riskLogit(m, r) + intercept);
 * ```
 */
export function riskLogit(m: RiskModel, r: RiskInputs): number {
  return logitOf(m, r.us, r.vs, r.ui, r.vi, r.ue, r.ve, r.d);
}

/**
 * {@link riskLogit} on loose numbers: the one definition of the risk, in a
 * form the Bayes ceilings can call millions of times without allocating.
 *
 * @example
 * ```ts
 * const l = logitOf(m, r.us, r.vs, r.ui, r.vi, r.ue, r.ve, r.d);
 * ```
 */
export function logitOf(
  m: RiskModel,
  us: number,
  vs: number,
  ui: number,
  vi: number,
  ue: number,
  ve: number,
  d: number,
): number {
  const lin = m.ws * us + m.wi * ui + m.we * ue;
  const core = m.mode === 0
    ? lin
    : m.mode === 1
    ? (lin + lin * (m.ws * vs + m.wi * vi + m.we * ve)) / Math.SQRT2
    : 0.5 * lin + (lin > 0.5 ? 2 : 0);
  return m.strength * core + m.riskWeight * d;
}

/**
 * Logistic function.
 *
 * @example
 * ```ts
 * sigmoid(0); // 0.5
 * ```
 */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * The intercept b with mean(sigmoid(logit + b)) = prevalence, so the
 * realised prevalence matches the knob whatever the latents are. Newton's
 * method (the mean is increasing and smooth in b), bracketed by bisection.
 *
 * @example
 * ```ts
 * const b = calibrateIntercept(logits, 0.3);
 * ```
 */
export function calibrateIntercept(
  logits: Float64Array,
  prevalence: number,
): number {
  const n = Math.max(1, logits.length);
  let lo = -60, hi = 60, b = Math.log(prevalence / (1 - prevalence));
  for (let it = 0; it < 100; it++) {
    let m = 0, slope = 0;
    for (let i = 0; i < logits.length; i++) {
      const p = sigmoid(logits[i] + b);
      m += p;
      slope += p * (1 - p);
    }
    const err = m / n - prevalence;
    if (Math.abs(err) < 1e-12) break;
    if (err > 0) hi = b;
    else lo = b;
    const step = slope > 0 ? b - err / (slope / n) : NaN;
    b = step > lo && step < hi ? step : (lo + hi) / 2;
    if (hi - lo < 1e-12) break;
  }
  return b;
}
