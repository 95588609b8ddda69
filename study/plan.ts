/**
 * Turns a study config into jobs, sharing work wherever the data allow:
 * external-shift sweeps reuse the base models (one extra external cohort per
 * value), labeled-fraction sweeps reuse one pretraining per method and seed,
 * and only sweeps that change what the models see are retrained per value.
 *
 * @module
 */
import { UserError } from "../core/errors.ts";
import {
  type Acquisition,
  type AcquisitionShift,
  DEFAULT_SCENARIO,
  type ExternalSpec,
  resolveScenario,
  type Scenario,
  scenarioFrom,
  type Shift,
  withOverrides,
} from "../sim/mod.ts";
import { resolveExperimentConfig } from "../models/config.ts";
import { METHOD_SPECS, parseMethod } from "../models/methods.ts";
import type { StudyConfig } from "./config.ts";
import type { Job, RowSpec, Variant } from "./job.ts";

/** The cohort name an external-sweep value is generated under. */
export function sweepCohortName(knob: string, value: number): string {
  return `${knob}=${value}`;
}

function externalSweepScenario(
  base: Scenario,
  study: StudyConfig,
): Scenario {
  const externals = [...base.externals];
  const template = base.externals[0];
  if (!template) {
    throw new UserError(
      `scenario "${study.scenario}" has no external cohort to base the external-shift sweeps on`,
    );
  }
  for (const s of study.sweeps.filter((s) => s.kind === "external")) {
    for (const v of s.values) {
      externals.push(
        sweepExternal(base, template, s.path, v, sweepCohortName(s.knob, v)),
      );
    }
  }
  return resolveScenario({ ...base, externals }, `study ${study.title}`);
}

/**
 * The scanner of an external site at acquisition-shift strength `s` (0..1):
 * 0 is the internal scanner; 1 triples the noise, adds 1.5 voxels of
 * reconstruction blur and a 40 HU calibration offset (a sharp-kernel
 * low-dose site versus a smooth-kernel one, roughly).
 *
 * @example
 * ```ts
 * acquisitionAtStrength(scenario.internal.acquisition, 0.5);
 * ```
 */
export function acquisitionAtStrength(
  internal: Acquisition,
  s: number,
): AcquisitionShift {
  return {
    noiseHu: internal.noiseHu * (1 + 2 * s),
    blur: internal.blur + 1.5 * s,
    spacingMm: null,
    offsetHu: internal.offsetHu + 40 * s,
  };
}

/**
 * An external cohort like `template` but with no shift except `path = v`.
 * `shift.acquisition` takes a strength (see {@link acquisitionAtStrength});
 * other `shift.<field>` paths take the field's own value.
 *
 * @example
 * ```ts
 * sweepExternal(s, s.externals[0], "shift.concept", 0.5, "conceptShift=0.5");
 * ```
 */
export function sweepExternal(
  scenario: Scenario,
  template: ExternalSpec,
  path: string,
  value: number,
  name: string,
): ExternalSpec {
  const neutral = { ...template, name, shift: neutralShift() };
  if (path === "shift.acquisition") {
    return {
      ...neutral,
      shift: {
        ...neutral.shift,
        acquisition: acquisitionAtStrength(
          scenario.internal.acquisition,
          value,
        ),
      },
    };
  }
  const [head, field] = path.split(".");
  if (head !== "shift" || !field || !(field in neutral.shift)) {
    throw new UserError(
      `external sweep path "${path}" must be shift.<field> with field one of ${
        Object.keys(neutral.shift).join(", ")
      }`,
    );
  }
  return { ...neutral, shift: { ...neutral.shift, [field]: value } };
}

function neutralShift(): Shift {
  return structuredClone(DEFAULT_SCENARIO.externals[0].shift);
}

/**
 * Builds the job list of a study for the given base seed.
 *
 * @example
 * ```ts
 * const jobs = planStudy(defaultStudy("quick"), 42);
 * ```
 */
