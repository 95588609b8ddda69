/**
 * The manifest: one row per scan (or one scan-less row for a patient
 * without scans) naming the patient, the cohort, the label, the image and
 * the nodule. Bad rows are reported by file, row and field.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { RealConfig } from "./config.ts";
import {
  type BadRecords,
  DATE_EXPECTED,
  parseDate,
  readTable,
} from "./table.ts";

/** One scan row of the manifest. */
export interface ManifestScan {
  /** Manifest row (header = 1). */
  row: number;
  /** Scan id (unique in the manifest). */
  id: string;
  /** Scan date, ms since the epoch. */
  date: number;
  /** Absolute path of the .nii/.nii.gz file or DICOM folder. */
  path: string;
  /** Nodule centre in world RAS mm, or null. */
  nodule: [number, number, number] | null;
  /** Nodule diameter in mm, or null. */
  diameterMm: number | null;
}

/** A patient as the manifest lists it. */
export interface ManifestPatient {
  id: string;
  cohort: string;
  label: 0 | 1 | null;
  /** Value of the split column, when configured. */
  split: string | null;
  /** Scans in manifest order. */
  scans: ManifestScan[];
  /** First manifest row of the patient. */
  row: number;
}

/** What {@link readManifest} found. */
export interface Manifest {
  /** Patients with at least one good row, in first-appearance order. */
  patients: ManifestPatient[];
  /** Every patient id on any row, good or bad. */
  listed: Set<string>;
}

/**
 * Reads and validates the manifest; bad rows go to `bad` (thrown or
 * skipped).
 *
 * @example
 * ```ts
 * const { patients } = readManifest(cfg, new BadRecords(false));
 * ```
 */
export function readManifest(
  cfg: RealConfig,
  bad: BadRecords,
): Manifest {
  const c = cfg.columns;
  const file = cfg.manifest;
  const t = readTable(file, [
    c.patientId,
    c.scanId,
    c.scanDate,
    c.path,
    c.cohort,
  ]);
  const base = dirname(file);
  const patients = new Map<string, ManifestPatient>();
  const scanRows = new Map<string, number>();
  const labels = new Map<string, { label: 0 | 1 | null; row: number }>();
  const listed = new Set<string>();
  for (const r of t.rows) {
    const pid = r.get(c.patientId);
    if (pid) listed.add(pid);
    const fail = (field: string, reason: string) =>
      bad.report({ file, row: r.row, id: pid, field, reason });
    if (!pid) {
      fail(c.patientId, "empty patient id");
      continue;
    }
    const cohort = r.get(c.cohort);
    if (!cohort) {
      fail(c.cohort, "empty cohort name");
      continue;
    }
    const rawLabel = r.get(c.label);
    if (rawLabel !== "" && rawLabel !== "0" && rawLabel !== "1") {
      fail(c.label, `label "${rawLabel}" is not 0, 1 or empty (unlabeled)`);
      continue;
    }
    const label = rawLabel === "" ? null : (Number(rawLabel) as 0 | 1);
    const prev = patients.get(pid);
    if (prev && prev.cohort !== cohort) {
      fail(
        c.cohort,
        `patient is in cohort "${cohort}" here but "${prev.cohort}" at row ${prev.row} (duplicate patient id?)`,
      );
      continue;
    }
    const seen = labels.get(pid);
    if (seen && label !== null && seen.label !== null && seen.label !== label) {
      fail(
        c.label,
        `label ${label} contradicts label ${seen.label} at row ${seen.row}`,
      );
      continue;
    }
    const split = c.split ? r.get(c.split) : null;
    if (
      c.split && !["pretrain", "train", "val", "test"].includes(split ?? "")
    ) {
      fail(
        c.split,
        `split "${split}" is not one of pretrain, train, val, test`,
      );
      continue;
    }
    if (prev && c.split && prev.split !== split) {
      fail(
        c.split,
        `split "${split}" contradicts "${prev.split}" at row ${prev.row}`,
      );
      continue;
    }
    const sid = r.get(c.scanId), rawPath = r.get(c.path);
    let scan: ManifestScan | null = null;
    if (sid || rawPath) {
      if (!sid) {
        fail(c.scanId, "empty scan id on a row with a path");
        continue;
      }
      if (!rawPath) {
        fail(c.path, "empty path on a row with a scan id");
        continue;
      }
      const first = scanRows.get(sid);
      if (first !== undefined) {
        fail(c.scanId, `duplicate scan id "${sid}" (first at row ${first})`);
        continue;
      }
      const date = parseDate(r.get(c.scanDate));
      if (date === null) {
        fail(
          c.scanDate,
          `unparseable date "${r.get(c.scanDate)}"; expected ${DATE_EXPECTED}`,
        );
        continue;
      }
      const path = isAbsolute(rawPath) ? rawPath : resolve(base, rawPath);
      if (!existsSync(path)) {
        fail(c.path, `missing file ${path}`);
        continue;
      }
      const xyz = [c.noduleX, c.noduleY, c.noduleZ].map((k) => r.get(k));
      let nodule: [number, number, number] | null = null;
      if (xyz.some((v) => v !== "")) {
        const v = xyz.map(Number);
        const badAxis = v.findIndex((x, i) =>
          xyz[i] === "" || !Number.isFinite(x)
        );
        if (badAxis >= 0) {
          fail(
            [c.noduleX, c.noduleY, c.noduleZ][badAxis],
            `nodule coordinate "${
              xyz[badAxis]
            }" is not a number (give all three or none)`,
          );
          continue;
        }
        nodule = cfg.preprocess.coordinates === "LPS"
          ? [-v[0], -v[1], v[2]]
          : [v[0], v[1], v[2]];
      }
      const rawD = r.get(c.diameter);
      const diameterMm = rawD === "" ? null : Number(rawD);
      if (diameterMm !== null && !(diameterMm >= 0)) {
        fail(c.diameter, `diameter "${rawD}" is not a non-negative number`);
        continue;
      }
      scanRows.set(sid, r.row);
      scan = { row: r.row, id: sid, date, path, nodule, diameterMm };
    }
    if (!seen || seen.label === null) labels.set(pid, { label, row: r.row });
    const p = prev ?? {
      id: pid,
      cohort,
      label: null,
      split,
      scans: [],
      row: r.row,
    };
    if (label !== null) p.label = label;
    if (scan) p.scans.push(scan);
    patients.set(pid, p);
  }
  return { patients: [...patients.values()], listed };
}
