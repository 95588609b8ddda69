/**
 * Reading user files safely: regular files only (a FIFO would block a
 * read forever, a directory or device gives an OS error with no context),
 * with a size limit checked from the file's metadata before any byte is
 * read, and every failure a {@link UserError} that names the file and
 * says what was expected.
 *
 * @module
 */
import { UserError } from "./errors.ts";

/** Largest input file read into memory (4 GiB); larger is refused. */
export const MAX_INPUT_BYTES = 4 * 1024 ** 3;

function kind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/**
 * Throws a {@link UserError} unless `path` is an existing regular file (a
 * symlink to one counts); returns its size in bytes. `what` says what the
 * file is for, e.g. "manifest" or "NIfTI scan".
 *
 * @example
 * ```ts
 * const bytes = assertRegularFile("cohort/manifest.csv", "manifest");
 * ```
 */
export function assertRegularFile(path: string, what: string): number {
  if (path === "") {
    throw new UserError(`${what}: empty path; expected a file name`);
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : (e as Error).message.split("\n")[0];
    throw new UserError(`${path}: cannot read ${what} (${why})`);
  }
  if (!info.isFile) {
    throw new UserError(
      `${path}: ${kind(info)}; expected the ${what} as a regular file`,
    );
  }
  if (info.size > MAX_INPUT_BYTES) {
    throw new UserError(
      `${path}: ${what} is ${info.size} bytes; at most ${MAX_INPUT_BYTES} bytes are read`,
    );
  }
  return info.size;
}

/**
 * The bytes of a regular file; FIFOs, devices and directories are
 * refused before opening, so the read can never block.
 *
 * @example
 * ```ts
 * const bytes = readRegularFile("ct.nii.gz", "NIfTI scan");
 * ```
 */
export function readRegularFile(path: string, what: string): Uint8Array {
  assertRegularFile(path, what);
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    throw new UserError(
      `${path}: cannot read ${what} (${(e as Error).message.split("\n")[0]})`,
    );
  }
}

/**
 * The text of a regular file (UTF-8, a leading byte-order mark dropped).
 *
 * @example
 * ```ts
 * const text = readRegularText("cohort.yaml", "cohort config");
 * ```
 */
export function readRegularText(path: string, what: string): string {
  const text = new TextDecoder().decode(readRegularFile(path, what));
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
