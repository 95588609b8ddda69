/**
 * mmjepa: self-supervised learning from chest CT + EHR archives.
 *
 * The public API: generate a synthetic cohort (or load a real one), train
 * any method of the registry on it, score it, write a report. The folders
 * have their own entry points for everything else (`@mmjepa/mmjepa/sim`,
 * `/models`, `/reports`, `/real`, `/study`, `/kernels`). A backend starts
 * on the first call that needs tensors (`auto`: WebGPU on a hardware GPU,
 * else wasm, else cpu); call {@link initBackend} first to choose one.
 *
 * @example
 * ```ts
 * import { aucMannWhitney, generateCohorts, preset, resolveExperimentConfig, runExperiment, withOverrides } from "@mmjepa/mmjepa";
 * const set = generateCohorts(withOverrides(preset("shared-cause"), { "internal.pretrain": 400 }), 1);
 * const cfg = resolveExperimentConfig({ pretrain: { steps: 50 } });
 * const r = await runExperiment(set, "jepa", cfg, 1);
 * const test = r.predictions.internal;
 * console.log(aucMannWhitney(test.labels, test.scores));
 * ```
 *
 * @module
 */
export type {
  Cohort,
  CohortSet,
  CohortTruth,
  Demographics,
  EhrRecord,
  ImagingMode,
  Patient,
  PatientTruth,
  Scan,
  Split,
} from "./cohort/types.ts";
export {
  type BackendChoice,
  type BackendInfo,
  BACKENDS,
} from "./core/backend.ts";
export { ensureBackend, initBackend } from "./kernels/backend.ts";
export { DivergenceError, UserError } from "./core/errors.ts";
export { readResults, type ResultRow } from "./core/results.ts";
export { DEFAULT_HU_WINDOW, windowHu } from "./core/hu.ts";
export {
  VOLUME_FEATURE_NAMES,
  volumeFeatureMatrix,
  volumeFeatures,
} from "./core/radiomics.ts";
export {
  DEFAULT_SCENARIO,
  generateCohorts,
  preset,
  PRESET_NAMES,
  resolveScenario,
  type Scenario,
  withOverrides,
} from "./sim/mod.ts";
export {
  type ExperimentConfig,
  type ExperimentResult,
  type Method,
  METHOD_SPECS,
  METHODS,
  type MethodSpec,
  parseMethod,
  resolveExperimentConfig,
  runExperiment,
  type Scored,
} from "./models/mod.ts";
export {
  aucMannWhitney,
  bootstrapAucCi,
  delong,
  delongPaired,
  holm,
  tHalfWidth,
  writeReport,
} from "./reports/mod.ts";
export { defaultStudy, runStudy, type StudyConfig } from "./study/mod.ts";
// Types the exports above refer to.
export type {
  CohortMetrics,
  Predictions,
  ResultsProblem,
} from "./core/results.ts";
export {
  DOWNSTREAM_ENCODERS,
  type FinetuneConfig,
  JEPA_LOSSES,
  type JepaLoss,
  MASK_STRATEGIES,
  type MaskStrategy,
  type ModelConfig,
  type PartialExperimentConfig,
  PATCH_POSITIONS,
  type PatchPositions,
  type Pooling,
  POOLINGS,
  type PretrainConfig,
  type Protocol,
  PROTOCOLS,
  SYMMETRY_SETS,
  type SymmetrySet,
  TARGET_NORMS,
  type TargetNorm,
  TIME_ENCODINGS,
  type TimeEncoding,
} from "./models/config.ts";
export type { Symmetries } from "./models/augment.ts";
export type { EncoderStage, RepresentationScore } from "./models/experiment.ts";
export type { Objective } from "./models/methods.ts";
export type { Hooks } from "./models/train.ts";
export type { DelongPairedResult, DelongResult } from "./reports/auc.ts";
export type { BootstrapOptions, BootstrapResult } from "./reports/bootstrap.ts";
export type { ReportOptions } from "./reports/markdown.ts";
export {
  type Acquisition,
  type AcquisitionShift,
  type ExternalSpec,
  IMAGING_LEVELS,
  type ImagingLevel,
  LABEL_MECHANISMS,
  LABEL_NONLINEARITIES,
  type LabelMechanism,
  type LabelNonlinearity,
  type Missingness,
  type Shift,
} from "./sim/scenario.ts";
export {
  STUDY_SIZES,
  type StudySize,
  SWEEP_KINDS,
  type SweepKind,
  type SweepSpec,
} from "./study/config.ts";
export type { RunStudyOptions, StudyOutcome } from "./study/run.ts";
export type { Shard } from "./study/plan.ts";