export function planStudy(study: StudyConfig, seed: number): Job[] {
  const base = withOverrides(
    scenarioFrom(study.scenario),
    study.scenarioOverrides,
  );
  const seeds = Array.from({ length: study.seeds }, (_, i) => seed + i);
  // Every variant sets its own label fraction (job.ts): the main and
  // scenario-sweep rows use the study's own `finetune.labelFraction`, so a
  // fraction given in `experiment` is honoured, not silently replaced by 1.
  const mainFraction =
    resolveExperimentConfig(study.experiment, "study experiment").finetune
      .labelFraction;
  const jobs: Job[] = [];
  const add = (
    scenario: Scenario,
    method: string,
    s: number,
    variants: Variant[],
  ) =>
    jobs.push({
      index: jobs.length,
      scenarioName: study.scenario,
      scenario,
      method,
      seed: s,
      experiment: study.experiment,
      report: {
        bootstrapResamples: study.bootstrapResamples,
        bootstrapSeed: seed,
      },
      variants,
    });

  const withSweeps = externalSweepScenario(base, study);
  const mainExternal = base.externals[0]?.name;
  const both = (extra: Record<string, string> = {}) => ({
    internal: "internal",
    ...(mainExternal ? { external: mainExternal } : {}),
    ...extra,
  });
  const labelSweeps = study.sweeps.filter((s) => s.kind === "labels");
  for (const s of seeds) {
    for (const method of study.methods) {
      const main: RowSpec[] = [{ study: "paper", cohorts: both() }];
      for (const sw of study.sweeps.filter((x) => x.kind === "external")) {
        for (const v of sw.values) {
          main.push({
            study: `sweep/${sw.knob}`,
            sweep: { knob: sw.knob, value: v },
            cohorts: {
              internal: "internal",
              external: sweepCohortName(sw.knob, v),
            },
          });
        }
      }
      const variants: Variant[] = [{ labelFraction: mainFraction, rows: main }];
      for (const sw of labelSweeps) {
        for (const v of sw.values) {
          const row: RowSpec = {
            study: `sweep/${sw.knob}`,
            sweep: { knob: sw.knob, value: v },
            cohorts: both(),
          };
          const same = variants.find((x) => x.labelFraction === v);
          if (same) same.rows.push(row);
          else variants.push({ labelFraction: v, rows: [row] });
        }
      }
      add(withSweeps, method, s, variants);
    }
  }
  const mainJobs = new Map(jobs.map((j) => [`${j.method}/${j.seed}`, j]));
  for (const sw of study.sweeps.filter((x) => x.kind === "scenario")) {
    for (const v of sw.values) {
      const scenario = withOverrides(base, {
        ...(sw.base ?? {}),
        [sw.path]: v,
      });
      // The base scenario's own value: its models are already trained.
      if (JSON.stringify(scenario) === JSON.stringify(base)) {
        for (const s of seeds) {
          for (const method of study.methods) {
            mainJobs.get(`${method}/${s}`)!.variants[0].rows.push({
              study: `sweep/${sw.knob}`,
              sweep: { knob: sw.knob, value: v },
              cohorts: both(),
            });
          }
        }
        continue;
      }
      for (const s of seeds) {
        for (const method of study.methods) {
          add(scenario, method, s, [{
            labelFraction: mainFraction,
            rows: [{
              study: `sweep/${sw.knob}`,
              sweep: { knob: sw.knob, value: v },
              cohorts: both(),
            }],
          }]);
        }
      }
    }
  }
  return jobs;
}

/** One shard of a study: the `index`-th (1-based) of `count` parts. */
export interface Shard {
  /** 1-based shard number. */
  index: number;
  /** Number of shards the plan is split into. */
  count: number;
}

/**
 * Parses `--shard I/N` (1 <= I <= N).
 *
 * @example
 * ```ts
 * parseShard("2/4"); // { index: 2, count: 4 }
 * ```
 */
export function parseShard(value: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (
    !m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) ||
    count < 1 || index < 1 || index > count
  ) {
    throw new UserError(
      `--shard: expected I/N with 1 <= I <= N (e.g. 1/4), got "${value}"`,
    );
  }
  return { index, count };
}

/**
 * The jobs of one shard, in plan order. The split depends only on the plan
 * (never on the machine or the time), so N machines that each run one shard
 * run every job exactly once. It is balanced on `cost` (longest-processing-
 * time first: the costliest job goes to the least-loaded shard, ties to the
 * lowest shard), so a shard of slow pretrained methods does not finish long
 * after a shard of logistic regressions. A job's rows do not depend on which
 * shard ran it: its seed and run ids come from the plan, not the shard.
 *
 * @example
 * ```ts
 * const mine = shardJobs(planStudy(study, 42), { index: 1, count: 2 });
 * ```
 */
