/**
 * Files on disk -> the same {@link CohortSet} that `sim/` generates:
 * manifest rows become patients and scans (ROIs cut from NIfTI or DICOM,
 * cached), EHR tables become records on the scans' clock (months since the
 * patient's first scan), the internal cohort is split by patient, and the
 * other cohorts become external test sets.
 *
 * @module
 */
import { join } from "node:path";
import type {
  Cohort,
  CohortSet,
  Demographics,
  EhrRecord,
  Patient,
  Scan,
  Split,
} from "../cohort/types.ts";
import { UserError } from "../core/errors.ts";
import { writeAtomic } from "../core/results.ts";
import {
  cacheKey,
  ensureCacheDir,
  readCachedRoi,
  writeCachedRoi,
} from "./cache.ts";
import type { RealConfig } from "./config.ts";
import { readDicomSeries } from "./dicom.ts";
import {
  crossSection,
  type DatedRecord,
  type DemographicsRow,
  eventKinds,
  featureNames,
  fitIca,
  fitPca,
  project,
  readDemographics,
  readLongEhr,
  readWideEhr,
} from "./ehr.ts";
import { type ManifestPatient, readManifest } from "./manifest.ts";
import { readNifti } from "./nifti.ts";
import { assignSplits, checkSplitsUsable } from "./splits.ts";
import {
  BadRecords,
  monthsBetween,
  readTable,
  type SkippedRecord,
} from "./table.ts";
import {
  checkVolume,
  extractRoi,
  insideVolume,
  type Volume,
  volumeCentre,
  windowHu,
} from "./volume.ts";

/** Options of {@link buildCohortSet}. */
export interface BuildOptions {
  /** Drop bad records (and list them) instead of stopping at the first. */
  skipBad: boolean;
  /** Run seed (the split seed unless the config sets one). */
  seed: number;
  /** Called after each scan: scans done, total, and "cached|decoded <id>". */
  onProgress?: (done: number, total: number, what: string) => void;
  /** Test fold when the config asks for k-fold cross-validation. */
  fold?: number;
  /**
   * Refuse splits that cannot give an AUC (see `checkSplitsUsable`);
   * `train` sets it unless `--allow-undefined-auc` is given.
   */
  requireAuc?: boolean;
}

/** What {@link buildCohortSet} returns. */
export interface BuildResult {
  /** The cohorts. */
  set: CohortSet;
  /** Records dropped by `skipBad`, in the order they were found. */
  skipped: SkippedRecord[];
}

/**
 * Decodes a scan file: a folder or `.dcm` is DICOM, `.nii`/`.nii.gz`
 * NIfTI; anything else is refused by name.
 *
 * @example
 * ```ts
 * const vol = await readScan("images/p1.nii.gz");
 * ```
 */
export async function readScan(path: string): Promise<Volume> {
  const lower = path.toLowerCase();
  if (Deno.statSync(path).isDirectory || lower.endsWith(".dcm")) {
    return await readDicomSeries(path);
  }
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) {
    return readNifti(path);
  }
  throw new UserError(
    `${path}: unknown image format; expected .nii, .nii.gz, .dcm or a DICOM series folder`,
  );
}

async function roiFor(
  cfg: RealConfig,
  path: string,
  nodule: [number, number, number] | null,
): Promise<Float32Array> {
  const vol = await readScan(path);
  checkVolume(vol, path);
  const pp = cfg.preprocess;
  let centre = volumeCentre(vol);
  if (nodule && pp.centre === "nodule") {
    if (!insideVolume(vol, nodule)) {
      throw new UserError(
        `${path}: nodule centre (${
          nodule.map((v) => v.toFixed(1)).join(", ")
        }) mm RAS is outside the scan`,
      );
    }
    centre = nodule;
  }
  const roi = extractRoi(vol, centre, {
    size: pp.roiSize,
    spacingMm: pp.spacingMm,
    pad: -1024,
  });
  if (pp.huWindow) windowHu(roi, pp.huWindow, pp.normalize);
  return roi;
}

function ageAt(rows: DemographicsRow[], ref: number): Demographics {
  const d: Demographics = { age: null, sex: null, packYears: null };
  let best = Infinity;
  for (const r of rows) {
    const gap = Math.abs(monthsBetween(ref, r.date));
    if (r.age !== null && gap < best) {
      best = gap;
      d.age = r.age - monthsBetween(ref, r.date) / 12;
    }
    d.sex ??= r.sex;
    if (r.packYears !== null) d.packYears = r.packYears;
  }
  return d;
}

