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
import { readRegularText } from "../core/files.ts";
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

/** Delimiters {@link readTable} recognises (sniffed from the header). */
export const DELIMITERS = [",", ";", "\t"] as const;

// The delimiter that occurs most often outside quotes in the header line.
function sniffDelimiter(text: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ",";
  for (const [d, n] of counts) if (n > counts.get(best)!) best = d;
  return best;
}

// Line of a quote that opens a field and is never closed, or null. A
// quote opens a field only at its start (RFC 4180); "" inside is escaped.
function unclosedQuoteLine(text: string, delimiter: string): number | null {
  let line = 1, openedAt = 0, quoted = false, atFieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') i++;
        else quoted = false;
      } else if (ch === "\n") line++;
      continue;
    }
    if (ch === '"' && atFieldStart) {
      quoted = true;
      openedAt = line;
    }
    if (ch === "\n") line++;
    atFieldStart = ch === delimiter || ch === "\n" || ch === "\r";
  }
  return quoted ? openedAt : null;
}

/**
 * Reads a CSV file with a header row; `required` columns must exist.
 * Strict: a ragged row, an unclosed quote (reported at the line it
 * opens), an empty or duplicate column name are errors naming the file
 * and line. A UTF-8 byte-order mark and CRLF line ends are accepted; the
 * delimiter (comma, semicolon or tab) is sniffed from the header. Row
 * numbers are the file's line numbers (header = 1). Only regular files
 * are read (a FIFO would block forever).
 *
 * @example
 * ```ts
 * const t = readTable("manifest.csv", ["patient_id", "path"]);
 * ```
 */
export function readTable(path: string, required: string[]): Table {
  const text = readRegularText(path, "CSV table");
  const delimiter = sniffDelimiter(text);
  const open = unclosedQuoteLine(text, delimiter);
  if (open !== null) {
    throw new UserError(
      `${path} line ${open}: a quoted field opens here and is never closed; expected a closing " (write "" for a quote inside a field)`,
    );
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      delimiter,
      relax_column_count: false,
      skip_empty_lines: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    const err = e as Error & { lines?: number; code?: string };
    const msg = err.message.split("\n")[0].replace(/^[A-Za-z ]+: /, "");
    const expected = err.code === "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH"
      ? `every row to have as many ${
        delimiter === "\t" ? "tab" : `"${delimiter}"`
      }-separated fields as the header`
      : `RFC 4180 CSV (quote a whole field; write "" for a quote inside one)`;
    throw new UserError(
      `${path}${
        err.lines ? ` line ${err.lines}` : ""
      }: invalid CSV (${msg}); expected ${expected}`,
    );
  }
  if (records.length === 0) {
    throw new UserError(`${path}: empty file; expected a header row`);
  }
  const header = records[0].record.map((h) => h.trim());
  const firstAt = new Map<string, number>();
  for (const [i, h] of header.entries()) {
    if (h === "") {
      throw new UserError(
        `${path} line ${records[0].info.lines}: column ${
          i + 1
        } of the header is empty; expected a column name`,
      );
    }
    const prev = firstAt.get(h);
    if (prev !== undefined) {
      throw new UserError(
        `${path} line ${
          records[0].info.lines
        }: column name "${h}" appears twice (columns ${prev + 1} and ${
          i + 1
        }); expected unique column names`,
      );
    }
    firstAt.set(h, i);
  }
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
  return {
    path,
    header,
    rows: records.slice(1).map(({ record: r, info }) => ({
      row: info.lines,
      get: (col: string) => {
        const k = firstAt.get(col);
        return k === undefined ? "" : (r[k] ?? "").trim();
      },
    })),
  };
}

/** What {@link numericCell} accepts, for messages. */
export const NUMERIC_EXPECTED =
  "is not a number within +-1e12 (expected a finite decimal number)";

/**
 * A numeric cell's value, or null when it is empty, not a number, or so
 * large (above 1e12 in magnitude) that float32 arithmetic on it overflows
 * (1e39 is Infinity in float32; squares of 1e20 are too).
 *
 * @example
 * ```ts
 * numericCell("3.5"); // 3.5
 * numericCell("1e39"); // null
 * ```
 */
export function numericCell(s: string): number | null {
  if (s.trim() === "") return null;
  const v = Number(s);
  return Number.isFinite(v) && Math.abs(v) <= 1e12 ? v : null;
}

const MS_PER_MONTH = 86_400_000 * 365.25 / 12;

/**
 * What {@link parseDate} accepts, for error messages.
 *
 * @example
 * ```ts
 * throw new UserError(`ehr.csv: row 3, field "date": expected ${DATE_EXPECTED}`);
 * ```
 */
export const DATE_EXPECTED =
  "an ISO 8601 date (yyyy-mm-dd or yyyymmdd), optionally with a time (Thh:mm[:ss[.fff]]) and a Z or +hh:mm offset";

// Date, then optionally a time, then optionally a zone (only after a time).
const ISO_DATE =
  /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Parses an ISO 8601 date or date-time (yyyy-mm-dd, DICOM's yyyymmdd,
 * `2020-03-01T14:30:00+01:00`, `2020-03-01 14:30Z`) into ms since the epoch.
 * A time with an offset is converted to UTC; a time without one is taken
 * as UTC (never as this machine's zone, so results do not depend on where
 * they run); a date alone is its UTC midnight. Null when unparseable or
 * out of range (2020-02-30, 25:00, +15:00).
 *
 * @example
 * ```ts
 * parseDate("2020-03-01"); // 1583020800000
 * parseDate("2020-03-01T01:00:00+01:00"); // 1583020800000, the same instant
 * ```
 */
export function parseDate(s: string): number | null {
  const m = ISO_DATE.exec(s.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const h = Number(m[4] ?? 0), mi = Number(m[5] ?? 0), sec = Number(m[6] ?? 0);
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  if (h > 23 || mi > 59 || sec > 59) return null;
  const day = Date.UTC(y, mo - 1, d);
  const back = new Date(day);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  let offsetMin = 0;
  const z = m[8];
  if (z && z.toUpperCase() !== "Z") {
    const digits = z.slice(1).replace(":", "");
    const oh = Number(digits.slice(0, 2)), om = Number(digits.slice(2) || 0);
    if (oh > 14 || om > 59) return null;
    offsetMin = (z[0] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  return day + ((h * 60 + mi - offsetMin) * 60 + sec) * 1000 + ms;
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
