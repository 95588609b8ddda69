/**
 * CT-like volumes in HU: lung background texture, one analytic nodule,
 * scanner effects.
 *
 * Speed comes from avoiding per-voxel randomness and convolutions: the
 * background and the noise are read from three precomputed 64^3 periodic
 * fields (smooth texture, white noise, smoothed noise) at random offsets per
 * patient and scan, and the reconstruction kernel's blur is applied
 * analytically: it widens the nodule's edge profile and shifts the noise
 * grain from white toward the smoothed field.
 *
 * @module
 */
import type { RngStreams } from "../core/rng.ts";
import type { Draws } from "./fast_rng.ts";
import type { Acquisition } from "./scenario.ts";
import type { Nodule } from "./features.ts";

const F = 64, MASK = 63;

/** HU levels of the tissues. */
const LUNG_HU = -850, TEXTURE_HU = 45, GGO_HU = -550, SOLID_HU = 35;

/** The seed-level random fields every volume samples from. */
export interface VolumeFields {
  texture: Float32Array;
  white: Float32Array;
  smooth: Float32Array;
}

function smoothPass(src: Float32Array): Float32Array {
  // One periodic [1, 2, 1] / 4 pass along each axis.
  let a: Float32Array = src, b: Float32Array = new Float32Array(src.length);
  for (const stride of [1, F, F * F]) {
    for (let i = 0; i < a.length; i++) {
      const c = Math.floor(i / stride) % F;
      const lo = i + ((c + MASK) & MASK) * stride - c * stride;
      const hi = i + ((c + 1) & MASK) * stride - c * stride;
      b[i] = 0.25 * a[lo] + 0.5 * a[i] + 0.25 * a[hi];
    }
    [a, b] = [b, a];
  }
  return a;
}

function standardise(x: Float32Array): Float32Array {
  let m = 0, v = 0;
  for (const t of x) m += t;
  m /= x.length;
  for (const t of x) v += (t - m) ** 2;
  const sd = Math.sqrt(v / x.length);
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - m) / sd;
  return x;
}

/**
 * Draws the three fields from the seed's "sim/fields" stream.
 *
 * @example
 * ```ts
 * const fields = makeVolumeFields(new RngStreams(1));
 * ```
 */
export function makeVolumeFields(streams: RngStreams): VolumeFields {
  const rng = streams.get("sim/fields");
  const n = F * F * F;
  const white = rng.normals(n);
  let tex = rng.normals(n);
  for (let i = 0; i < 4; i++) tex = smoothPass(tex);
  const smooth = smoothPass(rng.normals(n));
  return {
    texture: standardise(tex),
    white,
    smooth: standardise(smooth),
  };
}

/** Per-patient anatomy that stays fixed over the patient's scans. */
export interface Anatomy {
  /** Nodule centre in voxel coordinates (continuous). */
  center: [number, number, number];
  /** Texture offsets into the 64^3 field. */
  texOffset: [number, number, number];
  /** Unit spike directions (spiculation), flattened triples. */
  spikes: Float64Array;
}

const SPIKES = 6;

/**
 * Draws a patient's anatomy for a cube of edge `size`.
 *
 * @example
 * ```ts
 * const a = drawAnatomy(rng, 32);
 * ```
 */
export function drawAnatomy(rng: Draws, size: number): Anatomy {
  const c = () => size / 2 - 0.5 + rng.range(-size / 10, size / 10);
  const spikes = new Float64Array(3 * SPIKES);
  for (let k = 0; k < SPIKES; k++) {
    const x = rng.normal(), y = rng.normal(), z = rng.normal();
    const n = Math.hypot(x, y, z);
    spikes[3 * k] = x / n;
    spikes[3 * k + 1] = y / n;
    spikes[3 * k + 2] = z / n;
  }
  return {
    center: [c(), c(), c()],
    texOffset: [rng.int(F), rng.int(F), rng.int(F)],
    spikes,
  };
}

/**
 * Renders one scan: a size^3 Float32Array in HU, row-major with z slowest
 * (x fastest, as NIfTI stores it). `rng` only picks the noise offsets.
 *
 * @example
 * ```ts
 * const v = renderVolume(fields, 32, anatomy, nodule, acq, rng);
 * ```
 */
