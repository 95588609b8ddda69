/**
 * The image side of a patient as numbers: the image source vector that
 * mixes shared and image-only latents, the nodule it implies, and the
 * detector-like feature vector of `features` mode (what precomputed
 * detectors such as Sybil or Liao give per scan).
 *
 * @module
 */
import type { Draws } from "./fast_rng.ts";
import type { Acquisition } from "./scenario.ts";
import type { Alloc, Biology, Latents } from "./latent.ts";

/**
 * m_img = sqrt(rho) A z_s + sqrt(1 - rho) B z_i. Rows of A and B have unit
 * norm, so at unshifted latents every entry has variance 1, of which the
 * share rho comes from z_s: that is what crossModalCorrelation means.
 *
 * @example
 * ```ts
 * const m = imageSource(bio, z, 0.5); // pass `out` to reuse a buffer
 * ```
 */
export function imageSource(
  bio: Biology,
  z: Latents,
  rho: number,
  out: Float64Array = new Float64Array(bio.imgA.length / bio.sharedDim),
): Float64Array {
  return mixSource(bio.imgA, bio.imgB, z.zShared, z.zImage, rho, out);
}

/**
 * m_ehr = sqrt(rho) C z_s + sqrt(1 - rho) D z_e, as {@link imageSource}.
 *
 * @example
 * ```ts
 * const m = ehrSource(bio, z, 0.5);
 * ```
 */
export function ehrSource(
  bio: Biology,
  z: Latents,
  rho: number,
  out: Float64Array = new Float64Array(bio.ehrC.length / bio.sharedDim),
): Float64Array {
  return mixSource(bio.ehrC, bio.ehrD, z.zShared, z.zEhr, rho, out);
}

function mixSource(
  a: Float64Array,
  b: Float64Array,
  zs: Float32Array,
  zu: Float32Array,
  rho: number,
  out: Float64Array,
): Float64Array {
  const ks = zs.length, ku = zu.length;
  const cs = Math.sqrt(rho), cu = Math.sqrt(1 - rho);
  for (let r = 0; r < out.length; r++) {
    let s = 0, u = 0;
    const oa = r * ks, ob = r * ku;
    for (let j = 0; j < ks; j++) s += a[oa + j] * zs[j];
    for (let j = 0; j < ku; j++) u += b[ob + j] * zu[j];
    out[r] = cs * s + cu * u;
  }
  return out;
}

/**
 * How many drawn nodule properties the image latents drive: the length of
 * the image source. Everything a scan shows about the patient, in `volume`
 * mode (rendered) and in `features` mode (measured by a detector), is a
 * function of these properties, so both levels are two views of the same
 * nodule and share one image ceiling (sim/bayes.ts).
 *
 * @example
 * ```ts
 * const m = new Float64Array(NODULE_PROPERTIES);
 * ```
 */
export const NODULE_PROPERTIES = 10;

/**
 * The nodule a scan shows, in physical units. Property j comes from image
 * source entry j (see {@link noduleFromSource}). Fields after `lungShiftHu`
 * are optional so that a hand-made nodule (tests, known-answer checks) can
 * leave them out: absent means none (no texture, calcification, vessel or
 * pleura in view; round).
 */
export interface Nodule {
  /** Diameter at this scan, mm (m_0). */
  diameterMm: number;
  /** 0 = round, 1 = strongly spiculated (m_1). */
  spiculation: number;
  /** 1 = solid, 0 = pure ground glass; between = part-solid core fraction (m_2). */
  solidFraction: number;
  /** Margin width (edge softness), mm (m_3). */
  marginMm: number;
  /** Shift of the surrounding lung's mean density, HU (emphysema-like) (m_4). */
  lungShiftHu: number;
  /** Amplitude of the internal heterogeneity, HU (m_5). */
  textureHu?: number;
  /** Radius of a central calcified core as a fraction of the radius, 0..0.5 (m_6). */
  calcification?: number;
  /** Diameter of the vessel that touches the nodule, mm; 0 = none (m_7). */
  vesselMm?: number;
  /** Long-axis / short-axis ratio, >= 1, at constant volume (m_8). */
  elongation?: number;
  /** Gap between the nodule's surface and the pleura (chest wall), mm (m_9). */
  pleuraGapMm?: number;
}

