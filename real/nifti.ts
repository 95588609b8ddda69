/**
 * NIfTI-1 and NIfTI-2 reading (`.nii`, `.nii.gz`) through nifti-reader-js:
 * either byte order, any scalar datatype, scl_slope/scl_inter applied,
 * header extensions skipped. The affine follows nibabel's rule: the sform
 * when sform_code > 0, else the qform when qform_code > 0, else pixdim
 * scaling only. World coordinates are NIfTI's RAS+.
 *
 * @module
 */
import * as nifti from "nifti-reader-js";
import { gunzipSync } from "node:zlib";
import { UserError } from "../core/errors.ts";
import type { Volume } from "./volume.ts";

/** A decoded NIfTI file: the volume plus what the header said. */
export interface NiftiScan extends Volume {
  /** 1 or 2. */
  version: 1 | 2;
  /** Byte order of the file. */
  littleEndian: boolean;
  /** Which transform the affine came from. */
  transform: "sform" | "qform" | "pixdim";
  /** Voxel size in mm, [dx, dy, dz] (from the affine's columns). */
  spacing: [number, number, number];
  /** True when the header had an extension. */
  hasExtension: boolean;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  ) return bytes.buffer;
  return bytes.buffer.slice(
    bytes.byteOffset,
    bytes.byteOffset + bytes.byteLength,
  ) as ArrayBuffer;
}

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedCtor = new (
  b: ArrayBuffer,
  offset: number,
  length: number,
) => ArrayLike<number>;

const NATIVE: Record<number, TypedCtor> = {
  2: Uint8Array,
  4: Int16Array,
  8: Int32Array,
  16: Float32Array,
  64: Float64Array,
  256: Int8Array,
  512: Uint16Array,
  768: Uint32Array,
};

function readScalars(
  buf: ArrayBuffer,
  type: number,
  little: boolean,
  n: number,
  where: string,
): Float32Array {
  const view = new DataView(buf);
  const out = new Float32Array(n);
  const get: Record<number, [number, (o: number) => number]> = {
    2: [1, (o) => view.getUint8(o)],
    4: [2, (o) => view.getInt16(o, little)],
    8: [4, (o) => view.getInt32(o, little)],
    16: [4, (o) => view.getFloat32(o, little)],
    64: [8, (o) => view.getFloat64(o, little)],
    256: [1, (o) => view.getInt8(o)],
    512: [2, (o) => view.getUint16(o, little)],
    768: [4, (o) => view.getUint32(o, little)],
  };
  const g = get[type];
  if (!g) {
    throw new UserError(
      `${where}: NIfTI datatype ${type} is not supported; expected a scalar type (uint8, int8, int16, uint16, int32, uint32, float32, float64)`,
    );
  }
  const [size, read] = g;
  if (buf.byteLength < n * size) {
    throw new UserError(
      `${where}: truncated NIfTI: image data has ${buf.byteLength} bytes, the header needs ${
        n * size
      }`,
    );
  }
  const Typed = NATIVE[type];
  if (little === HOST_LITTLE && Typed) {
    // Same byte order as this machine: a typed view converts ~10x faster
    // than per-voxel DataView reads.
    out.set(new Typed(buf, 0, n));
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = read(i * size);
  return out;
}

function qformAffine(h: nifti.NIFTI1 | nifti.NIFTI2): number[][] {
  const b = h.quatern_b, c = h.quatern_c, d = h.quatern_d;
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const R = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - b * b - c * c],
  ];
  const qfac = h.pixDims[0] < 0 ? -1 : 1;
  const s = [h.pixDims[1], h.pixDims[2], h.pixDims[3] * qfac];
  const off = [h.qoffset_x, h.qoffset_y, h.qoffset_z];
  return [
    ...R.map((row, r) => [...row.map((v, k) => v * s[k]), off[r]]),
    [0, 0, 0, 1],
  ];
}

