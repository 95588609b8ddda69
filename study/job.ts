/**
 * One unit of study work: generate a scenario's cohorts for one seed,
 * pretrain one method once, finetune it once per variant, and turn each
 * variant's predictions into results rows.
 *
 * Jobs are plain data so they can be sent to a Web Worker; a job's rows
 * depend only on the job (and the backend), never on which worker ran it.
 *
 * @module
 */
import type { CohortSet } from "../cohort/mod.ts";
import type { BackendInfo } from "../core/backend.ts";
import { gitCommit, versions } from "../core/provenance.ts";
import {
  type CohortMetrics,
  type Predictions,
  type ResultRow,
  RESULTS_SCHEMA,
} from "../core/results.ts";
import {
  finetune,
  type Method,
  pretrain,
  resolveExperimentConfig,
} from "../models/mod.ts";
import { aucMannWhitney, brier, StatsError } from "../reports/mod.ts";
import { generateCohorts, resolveScenario, type Scenario } from "../sim/mod.ts";
import { buildCohortSet } from "../real/build.ts";
import { loadCohortConfig } from "../real/config.ts";
import { modelDirName, saveFinetuned } from "../real/saved_model.ts";
import { collectGarbage, JobMeter } from "./memory.ts";

/** One results row a variant produces. */
export interface RowSpec {
  /** e.g. "paper" or "sweep/conceptShift". */
  study: string;
  /** The swept knob and value, for sweeps. */
  sweep?: { knob: string; value: number };
  /**
   * Cohorts reported in the row: row name ("internal", "external") ->
   * generated cohort name.
   */
  cohorts: Record<string, string>;
}

/** A finetune variant of a job (label fraction) and the rows it feeds. */
export interface Variant {
  /** Fraction of the labeled train split used. */
  labelFraction: number;
  /** Rows produced from this variant's predictions. */
  rows: RowSpec[];
}

/** A self-contained unit of work. */
export interface Job {
  /** Position in the plan; results are written in this order. */
  index: number;
  /** Scenario preset or file name, for the results rows. */
  scenarioName: string;
  /** The resolved scenario (plain data); ignored when `cohortConfig` is set. */
  scenario: Scenario;
  /**
   * A real cohort config (real/) to train on instead of a scenario; the
   * set is rebuilt from the ROI cache the main thread filled.
   */
  cohortConfig?: {
    path: string;
    skipBad: boolean;
    fold?: number;
    /** Save the finetuned model under this folder (real/saved_model.ts). */
    modelDir?: string;
  };
  /** Method to train. */
  method: string;
  /** Run seed. */
  seed: number;
  /** Partial experiment config (defaults filled in by models/). */
  experiment: Record<string, unknown>;
  /** Finetune variants. */
  variants: Variant[];
  /** Report settings recorded in each row, so a later `task report` agrees. */
  report?: { bootstrapResamples: number; bootstrapSeed: number };
}

/** Progress callback: a phase finished ("pretrain" or "finetune"). */
export type JobProgress = (phase: "pretrain" | "finetune") => void;