function manifestDemographics(
  cfg: RealConfig,
  patients: ManifestPatient[],
  bad: BadRecords,
): Map<string, DemographicsRow[]> {
  const out = new Map<string, DemographicsRow[]>();
  const t = readTable(cfg.manifest, []);
  const cols = {
    age: cfg.demographics.age && t.header.includes(cfg.demographics.age)
      ? cfg.demographics.age
      : null,
    sex: cfg.demographics.sex && t.header.includes(cfg.demographics.sex)
      ? cfg.demographics.sex
      : null,
    packYears: cfg.demographics.packYears &&
        t.header.includes(cfg.demographics.packYears)
      ? cfg.demographics.packYears
      : null,
  };
  if (!cols.age && !cols.sex && !cols.packYears) return out;
  const dates = new Map(
    patients.flatMap((p) => p.scans.map((s) => [s.row, s.date])),
  );
  const known = new Set(patients.map((p) => p.id));
  for (const r of t.rows) {
    const pid = r.get(cfg.columns.patientId);
    if (!known.has(pid)) continue;
    const row = readDemographics(
      r.get,
      cols,
      dates.get(r.row) ?? NaN,
      (field, reason) =>
        bad.report({ file: cfg.manifest, row: r.row, id: pid, field, reason }),
    );
    if (!row) continue;
    if (!out.has(pid)) out.set(pid, []);
    out.get(pid)!.push(row);
  }
  return out;
}

/**
 * Builds the cohort set a config describes. Deterministic for a config,
 * data and seed; ROIs come from `cfg.cacheDir` when present there, so a
 * second call decodes nothing. With long EHR events, the fitted projection
 * is saved at {@link projectionPath}.
 *
 * @example
 * ```ts
 * const { set, skipped } = await buildCohortSet(cfg, { skipBad: false, seed: 1 });
 * ```
 */
