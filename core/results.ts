/**
 * The results store: one self-describing JSON line per run.
 *
 * Reports are rendered from these files only, so a report can be rebuilt,
 * merged across machines or restyled without retraining. Appends are atomic:
 * the new file is written beside the old one and renamed over it, so an
 * interrupted run never leaves a truncated line.
 *
 * @module
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UserError } from "./errors.ts";
import { readRegularText } from "./files.ts";

/** Bumped whenever a field changes meaning; readers reject unknown ones. */
export const RESULTS_SCHEMA = 1;

/** Scores of one method on one cohort's labeled evaluation patients. */
export interface Predictions {
  /** Patient ids, aligned with labels and scores. */
  ids: string[];
  /** 0/1 labels. */
  labels: number[];
  /** Predicted P(malignant). */
  scores: number[];
}

/** Metrics of one method on one cohort. */
export interface CohortMetrics {
  /** Number of labeled patients evaluated. */
  n: number;
  /** Number of positives among them. */
  nPositive: number;
  /** ROC AUC; null when undefined (one class only). */
  auc: number | null;
  /** Brier score; null when undefined. */
  brier: number | null;
  /** Bayes-optimal AUC on the same patients (synthetic cohorts only). */
  bayesAuc?: { full: number; image: number; ehr: number };
  /** Free-form further metrics. */
  [key: string]: unknown;
}

/** One line of a results file. */
export interface ResultRow {
  /** Always {@link RESULTS_SCHEMA} when written by this version. */
  schema: number;
  /** Unique id of this run. */
  runId: string;
  /** Which study produced it, e.g. "paper" or "sweep/crossModalCorrelation". */
  study: string;
  /** Scenario preset or cohort config name. */
  scenario: string;
  /** Swept knob and its value, when part of a sweep. */
  sweep?: { knob: string; value: number };
  /** Method name, e.g. "jepa". */
  method: string;
  /** Run seed. */
  seed: number;
  /** Backend that ran it. */
  backend: { name: string; detail: string };
  /** Versions of mmjepa, Deno, tfjs. */
  versions: Record<string, string>;
  /** Git commit of the code, or null outside a checkout. */
  gitCommit: string | null;
  /** ISO time the run started. */
  startedAt: string;
  /** Wall time of the run in seconds. */
  wallSeconds: number;
  /** The fully resolved configuration (scenario, model, training). */
  config: Record<string, unknown>;
  /** Metrics per cohort name ("internal", "external-A", ...). */
  metrics: Record<string, CohortMetrics>;
  /** Per-patient scores per cohort, for paired tests and curves. */
  predictions: Record<string, Predictions>;
  /** Representation diagnostics, training curves, and so on. */
  extra?: Record<string, unknown>;
  /**
   * Where the row sits in its study's plan: the job's index and the row's
   * position within the job. Shards of one study run different jobs; the
   * report orders rows by this, so merged shards read like one run.
   */
  plan?: { job: number; row: number };
}

/**
 * Rows in plan order (job, then row within the job, then run id), so a
 * report does not depend on the order results files were given in. Rows are
 * returned as given when any lacks a plan position (files written before
 * positions were recorded keep their file order).
 *
 * @example
 * ```ts
 * const rows = canonicalOrder([...shard2Rows, ...shard1Rows]);
 * ```
 */
export function canonicalOrder(rows: ResultRow[]): ResultRow[] {
  if (!rows.every((r) => r.plan)) return rows;
  return [...rows].sort((a, b) =>
    a.plan!.job - b.plan!.job || a.plan!.row - b.plan!.row ||
    (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0)
  );
}

/**
 * Appends rows to a JSONL file atomically (temp file + rename).
 *
 * @example
 * ```ts
 * appendResults("out/results.jsonl", [row]);
 * ```
 */
export function appendResults(path: string, rows: ResultRow[]): void {
  let old = "";
  if (existsSync(path)) {
    old = readFileSync(path, "utf8");
    if (old.length > 0 && !old.endsWith("\n")) old += "\n";
  }
  const text = old + rows.map((r) => JSON.stringify(r) + "\n").join("");
  writeAtomic(path, text);
}

