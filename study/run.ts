/**
 * `deno task sim`: plan a study, run it across workers with progress, write
 * results.jsonl as jobs finish (in job order), render the report, and print
 * where it is with the headline numbers.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BackendChoice, BackendInfo } from "../core/backend.ts";
import { UserError } from "../core/errors.ts";
import { Progress } from "../core/progress.ts";
import { withInterruptNotice, writeStaged } from "../core/outdir.ts";
import { appendResults, readResults, type ResultRow } from "../core/results.ts";
import {
  type Method,
  METHOD_SPECS,
  type MethodSpec,
  parseMethod,
} from "../models/methods.ts";
import { resolveExperimentConfig } from "../models/mod.ts";
import { resolveScenario, type Scenario } from "../sim/mod.ts";
import { writeReport } from "../reports/mod.ts";
import { FULL_ONLY_SWEEPS, type StudyConfig } from "./config.ts";
import { planStudy, type Shard, shardJobs } from "./plan.ts";
import { type Job, jobRunIds } from "./job.ts";
import { runJobs } from "./pool.ts";
import { peakRssMiB, threadPeaks } from "./memory.ts";

/** Options of {@link runStudy}. */
export interface RunStudyOptions {
  /** Base seed. */
  seed: number;
  /** Requested backend. */
  backend: BackendChoice;
  /** Output folder. */
  outDir: string;
  /** Parallel workers (1 = this thread). */
  workers: number;
  /** No progress output. */
  quiet: boolean;
  /** Sink for the closing lines (default: stdout). */
  print?: (line: string) => void;
  /** Run only this shard of the plan (see {@link shardJobs}). */
  shard?: Shard;
  /**
   * runIds already in `outDir/results.jsonl` (`--resume`): jobs whose
   * rows are all there are skipped, and the report covers every row.
   */
  doneIds?: Set<string>;
  /** The command line, for the resume hint after an interruption. */
  argv?: string[];
  /** Run even when a cohort is too small for an AUC. */
  allowUndefinedAuc?: boolean;
  /**
   * Called once validation passed and before anything is written; returns
   * the runIds to skip (the CLI claims `--out` here, so `--force` deletes
   * nothing when the input is bad). Overrides `doneIds`.
   */
  claim?: () => Set<string>;
}

/** What a finished study produced. */
export interface StudyOutcome {
  /** The results file. */
  resultsPath: string;
  /** The report. */
  reportPath: string;
  /** Every row written. */
  rows: ResultRow[];
  /** Backend the jobs ran on. */
  backend: BackendInfo;
  /** Wall time of the whole study in seconds. */
  wallSeconds: number;
}

/**
 * Runs a whole study and writes its results and report under `outDir`.
 *
 * @example
 * ```ts
 * await runStudy(defaultStudy("quick"), {
 *   seed: 42, backend: "auto", outDir: "out/q", workers: 2, quiet: false,
 * });
 * ```
 */
