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

/** The nodule a scan shows, in physical units. */
export interface Nodule {
  /** Diameter at this scan, mm. */
  diameterMm: number;
  /** 0 = round, 1 = strongly spiculated. */
  spiculation: number;
  /** 1 = solid, 0 = pure ground glass; between = part-solid core fraction. */
  solidFraction: number;
  /** Margin width (edge softness), mm. */
  marginMm: number;
  /** Shift of the surrounding lung's mean density, HU (emphysema-like). */
  lungShiftHu: number;
}

/** Diameter model: 7 mm * exp(0.35 m_0), so growth g adds ln(g)/0.35 to m_0. */
const SIZE_MM = 7, SIZE_LOG = 0.35;

/**
 * The nodule implied by the first five image-source entries, grown by
 * `growth` (diameter factor since the first scan).
 *
 * @example
 * ```ts
 * const n = noduleFromSource(m, 1);
 * ```
 */
export function noduleFromSource(m: Float64Array, growth: number): Nodule {
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  return {
    diameterMm: Math.min(
      30,
      Math.max(3, SIZE_MM * Math.exp(SIZE_LOG * m[0]) * growth),
    ),
    spiculation: sig(1.5 * m[1]),
    solidFraction: sig(1.5 * m[2]),
    marginMm: 0.3 + 1.2 * sig(-1.5 * m[3]),
    lungShiftHu: 40 * m[4],
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
 * One scan's feature vector:
 * f_k = gain * tanh(m_k) + (offsetHu / 100) * o_k + noise * (noiseHu / 20) * eps,
 * with m_0 advanced by the nodule's growth, gain from {@link detectorGain}
 * and o_k a fixed per-feature response to the scanner's calibration offset.
 * `noise` is the detector noise at the default 20 HU scanner.
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
  const n = m.length;
  const out = alloc(n);
  const gain = detectorGain(acq);
  const off = acq.offsetHu / 100;
  const sd = noise * acq.noiseHu / 20;
  const grow = Math.log(growth) / SIZE_LOG;
  for (let k = 0; k < n; k++) {
    const mk = k === 0 ? m[0] + grow : m[k];
    out[k] = gain * Math.tanh(mk) + off * bio.featureOffset[k] +
      sd * rng.normal();
  }
  return out;
}