function stableId(parts: unknown[]): string {
  // FNV-1a over the JSON: a short id that is the same on every rerun.
  const s = JSON.stringify(parts);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * The runId of a results row a job writes for one of its row specs: a
 * hash of study, scenario, sweep point, method and seed, so a rerun of
 * the same plan gives the same ids (resume and deduplication use them).
 *
 * @example
 * ```ts
 * const id = rowRunId(job, job.variants[0].rows[0]);
 * ```
 */
export function rowRunId(
  job: Pick<Job, "scenarioName" | "method" | "seed">,
  spec: RowSpec,
): string {
  return stableId([
    spec.study,
    job.scenarioName,
    spec.sweep ?? null,
    job.method,
    job.seed,
  ]);
}

/**
 * Every runId a job will write, in row order.
 *
 * @example
 * ```ts
 * const done = jobs.filter((j) => jobRunIds(j).every((id) => have.has(id)));
 * ```
 */
export function jobRunIds(job: Job): string[] {
  return job.variants.flatMap((v) => v.rows.map((spec) => rowRunId(job, spec)));
}

// A one-class cohort has no AUC; the row records null and the report says why.
function guarded(f: () => number): number | null {
  try {
    return f();
  } catch (e) {
    if (e instanceof StatsError) return null;
    throw e;
  }
}

function cohortMetrics(
  set: CohortSet,
  name: string,
  p: Predictions,
): CohortMetrics {
  const cohort = [set.internal, ...set.externals].find((c) => c.name === name);
  const nPositive = p.labels.filter((y) => y === 1).length;
  const m: CohortMetrics = {
    n: p.labels.length,
    nPositive,
    auc: guarded(() => aucMannWhitney(p.labels, p.scores)),
    brier: guarded(() => brier(p.labels, p.scores)),
  };
  if (cohort?.truth) m.bayesAuc = cohort.truth.bayesAuc;
  return m;
}

/**
 * Runs a job and returns its results rows, in variant order. Each row's
 * `extra.memory` records this isolate's memory through the job (see
 * study/memory.ts); `thread` names who ran it ("main" or "worker N").
 *
 * @example
 * ```ts
 * const rows = await runJob(job, backendInfo);
 * ```
 */
export async function runJob(
  job: Job,
  backend: BackendInfo,
  onProgress: JobProgress = () => {},
  thread = "main",
): Promise<ResultRow[]> {
  // The previous job's cohorts and batches are garbage now; free them
  // before this job allocates its own (see collectGarbage).
  const collected = collectGarbage();
  const started = new Date();
  const t0 = performance.now();
  // Sampled at every loss readback: the peak lies inside training, where
  // batches and gradients are live, not at the job's ends.
  const meter = new JobMeter();
  meter.collectedBefore = collected;
  const sample = { onProgress: () => void meter.sample() };
  const real = job.cohortConfig;
  const scenario = real
    ? null
    : resolveScenario(job.scenario, `job ${job.index}`);
  const set = real
    ? (await buildCohortSet(await loadCohortConfig(real.path), {
      skipBad: real.skipBad,
      seed: job.seed,
      ...(real.fold !== undefined ? { fold: real.fold } : {}),
    })).set
    : generateCohorts(scenario!, job.seed);
  const method = job.method as Method;
  const base = resolveExperimentConfig(job.experiment, "study experiment");
  const pre = await pretrain(set, method, base, job.seed, sample);
  if (pre) {
    onProgress("pretrain");
    // Pretraining's batches are garbage now: free them before finetuning
    // allocates its own, as between jobs.
    collectGarbage();
  }
  const pretrainSeconds = (performance.now() - t0) / 1000;
  const rows: ResultRow[] = [];
  try {
    for (const v of job.variants) {
      const t1 = performance.now();
      const cfg = {
        ...base,
        finetune: { ...base.finetune, labelFraction: v.labelFraction },
      };
      const modelDir = real?.modelDir;
      const res = await finetune(set, method, pre, cfg, job.seed, sample, {
        // Encoder diagnostics once per job: on its first (full-label) variant.
        diagnostics: v === job.variants[0],
        keep: modelDir
          ? (m) =>
            saveFinetuned(
              `${modelDir}/${modelDirName(job.method, job.seed, real!.fold)}`,
              m,
              {
                seed: job.seed,
                ...(real!.fold !== undefined ? { fold: real!.fold } : {}),
                cohortConfig: real!.path,
              },
            )
          : undefined,
      });
      onProgress("finetune");
      const wall = pretrainSeconds + (performance.now() - t1) / 1000;
      for (const spec of v.rows) {
        const metrics: Record<string, CohortMetrics> = {};
        const predictions: Record<string, Predictions> = {};
        for (const [rowName, genName] of Object.entries(spec.cohorts)) {
          const p = res.predictions[genName];
          if (!p) {
            throw new Error(
              `job ${job.index}: no predictions for cohort "${genName}"`,
            );
          }
          predictions[rowName] = p;
          metrics[rowName] = cohortMetrics(set, genName, p);
        }
        // The report picks its operating threshold on these (Youden).
        predictions.validation = res.validation;
        rows.push({
          schema: RESULTS_SCHEMA,
          runId: rowRunId(job, spec),
          study: spec.study,
          scenario: job.scenarioName,
          ...(spec.sweep ? { sweep: spec.sweep } : {}),
          method: job.method,
          seed: job.seed,
          backend: { name: backend.name, detail: backend.detail },
          versions: versions(),
          gitCommit: gitCommit(),
          startedAt: started.toISOString(),
          wallSeconds: wall,
          config: {
            ...(real
              ? { cohortConfig: real }
              : { scenario: scenario as unknown as Record<string, unknown> }),
            experiment: cfg as unknown as Record<string, unknown>,
            ...(job.report ? { report: job.report } : {}),
          },
          metrics,
          predictions,
          plan: { job: job.index, row: rows.length },
          extra: {
            curves: res.curves,
            plateau: res.plateau,
            embeddingStd: res.embeddingStd,
            ...(res.latentR2 ? { latentR2: res.latentR2 } : {}),
            representation: res.representation,
            labels: res.labels,
            steps: res.steps,
            seconds: res.seconds,
          },
        });
      }
    }
  } finally {
    pre?.dispose();
  }
  // Volatile like the timings: results files compare without it.
  const memory = meter.finish(thread);
  for (const r of rows) r.extra!.memory = memory;
  return rows;
}
