/**
 * mmjepa: self-supervised learning from chest CT + EHR archives.
 *
 * One cohort type flows through everything: `sim/` generates it, models
 * pretrain and finetune on it, and `reports/` turns results rows into a
 * paper-ready report.
 *
 * @example
 * ```ts
 * import { generateCohorts, preset, runExperiment, resolveExperimentConfig } from "./mod.ts";
 * const set = generateCohorts(preset("paper"), 1);
 * const res = await runExperiment(set, "jepa", resolveExperimentConfig({}, "inline"), 1);
 * ```
 *
 * @module
 */
export * from "./cohort/mod.ts";
export {
  type BackendChoice,
  type BackendInfo,
  BACKENDS,
  initBackend,
} from "./core/backend.ts";
export { DivergenceError, UserError } from "./core/errors.ts";
export { Rng, RngStreams } from "./core/rng.ts";
export {
  appendResults,
  type Predictions,
  readResults,
  type ResultRow,
  RESULTS_SCHEMA,
  writeAtomic,
} from "./core/results.ts";
export * from "./sim/mod.ts";
export * from "./models/mod.ts";
export * from "./reports/mod.ts";
export * from "./study/mod.ts";
export {
  buildCohortSet,
  loadCohortConfig,
  type RealConfig,
  runTrainOnConfig,
} from "./real/mod.ts";
