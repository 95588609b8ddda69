/**
 * Real CT + EHR cohorts: a manifest CSV, NIfTI files or DICOM series, and
 * EHR tables (wide signatures or long events) turned into the same
 * {@link CohortSet} that `sim/` generates, with cached preprocessing,
 * patient-level splits, and `train --config`.
 *
 * ```ts
 * import { buildCohortSet, loadCohortConfig } from "./real/mod.ts";
 * const cfg = await loadCohortConfig("cohort.yaml");
 * const { set, skipped } = await buildCohortSet(cfg, { skipBad: true, seed: 1 });
 * ```
 *
 * @module
 */
export {
  buildCohortSet,
  type BuildOptions,
  type BuildResult,
  projectionPath,
  readScan,
} from "./build.ts";
export { cacheKey, readCachedRoi, writeCachedRoi } from "./cache.ts";
export {
  type DemographicsColumns,
  loadCohortConfig,
  type LongEhrConfig,
  type ManifestColumns,
  type PreprocessConfig,
  type RealConfig,
  resolveCohortConfig,
  type SplitsConfig,
  type WideEhrConfig,
} from "./config.ts";
export { type DicomSeries, readDicomSeries } from "./dicom.ts";
export {
  crossSection,
  type EhrEvent,
  type EventKind,
  eventKinds,
  featureNames,
  fitIca,
  fitPca,
  project,
  type Projection,
} from "./ehr.ts";
export {
  type Manifest,
  type ManifestPatient,
  type ManifestScan,
  readManifest,
} from "./manifest.ts";
export { decodeNiftiFile, type NiftiScan, readNifti } from "./nifti.ts";
export {
  type LoadedModel,
  loadFinetuned,
  modelDirName,
  type PredictOptions,
  runPredict,
  SAVED_MODEL_VERSION,
  type SavedModelInfo,
  saveFinetuned,
  scorePatients,
  type Scoring,
} from "./saved_model.ts";
export { assignSplits, type SplitPatient } from "./splits.ts";
export {
  BadRecords,
  monthsBetween,
  parseDate,
  predictionsCsv,
  readTable,
  skippedCsv,
  skippedLines,
  type SkippedRecord,
  type Table,
} from "./table.ts";
export { runTrainOnConfig, type TrainOnConfigOptions } from "./train.ts";
export {
  applyAffine,
  checkVolume,
  extractRoi,
  insideVolume,
  invertAffine,
  type RoiOptions,
  type Volume,
  volumeCentre,
  windowHu,
} from "./volume.ts";
