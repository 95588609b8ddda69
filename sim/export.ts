/**
 * Writes a synthetic cohort set to disk in real formats, so the real-data
 * path (real/) can be tested end to end on data whose truth is known.
 *
 * Layout under `dir`:
 * - `images/<scan_id>.nii.gz`: NIfTI-1 float32 volumes in HU (volume mode),
 * - `features.csv`: patient_id, scan_id, scan_date, f_000.. (features mode,
 *   instead of images; the manifest's path is then empty),
 * - `manifest.csv`: one row per scan (patient_id, scan_id, scan_date, path,
 *   label, cohort, split, nodule_x_mm, nodule_y_mm, nodule_z_mm,
 *   diameter_mm); a patient without scans gets one row with empty scan
 *   fields so that its label and split are still listed,
 * - `ehr.csv`: one row per EHR cross-section (patient_id, cohort, date, age,
 *   sex, pack_years, sig_000..),
 * - `scenario.json`: the resolved scenario and seed, when given.
 *
 * Dates are a fixed base date (2020-01-01) plus the patient's months.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "csv-stringify/sync";
import { MANIFEST_COLUMNS } from "../cohort/manifest.ts";
import { writeAtomic } from "../core/results.ts";
import type { Cohort, CohortSet, Patient } from "../cohort/types.ts";
import type { Scenario } from "./scenario.ts";
import type { SyntheticScan } from "./generate.ts";
import { encodeNifti } from "./nifti.ts";

const BASE_MS = Date.UTC(2020, 0, 1);
const DAYS_PER_MONTH = 365.25 / 12;

/**
 * ISO date (yyyy-mm-dd) of `months` after 2020-01-01.
 *
 * @example
 * ```ts
 * isoDate(12); // "2020-12-31"
 * ```
 */
export function isoDate(months: number): string {
  const days = Math.round(months * DAYS_PER_MONTH);
  return new Date(BASE_MS + days * 86_400_000).toISOString().slice(0, 10);
}

function num(v: number): string {
  return String(Number(v.toPrecision(7)));
}

/** What {@link exportCohorts} wrote. */
export interface ExportSummary {
  /** Files written, relative to the export folder. */
  files: string[];
  /** Scans written (volumes or feature rows). */
  scans: number;
}

/**
 * Exports every cohort of `set` under `dir` (created if missing).
 *
 * @example
 * ```ts
 * exportCohorts(generateCohorts(s, 1), "out/synthetic", { scenario: s, seed: 1 });
 * ```
 */
export function exportCohorts(
  set: CohortSet,
  dir: string,
  meta: { scenario?: Scenario; seed?: number } = {},
): ExportSummary {
  const cohorts: Cohort[] = [set.internal, ...set.externals];
  const volume = set.internal.imaging.mode === "volume";
  mkdirSync(dir, { recursive: true });
  if (volume) mkdirSync(join(dir, "images"), { recursive: true });
  const files: string[] = [];
  const manifest: string[][] = [];
  const features: string[][] = [];
  const ehr: string[][] = [];
  let scans = 0;
  for (const c of cohorts) {
    for (const p of c.patients) {
      const label = p.label === null ? "" : String(p.label);
      if (p.scans.length === 0) {
        manifest.push([
          p.id,
          "",
          "",
          "",
          label,
          c.name,
          p.split,
          "",
          "",
          "",
          "",
        ]);
      }
      for (const s of p.scans as SyntheticScan[]) {
        let path = "";
        if (volume) {
          const n = c.imaging.shape[0];
          const sp = s.spacingMm ?? 1;
          const o = -((n - 1) / 2) * sp;
          path = `images/${s.id}.nii.gz`;
          writeAtomic(
            join(dir, path),
            encodeNifti({
              dims: [n, n, n],
              spacing: [sp, sp, sp],
              origin: [o, o, o],
              data: s.data,
            }),
          );
          files.push(path);
        } else {
          features.push([
            p.id,
            s.id,
            isoDate(s.time),
            ...Array.from(s.data, num),
          ]);
        }
        const nod = s.nodule;
        manifest.push([
          p.id,
          s.id,
          isoDate(s.time),
          path,
          label,
          c.name,
          p.split,
          nod ? num(nod.centerMm[0]) : "",
          nod ? num(nod.centerMm[1]) : "",
          nod ? num(nod.centerMm[2]) : "",
          nod ? num(nod.diameterMm) : "",
        ]);
        scans++;
      }
      // Two records can round to one day; the reader refuses same-day
      // duplicates, so the later record (the latest that day) replaces
      // the earlier and the export always reads back.
      const byDay = new Map<string, number>();
      for (const r of p.ehr) {
        const day = isoDate(r.time);
        const row = ehrRow(c, p, r.time, r.values);
        const at = byDay.get(day);
        if (at === undefined) {
          byDay.set(day, ehr.length);
          ehr.push(row);
        } else ehr[at] = row;
      }
    }
  }
  const write = (name: string, header: string[], rows: string[][]) => {
    writeAtomic(join(dir, name), stringify([header, ...rows]));
    files.push(name);
  };
  write("manifest.csv", Object.values(MANIFEST_COLUMNS), manifest);
  const names = set.internal.ehrNames ??
    Array.from({ length: set.internal.ehrDim }, (_, i) => `sig_${i}`);
  write("ehr.csv", [
    "patient_id",
    "cohort",
    "date",
    "age",
    "sex",
    "pack_years",
    ...names,
  ], ehr);
  if (!volume) {
    const dim = set.internal.imaging.shape[0];
    write("features.csv", [
      "patient_id",
      "scan_id",
      "scan_date",
      ...Array.from(
        { length: dim },
        (_, i) => `f_${String(i).padStart(3, "0")}`,
      ),
    ], features);
  }
  if (meta.scenario) {
    writeAtomic(
      join(dir, "scenario.json"),
      JSON.stringify(
        { seed: meta.seed ?? null, scenario: meta.scenario },
        null,
        2,
      ) +
        "\n",
    );
    files.push("scenario.json");
  }
  return { files, scans };
}

function ehrRow(
  c: Cohort,
  p: Patient,
  time: number,
  values: Float32Array,
): string[] {
  const d = p.demographics;
  return [
    p.id,
    c.name,
    isoDate(time),
    d.age === null ? "" : num(Math.round(10 * (d.age + time / 12)) / 10),
    d.sex === null ? "" : String(d.sex),
    d.packYears === null ? "" : num(d.packYears),
    ...Array.from(values, num),
  ];
}
