/**
 * DICOM series reading through daikon (uncompressed, RLE, JPEG lossless,
 * JPEG baseline, JPEG-LS, JPEG 2000): slices sorted by ImagePositionPatient
 * along the slice normal, RescaleSlope/Intercept applied (HU for CT),
 * in-plane spacing from PixelSpacing, slice spacing the mean step of the
 * positions along the normal (each step within 10% of the median),
 * LPS patient coordinates turned into RAS.
 *
 * @module
 */
import daikon from "daikon";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import type { Volume } from "./volume.ts";

/** A decoded DICOM series. */
export interface DicomSeries extends Volume {
  /** Voxel size in mm: [column step, row step, slice step]. */
  spacing: [number, number, number];
  /** Slice files, in the sorted order. */
  files: string[];
  /** Modality tag (e.g. "CT"), or null. */
  modality: string | null;
}

// daikon ships no types; this is the part of its Image we call.
interface DaikonImage {
  hasPixelData(): boolean;
  getRows(): number;
  getCols(): number;
  getNumberOfFrames(): number;
  getImagePosition(): number[] | null;
  getImageDirections(): number[] | null;
  getPixelSpacing(): number[] | null;
  getSeriesId(): string;
  getModality(): string | null;
  getInterpretedData(): Float32Array;
}

interface Slice {
  file: string;
  image: DaikonImage;
  position: number[];
  along: number;
}

function parseSlice(file: string): DaikonImage {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read file (${(e as Error).message})`);
  }
  let image: DaikonImage | null = null;
  let why = "";
  try {
    image = daikon.Series.parseImage(
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    );
    if (!image) why = String(daikon.Series.parserError ?? "no image");
  } catch (e) {
    why = (e as Error).message;
  }
  if (!image) {
    throw new UserError(
      `${file}: not a readable DICOM file (${why}); expected a DICOM slice with pixel data`,
    );
  }
  return image;
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

/**
 * Reads the DICOM series in `path` (a folder of slices; a single file is
 * read too, and then rejected as 2D). `where` prefixes errors.
 *
 * @example
 * ```ts
 * const v = readDicomSeries("scans/p1/series1");
 * ```
 */
export function readDicomSeries(path: string): DicomSeries {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path).filter((f) => !f.startsWith(".")).sort().map((f) =>
        join(path, f)
      )
      : [path];
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  if (files.length === 0) {
    throw new UserError(`${path}: folder has no DICOM files`);
  }
  const slices: Slice[] = [];
  let seriesId: string | null = null;
  let first: DaikonImage | null = null;
  for (const file of files) {
    const image = parseSlice(file);
    if (!image.hasPixelData()) continue;
    if (image.getNumberOfFrames() > 1) {
      throw new UserError(
        `${file}: multi-frame DICOM (${image.getNumberOfFrames()} frames) is not supported; export one slice per file`,
      );
    }
    const id = image.getSeriesId();
    if (seriesId !== null && id !== seriesId) {
      throw new UserError(
        `${file}: belongs to another series than ${
          slices[0].file
        }; put one series per folder`,
      );
    }
    seriesId = id;
    first ??= image;
    const pos = image.getImagePosition();
    const dirs = image.getImageDirections();
    if (!pos || pos.length !== 3 || !dirs || dirs.length !== 6) {
      throw new UserError(
        `${file}: missing ImagePositionPatient (0020,0032) or ImageOrientationPatient (0020,0037)`,
      );
    }
    const f = first.getImageDirections()!;
    if (dirs.some((d, i) => Math.abs(d - f[i]) > 1e-4)) {
      throw new UserError(
        `${file}: ImageOrientationPatient differs from ${
          slices[0].file
        }; slices of one volume must share an orientation`,
      );
    }
    if (
      image.getRows() !== first.getRows() || image.getCols() !== first.getCols()
    ) {
      throw new UserError(
        `${file}: ${image.getRows()}x${image.getCols()} pixels, but ${
          slices[0].file
        } has ${first.getRows()}x${first.getCols()}`,
      );
    }
    slices.push({ file, image, position: pos, along: 0 });
  }
  if (!first || slices.length === 0) {
    throw new UserError(`${path}: no DICOM slice with pixel data`);
  }
  if (slices.length < 2) {
    throw new UserError(
      `${path}: a single 2D slice (${first.getCols()}x${first.getRows()}); a 3D series of at least 2 slices is needed`,
    );
  }
  const dirs = first.getImageDirections()!;
  const rowDir = dirs.slice(0, 3), colDir = dirs.slice(3, 6);
  const normal = cross(rowDir, colDir);
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
        `${slices[i + 1].file}: slice spacing ${gaps[i].toFixed(3)} mm to ${
          slices[i].file
        } differs from the series' median ${
          median.toFixed(3)
        } mm by more than 10% (missing, duplicate or inconsistent slices)`,
      );
    }
  }
  const gap = (slices[slices.length - 1].along - slices[0].along) /
    (slices.length - 1);
  const ps = first.getPixelSpacing();
  if (!ps || ps.length < 2 || !(ps[0] > 0) || !(ps[1] > 0)) {
    throw new UserError(
      `${slices[0].file}: missing or invalid PixelSpacing (0028,0030)`,
    );
  }
  const nx = first.getCols(), ny = first.getRows(), nz = slices.length;
  const data = new Float32Array(nx * ny * nz);
  slices.forEach((s, k) => {
    let px: Float32Array;
    try {
      px = s.image.getInterpretedData();
    } catch (e) {
      throw new UserError(
        `${s.file}: pixel data cannot be decoded (${(e as Error).message})`,
      );
    }
    if (px.length !== nx * ny) {
      throw new UserError(
        `${s.file}: decoded ${px.length} pixels, expected ${nx}x${ny} (truncated?)`,
      );
    }
    data.set(px, k * nx * ny);
  });
  // Columns of the LPS affine: i steps along a row (PixelSpacing[1]), j
  // down a column (PixelSpacing[0]), k along the normal.
  const o = slices[0].position;
  const lps = [0, 1, 2].map((r) => [
    rowDir[r] * ps[1],
    colDir[r] * ps[0],
    normal[r] * gap,
    o[r],
  ]);
  const affine = [
    lps[0].map((v) => -v),
    lps[1].map((v) => -v),
    lps[2],
    [0, 0, 0, 1],
  ];
  return {
    dims: [nx, ny, nz],
    data,
    affine,
    spacing: [ps[1], ps[0], gap],
    files: slices.map((s) => s.file),
    modality: first.getModality(),
  };
}
