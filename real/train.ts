/**
 * `deno task train --config cohort.yaml`: preprocess the cohort once here
 * (progress with ETA; ROIs land in the cache), list what `--skip-bad`
 * dropped, then pretrain -> finetune -> evaluate every method on the
 * internal test split and each external cohort (per fold with k-fold),
 * and write results.jsonl, predictions.csv (per patient, for users'
 * own statistics) and the report.
 *
 * @module
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { BackendChoice } from "../core/backend.ts";
import { UserError } from "../core/errors.ts";
import { Progress } from "../core/progress.ts";
import {
  appendResults,
  readResults,
  type ResultRow,
  writeAtomic,
} from "../core/results.ts";
import { METHOD_SPECS, parseMethod } from "../models/methods.ts";
import { writeReport } from "../reports/mod.ts";
import { DEFAULT_SCENARIO } from "../sim/mod.ts";
import { defaultStudy } from "../study/config.ts";
import { type Job, jobRunIds } from "../study/job.ts";
import { withInterruptNotice, writeStaged } from "../core/outdir.ts";
import { resolveExperimentConfig } from "../models/mod.ts";
import { runJobs } from "../study/pool.ts";
import { buildCohortSet, projectionPath } from "./build.ts";
import { loadCohortConfig } from "./config.ts";
import { predictionsCsv, skippedCsv, skippedLines } from "./table.ts";

/** Options of {@link runTrainOnConfig}. */
export interface TrainOnConfigOptions {
  /** The cohort YAML. */
  configPath: string;
  /** Run seed (also the split seed unless the YAML sets one). */
  seed: number;
  /** Requested backend. */
  backend: BackendChoice;
  /** Output folder. */
  outDir: string;
  /** Parallel workers (1 = this thread). */
  workers: number;
  /** No progress output. */
  quiet: boolean;
  /** Methods to train (default: the YAML's, else the study's default). */
  methods?: string[];
  /** Drop bad records instead of stopping at the first. */
  skipBad: boolean;
  /** Sink for the closing lines (default: stdout). */
  print?: (line: string) => void;
  /** runIds already in results.jsonl (`--resume`): their jobs are skipped. */
  doneIds?: Set<string>;
  /** The command line, for the resume hint after an interruption. */
  argv?: string[];
  /** Run even when a split cannot give an AUC (`--allow-undefined-auc`). */
  allowUndefinedAuc?: boolean;
  /** Validate only (`--check`): read everything, write nothing. */
  checkOnly?: boolean;
  /**
   * Called once validation passed and before anything is written; returns
   * the runIds to skip (see `claimOutDir`). Overrides `doneIds`.
   */
  claim?: () => Set<string>;
}

function isPretrained(method: string): boolean {
  return METHOD_SPECS[parseMethod(method, "train")].objectives.length > 0;
}

/**
 * Preprocesses, trains and evaluates on a real cohort config; writes
 * `results.jsonl`, `predictions.csv` (one line per run, cohort and
 * patient), `models/<method>-seed<n>[-fold<k>]/` (the finetuned model, see
 * `saved_model.ts`), `report.md`, `skipped.csv` (when records were dropped)
 * and `ehr_projection*.json` (long EHR) under `outDir`.
 *
 * @example
 * ```ts
 * await runTrainOnConfig({
 *   configPath: "cohort.yaml", seed: 1, backend: "cpu", outDir: "out/nlst",
 *   workers: 1, quiet: false, skipBad: true,
 * });
 * ```
 */