export function renderVolume(
  fields: VolumeFields,
  size: number,
  anatomy: Anatomy,
  nodule: Nodule,
  acq: Acquisition,
  rng: Draws,
): Float32Array {
  const n = size, out = new Float32Array(n * n * n);
  const [tx, ty, tz] = anatomy.texOffset;
  const lung = LUNG_HU + nodule.lungShiftHu;
  const tex = fields.texture;
  for (let z = 0; z < n; z++) {
    const oz = ((z + tz) & MASK) << 12;
    for (let y = 0; y < n; y++) {
      const oy = oz | (((y + ty) & MASK) << 6);
      const row = (z * n + y) * n;
      for (let x = 0; x < n; x++) {
        out[row + x] = lung + TEXTURE_HU * tex[oy | ((x + tx) & MASK)];
      }
    }
  }
  drawNodule(out, n, anatomy, nodule, acq);
  // Noise grain: a sharp kernel gives white noise, a smooth one correlated.
  const sharp = 1 / (1 + acq.blur);
  const norm = Math.hypot(sharp, 1 - sharp);
  const aw = acq.noiseHu * sharp / norm, as = acq.noiseHu * (1 - sharp) / norm;
  const wx = rng.int(F), wy = rng.int(F), wz = rng.int(F);
  const sx = rng.int(F), sy = rng.int(F), sz = rng.int(F);
  const { white, smooth } = fields;
  const off = acq.offsetHu;
  for (let z = 0; z < n; z++) {
    const owz = ((z + wz) & MASK) << 12, osz = ((z + sz) & MASK) << 12;
    for (let y = 0; y < n; y++) {
      const ow = owz | (((y + wy) & MASK) << 6);
      const os = osz | (((y + sy) & MASK) << 6);
      const row = (z * n + y) * n;
      for (let x = 0; x < n; x++) {
        out[row + x] += off + aw * white[ow | ((x + wx) & MASK)] +
          as * smooth[os | ((x + sx) & MASK)];
      }
    }
  }
  return out;
}

/**
 * Edge profile: a cubic smoothstep from 0 to 1 as the
 * signed distance inside the surface, in edge widths, goes from -2 to 2.
 * Cheaper than a logistic (no exp per voxel) and exactly 0 outside.
 */
function smoothStep(d: number): number {
  const u = d / 4 + 0.5;
  if (u <= 0) return 0;
  if (u >= 1) return 1;
  return u * u * (3 - 2 * u);
}

/** Blends the nodule into `out`, inside its bounding sphere only. */
function drawNodule(
  out: Float32Array,
  n: number,
  anatomy: Anatomy,
  nodule: Nodule,
  acq: Acquisition,
): void {
  const sp = acq.spacingMm;
  const r0 = nodule.diameterMm / 2 / sp;
  const spikeAmp = 1.5 * nodule.spiculation;
  // Edge width in voxels: margin and kernel blur add in quadrature.
  const w = Math.max(0.3, Math.hypot(nodule.marginMm / sp, acq.blur));
  const reach = r0 * (1 + spikeAmp) + 2 * w;
  const reach2 = reach * reach;
  const [cx, cy, cz] = anatomy.center;
  const lo = (c: number) => Math.max(0, Math.floor(c - reach));
  const hi = (c: number) => Math.min(n - 1, Math.ceil(c + reach));
  const sf = nodule.solidFraction;
  const spikes = anatomy.spikes;
  for (let z = lo(cz); z <= hi(cz); z++) {
    const dz = z - cz;
    for (let y = lo(cy); y <= hi(cy); y++) {
      const dy = y - cy;
      const row = (z * n + y) * n;
      for (let x = lo(cx); x <= hi(cx); x++) {
        const dx = x - cx;
        const r2 = dx * dx + dy * dy + dz * dz;
        if (r2 > reach2) continue;
        const r = Math.sqrt(r2) + 1e-9;
        let bump = 0;
        for (let k = 0; k < 3 * SPIKES; k += 3) {
          const c = (dx * spikes[k] + dy * spikes[k + 1] + dz * spikes[k + 2]) /
            r;
          if (c > 0) {
            const c2 = c * c, c4 = c2 * c2;
            bump += c4 * c4;
          }
        }
        const rad = r0 * (1 + spikeAmp * bump);
        const t = smoothStep((rad - r) / w);
        if (t === 0) continue;
        const tc = smoothStep((sf * rad - r) / w);
        const bg = out[row + x];
        out[row + x] = bg + t * (GGO_HU - bg) + tc * (SOLID_HU - GGO_HU);
      }
    }
  }
}
