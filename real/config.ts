/**
 * The cohort config (`train --config cohort.yaml`): where the manifest and
 * EHR are, what their columns are called, how scans are preprocessed and
 * how patients are split. Paths are relative to the YAML file.
 *
 * ```yaml
 * manifest: manifest.csv
 * internalCohort: internal
 * ehr: { format: wide, path: ehr.csv }
 * preprocess: { roiSize: 32, spacingMm: 1, huWindow: [-1000, 400] }
 * splits: { seed: 1, train: 0.6, val: 0.2, test: 0.2 }
 * cacheDir: .cache
 * signatureDim: 16
 * projection: pca
 * ```
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { MANIFEST_COLUMNS } from "../cohort/manifest.ts";
import {
  bool,
  configError,
  custom,
  int,
  list,
  loadYaml,
  mapping,
  nullable,
  num,
  obj,
  oneOf,
  positive,
  record,
  resolveConfig,
  type Schema,
  type Shape,
  str,
  variants,
} from "../core/schema.ts";
import { DEFAULT_HU_WINDOW } from "../core/hu.ts";
import { METHODS } from "../models/methods.ts";

/** Manifest column names (defaults: what `sim/` exports). */
export interface ManifestColumns {
  patientId: string;
  scanId: string;
  scanDate: string;
  path: string;
  label: string;
  cohort: string;
  noduleX: string;
  noduleY: string;
  noduleZ: string;
  diameter: string;
  /** A column with pretrain/train/val/test per patient, used when set. */
  split: string | null;
}

/** EHR as one row per patient-time with signature columns. */
export interface WideEhrConfig {
  format: "wide";
  /** Absolute path. */
  path: string;
  columns: { patientId: string; date: string };
  /** Signature columns; null = every column not otherwise used. */
  signatureColumns: string[] | null;
}

/** EHR as long events: patient, date, code or lab name, value. */
export interface LongEhrConfig {
  format: "long";
  /** Absolute path. */
  path: string;
  columns: { patientId: string; date: string; name: string; value: string };
  /** Months before a scan whose events count. */
  lookbackMonths: number;
  /**
   * Kind of each event name; names not listed are "lab" when the row has a
   * value and "code" when it has none.
   */
  kinds: Record<string, EventKind>;
}

/**
 * The kinds of a long-EHR event name.
 *
 * @example
 * ```ts
 * EVENT_KINDS; // ["code", "lab", "medication"]
 * ```
 */
export const EVENT_KINDS = ["code", "lab", "medication"] as const;
/** The kind of a long-EHR event name. */
export type EventKind = typeof EVENT_KINDS[number];

/** Where demographics are (manifest or wide EHR columns); null = absent. */
export interface DemographicsColumns {
  age: string | null;
  sex: string | null;
  packYears: string | null;
}

/** Scan preprocessing. */
export interface PreprocessConfig {
  /** ROI edge in voxels. */
  roiSize: number;
  /** Isotropic spacing in mm. */
  spacingMm: number;
  /** HU clip window, or null for none. */
  huWindow: [number, number] | null;
  /** Map the window to [0, 1]. */
  normalize: boolean;
  /** Crop around the nodule centre (whole-scan centre when absent), or always the scan centre. */
  centre: "nodule" | "scan";
  /** Frame of the manifest's nodule coordinates (LUNA16 uses LPS). */
  coordinates: "RAS" | "LPS";
}

/** Patient-level splits of the internal cohort. */
export interface SplitsConfig {
  /** Seed of the split (defaults to the run seed). */
  seed: number | null;
  /** Fractions of labeled patients; normalised to sum to 1. */
  train: number;
  val: number;
  test: number;
  /** k of k-fold cross-validation, or null. */
  kfold: number | null;
}

/** A resolved cohort config. */
export interface RealConfig {
  /** The YAML file. */
  source: string;
  /** Absolute path of the manifest CSV. */
  manifest: string;
  columns: ManifestColumns;
  /** Manifest cohort name that is the internal cohort. */
  internalCohort: string;
  ehr: WideEhrConfig | LongEhrConfig | null;
  demographics: DemographicsColumns;
  preprocess: PreprocessConfig;
  splits: SplitsConfig;
  /** Absolute path of the ROI and projection cache. */
  cacheDir: string;
  /** Output dimension of the long-EHR projection. */
  signatureDim: number;
  projection: "pca" | "ica";
  /** Methods to train (null = the default list). */
  methods: string[] | null;
  /** Partial experiment config for models/ (steps, batch size, ...). */
  experiment: Record<string, unknown>;
}

// The schema: one line per field with its default. Paths are resolved
// against the YAML file's folder after validation.
const COLUMN_KEYS = (Object.keys(MANIFEST_COLUMNS) as (keyof ManifestColumns)[])
  .filter((k) => k !== "split");
