/**
 * Small helpers for picking patients out of a cohort.
 *
 * @module
 */
import type { Cohort, Patient, Split } from "./types.ts";

/**
 * Patients in the given splits, in cohort order.
 *
 * @example
 * ```ts
 * const pool = patientsIn(cohort, ["pretrain", "train", "val"]);
 * ```
 */
export function patientsIn(cohort: Cohort, splits: Split[]): Patient[] {
  return cohort.patients.filter((p) => splits.includes(p.split));
}

/**
 * Labeled patients in the given split.
 *
 * @example
 * ```ts
 * const test = labeledIn(cohort, "test");
 * ```
 */
export function labeledIn(cohort: Cohort, split: Split): Patient[] {
  return cohort.patients.filter((p) => p.split === split && p.label !== null);
}

/**
 * Number of scan values per scan (product of the imaging shape).
 *
 * @example
 * ```ts
 * scanSize({ ...cohort, imaging: { mode: "volume", shape: [32, 32, 32] } }); // 32768
 * ```
 */
export function scanSize(cohort: Cohort): number {
  return cohort.imaging.shape.reduce((a, b) => a * b, 1);
}