export function shardJobs(
  jobs: Job[],
  shard: Shard,
  cost: (job: Job) => number = (j) => j.variants.length,
): Job[] {
  if (shard.count > jobs.length) {
    throw new UserError(
      `--shard ${shard.index}/${shard.count}: the study has only ${jobs.length} job(s), so at most ${jobs.length} shard(s) can each get work`,
    );
  }
  const load = new Array<number>(shard.count).fill(0);
  const owner = new Map<Job, number>();
  const order = jobs.map((j, k) => ({ j, k, c: cost(j) }))
    .sort((a, b) => b.c - a.c || a.k - b.k);
  for (const { j, c } of order) {
    let best = 0;
    for (let s = 1; s < shard.count; s++) if (load[s] < load[best]) best = s;
    load[best] += c;
    owner.set(j, best + 1);
  }
  return jobs.filter((j) => owner.get(j) === shard.index);
}

/**
 * The folder a shard writes under the study's output folder, zero-padded so
 * shell globs list shards in order: `shard-03-of-12`.
 *
 * @example
 * ```ts
 * shardDirName({ index: 3, count: 12 }); // "shard-03-of-12"
 * ```
 */
export function shardDirName(shard: Shard): string {
  const w = String(shard.count).length;
  return `shard-${String(shard.index).padStart(w, "0")}-of-${shard.count}`;
}

// Step cost relative to a finetuning step, from `task bench` (features,
// wasm): a JEPA step about 4 finetuning steps, a contrastive one about 3;
// a logistic regression's step is a fraction of one.
const OBJECTIVE_STEP_COST: Record<string, number> = { jepa: 4, contrastive: 3 };

/**
 * Estimated run time of a job, in finetuning steps: pretraining steps
 * times its objectives' step costs, plus each variant's finetuning steps.
 * Only ordering uses it (see {@link longestFirst}); results never do.
 *
 * @example
 * ```ts
 * const slowest = Math.max(...planStudy(study, 42).map(jobCost));
 * ```
 */
export function jobCost(job: Job): number {
  try {
    const method = parseMethod(job.method, "study");
    const spec = METHOD_SPECS[method];
    const cfg = resolveExperimentConfig(job.experiment, "study experiment");
    const pre = spec.objectives.reduce(
      (s, o) => s + (OBJECTIVE_STEP_COST[o] ?? 1),
      0,
    ) * cfg.pretrain.steps;
    const tune = job.method.startsWith("logreg") ? 0.2 : 1;
    return pre + job.variants.length * cfg.finetune.steps * tune;
  } catch {
    // validateJobs reports bad configs; ordering just falls back.
    return job.variants.length;
  }
}

/**
 * The order a worker pool takes jobs in: costliest first (ties in plan
 * order), so that the long pretraining jobs start at once and the short
 * ones fill the gaps at the end and two workers finish together. Results
 * are still written in plan order, and a job's rows never depend on when
 * it ran.
 *
 * @example
 * ```ts
 * for (const job of longestFirst(jobs)) queue.push(job);
 * ```
 */
export function longestFirst(
  jobs: Job[],
  cost: (job: Job) => number = jobCost,
): Job[] {
  return jobs.map((j, k) => ({ j, k, c: cost(j) }))
    .sort((a, b) => b.c - a.c || a.k - b.k)
    .map(({ j }) => j);
}

/**
 * The jobs each of `workers` workers would run, in order, if every job took
 * its estimated cost: the pool hands the next job of {@link longestFirst}
 * to whichever worker is free first (ties to the lower worker). Real run
 * times differ from the estimate, so this is a plan, not a record; the
 * benchmarks use it to replay one worker's share in a process of its own.
 *
 * @example
 * ```ts
 * const [first, second] = workerSequences(planStudy(study, 42), 2);
 * ```
 */
export function workerSequences(
  jobs: Job[],
  workers: number,
  cost: (job: Job) => number = jobCost,
): Job[][] {
  const n = Math.max(1, Math.min(workers, jobs.length));
  const free = new Array<number>(n).fill(0);
  const seqs: Job[][] = Array.from({ length: n }, () => []);
  for (const job of longestFirst(jobs, cost)) {
    const w = free.indexOf(Math.min(...free));
    seqs[w].push(job);
    free[w] += cost(job);
  }
  return seqs;
}