/** Diameter model: 7 mm * exp(0.35 m_0), so growth g adds ln(g)/0.35 to m_0. */
const SIZE_MM = 7, SIZE_LOG = 0.35;

/**
 * Smallest and largest diameter drawn, mm (the tails are clipped).
 *
 * @example
 * ```ts
 * const [dMin, dMax] = DIAMETER_RANGE_MM; // 3, 30
 * ```
 */
export const DIAMETER_RANGE_MM: readonly [number, number] = [3, 30];

/**
 * The nodule implied by the image source entries (one per property, see
 * {@link NODULE_PROPERTIES}), grown by `growth` (diameter factor since the
 * first scan). Each property is a strictly monotone function of its entry
 * (the diameter up to the clip at {@link DIAMETER_RANGE_MM}), so knowing the
 * properties is knowing the entries: that is what the image ceiling uses.
 * Entries beyond `m.length` count as 0 (the median nodule).
 *
 * @example
 * ```ts
 * const n = noduleFromSource(m, 1);
 * ```
 */
export function noduleFromSource(m: Float64Array, growth: number): Nodule {
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const at = (j: number) => j < m.length ? m[j] : 0;
  const [dMin, dMax] = DIAMETER_RANGE_MM;
  return {
    diameterMm: Math.min(
      dMax,
      Math.max(dMin, SIZE_MM * Math.exp(SIZE_LOG * at(0)) * growth),
    ),
    spiculation: sig(1.5 * at(1)),
    solidFraction: sig(1.5 * at(2)),
    marginMm: 0.3 + 1.2 * sig(-1.5 * at(3)),
    lungShiftHu: 40 * at(4),
    // Heterogeneous nodules (air bronchograms, bubble lucencies, necrosis)
    // reach 100-200 HU of internal spread; at most 70 HU drowned in the
    // edge ramp and the 20 HU noise (invisible to every measurement).
    textureHu: 20 + 140 * sig(1.5 * at(5)),
    // Shifted so that about a third of nodules show a visible core.
    calcification: 0.5 * sig(1.5 * at(6) - 1),
    vesselMm: 0.5 + 2.5 * sig(1.5 * at(7)),
    elongation: 1 + 0.5 * sig(1.5 * at(8)),
    // Often beyond the field of view (a 56 mm ROI sees the wall up to
    // about 28 mm from the centre): the ceiling then over-counts.
    pleuraGapMm: 4 + 24 * sig(1.5 * at(9)),
  };
}

/**
 * Diameter growth factor after `months` for a volume doubling time of
 * `vdtMonths` (volume doubles, so diameter grows by 2^(t / (3 VDT))).
 *
 * @example
 * ```ts
 * growthFactor(12, 4); // 2: volume doubled three times in a year
 * ```
 */
export function growthFactor(months: number, vdtMonths: number): number {
  return Math.pow(2, months / (3 * vdtMonths));
}

/**
 * Detector contrast under a scanner: smoother kernels and coarser voxels
 * blur the nodule, so detector responses shrink.
 *
 * @example
 * ```ts
 * const g = detectorGain(acq);
 * ```
 */
export function detectorGain(acq: Acquisition): number {
  return Math.max(0.2, 1 / (1 + 0.3 * acq.blur + 0.2 * (acq.spacingMm - 1)));
}

/**
 * One scan's feature vector: what a detector measures from the same drawn
 * nodule properties that `volume` mode renders (never from the latents
 * directly), plus the scanner's effects and detector noise:
 * f_k = gain * tanh(W_k . q) + (offsetHu / 100) * o_k + noise * (noiseHu / 20) * eps,
 * where q is the property-score vector (image source entries, q_0 advanced
 * by the nodule's growth), W = bio.featureMix (identity on the first
 * {@link NODULE_PROPERTIES} rows: each property measured on its own; random
 * unit mixtures after), gain from {@link detectorGain} and o_k a fixed
 * per-feature response to the scanner's calibration offset. `noise` is the
 * detector noise at the default 20 HU scanner.
 *
 * @example
 * ```ts
 * const f = scanFeatures(m, 1, acq, 0.3, bio, rng);
 * ```
 */
