/**
 * A decoded scan on its own voxel grid, and the one resampling step that
 * turns it into a model input: a cube of voxels at a fixed spacing with
 * axes along world RAS+ (NIfTI's convention: +x Right, +y Anterior,
 * +z Superior; DICOM's LPS is converted on reading), centred on a world
 * point, sampled trilinearly, padded outside the scan.
 *
 * Resampling only the ROI (instead of reorienting and resampling the whole
 * scan first, then cropping) gives the same voxels and costs a few hundred
 * thousand samples per scan, whatever the scan's size.
 *
 * @module
 */
import { UserError } from "../core/errors.ts";

/** A scan as decoded: values in HU on the file's grid, plus its affine. */
export interface Volume {
  /** [nx, ny, nz]: voxels along the file's i, j, k axes. */
  dims: [number, number, number];
  /** i fastest, then j, then k. */
  data: Float32Array;
  /** Row-major 4x4 voxel (i, j, k) -> world RAS mm, of voxel centres. */
  affine: number[][];
}

/** How an ROI is cut out of a {@link Volume}. */
export interface RoiOptions {
  /** Edge in voxels (the ROI is size^3). */
  size: number;
  /** Isotropic output spacing in mm. */
  spacingMm: number;
  /** Value for samples outside the scan (HU of air by default). */
  pad?: number;
}

/**
 * Inverse of a 4x4 affine whose last row is [0, 0, 0, 1].
 *
 * @example
 * ```ts
 * const inv = invertAffine([[2, 0, 0, 1], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]);
 * ```
 */
export function invertAffine(a: number[][]): number[][] {
  const [[a00, a01, a02], [a10, a11, a12], [a20, a21, a22]] = a;
  const c00 = a11 * a22 - a12 * a21, c01 = a02 * a21 - a01 * a22;
  const c02 = a01 * a12 - a02 * a11, c10 = a12 * a20 - a10 * a22;
  const c11 = a00 * a22 - a02 * a20, c12 = a02 * a10 - a00 * a12;
  const c20 = a10 * a21 - a11 * a20, c21 = a01 * a20 - a00 * a21;
  const c22 = a00 * a11 - a01 * a10;
  const det = a00 * c00 + a01 * c10 + a02 * c20;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) {
    throw new UserError(
      `affine is singular (determinant ${det}); the file's orientation is unusable`,
    );
  }
  const m = [
    [c00 / det, c01 / det, c02 / det],
    [c10 / det, c11 / det, c12 / det],
    [c20 / det, c21 / det, c22 / det],
  ];
  const t = [a[0][3], a[1][3], a[2][3]];
  return [
    ...m.map((r) => [...r, -(r[0] * t[0] + r[1] * t[1] + r[2] * t[2])]),
    [0, 0, 0, 1],
  ];
}

/**
 * Applies a 4x4 affine to a 3-vector (a point).
 *
 * @example
 * ```ts
 * const world = applyAffine(vol.affine, [0, 0, 0]); // centre of voxel 0
 * ```
 */
export function applyAffine(
  a: number[][],
  p: readonly number[],
): [number, number, number] {
  return [0, 1, 2].map((r) =>
    a[r][0] * p[0] + a[r][1] * p[1] + a[r][2] * p[2] + a[r][3]
  ) as [number, number, number];
}

/**
 * World RAS mm of the volume's central voxel position.
 *
 * @example
 * ```ts
 * const c = volumeCentre(vol);
 * ```
 */
export function volumeCentre(v: Volume): [number, number, number] {
  return applyAffine(v.affine, v.dims.map((n) => (n - 1) / 2));
}

/**
 * Rejects what no ROI can be made from: fewer than 3 dimensions, size
 * mismatches, NaN or infinite voxels. `where` names the file.
 *
 * @example
 * ```ts
 * checkVolume(vol, "images/a.nii.gz");
 * ```
 */
export function checkVolume(v: Volume, where: string): void {
  const [nx, ny, nz] = v.dims;
  if (nx < 2 || ny < 2 || nz < 2) {
    throw new UserError(
      `${where}: image is ${nx}x${ny}x${nz}; a 3D volume with at least 2 voxels along each axis is needed`,
    );
  }
  if (v.data.length !== nx * ny * nz) {
    throw new UserError(
      `${where}: ${v.data.length} voxels for dims ${nx}x${ny}x${nz} (truncated?)`,
    );
  }
  for (let i = 0; i < v.data.length; i++) {
    if (!Number.isFinite(v.data[i])) {
      const x = i % nx,
        y = Math.floor(i / nx) % ny,
        z = Math.floor(i / nx / ny);
      throw new UserError(
        `${where}: voxel (${x}, ${y}, ${z}) is ${
          v.data[i]
        }; every voxel must be a finite number`,
      );
    }
  }
}

