/**
 * Label-preserving volume augmentation for training batches: a symmetry of
 * the cube (axis permutation and flips: 48 of them, or the 8 flips only),
 * a small integer shift with edge replication, and an intensity jitter
 * (scale and offset, in standardized units).
 *
 * A nodule's malignancy does not depend on its orientation in the scanner,
 * where it sits in the ROI or a few HU of calibration, so every transform
 * keeps the label. With a few hundred labeled volumes the encoder otherwise
 * memorises the training patients within tens of steps (issue 20).
 *
 * Transforms are drawn from an explicit seeded {@link Rng}: the same seed
 * and step give the same batch. Only training batches are augmented;
 * validation, test and embeddings see the volumes as they are.
 *
 * @module
 */
import type { Rng } from "../core/rng.ts";

import type { SymmetrySet } from "./config.ts";

/** Which cube symmetries augmentation draws from (models/config.ts SYMMETRY_SETS). */
export type Symmetries = SymmetrySet;

/** Augmentation settings (see {@link drawTransform}). */
export interface AugmentSettings {
  /** `all`: the 48 symmetries of the cube; `flips`: the 8 axis flips; `none`. */
  symmetries: Symmetries;
  /** Largest shift per axis, voxels (uniform integer in [-shift, shift]). */
  shift: number;
  /** Intensity scale in [1 - jitter, 1 + jitter], offset in [-jitter, jitter]. */
  jitter: number;
}

/** One drawn transform of a volume. */
export interface VolumeTransform {
  /** Output axis k reads input axis perm[k] (z, y, x order). */
  perm: [number, number, number];
  /** Whether output axis k runs backwards. */
  flip: [boolean, boolean, boolean];
  /** Shift per output axis, voxels. */
  shift: [number, number, number];
  /** Multiplies the standardized intensity. */
  scale: number;
  /** Added to the standardized intensity after scaling. */
  offset: number;
}

const PERMS: [number, number, number][] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/**
 * Whether a setting changes anything.
 *
 * @example
 * ```ts
 * augments({ symmetries: "none", shift: 0, jitter: 0 }); // false
 * ```
 */
export function augments(s: AugmentSettings): boolean {
  return s.symmetries !== "none" || s.shift > 0 || s.jitter > 0;
}

/**
 * Draws one transform for a volume of `shape` [D, H, W]. Axis permutations
 * are drawn only for cubes (they would change a non-cubic shape).
 *
 * @example
 * ```ts
 * const t = drawTransform(new Rng("aug"), [32, 32, 32], { symmetries: "all", shift: 2, jitter: 0.05 });
 * ```
 */
export function drawTransform(
  rng: Rng,
  shape: readonly number[],
  s: AugmentSettings,
): VolumeTransform {
  const cube = shape[0] === shape[1] && shape[1] === shape[2];
  const perm = s.symmetries === "all" && cube ? PERMS[rng.int(6)] : PERMS[0];
  const flip: [boolean, boolean, boolean] = s.symmetries === "none"
    ? [false, false, false]
    : [rng.bernoulli(0.5), rng.bernoulli(0.5), rng.bernoulli(0.5)];
  const k = Math.floor(s.shift);
  const sh = () => k > 0 ? rng.int(2 * k + 1) - k : 0;
  const shift: [number, number, number] = [sh(), sh(), sh()];
  const j = s.jitter;
  return {
    perm: [...perm] as [number, number, number],
    flip,
    shift,
    scale: j > 0 ? 1 + rng.range(-j, j) : 1,
    offset: j > 0 ? rng.range(-j, j) : 0,
  };
}

/**
 * The index tables of `t` on a [D, H, W] volume: the output voxel (a, b, c)
 * reads the input at tables[0][a] + tables[1][b] + tables[2][c] (permuted,
 * flipped and shifted, clamped to the edge). The output has the input's
 * shape (axes are permuted only for cubes).
 *
 * @example
 * ```ts
 * const [t0, t1, t2] = transformTables([32, 32, 32], t);
 * ```
 */
export function transformTables(
  shape: readonly number[],
  t: VolumeTransform,
): [Int32Array, Int32Array, Int32Array] {
  const [D, H, W] = shape;
  const dims = [D, H, W];
  const strides = [H * W, W, 1];
  // Output axis k walks input axis perm[k]: its stride and edge.
  const st = t.perm.map((a) => strides[a]);
  const edge = t.perm.map((a) => dims[a]);
  const table = (k: number) => {
    const n = edge[k];
    const col = new Int32Array(n);
    for (let c = 0; c < n; c++) {
      let i = c - t.shift[k];
      i = i < 0 ? 0 : i >= n ? n - 1 : i;
      if (t.flip[k]) i = n - 1 - i;
      col[c] = i * st[k];
    }
    return col;
  };
  return [table(0), table(1), table(2)];
}

/**
 * Applies the geometric part of `t` to a [D, H, W] volume (z slowest):
 * out[o] = src[in(o)], with in(o) from {@link transformTables}. Intensity
 * is left to the caller (it is applied after standardization).
 *
 * @example
 * ```ts
 * const out = transformVolume(scan.data, [32, 32, 32], t);
 * ```
 */
export function transformVolume(
  src: Float32Array,
  shape: readonly number[],
  t: VolumeTransform,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const [t0, t1, t2] = transformTables(shape, t);
  const [n0, n1, n2] = [t0.length, t1.length, t2.length];
  let o = 0;
  for (let a = 0; a < n0; a++) {
    const ia = t0[a];
    for (let b = 0; b < n1; b++) {
      const ib = ia + t1[b];
      for (let c = 0; c < n2; c++) out[o++] = src[ib + t2[c]];
    }
  }
  return out;
}