export async function runStudy(
  study: StudyConfig,
  opts: RunStudyOptions,
): Promise<StudyOutcome> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const resultsPath = join(opts.outDir, "results.jsonl");
  const planned = planStudy(study, opts.seed);
  // Validation phase: everything a worker would resolve is resolved here
  // first, so a bad value fails before any output exists.
  validateJobs(planned, study.title, opts.allowUndefinedAuc);
  // This shard's part of the plan; jobs keep their plan index (results
  // rows record it, and the report orders rows by it).
  const mine = opts.shard
    ? shardJobs(planned, opts.shard, (j) => jobUnits(j.method, j))
    : planned;
  const done = opts.claim?.() ?? opts.doneIds ?? new Set<string>();
  const jobs = mine.filter((j) => !jobRunIds(j).every((id) => done.has(id)));
  const jobAt = new Map(jobs.map((j) => [j.index, j]));
  if (mine.length > jobs.length) {
    console.error(
      `resume: ${
        mine.length - jobs.length
      } of ${mine.length} job(s) already in ${resultsPath}; running the other ${jobs.length}`,
    );
  }
  mkdirSync(opts.outDir, { recursive: true });
  const units = jobs.reduce((n, j) => n + jobUnits(j.method, j), 0);
  if (!opts.quiet) {
    console.error(
      `study: ${jobs.length} jobs${
        opts.shard
          ? ` (shard ${opts.shard.index}/${opts.shard.count} of ${planned.length})`
          : ""
      } (${study.methods.length} methods x ${study.seeds} seeds, ${study.sweeps.length} sweeps) on ${opts.workers} worker(s); writing ${resultsPath}`,
    );
  }
  const progress = new Progress("study", units, { quiet: opts.quiet });
  const rows: ResultRow[] = [];
  // This run's rows only (a resume adds earlier ones below), for memory.
  const ran: ResultRow[] = [];
  let saved = mine.length - jobs.length;
  const backend = await withInterruptNotice(
    opts.argv ?? ["sim"],
    opts.outDir,
    () => [saved, mine.length],
    () =>
      runJobs(jobs, opts.workers, opts.backend, {
        onPhase: (i, phase) =>
          progress.tick(
            1,
            `${jobAt.get(i)!.method} ${phase} (seed ${jobAt.get(i)!.seed})`,
          ),
        onRows: (r) => {
          rows.push(...r);
          ran.push(...r);
          appendResults(resultsPath, r);
          saved++;
        },
      }),
  );
  progress.done();
  if (done.size > 0) {
    // Resumed: the report covers the earlier rows too (each runId once).
    rows.splice(0, rows.length, ...readResults([resultsPath]).rows);
  }
  if (!opts.quiet) {
    console.error(`backend: ${backend.name} (${backend.detail})`);
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const memory = memoryLines(ran, opts.workers);
  const reportPath = join(opts.outDir, "report.md");
  await writeStaged(opts.outDir, (tmp) =>
    writeReport(rows, tmp, {
      referenceMethod: study.referenceMethod,
      title: study.title,
      bootstrapResamples: study.bootstrapResamples,
      seed: opts.seed,
      notes: leftOut(study),
      provenanceNotes: [
        `Study wall time: ${
          wallSeconds.toFixed(1)
        } s with ${opts.workers} worker(s) on ${backend.name} (measured by this run, including data generation and training)`,
        ...memory,
      ],
    }));
  for (const line of headline(rows, study.referenceMethod)) print(line);
  print(
    `study wall time: ${
      wallSeconds.toFixed(1)
    } s on ${opts.workers} worker(s), backend ${backend.name}`,
  );
  for (const n of memory) print(n);
  print(`results: ${resultsPath}`);
  print(`report:  ${reportPath}`);
  return { resultsPath, reportPath, rows, backend, wallSeconds };
}

// Two figures, because workers are threads of this process: each
// isolate's own peak (V8 heap + ArrayBuffers + tfjs wasm memory, sampled at
// every loss readback; what one worker needs), and the process's
// high-water mark (Linux VmHWM; what a cluster job must request). The
// latter is left out where /proc lacks it.
function memoryLines(rows: ResultRow[], workers: number): string[] {
  const peaks = threadPeaks(rows);
  const lines = peaks.length > 0
    ? [
      `Peak memory per ${
        workers > 1 ? "worker" : "thread"
      } (its isolate's V8 heap + ArrayBuffers + tfjs wasm memory, sampled at each loss readback): ${
        peaks.map(([t, mib]) => `${t} ${mib.toFixed(0)} MiB`).join(", ")
      }`,
    ]
    : [];
  const rss = peakRssMiB();
  if (rss !== null) {
    lines.push(
      `Peak resident memory: ${
        rss.toFixed(0)
      } MiB for the whole process (${workers} worker thread(s) and the main thread; Linux VmHWM)`,
    );
  }
  return lines;
}

// Progress units of a job (one per pretraining and per finetune); also the
// cost a shard split balances.
function jobUnits(method: string, job: { variants: unknown[] }): number {
  return job.variants.length + (isPretrained(method) ? 1 : 0);
}

/**
 * Resolves every job's scenario and experiment config as a worker would,
 * so a bad key or out-of-range value is a {@link UserError} before any
 * job starts or any file is written.
 *
 * @example
 * ```ts
 * validateJobs(planStudy(defaultStudy("quick"), 42), "quick study");
 * ```
 */