export async function runTrainOnConfig(
  opts: TrainOnConfigOptions,
): Promise<void> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const cfg = await loadCohortConfig(opts.configPath);

  let pre: Progress | null = null;
  const folds = cfg.splits.kfold === null
    ? [undefined]
    : Array.from({ length: cfg.splits.kfold }, (_, i) => i);
  const { set, skipped } = await buildCohortSet(cfg, {
    // --check lists every bad record, not only the first.
    skipBad: opts.skipBad || !!opts.checkOnly,
    seed: opts.seed,
    requireAuc: !opts.allowUndefinedAuc,
    ...(folds[0] !== undefined ? { fold: folds[0] } : {}),
    onProgress: (_done, total, what) => {
      pre ??= new Progress("preprocess", total, { quiet: opts.quiet });
      pre.tick(1, what);
    },
  });
  (pre as Progress | null)?.done();
  const methods = opts.methods ?? cfg.methods ??
    defaultStudy("default").methods;
  // The experiment block is otherwise first resolved inside a worker,
  // after skipped.csv and earlier rows were written.
  resolveExperimentConfig(cfg.experiment, `${cfg.source}: experiment`);
  if (opts.checkOnly && !opts.skipBad && skipped.length > 0) {
    for (const l of skippedLines(skipped)) print(`  problem: ${l}`);
    throw new UserError(
      `check: ${skipped.length} bad record(s) in ${cfg.source} (all listed above), first: ${
        skippedLines(skipped)[0]
      }; fix them or rerun with --skip-bad to drop them`,
    );
  }
  if (opts.checkOnly) {
    print(
      `check: ${cfg.source} is valid (${set.internal.patients.length} internal patient(s)${
        set.externals.map((e) => `, ${e.name} ${e.patients.length}`).join("")
      }; ${skipped.length} record(s) would be skipped; methods ${
        methods.join(", ")
      }); nothing written`,
    );
    for (const l of skippedLines(skipped)) print(`  skip: ${l}`);
    return;
  }
  // Only now: a config or data error leaves no half-made output folder,
  // and --force has deleted nothing.
  const done = opts.claim?.() ?? opts.doneIds ?? new Set<string>();
  mkdirSync(opts.outDir, { recursive: true });
  if (skipped.length > 0) {
    const path = join(opts.outDir, "skipped.csv");
    writeAtomic(path, skippedCsv(skipped));
    console.error(`--skip-bad dropped ${skipped.length} record(s) (${path}):`);
    for (const l of skippedLines(skipped)) console.error(`  ${l}`);
  }
  const cohorts: Record<string, string> = { internal: set.internal.name };
  for (const e of set.externals) cohorts[e.name] = e.name;
  if (!opts.quiet) {
    const count = (s: string) =>
      set.internal.patients.filter((p) => p.split === s).length;
    console.error(
      `cohorts: ${set.internal.name} (pretrain ${count("pretrain")}, train ${
        count("train")
      }, val ${count("val")}, test ${count("test")})${
        set.externals.map((e) => `, ${e.name} (${e.patients.length})`).join("")
      }`,
    );
  }

  const name = basename(opts.configPath);
  const jobs: Job[] = [];
  for (const fold of folds) {
    for (const method of methods) {
      jobs.push({
        index: jobs.length,
        scenarioName: name,
        // Required by Job; runJob ignores it when cohortConfig is set.
        scenario: DEFAULT_SCENARIO,
        cohortConfig: {
          path: opts.configPath,
          skipBad: opts.skipBad,
          ...(fold !== undefined ? { fold } : {}),
          modelDir: join(opts.outDir, "models"),
        },
        method,
        seed: opts.seed,
        experiment: cfg.experiment,
        variants: [{
          labelFraction: 1,
          rows: [{
            study: fold === undefined ? "train" : `train/fold-${fold}`,
            cohorts,
          }],
        }],
      });
    }
  }
  const resultsPath = join(opts.outDir, "results.jsonl");
  const planned = jobs.length;
  const todo = jobs.filter((j) => !jobRunIds(j).every((id) => done.has(id)))
    .map((j, k) => ({ ...j, index: k }));
  jobs.splice(0, jobs.length, ...todo);
  if (planned > jobs.length) {
    console.error(
      `resume: ${
        planned - jobs.length
      } of ${planned} job(s) already in ${resultsPath}; running the other ${jobs.length}`,
    );
  }
  const units = jobs.reduce(
    (n, j) => n + 1 + (isPretrained(j.method) ? 1 : 0),
    0,
  );
  const progress = new Progress("train", units, { quiet: opts.quiet });
  const rows: ResultRow[] = [];
  let saved = planned - jobs.length;
  const backend = await withInterruptNotice(
    opts.argv ?? ["train", "--config", opts.configPath],
    opts.outDir,
    () => [saved, planned],
    () =>
      runJobs(jobs, opts.workers, opts.backend, {
        onPhase: (i, phase) => progress.tick(1, `${jobs[i].method} ${phase}`),
        onRows: (r) => {
          rows.push(...r);
          appendResults(resultsPath, r);
          saved++;
        },
      }),
  );
  progress.done();
  if (done.size > 0) {
    rows.splice(0, rows.length, ...readResults([resultsPath]).rows);
  }
  const predictionsPath = join(opts.outDir, "predictions.csv");
  // From the file, not this invocation's rows: results.jsonl is appended
  // to across runs, and the CSV should list what it lists.
  writeAtomic(
    predictionsPath,
    predictionsCsv(readResults([resultsPath]).rows),
  );
  for (const fold of folds) {
    const src = projectionPath(cfg, opts.seed, fold);
    if (cfg.ehr?.format === "long" && existsSync(src)) {
      copyFileSync(src, join(opts.outDir, basename(src)));
    }
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const reportPath = join(opts.outDir, "report.md");
  await writeStaged(opts.outDir, (tmp) =>
    writeReport(rows, tmp, {
      referenceMethod: methods.includes("imaging-only")
        ? "imaging-only"
        : methods[0],
      title: `mmjepa training on ${name}`,
      bootstrapResamples: 200,
      seed: opts.seed,
      provenanceNotes: [
        `Wall time: ${
          wallSeconds.toFixed(1)
        } s with ${opts.workers} worker(s) on ${backend.name} (preprocessing, training and evaluation)`,
        ...(skipped.length > 0
          ? [
            `${skipped.length} input record(s) skipped with --skip-bad; see skipped.csv`,
          ]
          : []),
      ],
    }));
  for (const r of rows) {
    const parts = Object.entries(r.metrics).map(([c, m]) =>
      `${c} AUC ${m.auc === null ? "n/a" : m.auc.toFixed(3)} (n=${m.n})`
    );
    print(`${r.study} ${r.method.padEnd(18)} ${parts.join("  ")}`);
  }
  print(`results: ${resultsPath}`);
  print(`predictions: ${predictionsPath}`);
  print(`report:  ${reportPath}`);
}
