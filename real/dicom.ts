/**
 * DICOM series reading: a folder of single-frame slices, or one enhanced
 * multi-frame file, into a {@link Volume} in HU (RescaleSlope/Intercept
 * applied to the stored values; MONOCHROME1 is a display hint and is not
 * applied). Tags are parsed with dicom-parser, pixels decoded by
 * `dicom_pixels.ts`.
 *
 * Geometry comes from the data: slices are sorted by their
 * ImagePositionPatient projected on the slice normal; the slice axis of
 * the affine is the mean step between consecutive positions, so a
 * gantry-tilted series (positions not along the normal) gets a sheared
 * affine that places every voxel where the file says it is, and the ROI
 * resampling onto the RAS grid is then exact. Positions that are not on
 * one line, uneven steps, two orientations, mosaics, localizers and
 * multi-frame images without per-frame positions are refused by name.
 *
 * @module
 */
import dicomParser from "dicom-parser";
import type { DataSet } from "dicom-parser";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { UserError } from "../core/errors.ts";
import { readRegularFile } from "../core/files.ts";
import { checkGeometry } from "./nifti.ts";
import type { Volume } from "./volume.ts";
import {
  decodeFrame,
  loadCodecs,
  type PixelFormat,
  pixelFormat,
  transferSyntax,
} from "./dicom_pixels.ts";

/** A decoded DICOM series. */
export interface DicomSeries extends Volume {
  /**
   * Voxel size in mm: [column step, row step, slice step], the lengths of
   * the affine's columns (the slice step is the distance between slice
   * centres, which exceeds the gap along the normal when tilted).
   */
  spacing: [number, number, number];
  /** Angle in degrees between the slice step and the slice normal (0 unless gantry-tilted). */
  tiltDegrees: number;
  /** Slice files in the sorted order ("file [frame n]" for multi-frame). */
  files: string[];
  /** Modality tag (e.g. "CT"), or null. */
  modality: string | null;
}

interface Slice {
  /** File, or "file [frame n]". */
  name: string;
  file: string;
  ds: DataSet;
  fmt: PixelFormat;
  frame: number;
  frames: number;
  position: number[];
  orientation: number[];
  pixelSpacing: number[];
  slope: number;
  intercept: number;
  along: number;
}

