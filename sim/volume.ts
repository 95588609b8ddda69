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
  /** Offsets of the nodule's internal texture into the 64^3 field. */
  noduleTexOffset?: [number, number, number];
  /** Unit direction of the long axis (elongation). */
  axis?: [number, number, number];
  /** Unit direction of the attached vessel. */
  vesselDir?: [number, number, number];
  /** Unit direction, perpendicular to the vessel, from the nodule centre to the vessel's axis. */
  vesselSide?: [number, number, number];
  /** Unit direction from the nodule centre towards the pleura. */
  pleuraDir?: [number, number, number];
}

const SPIKES = 6;

/**
 * Spicule length beyond the surface at spiculation 1, mm. Spicules are
 * linear strands that radiate from the nodule into the lung (typically
 * several mm up to about 2 cm), so their length is absolute, not a
 * fraction of the radius: at 1.75 mm voxels a spicule that is a fraction
 * of a 3.5 mm radius would be under one voxel long and invisible (the
 * measurements could not tell spiculation apart, AUC 0.54).
 */
const SPIKE_MM = 10;
/**
 * Spicule radius at its base, mm; it tapers linearly to 0 at the tip. A
 * 2 mm wide strand is partial-volumed by 1.75 mm voxels and the kernel
 * blur but still rises well above the lung (a thinner one would drown in
 * the 20 HU noise).
 */
const SPIKE_RADIUS_MM = 1;

/** Extra HU levels: a calcified core (clipped by the window), vessels and the chest wall. */
const CALC_HU = 700, VESSEL_HU = 40, WALL_HU = 40;

function unit(rng: Draws): [number, number, number] {
  const x = rng.normal(), y = rng.normal(), z = rng.normal();
  const n = Math.hypot(x, y, z);
  return [x / n, y / n, z / n];
}

/**
 * The largest distance from the nodule centre, mm, that the nodule's
 * surface (spikes and elongation included) can reach, plus its edge ramp:
 * what a field of view must hold around the centre.
 *
 * @example
 * ```ts
 * noduleExtentMm(noduleFromSource(m, 1), 1, 0.7); // radius to fit, mm
 * ```
 */
export function noduleExtentMm(
  nodule: Nodule,
  spacingMm: number,
  blur: number,
): number {
  const r0 = nodule.diameterMm / 2;
  const w = Math.max(
    0.3 * spacingMm,
    Math.hypot(nodule.marginMm, blur * spacingMm),
  );
  // A spicule's edge is the kernel blur only (see drawNodule).
  const ws = Math.max(0.3, blur) * spacingMm;
  const e = Math.pow(nodule.elongation ?? 1, 2 / 3);
  return Math.max(
    r0 + 2 * w,
    r0 + SPIKE_MM * nodule.spiculation + SPIKE_RADIUS_MM + 2 * ws,
  ) * e;
}

/**
 * Half-width of the random offset of the nodule centre from the volume
 * centre, voxels (a detector's centring error).
 *
 * @example
 * ```ts
 * centreJitter(32); // 1
 * ```
 */
export function centreJitter(size: number): number {
  return size / 32;
}

/**
 * Draws a patient's anatomy for a cube of edge `size`.
 *
 * @example
 * ```ts
 * const a = drawAnatomy(rng, 32);
 * ```
 */
export function drawAnatomy(rng: Draws, size: number): Anatomy {
  const j = centreJitter(size);
  const c = () => size / 2 - 0.5 + rng.range(-j, j);
  const spikes = new Float64Array(3 * SPIKES);
  for (let k = 0; k < SPIKES; k++) spikes.set(unit(rng), 3 * k);
  const center: [number, number, number] = [c(), c(), c()];
  const texOffset: [number, number, number] = [
    rng.int(F),
    rng.int(F),
    rng.int(F),
  ];
  const noduleTexOffset: [number, number, number] = [
    rng.int(F),
    rng.int(F),
    rng.int(F),
  ];
  const axis = unit(rng);
  const vesselDir = unit(rng);
  // Gram-Schmidt: a side direction perpendicular to the vessel.
  const r = unit(rng);
  const d = r[0] * vesselDir[0] + r[1] * vesselDir[1] + r[2] * vesselDir[2];
  const side = r.map((v, i) => v - d * vesselDir[i]);
  const sn = Math.hypot(...side) || 1;
  return {
    center,
    texOffset,
    spikes,
    noduleTexOffset,
    axis,
    vesselDir,
    vesselSide: side.map((v) => v / sn) as [number, number, number],
    pleuraDir: unit(rng),
  };
}