export function scanFeatures(
  m: Float64Array,
  growth: number,
  acq: Acquisition,
  noise: number,
  bio: Biology,
  rng: Draws,
  alloc: Alloc = (n) => new Float32Array(n),
): Float32Array {
  const K = NODULE_PROPERTIES;
  const n = bio.featureOffset.length;
  const out = alloc(n);
  const gain = detectorGain(acq);
  const off = acq.offsetHu / 100;
  const sd = noise * acq.noiseHu / 20;
  const grow = Math.log(growth) / SIZE_LOG;
  const W = bio.featureMix;
  for (let k = 0; k < n; k++) {
    let mk = 0;
    for (let j = 0; j < K; j++) {
      const w = W[k * K + j];
      if (w !== 0) mk += w * ((j < m.length ? m[j] : 0) + (j === 0 ? grow : 0));
    }
    out[k] = gain * Math.tanh(mk) + off * bio.featureOffset[k] +
      sd * rng.normal();
  }
  return out;
}

/**
 * Properties that `volume` mode renders but that a 1.75 mm volume does not
 * show well enough to count in the volume-level image ceiling: the
 * internal texture (property 5). Its amplitude (20-160 HU) is above the
 * noise, but its grain (about 2.5 mm) and the nodule's own edge ramp and
 * solid/ground-glass mix leave it unreadable: logistic regression on the
 * 16 hand-crafted measurements reads "texture above its median" at AUC
 * 0.52 (0.57 at a fixed 14 mm diameter) on independent-property cohorts
 * (benches/property_visibility.ts), where spiculation, margin, solid part
 * and size read at 0.80-0.94. Counting it would make the ceiling one no
 * volume method can approach.
 *
 * @example
 * ```ts
 * VOLUME_UNSEEN_PROPERTIES; // [5]
 * ```
 */
export const VOLUME_UNSEEN_PROPERTIES: readonly number[] = [5];

/**
 * The linear functionals of the latents (z_s, z_i) that a scan reveals,
 * noise-free, as rows over sharedDim + imageDim columns (z_s first):
 * `volume` mode renders the property scores (rows of the image source
 * sqrt(rho) A | sqrt(1 - rho) B; without {@link VOLUME_UNSEEN_PROPERTIES}),
 * `features` mode measures them through the
 * detector read-out (bio.featureMix times those rows). The image ceiling
 * (sim/bayes.ts) integrates over everything else.
 *
 * @example
 * ```ts
 * const rows = imageRows(bio, 0.3, "volume"); // 9 rows: texture unseen
 * ```
 */
export function imageRows(
  bio: Biology,
  rho: number,
  level: "features" | "volume",
): Float64Array {
  const K = NODULE_PROPERTIES, ks = bio.sharedDim, ki = bio.imageDim;
  const dim = ks + ki;
  const q = new Float64Array(K * dim);
  const cs = Math.sqrt(rho), cu = Math.sqrt(1 - rho);
  for (let r = 0; r < K; r++) {
    for (let j = 0; j < ks; j++) q[r * dim + j] = cs * bio.imgA[r * ks + j];
    for (let j = 0; j < ki; j++) {
      q[r * dim + ks + j] = cu * bio.imgB[r * ki + j];
    }
  }
  if (level === "volume") {
    const seen = Array.from({ length: K }, (_, r) => r).filter((r) =>
      !VOLUME_UNSEEN_PROPERTIES.includes(r)
    );
    const v = new Float64Array(seen.length * dim);
    seen.forEach((r, i) => v.set(q.subarray(r * dim, (r + 1) * dim), i * dim));
    return v;
  }
  const f = bio.featureMix.length / K;
  const out = new Float64Array(f * dim);
  for (let k = 0; k < f; k++) {
    for (let r = 0; r < K; r++) {
      const w = bio.featureMix[k * K + r];
      if (w === 0) continue;
      for (let j = 0; j < dim; j++) out[k * dim + j] += w * q[r * dim + j];
    }
  }
  return out;
}
