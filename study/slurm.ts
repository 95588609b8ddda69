/**
 * `task sim --slurm`: a study as a SLURM array job (one shard per array
 * task, each writing `<out>/shard-I-of-N/results.jsonl`) plus a merge job
 * that runs `task report` on every shard once all of them succeeded
 * (`--dependency=afterok`). The scripts are written under `<out>/slurm/`;
 * `--submit` submits them with `sbatch`, otherwise the commands are printed.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { UserError } from "../core/errors.ts";
import { writeAtomic } from "../core/results.ts";
import { shardDirName } from "./plan.ts";

/** The `sim` invocation every array task repeats (minus output and shard). */
export interface SimInvocation {
  /** Base seed. */
  seed: number;
  /** Backend choice. */
  backend: string;
  /** No progress output. */
  quiet: boolean;
  /** `--quick`. */
  quick: boolean;
  /** `--full`. */
  full: boolean;
  /** `--preset`. */
  preset?: string;
  /** `--config` (made absolute: jobs may start elsewhere). */
  config?: string;
  /** `--level`. */
  level?: string;
  /** `--methods`. */
  methods?: string[];
  /** `--allow-undefined-auc`. */
  allowUndefinedAuc?: boolean;
  /**
   * `--workers`; when absent each task uses the CPUs SLURM gave it
   * (`$SLURM_CPUS_PER_TASK`, else 1), not every core of the node.
   */
  workers?: number;
}

/** What {@link slurmScripts} needs. */
export interface SlurmSpec {
  /** The study's output folder (absolute; on a filesystem every node sees). */
  outDir: string;
  /** Number of array tasks (= shards). */
  shards: number;
  /** The sim options to repeat in every task. */
  sim: SimInvocation;
  /** Extra sbatch arguments for both jobs (already split). */
  sbatchArgs: string[];
  /** Deno executable the jobs run (overridable at run time by $MMJEPA_DENO). */
  deno: string;
  /** Absolute path of main.ts. */
  mainTs: string;
  /** Folder the jobs `cd` into (the project root: deno.json lives there). */
  workDir: string;
}

/** The generated files' contents. */
export interface SlurmScripts {
  /** The array job: one shard per task. */
  array: string;
  /** The merge job: `task report` over every shard's results. */
  merge: string;
  /** A bash script that submits both, the merge depending on the array. */
  submit: string;
}

