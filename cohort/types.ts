/**
 * The one cohort type. `sim/` generates it, `real/` reads it from disk, and
 * everything downstream (models, training, evaluation, reports) only ever
 * sees this, so a failure mode found on synthetic data can be checked on a
 * real archive with the same code.
 *
 * @module
 */

/** How a scan is represented. */
export type ImagingMode = "volume" | "features";

/** Which part of a cohort a patient belongs to. */
export type Split = "pretrain" | "train" | "val" | "test";

/** All splits, in their canonical order. */
export const SPLITS: readonly Split[] = ["pretrain", "train", "val", "test"];

/** One scan: a volume (row-major D*H*W, z slowest) or a feature vector. */
export interface Scan {
  /** Unique within the cohort. */
  id: string;
  /** Months since the patient's first scan (fractional). */
  time: number;
  /** Length = product of {@link Cohort.imaging}.shape. */
  data: Float32Array;
}

/** One EHR cross-section: clinical signature expressions at a time. */
export interface EhrRecord {
  /** Months on the same clock as the scans. */
  time: number;
  /** Length = {@link Cohort.ehrDim}. */
  values: Float32Array;
}

/** Demographics that clinical risk models use. Null where unknown. */
export interface Demographics {
  /** Years at the first scan. */
  age: number | null;
  /** 0 = female, 1 = male. */
  sex: 0 | 1 | null;
  /** Smoking pack-years. */
  packYears: number | null;
}

/** What only a synthetic patient knows: its causes and true risk. */
export interface PatientTruth {
  /** Shared latents (cause both modalities). */
  zShared: Float32Array;
  /** Latents only the image shows. */
  zImage: Float32Array;
  /** Latents only the EHR shows. */
  zEhr: Float32Array;
  /** The true P(malignant | latents), before label noise. */
  pMalignant: number;
}

/** A patient: scans, EHR, label and, when synthetic, ground truth. */
export interface Patient {
  /** Unique within the cohort. */
  id: string;
  /** Which split the patient is in (external cohorts: all "test"). */
  split: Split;
  /** 1 = malignant, 0 = benign, null = unlabeled. */
  label: 0 | 1 | null;
  /** Sorted by time; empty when the patient has no scan. */
  scans: Scan[];
  /** Sorted by time; empty when the patient has no EHR. */
  ehr: EhrRecord[];
  /** Demographics, null fields when unknown. */
  demographics: Demographics;
  /** Present for synthetic patients only. */
  truth?: PatientTruth;
}

/** Ceilings that only a simulator can know, per cohort. */
export interface CohortTruth {
  /**
   * Bayes-optimal AUC on this cohort's labeled test patients: using all
   * latents, and using what each modality alone reveals.
   */
  bayesAuc: { full: number; image: number; ehr: number };
}

/** A set of patients from one site or source. */
export interface Cohort {
  /** e.g. "internal", "external-A". */
  name: string;
  /** Internal cohorts have pretrain/train/val/test splits; external: test. */
  kind: "internal" | "external";
  /** Where the data came from. */
  source: "synthetic" | "real";
  /** Per-scan representation. */
  imaging: { mode: ImagingMode; shape: number[] };
  /** Length of every {@link EhrRecord.values}. */
  ehrDim: number;
  /** Optional names of the EHR dimensions. */
  ehrNames?: string[];
  /** The patients. */
  patients: Patient[];
  /** Ground-truth ceilings for synthetic cohorts. */
  truth?: CohortTruth;
}

/** An internal cohort plus zero or more external ones: what a study needs. */
export interface CohortSet {
  /** Pretraining pool, labeled train/val and internal test. */
  internal: Cohort;
  /** Held-out sites, each evaluated as a whole. */
  externals: Cohort[];
}
