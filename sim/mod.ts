/**
 * The synthetic environment: scenarios with knobs for cross-modal
 * correlation, label mechanism, missingness and cohort shift; a generator
 * of synthetic patients (CT-like volumes or detector features, EHR
 * signatures) into the project's one cohort type; ground-truth ceilings;
 * export to NIfTI + CSV; montages.
 *
 * @example
 * ```ts
 * import { generateCohorts, preset } from "./sim/mod.ts";
 * const set = generateCohorts(preset("paper"), 1);
 * console.log(set.internal.truth?.bayesAuc);
 * ```
 *
 * @module
 */
export {
  type Acquisition,
  type AcquisitionShift,
  DEFAULT_SCENARIO,
  effectiveWeights,
  type ExternalSpec,
  type LabelMechanism,
  type LabelNonlinearity,
  loadScenario,
  type Missingness,
  resolveScenario,
  type Scenario,
  type Shift,
  withOverrides,
} from "./scenario.ts";
export {
  preset,
  PRESET_DESCRIPTIONS,
  PRESET_NAMES,
  PRESETS,
  scenarioFrom,
} from "./presets.ts";
export { generateCohorts, type SyntheticScan } from "./generate.ts";
export { bayesCeilings, imagePosteriors } from "./bayes.ts";
export { type PropertyCohortOptions, propertyCohorts } from "./known_answer.ts";
export {
  DIAMETER_RANGE_MM,
  type Nodule,
  NODULE_PROPERTIES,
} from "./features.ts";
export { encodeNifti, type NiftiVolume } from "./nifti.ts";
export { exportCohorts, type ExportSummary, isoDate } from "./export.ts";
export {
  cohortMontage,
  encodePng,
  type MontageOptions,
  montagePng,
  montageSvg,
  type MontageTile,
} from "./montage.ts";
