/**
 * Output folders that protect a user's results. A folder that already
 * holds an earlier run's results.jsonl or report.md is refused unless the
 * user says what to do with it: `--resume` keeps the rows and skips the
 * runs already there, `--force` deletes the earlier run's outputs first.
 * An interrupted run (Ctrl-C, SIGTERM, a failed job) says how many runs
 * results.jsonl holds and prints the command that resumes.
 *
 * @module
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import { UserError } from "./errors.ts";
import { readResults } from "./results.ts";

/** What a run writes into its folder; `--force` deletes these first. */
export const RUN_OUTPUTS = [
  "results.jsonl",
  "report.md",
  "report.html",
  "predictions.csv",
  "embeddings.csv",
  "skipped.csv",
  "figures",
  "models",
] as const;

/** How to treat an output folder that holds an earlier run. */
export interface ClaimOptions {
  /** Keep the earlier rows and skip their runs. */
  resume: boolean;
  /** Delete the earlier run's outputs. */
  force: boolean;
  /** The subcommand, for messages ("sim", "train", "report"). */
  command: string;
}

/** What {@link claimOutDir} found. */
export interface ClaimedOut {
  /** `<dir>/results.jsonl`. */
  resultsPath: string;
  /** runIds already in results.jsonl (empty unless resuming). */
  doneIds: Set<string>;
}

function nonEmptyFile(path: string): boolean {
  try {
    const s = statSync(path);
    return !s.isFile() || s.size > 0;
  } catch {
    return false;
  }
}

/**
 * Checks (and with `--force` clears) `dir` before a run writes into it;
 * throws a {@link UserError} saying what to pass when it holds an earlier
 * run. Writes nothing otherwise.
 *
 * @example
 * ```ts
 * const { doneIds } = claimOutDir("out/q", { resume: true, force: false, command: "sim" });
 * ```
 */
export function claimOutDir(dir: string, opts: ClaimOptions): ClaimedOut {
  if (opts.resume && opts.force) {
    throw new UserError(
      "--resume and --force cannot be combined: --resume keeps the earlier results, --force deletes them",
    );
  }
  const resultsPath = join(dir, "results.jsonl");
  const doneIds = new Set<string>();
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new UserError(`--out ${dir}: a file; expected a folder`);
  }
  const hasReport = existsSync(join(dir, "report.md"));
  if (opts.command === "report") {
    // A report never touches results files, even with --force: the user
    // may render into the folder the results came from.
    if (!hasReport) return { resultsPath, doneIds };
    if (opts.force) {
      for (const name of ["report.md", "report.html", "figures"]) {
        rmSync(join(dir, name), { recursive: true, force: true });
      }
      return { resultsPath, doneIds };
    }
    throw new UserError(
      `--out ${dir} already holds report.md from an earlier report; pass --force to overwrite it, or choose another folder`,
    );
  }
  const hasResults = nonEmptyFile(resultsPath);
  if (!hasResults && !hasReport) return { resultsPath, doneIds };
  if (opts.force) {
    for (const name of RUN_OUTPUTS) {
      rmSync(join(dir, name), { recursive: true, force: true });
    }
    for (const f of readdirSync(dir)) {
      if (/^ehr_projection.*\.json$/.test(f)) rmSync(join(dir, f));
    }
    return { resultsPath, doneIds };
  }
  if (opts.resume) {
    if (hasResults) {
      for (const r of readResults([resultsPath]).rows) doneIds.add(r.runId);
    }
    return { resultsPath, doneIds };
  }
  const what = hasResults
    ? `results.jsonl (${
      readResults([resultsPath]).rows.length
    } run(s)) from an earlier run`
    : "report.md from an earlier report";
  throw new UserError(
    `--out ${dir} already holds ${what}; pass --resume to keep those runs and run only the missing ones, --force to delete them and start over, or choose another folder`,
  );
}

/** Arguments with any `--resume`/`--force` removed and `--resume` added. */
function resumeCommand(argv: string[], out: string): string {
  const args = argv.filter((a) => a !== "--resume" && a !== "--force");
  const hasOut = args.some((a) =>
    a === "-o" || a === "--out" || a.startsWith("--out=") || /^-o./.test(a)
  );
  const quoted = (a: string) => /^[\w./=:,+-]+$/.test(a) ? a : `'${a}'`;
  return [
    "npx -y deno@2.9.6 task",
    ...args.map(quoted),
    ...(hasOut ? [] : ["--out", quoted(out)]),
    "--resume",
  ].join(" ");
}

/**
 * The lines an interrupted or failed run prints: how many runs are saved
 * in results.jsonl and the command that continues from there. `argv` is
 * the command line after `deno task`.
 *
 * @example
 * ```ts
 * for (const l of interruptedLines(["sim", "--quick"], "out/q", 3, 10)) console.error(l);
 * ```
 */
export function interruptedLines(
  argv: string[],
  out: string,
  saved: number,
  total: number,
): string[] {
  return [
    `${saved} of ${total} run(s) are saved in ${
      join(out, "results.jsonl")
    }; no report was written.`,
    `resume with: ${resumeCommand(argv, out)}`,
  ];
}

/**
 * Runs `work` with SIGINT/SIGTERM turned into a message (what was saved,
 * how to resume) and exit code 130; a UserError or other failure thrown by
 * `work` gets the same lines printed before it propagates. `progress`
 * reports saved/total runs at the time.
 *
 * @example
 * ```ts
 * await withInterruptNotice(["sim"], "out/q", () => [n, total], () => run());
 * ```
 */
export async function withInterruptNotice<T>(
  argv: string[],
  out: string,
  progress: () => [number, number],
  work: () => Promise<T>,
): Promise<T> {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  const handler = () => {
    const [saved, total] = progress();
    console.error("\ninterrupted.");
    for (const l of interruptedLines(argv, out, saved, total)) {
      console.error(l);
    }
    // Appends are atomic (temp + rename), so exiting here cannot leave a
    // partial line; the running jobs' work is dropped.
    Deno.exit(130);
  };
  for (const s of signals) Deno.addSignalListener(s, handler);
  try {
    return await work();
  } catch (e) {
    const [saved, total] = progress();
    if (saved > 0) {
      for (const l of interruptedLines(argv, out, saved, total)) {
        console.error(l);
      }
    }
    throw e;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, handler);
  }
}

/**
 * Runs `write` on a fresh staging folder inside `outDir`, then moves what
 * it wrote into `outDir` (replacing same-named entries), so a failure
 * part-way (a figure that cannot render, a full disk) leaves no half
 * report beside the user's results. The staging folder is removed either
 * way.
 *
 * @example
 * ```ts
 * await writeStaged("out/run", (tmp) => writeReport(rows, tmp));
 * ```
 */
export async function writeStaged<T>(
  outDir: string,
  write: (tmp: string) => Promise<T>,
): Promise<T> {
  const tmp = join(outDir, `.staging-${Deno.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const result = await write(tmp);
    for (const name of readdirSync(tmp)) {
      const dst = join(outDir, name);
      rmSync(dst, { recursive: true, force: true });
      renameSync(join(tmp, name), dst);
    }
    return result;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