/**
 * Renders one scan: a size^3 Float32Array in HU, row-major with z slowest
 * (x fastest, as NIfTI stores it). `rng` only picks the noise offsets.
 * Every property of `nodule` shows: size, spiculation, solid part, margin,
 * lung density, internal texture, calcification, the attached vessel,
 * elongation and the distance to the pleura. Values are raw HU (a
 * calcified core exceeds the lung window); the generator windows them
 * with core/hu.ts as the real path does.
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
  drawSurroundings(out, n, anatomy, nodule, acq);
  drawNodule(out, n, anatomy, nodule, acq, fields);
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

/**
 * The chest wall (a half-space beyond the pleural gap) and the vessel (a
 * cylinder that touches the nodule's surface), over the whole cube: both
 * extend beyond the nodule, and a vessel crosses the field of view.
 */
function drawSurroundings(
  out: Float32Array,
  n: number,
  anatomy: Anatomy,
  nodule: Nodule,
  acq: Acquisition,
): void {
  const sp = acq.spacingMm;
  const r0 = nodule.diameterMm / 2 / sp;
  const edge = Math.max(0.5, acq.blur);
  const [cx, cy, cz] = anatomy.center;
  const vessel = (nodule.vesselMm ?? 0) > 0 && anatomy.vesselDir &&
    anatomy.vesselSide;
  const rv = (nodule.vesselMm ?? 0) / 2 / sp;
  const vd = anatomy.vesselDir ?? [1, 0, 0],
    vs = anatomy.vesselSide ??
      [0, 1, 0];
  // The vessel's axis runs at distance r0 (the surface) plus its own radius.
  const vo = r0 + rv * 0.5;
  const vox = cx + vo * vs[0], voy = cy + vo * vs[1], voz = cz + vo * vs[2];
  const pleura = nodule.pleuraGapMm !== undefined && anatomy.pleuraDir;
  const pd = anatomy.pleuraDir ?? [1, 0, 0];
  const e = Math.pow(nodule.elongation ?? 1, 2 / 3);
  // The wall starts at the gap beyond the nodule's mean surface.
  const wallAt = r0 * Math.sqrt(e) + (nodule.pleuraGapMm ?? 0) / sp;
  if (!vessel && !pleura) return;
  for (let z = 0; z < n; z++) {
    for (let y = 0; y < n; y++) {
      const row = (z * n + y) * n;
      for (let x = 0; x < n; x++) {
        let t = 0, hu = 0;
        if (pleura) {
          const s = (x - cx) * pd[0] + (y - cy) * pd[1] + (z - cz) * pd[2];
          const tw = smoothStep((s - wallAt) / edge);
          if (tw > 0) {
            t = tw;
            hu = WALL_HU;
          }
        }
        if (vessel) {
          const dx = x - vox, dy = y - voy, dz = z - voz;
          const a = dx * vd[0] + dy * vd[1] + dz * vd[2];
          const q = dx * dx + dy * dy + dz * dz - a * a;
          const dist = Math.sqrt(Math.max(0, q));
          const tv = smoothStep((rv - dist) / edge);
          if (tv > t) {
            t = tv;
            hu = VESSEL_HU;
          }
        }
        if (t > 0) out[row + x] += t * (hu - out[row + x]);
      }
    }
  }
}