/**
 * True when a world point lies inside the scan (within half a voxel of
 * its outer voxel centres).
 *
 * @example
 * ```ts
 * if (!insideVolume(vol, [10, -20, 30])) throw new Error("nodule outside");
 * ```
 */
export function insideVolume(
  v: Volume,
  world: readonly number[],
  inverse: number[][] = invertAffine(v.affine),
): boolean {
  const ijk = applyAffine(inverse, world);
  return ijk.every((c, a) => c >= -0.5 && c <= v.dims[a] - 0.5);
}

/**
 * Samples a size^3 cube centred on `centre` (world RAS mm) with axes along
 * +x, +y, +z of RAS at `spacingMm`, trilinear, `pad` outside the scan.
 * The result is row-major with z slowest, as {@link Scan.data} wants.
 *
 * @example
 * ```ts
 * const roi = extractRoi(vol, [12.5, -40, 80], { size: 32, spacingMm: 1 });
 * ```
 */
export function extractRoi(
  v: Volume,
  centre: readonly number[],
  opts: RoiOptions,
): Float32Array {
  const { size, spacingMm } = opts;
  const pad = opts.pad ?? -1024;
  const inv = invertAffine(v.affine);
  const [nx, ny, nz] = v.dims;
  const src = v.data;
  const out = new Float32Array(size * size * size);
  const half = (size - 1) / 2;
  // Voxel coordinate = inv * world; world moves by spacing along each RAS
  // axis, so each output step adds a fixed column of inv.
  const step = [0, 1, 2].map((c) =>
    [0, 1, 2].map((r) => inv[r][c] * spacingMm)
  );
  const base = applyAffine(inv, [
    centre[0] - half * spacingMm,
    centre[1] - half * spacingMm,
    centre[2] - half * spacingMm,
  ]);
  const sxy = nx * ny;
  let o = 0;
  for (let z = 0; z < size; z++) {
    for (let y = 0; y < size; y++) {
      let fi = base[0] + z * step[2][0] + y * step[1][0];
      let fj = base[1] + z * step[2][1] + y * step[1][1];
      let fk = base[2] + z * step[2][2] + y * step[1][2];
      for (let x = 0; x < size; x++, o++) {
        out[o] = sample(src, nx, ny, nz, sxy, fi, fj, fk, pad);
        fi += step[0][0];
        fj += step[0][1];
        fk += step[0][2];
      }
    }
  }
  return out;
}

// Snap coordinates within 1e-4 voxel of a grid point, so that sampling on
// the file's own grid returns its voxels exactly.
function snap(c: number): number {
  const r = Math.round(c);
  return Math.abs(c - r) < 1e-4 ? r : c;
}

function sample(
  src: Float32Array,
  nx: number,
  ny: number,
  nz: number,
  sxy: number,
  fi: number,
  fj: number,
  fk: number,
  pad: number,
): number {
  fi = snap(fi);
  fj = snap(fj);
  fk = snap(fk);
  if (
    fi < -0.5 || fj < -0.5 || fk < -0.5 || fi > nx - 0.5 || fj > ny - 0.5 ||
    fk > nz - 0.5
  ) return pad;
  // Within half a voxel of the edge, clamp to the edge voxel.
  const i = Math.min(Math.max(fi, 0), nx - 1);
  const j = Math.min(Math.max(fj, 0), ny - 1);
  const k = Math.min(Math.max(fk, 0), nz - 1);
  const i0 = Math.min(Math.floor(i), nx - 2), di = i - i0;
  const j0 = Math.min(Math.floor(j), ny - 2), dj = j - j0;
  const k0 = Math.min(Math.floor(k), nz - 2), dk = k - k0;
  const p = i0 + nx * j0 + sxy * k0;
  const c00 = src[p] * (1 - di) + src[p + 1] * di;
  const c10 = src[p + nx] * (1 - di) + src[p + nx + 1] * di;
  const c01 = src[p + sxy] * (1 - di) + src[p + sxy + 1] * di;
  const c11 = src[p + sxy + nx] * (1 - di) + src[p + sxy + nx + 1] * di;
  const c0 = c00 * (1 - dj) + c10 * dj;
  const c1 = c01 * (1 - dj) + c11 * dj;
  return c0 * (1 - dk) + c1 * dk;
}

// The windowing step lives in core/hu.ts so that sim/ and real/ share it;
// re-exported here for the callers that import it from real/.
export { windowHu } from "../core/hu.ts";