function parseFile(file: string): DataSet | null {
  const bytes = readRegularFile(file, "DICOM file");
  const magic = new TextDecoder().decode(bytes.subarray(128, 132));
  if (magic !== "DICM") {
    throw new UserError(
      `${file}: not a DICOM file (no "DICM" at byte 128); expected a DICOM Part 10 slice with pixel data`,
    );
  }
  try {
    return dicomParser.parseDicom(bytes, {
      // Deflated syntax: header bytes then the inflated data set.
      inflater: ((arr: Uint8Array, position: number) => {
        const inflated = inflateRawSync(arr.subarray(position));
        const full = new Uint8Array(position + inflated.length);
        full.set(arr.subarray(0, position));
        full.set(inflated, position);
        return full;
      }) as unknown as (arr: Uint8Array, position: number) => void,
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new UserError(`${file}: not a readable DICOM file (${why})`);
  }
}

function numbers(ds: DataSet, tag: string, n: number): number[] | null {
  if (!ds.elements[tag]) return null;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = ds.floatString(tag, i);
    if (v === undefined || !Number.isFinite(v)) return null;
    out.push(v);
  }
  return out;
}

function str(ds: DataSet, tag: string): string | null {
  const s = ds.string(tag);
  return s === undefined ? null : s.trim();
}

// Enhanced multi-frame: a functional group of frame f, from the per-frame
// sequence if present there, else from the shared one.
function group(ds: DataSet, frame: number, tag: string): DataSet | null {
  const per = ds.elements.x52009230?.items?.[frame]?.dataSet;
  const shared = ds.elements.x52009229?.items?.[0]?.dataSet;
  for (const g of [per, shared]) {
    const item = g?.elements[tag]?.items?.[0]?.dataSet;
    if (item) return item;
  }
  return null;
}

function fmtList(v: number[]): string {
  return v.map((x) => +x.toFixed(6)).join("\\");
}

function slicesOf(file: string, ds: DataSet): Slice[] {
  const imageType = (str(ds, "x00080008") ?? "").toUpperCase().split("\\");
  if (imageType.includes("MOSAIC")) {
    throw new UserError(
      `${file}: a mosaic (ImageType ${
        str(ds, "x00080008")
      }): several slices tiled into one 2D image, which has no single slice position; convert it with dcm2niix and give the NIfTI file`,
    );
  }
  if (imageType.includes("LOCALIZER")) {
    throw new UserError(
      `${file}: a localizer/scout image (ImageType ${
        str(ds, "x00080008")
      }), not part of a 3D volume; remove it from the series folder`,
    );
  }
  const fmt = pixelFormat(ds, file);
  const frames = ds.intString("x00280008") ?? 1;
  const enhanced = !!ds.elements.x52009230;
  const perFrame = ds.elements.x52009230?.items?.length ?? 0;
  // Checked before looping over frames: the tag may claim any number.
  if (!Number.isSafeInteger(frames) || frames < 1 || frames > MAX_FRAMES) {
    throw new UserError(
      `${file}: NumberOfFrames (0028,0008) is ${
        str(ds, "x00280008")
      }; expected a whole number from 1 to ${MAX_FRAMES}`,
    );
  }
  if (enhanced && perFrame !== frames) {
    throw new UserError(
      `${file}: NumberOfFrames (0028,0008) is ${frames} but the PerFrameFunctionalGroupsSequence (5200,9230) has ${perFrame} item(s); expected one item per frame`,
    );
  }
  checkPixelLength(file, ds, fmt, frames);
  if (frames > 1 && !enhanced) {
    throw new UserError(
      `${file}: ${frames} frames (NumberOfFrames) without per-frame positions (no PerFrameFunctionalGroupsSequence 5200,9230): a cine, NM or other non-volumetric multi-frame image; expected one slice per file or an enhanced multi-frame volume`,
    );
  }
  const out: Slice[] = [];
  for (let f = 0; f < frames; f++) {
    const name = frames > 1 ? `${file} [frame ${f + 1}]` : file;
    const posDs = enhanced ? group(ds, f, "x00209113") : ds;
    const oriDs = enhanced ? group(ds, f, "x00209116") : ds;
    const pixDs = enhanced ? group(ds, f, "x00289110") : ds;
    const resDs = (enhanced ? group(ds, f, "x00289145") : null) ?? ds;
    const position = posDs && numbers(posDs, "x00200032", 3);
    const orientation = oriDs && numbers(oriDs, "x00200037", 6);
    if (!position || !orientation) {
      throw new UserError(
        `${name}: missing ImagePositionPatient (0020,0032) or ImageOrientationPatient (0020,0037)${
          enhanced ? " in the functional groups" : ""
        }; without them the slice cannot be placed in a 3D volume (a secondary capture, screenshot or non-volumetric image?)`,
      );
    }
    const pixelSpacing = pixDs && numbers(pixDs, "x00280030", 2);
    if (!pixelSpacing || !(pixelSpacing[0] > 0) || !(pixelSpacing[1] > 0)) {
      throw new UserError(
        `${name}: missing or invalid PixelSpacing (0028,0030)`,
      );
    }
    const slope = resDs.floatString("x00281053") ?? 1;
    const intercept = resDs.floatString("x00281052") ?? 0;
    // Far outside any CT's rescale: a corrupt tag, not HU.
    if (
      !(Math.abs(slope) >= 1e-6 && Math.abs(slope) <= 1e6) ||
      !(Math.abs(intercept) <= 1e6)
    ) {
      throw new UserError(
        `${name}: RescaleSlope (0028,1053) "${
          str(resDs, "x00281053") ?? ""
        }" / RescaleIntercept (0028,1052) "${
          str(resDs, "x00281052") ?? ""
        }"; expected numbers with 1e-6 <= |slope| <= 1e6 and |intercept| <= 1e6`,
      );
    }
    out.push({
      name,
      file,
      ds,
      fmt,
      frame: f,
      frames,
      position,
      orientation,
      pixelSpacing,
      slope,
      intercept,
      along: 0,
    });
  }
  return out;
}

// Far above any CT (a 1024^2 x 8192 volume); a header claiming more is corrupt.
const MAX_FRAMES = 65536;
const MAX_VOXELS = 2 ** 31 / 4;

// Uncompressed pixel data must hold every frame; checked from the element
// length before anything is allocated for the volume.
function checkPixelLength(
  file: string,
  ds: DataSet,
  fmt: PixelFormat,
  frames: number,
): void {
  const el = ds.elements.x7fe00010;
  if (!el || el.encapsulatedPixelData) return;
  const need = fmt.rows * fmt.cols * (fmt.bitsAllocated / 8) * frames;
  if (el.length < need) {
    throw new UserError(
      `${file}: PixelData (7FE0,0010) has ${el.length} bytes; Rows ${fmt.rows} x Columns ${fmt.cols} x ${
        fmt.bitsAllocated / 8
      } bytes x ${frames} frame(s) need ${need} (truncated file or wrong Rows/Columns)`,
    );
  }
}

// dicom-parser's accessors throw TypeErrors on elements cut short or of
// the wrong shape; such a file is corrupt input, not a bug here.
function named<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UserError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new UserError(
      `${file}: malformed DICOM element (${
        why.split("\n")[0]
      }); the file is corrupt or truncated`,
    );
  }
}