/** Blends the nodule into `out`, inside its bounding sphere only. */
function drawNodule(
  out: Float32Array,
  n: number,
  anatomy: Anatomy,
  nodule: Nodule,
  acq: Acquisition,
  fields: VolumeFields,
): void {
  const sp = acq.spacingMm;
  const r0 = nodule.diameterMm / 2 / sp;
  // Spicules: segments from the surface outward, in voxels.
  const spikeLen = SPIKE_MM * nodule.spiculation / sp;
  const spikeR = SPIKE_RADIUS_MM / sp;
  // Edge width in voxels: margin and kernel blur add in quadrature.
  const w = Math.max(0.3, Math.hypot(nodule.marginMm / sp, acq.blur));
  // A spicule's edge is the kernel blur only (a strand has no margin).
  const ws = Math.max(0.3, acq.blur);
  // Elongation e at constant volume: semi-axes r0 e^(2/3) along the axis
  // and r0 e^(-1/3) across it. Distances are measured in the metric that
  // maps the ellipsoid to the sphere of radius r0.
  const el = nodule.elongation ?? 1;
  const along = Math.pow(el, -2 / 3), across = Math.pow(el, 1 / 3);
  const ax = anatomy.axis ?? [1, 0, 0];
  const reach = Math.max(r0 + 2 * w, r0 + spikeLen + spikeR + 2 * ws) /
    along;
  const reach2 = reach * reach;
  const [cx, cy, cz] = anatomy.center;
  const lo = (c: number) => Math.max(0, Math.floor(c - reach));
  const hi = (c: number) => Math.min(n - 1, Math.ceil(c + reach));
  const sf = nodule.solidFraction;
  const spikes = anatomy.spikes;
  const texAmp = nodule.textureHu ?? 0;
  const [ux, uy, uz] = anatomy.noduleTexOffset ?? [0, 0, 0];
  const tex = fields.texture;
  const rc = (nodule.calcification ?? 0) * r0;
  const wc = Math.max(0.3, acq.blur);
  for (let z = lo(cz); z <= hi(cz); z++) {
    const dz0 = z - cz;
    for (let y = lo(cy); y <= hi(cy); y++) {
      const dy0 = y - cy;
      const row = (z * n + y) * n;
      for (let x = lo(cx); x <= hi(cx); x++) {
        const dx0 = x - cx;
        const r20 = dx0 * dx0 + dy0 * dy0 + dz0 * dz0;
        if (r20 > reach2) continue;
        const a = dx0 * ax[0] + dy0 * ax[1] + dz0 * ax[2];
        const k1 = along - across;
        const dx = across * dx0 + k1 * a * ax[0];
        const dy = across * dy0 + k1 * a * ax[1];
        const dz = across * dz0 + k1 * a * ax[2];
        const r = Math.sqrt(dx * dx + dy * dy + dz * dz) + 1e-9;
        const t = smoothStep((r0 - r) / w);
        // The strongest spicule (not their sum, so spicules that cross
        // never add up): a cone of base radius spikeR at the surface r0
        // that tapers to 0 at r0 + spikeLen, along each spike direction.
        let ts = 0;
        if (spikeLen > 0) {
          for (let k = 0; k < 3 * SPIKES; k += 3) {
            const a = dx * spikes[k] + dy * spikes[k + 1] + dz * spikes[k + 2];
            if (a <= 0) continue;
            const q = Math.sqrt(Math.max(0, r * r - a * a));
            // Tapered radius, and an end cap: no thin tail past the tip
            // (it would be cut at the reach below).
            const tip = r0 + spikeLen - a;
            const rs = spikeR * Math.max(0, Math.min(1, tip / spikeLen));
            const tk = smoothStep((rs - q) / ws) * smoothStep(tip / ws);
            if (tk > ts) ts = tk;
          }
          // Inside the body the strand is hidden, and it must not add to
          // the solid core there.
          ts *= smoothStep(2 * (r - r0) / w);
        }
        if (t === 0 && ts === 0) continue;
        const tc = smoothStep((sf * r0 - r) / w);
        const bg = out[row + x];
        // A spicule is a soft-tissue strand: solid where it is whole.
        const tg = Math.max(t, ts);
        let v = bg + tg * (GGO_HU - bg) +
          Math.max(tc, ts) * (SOLID_HU - GGO_HU);
        if (texAmp > 0) {
          const ti = (((z + uz) & MASK) << 12) | (((y + uy) & MASK) << 6) |
            ((x + ux) & MASK);
          v += t * texAmp * tex[ti];
        }
        if (rc > 0) {
          const tk = smoothStep((rc - r) / wc);
          if (tk > 0) v += tk * (CALC_HU - v);
        }
        out[row + x] = v;
      }
    }
  }
}
