/**
 * The manifest's default column names: one schema that the simulator's
 * exporter writes and the real-cohort reader expects (a cohort YAML can
 * rename any of them under `columns:`).
 *
 * @module
 */

/**
 * Manifest columns by field, in the order the exporter writes them.
 *
 * @example
 * ```ts
 * MANIFEST_COLUMNS.patientId; // "patient_id"
 * ```
 */
export const MANIFEST_COLUMNS = {
  patientId: "patient_id",
  scanId: "scan_id",
  scanDate: "scan_date",
  path: "path",
  label: "label",
  cohort: "cohort",
  split: "split",
  noduleX: "nodule_x_mm",
  noduleY: "nodule_y_mm",
  noduleZ: "nodule_z_mm",
  diameter: "diameter_mm",
} as const;