const COLUMNS = obj<ManifestColumns>({
  // The exporter's names (cohort/manifest.ts) are the defaults.
  ...Object.fromEntries(
    COLUMN_KEYS.map((k) => [k, str(MANIFEST_COLUMNS[k])]),
  ) as Omit<Shape<ManifestColumns>, "split">,
  // Optional: null means mmjepa splits by seed.
  split: nullable(str()),
});

const WIDE_EHR = obj<WideEhrConfig>({
  format: oneOf(["wide"] as const, "wide"),
  path: str(),
  columns: obj({ patientId: str("patient_id"), date: str("date") }),
  signatureColumns: nullable(list(str())),
});

const LONG_EHR = obj<LongEhrConfig>({
  format: oneOf(["long"] as const, "long"),
  path: str(),
  columns: obj({
    patientId: str("patient_id"),
    date: str("date"),
    name: str("name"),
    value: str("value"),
  }),
  lookbackMonths: positive(12),
  kinds: record(oneOf(EVENT_KINDS), {}),
});

const HU_WINDOW = custom<[number, number]>(
  "[low, high] HU with low < high",
  (v) =>
    Array.isArray(v) && v.length === 2 &&
    v.every((x) => typeof x === "number" && Number.isFinite(x)) && v[0] < v[1],
);

/** The cohort YAML's fields: a {@link RealConfig} before paths are resolved. */
export type CohortFile = Omit<RealConfig, "source">;

/**
 * The cohort config schema.
 *
 * @example
 * ```ts
 * COHORT_SCHEMA.keys; // ["manifest", "columns", ...]
 * ```
 */
export const COHORT_SCHEMA: Schema<CohortFile> = obj<CohortFile>({
  manifest: str(),
  columns: COLUMNS,
  internalCohort: str("internal"),
  ehr: nullable(
    variants<WideEhrConfig | LongEhrConfig>(
      "format",
      { wide: WIDE_EHR, long: LONG_EHR },
      "wide",
    ),
  ),
  demographics: obj<DemographicsColumns>({
    age: nullable(str(), "age"),
    sex: nullable(str(), "sex"),
    packYears: nullable(str(), "pack_years"),
  }),
  preprocess: obj<PreprocessConfig>({
    roiSize: int(2, 256, 32),
    spacingMm: positive(1),
    huWindow: nullable(HU_WINDOW, [...DEFAULT_HU_WINDOW]),
    normalize: bool(false),
    centre: oneOf(["nodule", "scan"] as const, "nodule"),
    coordinates: oneOf(["RAS", "LPS"] as const, "RAS"),
  }),
  splits: obj<SplitsConfig>({
    seed: nullable(int(-Infinity, Infinity)),
    train: num(0, 1, 0.6),
    val: num(0, 1, 0.2),
    test: num(0, 1, 0.2),
    kfold: nullable(int(2, Infinity)),
  }),
  cacheDir: str(".mmjepa-cache"),
  signatureDim: int(1, Infinity, 16),
  projection: oneOf(["pca", "ica"] as const, "pca"),
  methods: nullable(list(oneOf(METHODS), { min: 1 })),
  experiment: mapping({}),
});

/**
 * Validates a parsed config object; `file` is used for messages and to
 * resolve relative paths.
 *
 * @example
 * ```ts
 * const cfg = resolveCohortConfig({ manifest: "m.csv" }, "/data/cohort.yaml");
 * ```
 */
export function resolveCohortConfig(raw: unknown, file: string): RealConfig {
  const c = resolveConfig(COHORT_SCHEMA, raw, file);
  const s = c.splits;
  if (s.train <= 0 || s.val + s.test <= 0) {
    throw configError(
      { source: file, path: "splits" },
      "train > 0 and at least one of val/test > 0",
      s,
    );
  }
  const base = dirname(resolve(file));
  const abs = (p: string) => isAbsolute(p) ? p : resolve(base, p);
  return {
    source: resolve(file),
    ...c,
    manifest: abs(c.manifest),
    ehr: c.ehr === null ? null : { ...c.ehr, path: abs(c.ehr.path) },
    cacheDir: abs(c.cacheDir),
  };
}

/**
 * Reads and validates a cohort YAML file.
 *
 * @example
 * ```ts
 * const cfg = await loadCohortConfig("cohort.yaml");
 * ```
 */
export async function loadCohortConfig(path: string): Promise<RealConfig> {
  // Regular files only: a FIFO would block the read forever.
  const raw = loadYaml(path, "cohort config (YAML)");
  await Promise.resolve();
  return resolveCohortConfig(raw, path);
}
