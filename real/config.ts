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
import { parse } from "yaml";
import { MANIFEST_COLUMNS } from "../cohort/manifest.ts";
import { UserError } from "../core/errors.ts";
import { parseMethod } from "../models/methods.ts";
import { readRegularText, yamlErrorLine } from "../core/files.ts";

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
  kinds: Record<string, "code" | "lab" | "medication">;
}

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

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function known(o: Obj, keys: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) {
      throw new UserError(
        `${where}: unknown key "${k}"; expected one of ${keys.join(", ")}`,
      );
    }
  }
}

function str(o: Obj, k: string, def: string, where: string): string {
  const v = o[k] ?? def;
  if (typeof v !== "string" || v === "") {
    throw new UserError(`${where}.${k}: expected a non-empty string`);
  }
  return v;
}

function numIn(
  o: Obj,
  k: string,
  def: number,
  where: string,
  ok: (n: number) => boolean,
  what: string,
): number {
  const v = o[k] ?? def;
  if (typeof v !== "number" || !ok(v)) {
    throw new UserError(`${where}.${k}: expected ${what}, got ${String(v)}`);
  }
  return v;
}

function sub(o: Obj, k: string, where: string): Obj {
  const v = o[k] ?? {};
  if (!isObj(v)) throw new UserError(`${where}.${k}: expected a mapping`);
  return v;
}

