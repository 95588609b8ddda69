/**
 * A NIfTI-1 writer (float32, single file, optionally gzipped) and the
 * minimal reader the round-trip tests need. Real-archive reading lives in
 * real/; this is only what exporting a synthetic cohort requires.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { UserError } from "../core/errors.ts";

/** A 3D float32 volume with isotropic or anisotropic spacing and an affine. */
export interface NiftiVolume {
  /** [nx, ny, nz]. */
  dims: [number, number, number];
  /** Voxel size in mm, [dx, dy, dz]. */
  spacing: [number, number, number];
  /** World (mm) position of voxel (0, 0, 0)'s centre. */
  origin: [number, number, number];
  /** x fastest, then y, then z. */
  data: Float32Array;
}

const HEADER = 348, OFFSET = 352, FLOAT32 = 16;

/**
 * Encodes a volume as NIfTI-1 (`.nii`), gzipped when `gzip` is true
 * (`.nii.gz`). The affine is diagonal (spacing) plus `origin`, stored as
 * both sform and qform (code 1, scanner anatomical).
 *
 * @example
 * ```ts
 * const bytes = encodeNifti({ dims: [2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], data: new Float32Array(8) });
 * ```
 */
export function encodeNifti(v: NiftiVolume, gzip = true): Uint8Array {
  const [nx, ny, nz] = v.dims;
  if (v.data.length !== nx * ny * nz) {
    throw new UserError(
      `NIfTI: data length ${v.data.length} does not match dims ${nx}x${ny}x${nz}`,
    );
  }
  const buf = new ArrayBuffer(OFFSET + 4 * v.data.length);
  const h = new DataView(buf);
  h.setInt32(0, HEADER, true);
  h.setUint8(39, 0); // dim_info
  const dim = [3, nx, ny, nz, 1, 1, 1, 1];
  dim.forEach((d, i) => h.setInt16(40 + 2 * i, d, true));
  h.setInt16(70, FLOAT32, true); // datatype
  h.setInt16(72, 32, true); // bitpix
  const pix = [1, ...v.spacing, 0, 0, 0, 0]; // pixdim[0] = qfac
  pix.forEach((p, i) => h.setFloat32(76 + 4 * i, p, true));
  h.setFloat32(108, OFFSET, true); // vox_offset
  h.setFloat32(112, 1, true); // scl_slope
  h.setFloat32(116, 0, true); // scl_inter
  h.setUint8(123, 2 | 8); // xyzt_units: mm, seconds
  h.setInt16(252, 1, true); // qform_code
  h.setInt16(254, 1, true); // sform_code
  // Identity rotation: quaternion b = c = d = 0.
  h.setFloat32(268, v.origin[0], true); // qoffset_x
  h.setFloat32(272, v.origin[1], true);
  h.setFloat32(276, v.origin[2], true);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      h.setFloat32(280 + 16 * r + 4 * c, r === c ? v.spacing[r] : 0, true);
    }
    h.setFloat32(280 + 16 * r + 12, v.origin[r], true);
  }
  const magic = [0x6e, 0x2b, 0x31, 0]; // "n+1\0"
  magic.forEach((b, i) => h.setUint8(344 + i, b));
  const out = new Uint8Array(buf);
  out.set(
    new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength),
    OFFSET,
  );
  return gzip ? new Uint8Array(gzipSync(out)) : out;
}