export function validateJobs(
  jobs: Job[],
  source: string,
  allowUndefinedAuc = false,
): void {
  for (const j of jobs) {
    const where = `${source}: ${j.method} seed ${j.seed}${
      j.variants[0]?.rows[0]?.sweep
        ? ` (sweep ${j.variants[0].rows[0].sweep.knob}=${
          j.variants[0].rows[0].sweep.value
        })`
        : ""
    }`;
    for (const v of j.variants) {
      if (!(v.labelFraction > 0 && v.labelFraction <= 1)) {
        throw new UserError(
          `${where}: label fraction ${v.labelFraction}; expected a number in (0, 1]`,
        );
      }
    }
    if (!j.cohortConfig) {
      const sc = resolveScenario(j.scenario, where);
      if (!allowUndefinedAuc) checkCohortSizes(sc, j, where);
      const spec = METHOD_SPECS[j.method as Method] as MethodSpec | undefined;
      if (spec?.volumeOnly && sc.imaging.level !== "volume") {
        throw new UserError(
          `${where}: ${j.method} measures nodules in volumes, but the scenario's imaging.level is ${sc.imaging.level}; run it on volumes (--level volume, or --preset paper-volume) or drop it from --methods`,
        );
      }
    }
    resolveExperimentConfig(j.experiment, `${where} experiment`);
  }
}

// Expected patients of the rarer class below which an AUC is noise or
// undefined (one class only): test and external cohorts need 5, the
// smallest labeled train subset 2.
const MIN_EVAL_PER_CLASS = 5;
const MIN_TRAIN_PER_CLASS = 2;

function checkCohortSizes(sc: Scenario, j: Job, where: string): void {
  const rare = (p: number) => Math.min(p, 1 - p);
  const p = sc.label.prevalence;
  const fraction = Math.min(...j.variants.map((v) => v.labelFraction));
  const checks: [string, number, number, number][] = [
    ["internal.test", sc.internal.test, rare(p), MIN_EVAL_PER_CLASS],
    [
      fraction < 1
        ? `internal.train x label fraction ${fraction}`
        : "internal.train",
      sc.internal.train * fraction,
      rare(p),
      MIN_TRAIN_PER_CLASS,
    ],
    ...sc.externals.map((e, i): [string, number, number, number] => [
      `externals.${i}.size (${e.name})`,
      e.size,
      rare(e.shift.prevalence ?? p),
      MIN_EVAL_PER_CLASS,
    ]),
  ];
  for (const [what, n, q, min] of checks) {
    if (n * q < min) {
      throw new UserError(
        `${where}: ${what} = ${n} patients at prevalence ${+q.toFixed(
          3,
        )} (rarer class) expects ${+(n * q).toFixed(
          1,
        )} of the rarer class; at least ${min} are needed for a meaningful AUC (raise the size, or pass --allow-undefined-auc to run anyway)`,
      );
    }
  }
}

// Sweeps the built-in default study leaves to --full; the report says so.
function leftOut(study: StudyConfig): string[] {
  const run = new Set(study.sweeps.map((s) => s.knob));
  const missing = FULL_ONLY_SWEEPS.filter((k) => !run.has(k));
  return missing.length > 0 && study.sweeps.length > 0
    ? [
      `Not run here: the sweeps over ${
        missing.join(" and ")
      }, which retrain every model at every value; \`task sim --full\` runs them (the default study keeps to 5 minutes on 2 cores).`,
    ]
    : [];
}

function isPretrained(method: string): boolean {
  return METHOD_SPECS[parseMethod(method, "study")].objectives.length > 0;
}

/**
 * Mean AUC over seeds per method and cohort of the paper-analog rows, as
 * printable lines.
 *
 * @example
 * ```ts
 * for (const l of headline(rows, "imaging-only")) console.log(l);
 * ```
 */
export function headline(rows: ResultRow[], reference: string): string[] {
  const paper = rows.filter((r) => r.study === "paper");
  if (paper.length === 0) return [];
  const methods = [...new Set(paper.map((r) => r.method))];
  const cohorts = [...new Set(paper.flatMap((r) => Object.keys(r.metrics)))];
  const seeds = new Set(paper.map((r) => r.seed)).size;
  const lines = [
    `paper analog, mean AUC over ${seeds} seed(s) (reference: ${reference}):`,
  ];
  for (const m of methods) {
    const parts = cohorts.map((c) => {
      const v = paper.filter((r) => r.method === m && r.metrics[c])
        .map((r) => r.metrics[c].auc ?? NaN);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return `${c} ${Number.isFinite(mean) ? mean.toFixed(3) : "n/a"}`;
    });
    lines.push(`  ${m.padEnd(18)} ${parts.join("  ")}`);
  }
  return lines;
}
