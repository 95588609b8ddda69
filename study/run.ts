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
import { Progress } from "../core/progress.ts";
import { appendResults, type ResultRow } from "../core/results.ts";
import { METHOD_SPECS, parseMethod } from "../models/methods.ts";
import { writeReport } from "../reports/mod.ts";
import type { StudyConfig } from "./config.ts";
import { planStudy, type Shard, shardJobs } from "./plan.ts";
import { runJobs } from "./pool.ts";

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
  mkdirSync(opts.outDir, { recursive: true });
  const resultsPath = join(opts.outDir, "results.jsonl");
  const planned = planStudy(study, opts.seed);
  const jobs = opts.shard
    ? shardJobs(planned, opts.shard, (j) => jobUnits(j.method, j))
    : planned;
  const jobAt = new Map(jobs.map((j) => [j.index, j]));
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
  const backend = await runJobs(jobs, opts.workers, opts.backend, {
    onPhase: (i, phase) =>
      progress.tick(
        1,
        `${jobAt.get(i)!.method} ${phase} (seed ${jobAt.get(i)!.seed})`,
      ),
    onRows: (r) => {
      rows.push(...r);
      appendResults(resultsPath, r);
    },
  });
  progress.done();
  if (!opts.quiet) {
    console.error(`backend: ${backend.name} (${backend.detail})`);
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const { reportPath } = await writeReport(rows, opts.outDir, {
    referenceMethod: study.referenceMethod,
    title: study.title,
    bootstrapResamples: study.bootstrapResamples,
    seed: opts.seed,
    provenanceNotes: [
      `Study wall time: ${
        wallSeconds.toFixed(1)
      } s with ${opts.workers} worker(s) on ${backend.name} (measured by this run, including data generation and training)`,
    ],
  });
  for (const line of headline(rows, study.referenceMethod)) print(line);
  print(
    `study wall time: ${
      wallSeconds.toFixed(1)
    } s on ${opts.workers} worker(s), backend ${backend.name}`,
  );
  print(`results: ${resultsPath}`);
  print(`report:  ${reportPath}`);
  return { resultsPath, reportPath, rows, backend, wallSeconds };
}

// Progress units of a job (one per pretraining and per finetune); also the
// cost a shard split balances.
function jobUnits(method: string, job: { variants: unknown[] }): number {
  return job.variants.length + (isPretrained(method) ? 1 : 0);
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