export async function buildCohortSet(
  cfg: RealConfig,
  opts: BuildOptions,
): Promise<BuildResult> {
  const bad = new BadRecords(opts.skipBad);
  const manifest = readManifest(cfg, bad);
  const listed = manifest.patients;
  if (!listed.some((p) => p.cohort === cfg.internalCohort)) {
    throw new UserError(
      `${cfg.manifest}: no patient in the internal cohort "${cfg.internalCohort}" (cohorts: ${
        [...new Set(listed.map((p) => p.cohort))].join(", ") || "none"
      }); set internalCohort in ${cfg.source}`,
    );
  }

  // Scans: ROIs from the cache, else decoded and cached.
  const pp = cfg.preprocess;
  const length = pp.roiSize ** 3;
  const total = listed.reduce((n, p) => n + p.scans.length, 0);
  ensureCacheDir(cfg.cacheDir);
  let done = 0;
  const rois = new Map<string, Float32Array>();
  for (const p of listed) {
    for (const s of p.scans) {
      let what = "cached";
      try {
        const key = cacheKey(s.path, {
          pp,
          nodule: pp.centre === "nodule" ? s.nodule : null,
        });
        let roi = readCachedRoi(cfg.cacheDir, key, length);
        if (!roi) {
          what = "decoded";
          roi = await roiFor(cfg, s.path, s.nodule);
          writeCachedRoi(cfg.cacheDir, key, roi);
        }
        rois.set(s.id, roi);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        what = "bad";
        bad.report({
          file: cfg.manifest,
          row: s.row,
          id: s.id,
          field: cfg.columns.path,
          reason: e.message,
        });
      }
      opts.onProgress?.(++done, total, `${what} ${s.id}`);
      // Let timers (progress lines) run between scans.
      if (done % 8 === 0) await new Promise((r) => setTimeout(r, 0));
    }
  }
  for (const p of listed) p.scans = p.scans.filter((s) => rois.has(s.id));

  // EHR tables.
  const known = new Set(listed.map((p) => p.id));
  const cohortCol = [cfg.columns.cohort];
  const wide = cfg.ehr?.format === "wide"
    ? readWideEhr(
      cfg.ehr,
      cfg.demographics,
      known,
      manifest.listed,
      bad,
      cohortCol,
    )
    : null;
  const events = cfg.ehr?.format === "long"
    ? readLongEhr(cfg.ehr, known, manifest.listed, bad)
    : null;
  const demo = wide && wide.demographics.size > 0
    ? wide.demographics
    : manifestDemographics(cfg, listed, bad);

  // The clock: months since the first scan; without scans, since the
  // latest EHR date (the diagnosis is made at the latest information).
  const refDate = new Map<string, number>();
  const keep: ManifestPatient[] = [];
  for (const p of listed) {
    const ehrDates = [
      ...(wide?.records.get(p.id) ?? []).map((r) => r.date),
      ...(events?.get(p.id) ?? []).map((e) => e.date),
    ];
    const ref = p.scans.length > 0
      ? Math.min(...p.scans.map((s) => s.date))
      : ehrDates.length > 0
      ? Math.max(...ehrDates)
      : null;
    if (ref === null) {
      bad.report({
        file: cfg.manifest,
        row: p.row,
        id: p.id,
        field: "",
        reason: "patient has no usable scan and no EHR record",
      });
      continue;
    }
    refDate.set(p.id, ref);
    keep.push(p);
  }

  const internal = keep.filter((p) => p.cohort === cfg.internalCohort);
  const splits: Map<string, Split> = cfg.columns.split
    ? new Map(internal.map((p) => [p.id, p.split as Split]))
    : assignSplits(internal, cfg.splits, opts.seed, opts.fold ?? null);
  checkSplitsUsable(
    internal,
    splits,
    cfg.columns.split ? { kfold: null } : cfg.splits,
    cfg.source,
    !(opts.requireAuc ?? false),
  );

  // EHR records per patient.
  const ehrOf = new Map<string, EhrRecord[]>();
  let ehrDim = 0;
  let ehrNames: string[] | undefined;
  if (wide) {
    ehrDim = wide.names.length;
    ehrNames = wide.names;
    for (const [pid, recs] of wide.records) {
      const ref = refDate.get(pid);
      if (ref === undefined) continue;
      ehrOf.set(pid, toRecords(recs, ref));
    }
  } else if (events && cfg.ehr?.format === "long") {
    const lookback = cfg.ehr.lookbackMonths;
    const kinds = eventKinds(
      internal.filter((p) => isTraining(splits.get(p.id)))
        .map((p) => events.get(p.id) ?? []),
      cfg.ehr.kinds,
    );
    const withAge = [...demo.values()].some((rows) =>
      rows.some((r) => r.age !== null)
    );
    const names = featureNames(kinds, withAge);
    if (names.length === 0) {
      throw new UserError(
        `${cfg.ehr.path}: no events of training patients; cannot fit the EHR projection`,
      );
    }
    // One cross-section per scan date (or at the reference date).
    const raw = new Map<string, DatedRecord[]>();
    const rawRows = new Map<string, Float64Array[]>();
    for (const p of keep) {
      const evs = events.get(p.id);
      if (!evs) continue;
      const dates = p.scans.length > 0
        ? p.scans.map((s) => s.date)
        : [refDate.get(p.id)!];
      const rows = dates.map((d) => {
        const age = withAge ? ageAt(demo.get(p.id) ?? [], d).age : undefined;
        return crossSection(evs, kinds, d, lookback, age);
      });
      rawRows.set(p.id, rows);
      raw.set(
        p.id,
        dates.map((date) => ({ date, values: new Float32Array(0) })),
      );
    }
    const training = internal.filter((p) => isTraining(splits.get(p.id)))
      .flatMap((p) => rawRows.get(p.id) ?? []);
    const proj = (cfg.projection === "ica" ? fitIca : fitPca)(
      training,
      names,
      cfg.signatureDim,
    );
    ehrDim = proj.components.length;
    ehrNames = Array.from(
      { length: ehrDim },
      (_, i) =>
        `${cfg.projection === "ica" ? "ic" : "pc"}_${
          String(i).padStart(3, "0")
        }`,
    );
    writeAtomic(
      projectionPath(cfg, opts.seed, opts.fold),
      JSON.stringify(proj) + "\n",
    );
    for (const [pid, recs] of raw) {
      const rows = rawRows.get(pid)!;
      ehrOf.set(
        pid,
        toRecords(
          recs.map((r, i) => ({
            date: r.date,
            values: project(proj, rows[i]),
          })),
          refDate.get(pid)!,
        ),
      );
    }
  }

  const toPatient = (p: ManifestPatient, split: Split): Patient => {
    const ref = refDate.get(p.id)!;
    const scans: Scan[] = p.scans
      .map((s) => ({
        id: s.id,
        time: monthsBetween(ref, s.date),
        data: rois.get(s.id)!,
      }))
      .sort((a, b) => a.time - b.time);
    return {
      id: p.id,
      split,
      label: p.label,
      scans,
      ehr: ehrOf.get(p.id) ?? [],
      demographics: ageAt(demo.get(p.id) ?? [], ref),
    };
  };
  const cohort = (
    name: string,
    kind: "internal" | "external",
    patients: Patient[],
  ): Cohort => ({
    name,
    kind,
    source: "real",
    imaging: { mode: "volume", shape: [pp.roiSize, pp.roiSize, pp.roiSize] },
    ehrDim,
    ...(ehrNames ? { ehrNames } : {}),
    patients,
  });
  const externalNames = [
    ...new Set(
      keep.map((p) => p.cohort).filter((c) => c !== cfg.internalCohort),
    ),
  ];
  const set: CohortSet = {
    internal: cohort(
      cfg.internalCohort,
      "internal",
      internal.map((p) => toPatient(p, splits.get(p.id)!)),
    ),
    externals: externalNames.map((name) =>
      cohort(
        name,
        "external",
        keep.filter((p) => p.cohort === name).map((p) => toPatient(p, "test")),
      )
    ),
  };
  return { set, skipped: bad.skipped };
}

/**
 * Where {@link buildCohortSet} saves the long-EHR projection it fitted:
 * one file per seed and fold, since the training patients depend on both.
 *
 * @example
 * ```ts
 * const proj = JSON.parse(Deno.readTextFileSync(projectionPath(cfg, 1)));
 * ```
 */
export function projectionPath(
  cfg: RealConfig,
  seed: number,
  fold?: number,
): string {
  const f = fold === undefined ? "" : `-fold${fold}`;
  return join(cfg.cacheDir, `ehr_projection-seed${seed}${f}.json`);
}

function isTraining(s: Split | undefined): boolean {
  return s === "pretrain" || s === "train";
}

function toRecords(recs: DatedRecord[], ref: number): EhrRecord[] {
  return recs
    .map((r) => ({ time: monthsBetween(ref, r.date), values: r.values }))
    .sort((a, b) => a.time - b.time);
}