function pick<T extends string>(
  o: Obj,
  k: string,
  allowed: T[],
  where: string,
): T {
  const v = o[k] ?? allowed[0];
  if (!allowed.includes(v as T)) {
    throw new UserError(
      `${where}.${k}: "${String(v)}" is not one of ${allowed.join(", ")}`,
    );
  }
  return v as T;
}

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
  if (!isObj(raw)) throw new UserError(`${file}: expected a YAML mapping`);
  const w = file;
  known(raw, [
    "manifest",
    "columns",
    "internalCohort",
    "ehr",
    "demographics",
    "preprocess",
    "splits",
    "cacheDir",
    "signatureDim",
    "projection",
    "methods",
    "experiment",
  ], w);
  const base = dirname(resolve(file));
  const abs = (p: string) => isAbsolute(p) ? p : resolve(base, p);
  const manifest = abs(str(raw, "manifest", "", w));

  const c = sub(raw, "columns", w);
  // The exporter's schema; split is optional (null: mmjepa splits by seed).
  const colKeys = Object.entries(MANIFEST_COLUMNS).filter(([k]) =>
    k !== "split"
  ) as [keyof ManifestColumns, string][];
  known(c, [...colKeys.map(([k]) => k), "split"], `${w}: columns`);
  const columns = Object.fromEntries(
    colKeys.map(([k, d]) => [k, str(c, k, d, `${w}: columns`)]),
  ) as unknown as ManifestColumns;
  columns.split = c.split === undefined || c.split === null
    ? null
    : str(c, "split", "", `${w}: columns`);

  let ehr: RealConfig["ehr"] = null;
  if (raw.ehr !== undefined && raw.ehr !== null) {
    const e = sub(raw, "ehr", w);
    const ew = `${w}: ehr`;
    const format = pick(e, "format", ["wide", "long"], ew);
    const ec = sub(e, "columns", ew);
    if (format === "wide") {
      known(e, ["format", "path", "columns", "signatureColumns"], ew);
      known(ec, ["patientId", "date"], `${ew}.columns`);
      const sc = e.signatureColumns;
      if (
        sc !== undefined && sc !== null &&
        (!Array.isArray(sc) || sc.some((s) => typeof s !== "string"))
      ) {
        throw new UserError(`${ew}.signatureColumns: expected a list of names`);
      }
      ehr = {
        format,
        path: abs(str(e, "path", "", ew)),
        columns: {
          patientId: str(ec, "patientId", "patient_id", `${ew}.columns`),
          date: str(ec, "date", "date", `${ew}.columns`),
        },
        signatureColumns: (sc as string[] | undefined) ?? null,
      };
    } else {
      known(e, ["format", "path", "columns", "lookbackMonths", "kinds"], ew);
      known(ec, ["patientId", "date", "name", "value"], `${ew}.columns`);
      const kinds = sub(e, "kinds", ew);
      for (const [k, v] of Object.entries(kinds)) {
        if (!["code", "lab", "medication"].includes(v as string)) {
          throw new UserError(
            `${ew}.kinds.${k}: "${
              String(v)
            }" is not one of code, lab, medication`,
          );
        }
      }
      ehr = {
        format,
        path: abs(str(e, "path", "", ew)),
        columns: {
          patientId: str(ec, "patientId", "patient_id", `${ew}.columns`),
          date: str(ec, "date", "date", `${ew}.columns`),
          name: str(ec, "name", "name", `${ew}.columns`),
          value: str(ec, "value", "value", `${ew}.columns`),
        },
        lookbackMonths: numIn(
          e,
          "lookbackMonths",
          12,
          ew,
          (n) => n > 0,
          "a positive number of months",
        ),
        kinds: kinds as LongEhrConfig["kinds"],
      };
    }
  }

  const d = sub(raw, "demographics", w);
  known(d, ["age", "sex", "packYears"], `${w}: demographics`);
  const optCol = (k: string, def: string) => {
    const v = d[k] === undefined ? def : d[k];
    if (v !== null && (typeof v !== "string" || v === "")) {
      throw new UserError(
        `${w}: demographics.${k}: expected a column name or null`,
      );
    }
    return v as string | null;
  };
  const demographics = {
    age: optCol("age", "age"),
    sex: optCol("sex", "sex"),
    packYears: optCol("packYears", "pack_years"),
  };

  const p = sub(raw, "preprocess", w);
  const pw = `${w}: preprocess`;
  known(p, [
    "roiSize",
    "spacingMm",
    "huWindow",
    "normalize",
    "centre",
    "coordinates",
  ], pw);
  const hw = p.huWindow === undefined ? [-1000, 400] : p.huWindow;
  if (
    hw !== null &&
    (!Array.isArray(hw) || hw.length !== 2 ||
      hw.some((x) => typeof x !== "number") || hw[0] >= hw[1])
  ) {
    throw new UserError(
      `${pw}.huWindow: expected [low, high] HU with low < high, or null`,
    );
  }
  if (p.normalize !== undefined && typeof p.normalize !== "boolean") {
    throw new UserError(`${pw}.normalize: expected true or false`);
  }
  const preprocess: PreprocessConfig = {
    roiSize: numIn(
      p,
      "roiSize",
      32,
      pw,
      (n) => Number.isInteger(n) && n >= 2 && n <= 256,
      "an integer in [2, 256]",
    ),
    spacingMm: numIn(p, "spacingMm", 1, pw, (n) => n > 0, "a positive number"),
    huWindow: hw as [number, number] | null,
    normalize: (p.normalize as boolean | undefined) ?? false,
    centre: pick(p, "centre", ["nodule", "scan"], pw),
    coordinates: pick(p, "coordinates", ["RAS", "LPS"], pw),
  };

  const s = sub(raw, "splits", w);
  const sw = `${w}: splits`;
  known(s, ["seed", "train", "val", "test", "kfold"], sw);
  const frac = (k: string, def: number) =>
    numIn(s, k, def, sw, (n) => n >= 0 && n <= 1, "a fraction in [0, 1]");
  const splits: SplitsConfig = {
    seed: s.seed === undefined || s.seed === null ? null : numIn(
      s,
      "seed",
      0,
      sw,
      Number.isInteger,
      "an integer",
    ),
    train: frac("train", 0.6),
    val: frac("val", 0.2),
    test: frac("test", 0.2),
    kfold: s.kfold === undefined || s.kfold === null ? null : numIn(
      s,
      "kfold",
      5,
      sw,
      (n) => Number.isInteger(n) && n >= 2,
      "an integer >= 2",
    ),
  };
  if (splits.train <= 0 || splits.val + splits.test <= 0) {
    throw new UserError(
      `${sw}: train and at least one of val/test must be > 0`,
    );
  }
  const m = raw.methods;
  if (
    m !== undefined && m !== null &&
    (!Array.isArray(m) || m.length === 0 ||
      m.some((x) => typeof x !== "string"))
  ) {
    throw new UserError(`${w}: methods: expected a non-empty list of names`);
  }
  (m as unknown[] | undefined)?.forEach((x, i) =>
    parseMethod(x, `${w}: methods[${i}]`)
  );
  const exp = raw.experiment ?? {};
  if (!isObj(exp)) throw new UserError(`${w}: experiment: expected a mapping`);
  return {
    source: resolve(file),
    manifest,
    columns,
    internalCohort: str(raw, "internalCohort", "internal", w),
    ehr,
    demographics,
    preprocess,
    splits,
    cacheDir: abs(str(raw, "cacheDir", ".mmjepa-cache", w)),
    signatureDim: numIn(
      raw,
      "signatureDim",
      16,
      w,
      (n) => Number.isInteger(n) && n >= 1,
      "a positive integer",
    ),
    projection: pick(raw, "projection", ["pca", "ica"], w),
    methods: (m as string[] | undefined) ?? null,
    experiment: exp,
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
  const text = readRegularText(path, "cohort config (YAML)");
  await Promise.resolve();
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new UserError(`${path}: ${yamlErrorLine(e)}`);
  }
  return resolveCohortConfig(raw, path);
}
