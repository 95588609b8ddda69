/**
 * Value parsers for command-line options. Each throws commander's
 * InvalidArgumentError with what is accepted, which the CLI prints as one
 * line and exits non-zero.
 *
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type BackendChoice, BACKENDS } from "../core/backend.ts";
import { parseShard, type Shard } from "../study/plan.ts";
import { METHODS } from "../models/methods.ts";

/**
 * Parses a non-negative integer seed.
 *
 * @example
 * ```ts
 * parseSeed("42"); // 42
 * ```
 */
export function parseSeed(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError(
      `expected a non-negative integer, got "${value}"`,
    );
  }
  return Number(value);
}

/**
 * Parses a positive integer (counts such as workers or resamples).
 *
 * @example
 * ```ts
 * parsePositiveInt("2"); // 2
 * ```
 */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(
      `expected a positive integer, got "${value}"`,
    );
  }
  return n;
}

/**
 * Parses a backend name.
 *
 * @example
 * ```ts
 * parseBackend("wasm"); // "wasm"
 * ```
 */
export function parseBackend(value: string): BackendChoice {
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      `expected one of ${BACKENDS.join(", ")}, got "${value}"`,
    );
  }
  return value as BackendChoice;
}

/**
 * Proves the output folder can be made and written, without creating it
 * (a run that then fails validation leaves nothing behind): an existing
 * folder gets a probe file; for a missing one, the nearest existing
 * ancestor must be a writable folder. Returns the path; throws
 * InvalidArgumentError with the reason otherwise. An empty path is
 * refused (it would write into the current folder).
 *
 * @example
 * ```ts
 * ensureWritableDir("out/sim-test");
 * ```
 */
export function ensureWritableDir(dir: string): string {
  if (dir.trim() === "") {
    throw new InvalidArgumentError(
      `empty folder name; expected a path such as out/run1`,
    );
  }
  let probeDir = resolve(dir);
  try {
    while (!existsSync(probeDir)) {
      const up = dirname(probeDir);
      if (up === probeDir) break;
      probeDir = up;
    }
    if (!statSync(probeDir).isDirectory()) {
      throw new Error(`${probeDir} is a file, not a folder`);
    }
    const probe = join(probeDir, `.mmjepa-write-test-${Deno.pid}`);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (e) {
    throw new InvalidArgumentError(
      `cannot write to "${dir}" (${
        (e as Error).message.split("\n")[0]
      }); choose a writable folder`,
    );
  }
  return dir;
}

/**
 * Parses `--shard I/N` (1 <= I <= N) for commander.
 *
 * @example
 * ```ts
 * parseShardArg("1/2"); // { index: 1, count: 2 }
 * ```
 */
export function parseShardArg(value: string): Shard {
  try {
    return parseShard(value);
  } catch (e) {
    throw new InvalidArgumentError(
      (e as Error).message.replace(/^--shard: /, ""),
    );
  }
}

/**
 * Parses `--methods a,b`: every name must be in the method registry.
 *
 * @example
 * ```ts
 * parseMethods("imaging-only,jepa"); // ["imaging-only", "jepa"]
 * ```
 */
export function parseMethods(value: string): string[] {
  const names = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) {
    throw new InvalidArgumentError(
      `expected a comma-separated list of methods (${METHODS.join(", ")})`,
    );
  }
  for (const n of names) {
    if (!(METHODS as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(
        `unknown method "${n}" (one of: ${METHODS.join(", ")})`,
      );
    }
  }
  return names;
}