function cross(a: number[], b: number[]): number[] {
  return [
    a[1] * b[2] - a[2] * b[1],
    a[2] * b[0] - a[0] * b[2],
    a[0] * b[1] - a[1] * b[0],
  ];
}

function dot(a: number[], b: number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

function norm(a: number[]): number {
  return Math.sqrt(dot(a, a));
}

function listFiles(path: string): string[] {
  try {
    return statSync(path).isDirectory()
      ? readdirSync(path).filter((f) => !f.startsWith(".")).sort().map((f) =>
        join(path, f)
      )
      : [path];
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
}

/**
 * Reads the DICOM series in `path`: a folder of slices (one series), or a
 * single file, which must then be an enhanced multi-frame volume. Every
 * transfer syntax is decoded exactly or refused with a message naming the
 * file and the syntax (see `dicom_pixels.ts`).
 *
 * @example
 * ```ts
 * const v = await readDicomSeries("scans/p1/series1");
 * ```
 */
export async function readDicomSeries(path: string): Promise<DicomSeries> {
  const files = listFiles(path);
  if (files.length === 0) {
    throw new UserError(`${path}: folder has no DICOM files`);
  }
  const slices: Slice[] = [];
  for (const file of files) {
    const ds = parseFile(file);
    // DICOMDIR, structured reports and the like carry no image.
    if (!ds || !ds.elements.x7fe00010) continue;
    const mine = named(file, () => slicesOf(file, ds));
    const first = slices[0] ?? mine[0];
    const uid = named(file, () => str(ds, "x0020000e")) ?? "";
    const firstUid = str(first.ds, "x0020000e") ?? "";
    if (uid !== firstUid) {
      throw new UserError(
        `${file}: SeriesInstanceUID ${
          uid || "(none)"
        } differs from ${first.file}'s ${
          firstUid || "(none)"
        }; put one series per folder`,
      );
    }
    for (const s of mine) {
      if (
        s.orientation.some((d, i) => Math.abs(d - first.orientation[i]) > 1e-4)
      ) {
        throw new UserError(
          `${s.name}: ImageOrientationPatient ${
            fmtList(s.orientation)
          } differs from ${first.name}'s ${
            fmtList(first.orientation)
          }; the series mixes slice orientations (e.g. axial and coronal, or a reformat), which do not stack into one volume: keep one orientation per folder`,
        );
      }
      if (s.fmt.rows !== first.fmt.rows || s.fmt.cols !== first.fmt.cols) {
        throw new UserError(
          `${s.name}: ${s.fmt.cols}x${s.fmt.rows} pixels (columns x rows), but ${first.name} has ${first.fmt.cols}x${first.fmt.rows}`,
        );
      }
      if (
        s.pixelSpacing.some((v, i) =>
          Math.abs(v - first.pixelSpacing[i]) > 1e-4 * first.pixelSpacing[i]
        )
      ) {
        throw new UserError(
          `${s.name}: PixelSpacing ${
            fmtList(s.pixelSpacing)
          } differs from ${first.name}'s ${fmtList(first.pixelSpacing)}`,
        );
      }
      slices.push(s);
    }
  }
  if (slices.length === 0) {
    throw new UserError(`${path}: no DICOM slice with pixel data`);
  }
  const first = slices[0];
  if (slices.length < 2) {
    throw new UserError(
      `${path}: a single 2D slice (${first.fmt.cols}x${first.fmt.rows}); a 3D series of at least 2 slices is needed`,
    );
  }
  const rowDir = first.orientation.slice(0, 3);
  const colDir = first.orientation.slice(3, 6);
  const normal = cross(rowDir, colDir);
  if (
    Math.abs(norm(normal) - 1) > 1e-3 || Math.abs(dot(rowDir, colDir)) > 1e-3
  ) {
    throw new UserError(
      `${first.name}: ImageOrientationPatient ${
        fmtList(first.orientation)
      } is not two orthogonal unit vectors`,
    );
  }
  for (const s of slices) s.along = dot(s.position, normal);
  slices.sort((a, b) => a.along - b.along);
  const gaps = slices.slice(1).map((s, i) => s.along - slices[i].along);
  const sorted = [...gaps].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  // Scanners round positions (about 0.1 mm jitter is common); a missing,
  // duplicate or extra slice moves a gap by far more than 10%.
  for (let i = 0; i < gaps.length; i++) {
    if (gaps[i] < 1e-3 || Math.abs(gaps[i] - median) > 0.1 * median) {
      throw new UserError(
        `${slices[i + 1].name}: slice spacing ${gaps[i].toFixed(3)} mm to ${
          slices[i].name
        } differs from the series' median ${
          median.toFixed(3)
        } mm by more than 10% (missing, duplicate or inconsistent slices)`,
      );
    }
  }
  const n = slices.length;
  const p0 = slices[0].position;
  const step = [0, 1, 2].map((r) =>
    (slices[n - 1].position[r] - p0[r]) / (n - 1)
  );
  // Every slice must sit on the line p0 + k * step; off it (in the slice
  // plane) the slices are shifted against each other and no affine fits.
  const ps = first.pixelSpacing;
  const tol = 0.2 * Math.min(ps[0], ps[1]);
  slices.forEach((s, k) => {
    const off = [0, 1, 2].map((r) => s.position[r] - p0[r] - k * step[r]);
    const inPlane = off.map((v, r) => v - dot(off, normal) * normal[r]);
    if (norm(inPlane) > tol) {
      throw new UserError(
        `${s.name}: ImagePositionPatient ${fmtList(s.position)} is ${
          norm(inPlane).toFixed(3)
        } mm off the line through the first and last slice positions (tolerance ${
          tol.toFixed(3)
        } mm, a fifth of a pixel); the slices do not form one regular 3D grid (varying tilt or shifted slices)`,
      );
    }
  });
  const stepLen = norm(step);
  const tiltDegrees = Math.acos(Math.min(1, dot(step, normal) / stepLen)) *
    180 / Math.PI;
  // Columns of the LPS affine: i steps along a row (PixelSpacing[1]), j
  // down a column (PixelSpacing[0]), k from slice to slice.
  const lps = [0, 1, 2].map((r) => [
    rowDir[r] * ps[1],
    colDir[r] * ps[0],
    step[r],
    p0[r],
  ]);
  const affine = [
    lps[0].map((v) => -v),
    lps[1].map((v) => -v),
    lps[2],
    [0, 0, 0, 1],
  ];
  checkGeometry(
    affine,
    `${first.name} (PixelSpacing, ImagePositionPatient, ImageOrientationPatient)`,
  );
  const nx = first.fmt.cols, ny = first.fmt.rows;
  if (nx * ny * n > MAX_VOXELS) {
    throw new UserError(
      `${path}: ${nx}x${ny}x${n} voxels (Columns x Rows x slices) is more than the ${MAX_VOXELS} this reader holds in memory`,
    );
  }
  const data = new Float32Array(nx * ny * n);
  const codecs = await loadCodecs(
    slices.some((s) => transferSyntax(s.ds) === "1.2.840.10008.1.2.4.51"),
  );
  slices.forEach((s, k) => {
    const stored = named(
      s.name,
      () => decodeFrame(s.ds, s.fmt, s.frame, s.frames, s.name, codecs),
    );
    if (stored.length !== nx * ny) {
      throw new UserError(
        `${s.name}: decoded ${stored.length} pixels, expected ${nx}x${ny} (truncated?)`,
      );
    }
    const o = k * nx * ny;
    for (let i = 0; i < stored.length; i++) {
      data[o + i] = stored[i] * s.slope + s.intercept;
    }
  });
  return {
    dims: [nx, ny, n],
    data,
    affine,
    spacing: [ps[1], ps[0], stepLen],
    tiltDegrees,
    files: slices.map((s) => s.name),
    modality: str(first.ds, "x00080060"),
  };
}
