/**
 * CSV tables with row numbers, dates, and the record of what `--skip-bad`
 * dropped. Every error names the file, the row (1-based, header = row 1)
 * and the field, so a user can find the bad cell.
 *
 * @module
 */
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { UserError } from "../core/errors.ts";
import type { ResultRow } from "../core/results.ts";

/** A CSV file read into string records. */
export interface Table {
  /** The file. */
  path: string;
  /** Column names. */
  header: string[];
  /** Records keyed by column; `row` is the file's line-based row number. */
  rows: { row: number; get: (col: string) => string }[];
}

/**
 * Reads a CSV file with a header row; `required` columns must exist.
 *
 * @example
 * ```ts
 * const t = readTable("manifest.csv", ["patient_id", "path"]);
 * ```
 */
export function readTable(path: string, required: string[]): Table {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  let records: string[][];
  try {
    records = parse(text, {
      relax_column_count: false,
      skip_empty_lines: true,
    });
  } catch (e) {
    throw new UserError(`${path}: invalid CSV (${(e as Error).message})`);
  }
  if (records.length === 0) throw new UserError(`${path}: empty file`);
  const header = records[0].map((h) => h.trim());
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new UserError(
      `${path}: missing column(s) ${
        missing.map((m) => `"${m}"`).join(", ")
      }; the header has ${
        header.join(", ")
      } (column names are configurable in the cohort YAML)`,
    );
  }
  const index = new Map(header.map((h, i) => [h, i]));
  return {
    path,
    header,
    rows: records.slice(1).map((r, i) => ({
      row: i + 2,
      get: (col: string) => {
        const k = index.get(col);
        return k === undefined ? "" : (r[k] ?? "").trim();
      },
    })),
  };
}

const MS_PER_MONTH = 86_400_000 * 365.25 / 12;

/**
 * Parses yyyy-mm-dd, an ISO date-time, or DICOM's yyyymmdd into ms since
 * the epoch (UTC); null when unparseable.
 *
 * @example
 * ```ts
 * parseDate("2020-03-01"); // 1583020800000
 * ```
 */
export function parseDate(s: string): number | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ][\d:.]+Z?)?$/.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return t;
}

/**
 * Months between two dates given in ms (b - a).
 *
 * @example
 * ```ts
 * monthsBetween(parseDate("2020-01-01")!, parseDate("2021-01-01")!); // ~12
 * ```
 */
export function monthsBetween(a: number, b: number): number {
  return (b - a) / MS_PER_MONTH;
}

/** A record that `--skip-bad` dropped, and why. */
export interface SkippedRecord {
  /** The file holding the record. */
  file: string;
  /** Its row (header = 1), or null for a file-level problem. */
  row: number | null;
  /** Patient or scan id, when known. */
  id: string;
  /** The field at fault, when one is. */
  field: string;
  /** What was wrong. */
  reason: string;
}

/**
 * Either throws on a bad record (strict) or collects it (`--skip-bad`).
 *
 * @example
 * ```ts
 * const bad = new BadRecords(false);
 * bad.report({ file: "m.csv", row: 3, id: "p1", field: "label", reason: "..." });
 * ```
 */
export class BadRecords {
  /** What was dropped so far. */
  readonly skipped: SkippedRecord[] = [];
  readonly #skip: boolean;

  /** @param skip collect instead of throwing */
  constructor(skip: boolean) {
    this.#skip = skip;
  }

  /** Throws a {@link UserError} naming the record unless skipping. */
  report(r: SkippedRecord): void {
    if (!this.#skip) {
      throw new UserError(
        `${describe(r)}${
          r.row === null ? "" : " (rerun with --skip-bad to drop such records)"
        }`,
      );
    }
    this.skipped.push(r);
  }
}

function describe(r: SkippedRecord): string {
  const at = r.row === null ? r.file : `${r.file} row ${r.row}`;
  const field = r.field ? `, field "${r.field}"` : "";
  const id = r.id ? ` (${r.id})` : "";
  return `${at}${field}${id}: ${r.reason}`;
}

/**
 * The skipped records as CSV text (file, row, id, field, reason).
 *
 * @example
 * ```ts
 * Deno.writeTextFileSync("skipped.csv", skippedCsv(skipped));
 * ```
 */
export function skippedCsv(skipped: SkippedRecord[]): string {
  return stringify([
    ["file", "row", "id", "field", "reason"],
    ...skipped.map((
      s,
    ) => [
      s.file,
      s.row === null ? "" : String(s.row),
      s.id,
      s.field,
      s.reason,
    ]),
  ]);
}

/**
 * The skipped records as aligned text lines for the terminal.
 *
 * @example
 * ```ts
 * for (const l of skippedLines(skipped)) console.error(l);
 * ```
 */
export function skippedLines(skipped: SkippedRecord[]): string[] {
  return skipped.map(describe);
}

/**
 * Every run's per-patient predictions as CSV text, one line per run,
 * cohort and patient: study, method, seed, run_id, cohort, patient_id,
 * label, score (the score as JSON writes it, so it round-trips exactly).
 *
 * @example
 * ```ts
 * Deno.writeTextFileSync("predictions.csv", predictionsCsv(rows));
 * ```
 */
export function predictionsCsv(rows: ResultRow[]): string {
  const lines: string[][] = [[
    "study",
    "method",
    "seed",
    "run_id",
    "cohort",
    "patient_id",
    "label",
    "score",
  ]];
  for (const r of rows) {
    for (const [cohort, p] of Object.entries(r.predictions)) {
      p.ids.forEach((id, i) =>
        lines.push([
          r.study,
          r.method,
          String(r.seed),
          r.runId,
          cohort,
          id,
          String(p.labels[i]),
          String(p.scores[i]),
        ])
      );
    }
  }
  return stringify(lines);
}
