/**
 * What every results row records about where it came from.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** mmjepa's own version (kept equal to deno.json's "version"). */
export const MMJEPA_VERSION = "0.1.0";

/**
 * Versions of mmjepa, Deno, V8, TypeScript and TensorFlow.js.
 *
 * @example
 * ```ts
 * versions(); // { mmjepa: "0.1.0", deno: "2.9.6", tfjs: "4.22.0", ... }
 * ```
 */
export function versions(): Record<string, string> {
  return {
    mmjepa: MMJEPA_VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    tfjs: tf.version.tfjs,
    os: `${Deno.build.os}-${Deno.build.arch}`,
  };
}

let cachedCommit: string | null | undefined;

/**
 * The git commit of the working tree ("<sha>" or "<sha>-dirty"), or null
 * when git or the repository is unavailable.
 *
 * @example
 * ```ts
 * const commit = gitCommit();
 * ```
 */
export function gitCommit(): string | null {
  if (cachedCommit !== undefined) return cachedCommit;
  cachedCommit = null;
  try {
    const dir = new URL(".", import.meta.url).pathname;
    const run = (args: string[]) =>
      new Deno.Command("git", {
        args,
        cwd: dir,
        stdout: "piped",
        stderr: "null",
      })
        .outputSync();
    const head = run(["rev-parse", "HEAD"]);
    if (head.success) {
      const sha = new TextDecoder().decode(head.stdout).trim();
      const st = run(["status", "--porcelain", "--untracked-files=no"]);
      const dirty = st.success &&
        new TextDecoder().decode(st.stdout).trim() !== "";
      cachedCommit = dirty ? `${sha}-dirty` : sha;
    }
  } catch {
    // git missing: provenance says null rather than failing the run.
  }
  return cachedCommit;
}