function sformAffine(
  h: nifti.NIFTI1 | nifti.NIFTI2,
  raw: ArrayBuffer,
): number[][] {
  // nifti-reader-js stores the qform in `affine` when qform_code is the
  // larger code; read NIfTI-1's srow_* ourselves so sform always wins.
  if (h instanceof nifti.NIFTI2) return h.affine.map((r) => [...r]);
  const view = new DataView(raw);
  const rows = [0, 1, 2].map((r) =>
    [0, 1, 2, 3].map((c) =>
      view.getFloat32(280 + 4 * (4 * r + c), h.littleEndian)
    )
  );
  return [...rows, [0, 0, 0, 1]];
}

/**
 * Decodes NIfTI bytes; `where` (the file name) prefixes every error.
 *
 * @example
 * ```ts
 * const v = decodeNiftiFile(Deno.readFileSync("ct.nii.gz"), "ct.nii.gz");
 * ```
 */
export function decodeNiftiFile(bytes: Uint8Array, where: string): NiftiScan {
  let buf = toArrayBuffer(bytes);
  try {
    // node:zlib, unlike the reader's own inflate, fails on a cut stream.
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      buf = toArrayBuffer(gunzipSync(bytes));
    }
  } catch (e) {
    throw new UserError(
      `${where}: unreadable gzip stream (${
        (e as Error).message
      }); the file is truncated or corrupt`,
    );
  }
  if (!nifti.isNIFTI(buf)) {
    throw new UserError(
      `${where}: not a NIfTI file (no NIfTI-1 "n+1"/"ni1" or NIfTI-2 magic); expected .nii or .nii.gz`,
    );
  }
  let h: nifti.NIFTI1 | nifti.NIFTI2;
  let image: ArrayBuffer;
  try {
    h = nifti.readHeader(buf);
    image = nifti.readImage(h, buf);
  } catch (e) {
    throw new UserError(
      `${where}: unreadable NIfTI header or image (${(e as Error).message})`,
    );
  }
  const nDim = h.dims[0];
  const dims: [number, number, number] = [h.dims[1], h.dims[2], h.dims[3]];
  const extra = h.dims.slice(4, 1 + Math.max(nDim, 3)).filter((d) => d > 1);
  if (nDim < 3 || dims.some((d) => !(d > 1))) {
    throw new UserError(
      `${where}: image is ${nDim}D (${
        h.dims.slice(1, 1 + nDim).join("x")
      }); a 3D volume is needed`,
    );
  }
  if (extra.length > 0) {
    throw new UserError(
      `${where}: image is ${nDim}D (${
        h.dims.slice(1, 1 + nDim).join("x")
      }); only single 3D volumes are accepted`,
    );
  }
  const n = dims[0] * dims[1] * dims[2];
  const data = readScalars(image, h.datatypeCode, h.littleEndian, n, where);
  // scl_slope = 0 means "no scaling" in the standard.
  const slope = h.scl_slope && Number.isFinite(h.scl_slope) ? h.scl_slope : 1;
  const inter = Number.isFinite(h.scl_inter) ? h.scl_inter : 0;
  if (slope !== 1 || inter !== 0) {
    for (let i = 0; i < n; i++) data[i] = data[i] * slope + inter;
  }
  let transform: NiftiScan["transform"] = "pixdim";
  let affine: number[][];
  if (h.sform_code > 0) {
    transform = "sform";
    affine = sformAffine(h, buf);
  } else if (h.qform_code > 0) {
    transform = "qform";
    affine = qformAffine(h);
  } else {
    affine = [
      [h.pixDims[1], 0, 0, 0],
      [0, h.pixDims[2], 0, 0],
      [0, 0, h.pixDims[3], 0],
      [0, 0, 0, 1],
    ];
  }
  const spacing = [0, 1, 2].map((c) =>
    Math.hypot(affine[0][c], affine[1][c], affine[2][c])
  ) as [number, number, number];
  return {
    dims,
    data,
    affine,
    version: h instanceof nifti.NIFTI2 ? 2 : 1,
    littleEndian: h.littleEndian,
    transform,
    spacing,
    hasExtension: nifti.hasExtension(h),
  };
}

/**
 * Reads a `.nii` or `.nii.gz` file.
 *
 * @example
 * ```ts
 * const v = readNifti("images/p1.nii.gz");
 * ```
 */
export function readNifti(path: string): NiftiScan {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read file (${(e as Error).message})`);
  }
  return decodeNiftiFile(bytes, path);
}
