/**
 * Synthetic studies: a scenario x methods x seeds x sweeps plan, run across
 * workers, written to results.jsonl and rendered as a report.
 *
 * @example
 * ```ts
 * import { defaultStudy, runStudy } from "./mod.ts";
 * await runStudy(defaultStudy("quick"), {
 *   seed: 42, backend: "auto", outDir: "out/quick", workers: 2, quiet: false,
 * });
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./plan.ts";
export { type Job, type RowSpec, runJob, type Variant } from "./job.ts";
export { runJobs } from "./pool.ts";
export {
  headline,
  runStudy,
  type RunStudyOptions,
  type StudyOutcome,
} from "./run.ts";
