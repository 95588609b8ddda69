/**
 * On-disk cache of preprocessed ROIs, keyed by the bytes of the input
 * (file, or every file of a DICOM folder) and by every setting that
 * changes the ROI, so a second run reads float32 arrays instead of
 * decoding scans, and any change to data or settings misses.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { readRegularFile } from "../core/files.ts";
import { writeAtomic } from "../core/results.ts";

// Bump when the ROI computation changes, so old entries are not reused.
const CACHE_VERSION = 1;

/**
 * Hex key of an input path's content plus `settings` (any JSON value).
 *
 * @example
 * ```ts
 * const key = cacheKey("images/a.nii.gz", { roiSize: 32, centre: [0, 0, 0] });
 * ```
 */
export function cacheKey(path: string, settings: unknown): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ v: CACHE_VERSION, settings }));
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new UserError(`${path}: cannot read scan (${(e as Error).message})`);
  }
  if (isDir) {
    for (
      const f of readdirSync(path).filter((f) => !f.startsWith(".")).sort()
    ) {
      h.update(`\u0000${f}\u0000`);
      // Regular files only: a FIFO here would block the read forever.
      h.update(readRegularFile(join(path, f), "DICOM file"));
    }
  } else {
    h.update(readRegularFile(path, "scan"));
  }
  return h.digest("hex");
}

/**
 * The cached ROI for `key`, or null when absent or of the wrong length.
 *
 * @example
 * ```ts
 * const roi = readCachedRoi(".cache", key, 32 ** 3);
 * ```
 */
export function readCachedRoi(
  dir: string,
  key: string,
  length: number,
): Float32Array | null {
  const path = join(dir, "rois", `${key}.f32`);
  if (!existsSync(path) || !statSync(path).isFile()) return null;
  const bytes = Deno.readFileSync(path);
  if (bytes.byteLength !== 4 * length) return null;
  return new Float32Array(bytes.buffer, bytes.byteOffset, length).slice();
}

/**
 * Creates `<dir>/rois` or throws a {@link UserError} naming the config key
 * `cacheDir` (it may point at a file, or an unwritable place).
 *
 * @example
 * ```ts
 * ensureCacheDir(".cache");
 * ```
 */
export function ensureCacheDir(dir: string): void {
  try {
    mkdirSync(join(dir, "rois"), { recursive: true });
  } catch (e) {
    throw new UserError(
      `cacheDir "${dir}": cannot create ${join(dir, "rois")} (${
        (e as Error).message.split("\n")[0]
      }); expected a writable folder (or a path where one can be made)`,
    );
  }
}

/**
 * Stores an ROI under `key` (atomically: a crash leaves no partial entry).
 *
 * @example
 * ```ts
 * writeCachedRoi(".cache", key, roi);
 * ```
 */
export function writeCachedRoi(
  dir: string,
  key: string,
  roi: Float32Array,
): void {
  ensureCacheDir(dir);
  writeAtomic(
    join(dir, "rois", `${key}.f32`),
    new Uint8Array(roi.buffer, roi.byteOffset, roi.byteLength),
  );
}