/**
 * Writes a whole file atomically: to a temporary sibling, then renamed.
 *
 * @example
 * ```ts
 * writeAtomic("out/report.md", "# Report\n");
 * ```
 */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.${Deno.pid}.${Date.now()}.tmp`,
  );
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* the temp file may never have been created */ }
    throw new UserError(
      `cannot write ${path}: ${
        (e as Error).message
      } (check that the folder exists and is writable)`,
    );
  }
}

/** A problem found while reading a results file. */
export interface ResultsProblem {
  /** The file. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** What was wrong. */
  message: string;
}

const REQUIRED: (keyof ResultRow)[] = [
  "schema",
  "runId",
  "study",
  "scenario",
  "method",
  "seed",
  "metrics",
  "predictions",
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// What is wrong with a parsed line's field types, or null. The report
// indexes these fields directly, so a wrong type would otherwise become
// a phantom section or a crash far from the bad line.
function fieldProblem(rec: Record<string, unknown>): string | null {
  for (const k of ["runId", "study", "scenario", "method"] as const) {
    if (typeof rec[k] !== "string" || rec[k] === "") {
      return `field "${k}" is ${
        JSON.stringify(rec[k])
      }; expected a non-empty string`;
    }
  }
  if (!Number.isSafeInteger(rec.seed)) {
    return `field "seed" is ${JSON.stringify(rec.seed)}; expected an integer`;
  }
  if (!isRecord(rec.metrics)) {
    return `field "metrics" is ${
      JSON.stringify(rec.metrics)
    }; expected an object of cohort name -> metrics`;
  }
  for (const [cohort, m] of Object.entries(rec.metrics)) {
    if (!isRecord(m)) {
      return `field "metrics.${cohort}" is ${
        JSON.stringify(m)
      }; expected an object with n, nPositive, auc, brier`;
    }
    if (
      m.auc !== null && !(typeof m.auc === "number" && m.auc >= 0 && m.auc <= 1)
    ) {
      return `field "metrics.${cohort}.auc" is ${
        JSON.stringify(m.auc)
      }; expected a number in [0, 1] or null`;
    }
    if (!(Number.isSafeInteger(m.n) && (m.n as number) >= 0)) {
      return `field "metrics.${cohort}.n" is ${
        JSON.stringify(m.n)
      }; expected a non-negative integer`;
    }
  }
  if (!isRecord(rec.predictions)) {
    return `field "predictions" is ${
      JSON.stringify(rec.predictions)
    }; expected an object of cohort name -> {ids, labels, scores}`;
  }
  if (rec.sweep !== undefined) {
    const sw = rec.sweep;
    if (
      !isRecord(sw) || typeof sw.knob !== "string" ||
      typeof sw.value !== "number" || !Number.isFinite(sw.value)
    ) {
      return `field "sweep" is ${
        JSON.stringify(sw)
      }; expected {"knob": string, "value": finite number}`;
    }
  }
  return null;
}

// Fields that differ between two runs of the same job on the same data
// without changing any number a report shows.
const VOLATILE = new Set(["startedAt", "wallSeconds", "gitCommit"]);

function comparable(rec: ResultRow): string {
  const copy: Record<string, unknown> = { ...rec };
  for (const k of VOLATILE) delete copy[k];
  if (isRecord(copy.extra)) {
    // Memory figures vary with the thread and what ran before on it.
    const { seconds: _s, memory: _m, ...rest } = copy.extra;
    copy.extra = rest;
  }
  return JSON.stringify(copy);
}

/**
 * Reads results files; malformed lines are returned as problems naming the
 * file and line, and the good lines are kept. A runId seen before (in the
 * same or another file) with the same numbers is dropped and listed as a
 * problem ("duplicate of ..."), so merging a file with itself, or a rerun
 * appended to its own output, counts every run once. Two rows with one
 * runId and different numbers are a {@link UserError} naming both lines:
 * a report cannot know which one to trust.
 *
 * @example
 * ```ts
 * const { rows, problems } = readResults(["a.jsonl", "b.jsonl"]);
 * for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
 * ```
 */
export function readResults(
  files: string[],
): { rows: ResultRow[]; problems: ResultsProblem[]; duplicates: number } {
  const rows: ResultRow[] = [];
  const problems: ResultsProblem[] = [];
  const seen = new Map<string, { file: string; line: number; key: string }>();
  let duplicates = 0;
  for (const file of files) {
    const text = readRegularText(file, "results file (.jsonl)");
    const lines = text.split("\n");
    lines.forEach((raw, i) => {
      const line = raw.trim();
      if (line === "") return;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        problems.push({
          file,
          line: i + 1,
          message: `not valid JSON (${(e as Error).message})`,
        });
        return;
      }
      if (!isRecord(obj)) {
        problems.push({ file, line: i + 1, message: "not a JSON object" });
        return;
      }
      const rec = obj;
      const missing = REQUIRED.filter((k) => !(k in rec));
      if (missing.length > 0) {
        problems.push({
          file,
          line: i + 1,
          message: `missing field(s): ${missing.join(", ")}`,
        });
        return;
      }
      if (rec.schema !== RESULTS_SCHEMA) {
        problems.push({
          file,
          line: i + 1,
          message: `schema version ${
            JSON.stringify(rec.schema)
          } is not supported (this version reads ${RESULTS_SCHEMA})`,
        });
        return;
      }
      const bad = fieldProblem(rec);
      if (bad !== null) {
        problems.push({ file, line: i + 1, message: bad });
        return;
      }
      const row = rec as unknown as ResultRow;
      const key = comparable(row);
      const first = seen.get(row.runId);
      if (first) {
        if (first.key !== key) {
          throw new UserError(
            `${file}:${
              i + 1
            }: runId ${row.runId} also at ${first.file}:${first.line} with different results; keep one of the two lines (the same run twice with different numbers cannot be merged)`,
          );
        }
        duplicates++;
        problems.push({
          file,
          line: i + 1,
          message:
            `duplicate of runId ${row.runId} at ${first.file}:${first.line}; counted once`,
        });
        return;
      }
      seen.set(row.runId, { file, line: i + 1, key });
      rows.push(row);
    });
  }
  return { rows, problems, duplicates };
}