/**
 * Quotes a word for bash (single quotes; safe for any content).
 *
 * @example
 * ```ts
 * shellQuote("it's"); // "'it'\\''s'"
 * ```
 */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)
    ? word
    : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Splits an argument string the way a POSIX shell would for plain words,
 * single and double quotes and backslashes (no expansions), so
 * `--sbatch-args "--time=1:00:00 --comment 'a b'"` gives three words.
 *
 * @example
 * ```ts
 * splitArgs(`--time=1:00:00 --comment 'a b'`); // ["--time=1:00:00", "--comment", "a b"]
 * ```
 */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  let cur = "", inWord = false, quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && /["\\$`]/.test(text[i + 1])) {
        cur += text[++i];
      } else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) {
    throw new UserError(
      `--sbatch-args: unterminated ${quote} quote in "${text}"`,
    );
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * The `main.ts` arguments of one array task, without the shard (the script
 * appends `--shard "$I/N"` from `$SLURM_ARRAY_TASK_ID`).
 *
 * @example
 * ```ts
 * simArgv({ seed: 42, backend: "auto", quiet: true, quick: true, full: false }, "/data/s");
 * ```
 */
export function simArgv(sim: SimInvocation, outDir: string): string[] {
  const a = ["--seed", String(sim.seed), "--backend", sim.backend];
  if (sim.quiet) a.push("--quiet");
  a.push("--out", outDir, "sim");
  if (sim.quick) a.push("--quick");
  if (sim.full) a.push("--full");
  if (sim.preset) a.push("--preset", sim.preset);
  if (sim.config) a.push("--config", resolve(sim.config));
  if (sim.level) a.push("--level", sim.level);
  if (sim.methods) a.push("--methods", sim.methods.join(","));
  if (sim.allowUndefinedAuc) a.push("--allow-undefined-auc");
  if (sim.workers !== undefined) a.push("--workers", String(sim.workers));
  return a;
}

/** The results file shard `index` (1-based) of `count` writes. */
function shardResults(outDir: string, index: number, count: number): string {
  return join(outDir, shardDirName({ index, count }), "results.jsonl");
}

/**
 * The array, merge and submit scripts of a study.
 *
 * @example
 * ```ts
 * const s = slurmScripts({ outDir: "/shared/s", shards: 4, sim, sbatchArgs: [],
 *   deno: Deno.execPath(), mainTs: "/repo/main.ts", workDir: "/repo" });
 * ```
 */
export function slurmScripts(spec: SlurmSpec): SlurmScripts {
  if (!isAbsolute(spec.outDir)) {
    throw new Error(`slurmScripts: outDir must be absolute: ${spec.outDir}`);
  }
  const n = spec.shards;
  const logDir = join(spec.outDir, "slurm");
  const q = shellQuote;
  const header = [
    "#!/bin/bash",
    "# Generated by `mmjepa sim --slurm`; submit with submit.sh beside it.",
  ];
  const prologue = [
    "set -euo pipefail",
    `cd ${q(spec.workDir)}`,
    `DENO="\${MMJEPA_DENO:-${spec.deno.replaceAll('"', '\\"')}}"`,
  ];
  const workers = spec.sim.workers === undefined
    ? ` --workers "\${SLURM_CPUS_PER_TASK:-1}"`
    : "";
  const array = [
    ...header,
    "#SBATCH --job-name=mmjepa-sim",
    `#SBATCH --array=0-${n - 1}`,
    `#SBATCH --output=${join(logDir, "shard-%a.log")}`,
    "# --resume: a resubmitted task skips the jobs its shard already saved.",
    `# Task k runs shard k+1 of ${n} into ${
      join(spec.outDir, shardDirName({ index: 1, count: n }))
    }/ (k = 0), and so on.`,
    ...prologue,
    `I=$((SLURM_ARRAY_TASK_ID + 1))`,
    // --expose-gc as `deno task sim`: workers free one job's data before
    // the next (study/memory.ts).
    `exec "$DENO" run -A --v8-flags=--expose-gc ${q(spec.mainTs)} ${
      simArgv(spec.sim, spec.outDir).map(q).join(" ")
    }${workers} --shard "$I/${n}" --resume`,
    "",
  ].join("\n");
  const files = Array.from(
    { length: n },
    (_, k) => q(shardResults(spec.outDir, k + 1, n)),
  );
  const merge = [
    ...header,
    "#SBATCH --job-name=mmjepa-merge",
    `#SBATCH --output=${join(logDir, "merge.log")}`,
    `# Runs after every array task succeeded; writes ${
      join(spec.outDir, "report.md")
    }`,
    "# (--force replaces the report of an earlier merge; results are never touched).",
    ...prologue,
    `exec "$DENO" run -A ${q(spec.mainTs)} --out ${
      q(spec.outDir)
    } report --force ${files.join(" ")}`,
    "",
  ].join("\n");
  const extra = spec.sbatchArgs.map((a) => " " + q(a)).join("");
  const submit = [
    "#!/bin/bash",
    "# Submits the study: the array job, then the merge job after it.",
    "set -euo pipefail",
    `A=$(sbatch --parsable${extra} ${q(join(logDir, "shards.sbatch"))})`,
    'A="${A%%;*}"',
    `M=$(sbatch --parsable --dependency=afterok:"$A" --kill-on-invalid-dep=yes${extra} ${
      q(join(logDir, "merge.sbatch"))
    })`,
    'M="${M%%;*}"',
    `echo "submitted array job $A (${n} shards) and merge job $M; report: ${
      join(spec.outDir, "report.md")
    }"`,
    "",
  ].join("\n");
  return { array, merge, submit };
}

/** Where {@link writeSlurm} put the scripts. */
export interface SlurmFiles {
  /** `<out>/slurm/shards.sbatch`. */
  array: string;
  /** `<out>/slurm/merge.sbatch`. */
  merge: string;
  /** `<out>/slurm/submit.sh`. */
  submit: string;
}

/**
 * Writes the scripts of {@link slurmScripts} under `<out>/slurm/`.
 *
 * @example
 * ```ts
 * const files = writeSlurm(spec);
 * console.log(`bash ${files.submit}`);
 * ```
 */
export function writeSlurm(spec: SlurmSpec): SlurmFiles {
  const dir = join(spec.outDir, "slurm");
  mkdirSync(dir, { recursive: true });
  const s = slurmScripts(spec);
  const files = {
    array: join(dir, "shards.sbatch"),
    merge: join(dir, "merge.sbatch"),
    submit: join(dir, "submit.sh"),
  };
  writeAtomic(files.array, s.array);
  writeAtomic(files.merge, s.merge);
  writeAtomic(files.submit, s.submit);
  Deno.chmodSync(files.submit, 0o755);
  return files;
}

async function sbatch(args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("sbatch", {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(
        "--submit: sbatch is not on PATH; run on a SLURM login node, or drop --submit and submit the printed commands there",
      );
    }
    throw e;
  }
  const text = new TextDecoder();
  if (!out.success) {
    throw new UserError(
      `sbatch ${args.join(" ")} failed (exit ${out.code}): ${
        text.decode(out.stderr).trim()
      }`,
    );
  }
  // --parsable prints "jobid" or "jobid;cluster".
  return text.decode(out.stdout).trim().split(";")[0];
}

/**
 * Submits the array job, then the merge job with `afterok` on it; returns
 * both job ids.
 *
 * @example
 * ```ts
 * const { arrayId, mergeId } = await submitSlurm(writeSlurm(spec), []);
 * ```
 */
export async function submitSlurm(
  files: SlurmFiles,
  sbatchArgs: string[],
): Promise<{ arrayId: string; mergeId: string }> {
  const arrayId = await sbatch(["--parsable", ...sbatchArgs, files.array]);
  const mergeId = await sbatch([
    "--parsable",
    `--dependency=afterok:${arrayId}`,
    "--kill-on-invalid-dep=yes",
    ...sbatchArgs,
    files.merge,
  ]);
  return { arrayId, mergeId };
}
