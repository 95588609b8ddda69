/**
 * The report writer: results rows in, `report.md` plus SVG figures out.
 *
 * Every sentence of the summary is computed from the numbers (which method,
 * which direction, which p-value); nothing is asserted by a template.
 * Statistics that are undefined for the data print as "n/a (reason)".
 *
 * Choice for studies with several seeds: the per-cohort tables, ROC curves
 * and paired tests use ONE seed, the lowest seed the reference method ran
 * (a paired test needs both methods scored on the same patients, which are
 * drawn per seed); a second table gives the mean +- sd over all seeds.
 *
 * A cohort named "validation" in `predictions` is not tabulated; it picks
 * each run's Youden threshold, at which the tables report sensitivity and
 * specificity.
 *
 * @module
 */
import { marked } from "marked";
import { stringify as stringifyYaml } from "yaml";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { markdownTable } from "markdown-table";
import { UserError } from "../core/errors.ts";
import {
  canonicalOrder,
  type Predictions,
  readResults,
  type ResultRow,
  type ResultsProblem,
  writeAtomic,
} from "../core/results.ts";
import { delong, delongPaired, StatsError } from "./auc.ts";
import { bootstrapAucCi } from "./bootstrap.ts";
import {
  brier,
  ece,
  operatingPointFromValidation,
  reliabilityBins,
} from "./calibration.ts";
import {
  aggregateOverSeeds,
  holm,
  meanSd,
  pairedDifference,
  tHalfWidth,
  tTestP,
} from "./aggregate.ts";
import { headline, headlineFigure, headlineLines } from "./headline.ts";
import { tableCsv, tableLatex } from "./tables.ts";
import {
  type AucInterval,
  curvesFigure,
  internalVsExternalFigure,
  reliabilityFigure,
  type ReliabilitySeries,
  rocCurve,
  rocFigure,
  sweepFigure,
  type SweepPoint,
} from "./figures.ts";

/** Options of {@link writeReport}. */
export interface ReportOptions {
  /** Method every other method is compared with (default "imaging-only"). */
  referenceMethod?: string;
  /** Report title (default "mmjepa report"). */
  title?: string;
  /** Bootstrap resamples per CI (default 2000). */
  bootstrapResamples?: number;
  /** Seed of the bootstrap stream (default 0). */
  seed?: number;
  /** Input problems to list under "Skipped input". */
  problems?: ResultsProblem[];
  /** Extra provenance lines, e.g. the whole study's wall time. */
  provenanceNotes?: string[];
  /** Lines shown under the run description, e.g. what a study left out. */
  notes?: string[];
}

/**
 * Formats an AUC-scale number with 3 decimals.
 *
 * @example
 * ```ts
 * fmt3(0.91234); // "0.912"
 * ```
 */
export function fmt3(x: number): string {
  return x.toFixed(3);
}

/**
 * Formats a p-value: "p = 0.012", "p < 0.001".
 *
 * @example
 * ```ts
 * formatP(0.0004); // "p < 0.001"
 * ```
 */
export function formatP(p: number): string {
  return p < 0.001 ? "p < 0.001" : `p = ${p.toFixed(3)}`;
}

/** The value, or "n/a (reason)" when a statistic is undefined. */
function fmt0(x: number): string {
  return Number.isFinite(x) ? x.toFixed(0) : "n/a";
}

function na<T>(f: () => T, show: (x: T) => string): string {
  try {
    return show(f());
  } catch (e) {
    if (e instanceof StatsError) return `n/a (${e.message})`;
    throw e;
  }
}

function tryStat<T>(f: () => T): T | StatsError {
  try {
    return f();
  } catch (e) {
    if (e instanceof StatsError) return e;
    throw e;
  }
}

/**
 * Predictions under this cohort name set the Youden operating point; they
 * get no table of their own (a threshold judged on the data that chose it
 * would flatter it).
 */
const VALIDATION = "validation";

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, "-");
const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
const cell = (s: string): string => s.replace(/\|/g, "\\|");
// Unpadded: column padding doubled the report's size and renders the same.
const table = (rows: string[][]): string =>
  markdownTable(rows.map((r) => r.map(cell)), { alignDelimiters: false });

function byKey<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(x);
  }
  return m;
}

/** Method order: reference first, then alphabetical. */
function orderMethods(methods: string[], ref: string): string[] {
  return uniq(methods).sort((a, b) =>
    a === ref ? -1 : b === ref ? 1 : a.localeCompare(b)
  );
}

/**
 * Scores of A and B on the patients both scored (matched by id).
 * Throws when the labels of a shared patient disagree.
 */
function pairByPatient(
  a: Predictions,
  b: Predictions,
): { labels: number[]; sa: number[]; sb: number[] } {
  const bIdx = new Map(b.ids.map((id, i) => [id, i]));
  const labels: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  a.ids.forEach((id, i) => {
    const j = bIdx.get(id);
    if (j === undefined) return;
    if (a.labels[i] !== b.labels[j]) {
      throw new StatsError(
        `patient ${id} has label ${a.labels[i]} in one run and ${
          b.labels[j]
        } in the other`,
      );
    }
    labels.push(a.labels[i]);
    sa.push(a.scores[i]);
    sb.push(b.scores[j]);
  });
  if (labels.length === 0) {
    throw new StatsError("the two methods share no patient ids");
  }
  return { labels, sa, sb };
}

/** Per method x cohort statistics of one (study, scenario) at one seed. */
interface CohortStat {
  method: string;
  cohort: string;
  row: ResultRow;
  auc: number | null;
  delong: ReturnType<typeof delong> | StatsError;
  paired: ReturnType<typeof delongPaired> | StatsError | null;
}

const ciText = (ci: [number, number]): string =>
  `[${fmt3(ci[0])}, ${fmt3(ci[1])}]`;

function aucWithCi(s: CohortStat): string {
  if (s.delong instanceof StatsError) {
    return s.auc === null
      ? `n/a (${s.delong.message})`
      : `${fmt3(s.auc)} (CI n/a: ${s.delong.message})`;
  }
  return `${fmt3(s.delong.auc)} ${ciText(s.delong.ci)}`;
}

/** One summary comparison with the reference, before multiplicity adjustment. */
interface Claim {
  label: string;
  method: string;
  cohort: string;
  mean: number;
  lo: number;
  hi: number;
  n: number;
  p: number;
  test: "t" | "DeLong";
}

/**
 * Writes `report.md` and `figures/*.svg` into outDir.
 *
 * @example
 * ```ts
 * const { rows } = readResults(["out/results.jsonl"]);
 * const { reportPath } = await writeReport(rows, "out/report", { referenceMethod: "imaging-only" });
 * ```
 */
export async function writeReport(
  rows: ResultRow[],
  outDir: string,
  opts: ReportOptions = {},
): Promise<{ reportPath: string; figures: string[] }> {
  const ref = opts.referenceMethod ?? "imaging-only";
  // A study records its resample count in every row, so that `task report`
  // on its results reproduces its report byte for byte.
  const recorded = (key: "bootstrapResamples" | "bootstrapSeed") => {
    const vs = uniq(
      rows.map((r) =>
        (r.config as { report?: Record<string, number> })?.report?.[key]
      ),
    );
    return vs.length === 1 && typeof vs[0] === "number" ? vs[0] : undefined;
  };
  const resamples = opts.bootstrapResamples ??
    recorded("bootstrapResamples") ?? 2000;
  const bootSeed = opts.seed ?? recorded("bootstrapSeed") ?? 0;
  const figDir = join(outDir, "figures");
  try {
    mkdirSync(figDir, { recursive: true });
  } catch (e) {
    throw new UserError(
      `cannot create report folder ${figDir}: ${(e as Error).message}`,
    );
  }
  const figures: string[] = [];
  const saveFigure = (wanted: string, svg: string): string => {
    // Two studies sweeping the same knob would otherwise overwrite each other.
    let name = wanted;
    for (let k = 2; figures.includes(join(figDir, name)); k++) {
      name = wanted.replace(/\.svg$/, `_${k}.svg`);
    }
    writeAtomic(join(figDir, name), svg);
    figures.push(join(figDir, name));
    return `figures/${name}`;
  };
  // Every results table also goes to tables/ (CSV, LaTeX) and report.json.
  const tables: Record<string, string[][]> = {};
  const tableDir = join(outDir, "tables");
  mkdirSync(tableDir, { recursive: true });
  const exported = (wanted: string, rows: string[][]): string => {
    let name = safeName(wanted);
    for (let k = 2; name in tables; k++) name = `${safeName(wanted)}_${k}`;
    tables[name] = rows;
    writeAtomic(join(tableDir, `${name}.csv`), tableCsv(rows));
    writeAtomic(join(tableDir, `${name}.tex`), tableLatex(rows));
    return table(rows);
  };

  const summary: string[] = [];
  const claims: Claim[] = [];
  const mechanisms: Record<string, unknown>[] = [];
  const body: string[] = [];
  const appendix: string[] = [];
  // Plan order, whatever order the shards' files were given in.
  const { rows: cleanRows, dropped } = dropMalformedPredictions(
    canonicalOrder(rows),
  );
  const studies = byKey(cleanRows, (r) => r.study);

  habitSection(cleanRows.filter((r) => r.sweep?.knob === "codingHabit"));
  for (const [study, studyRows] of studies) {
    const scenarios = byKey(studyRows, (r) => r.scenario);
    const multiScenario = scenarios.size > 1;
    for (const [scenario, sRows] of scenarios) {
      const label = multiScenario ? `${study} / ${scenario}` : study;
      const fileTag = safeName(multiScenario ? `${study}_${scenario}` : study);
      const swept = sRows.filter((r) => r.sweep);
      const single = sRows.filter((r) => !r.sweep);
      if (single.length > 0) {
        await singleRunSection(label, fileTag, single);
      }
      if (swept.length > 0) {
        await sweepSection(
          label,
          multiScenario ? `${safeName(scenario)}_` : "",
          swept,
        );
      }
    }
    await diagnosticsSection(study, studyRows);
  }

  async function singleRunSection(
    label: string,
    fileTag: string,
    sRows: ResultRow[],
  ): Promise<void> {
    const methods = orderMethods(sRows.map((r) => r.method), ref);
    const refSeeds = sRows.filter((r) => r.method === ref).map((r) => r.seed);
    const seed = Math.min(
      ...(refSeeds.length > 0 ? refSeeds : sRows.map((r) => r.seed)),
    );
    const cohorts = uniq(
      sRows.flatMap((r) => [
        ...Object.keys(r.metrics),
        ...Object.keys(r.predictions),
      ]),
    ).filter((c) => c !== VALIDATION);
    const anyValidation = sRows.some((r) => r.predictions[VALIDATION]);
    const nSeeds = uniq(sRows.map((r) => r.seed)).length;
    body.push(`## ${label}\n`);
    body.push(
      `Methods: ${methods.join(", ")}. Reference: ${ref}. ` +
        (nSeeds > 1
          ? `${nSeeds} seeds; the tables give the mean over seeds with 95% t intervals; per-seed DeLong and bootstrap intervals for seed ${seed} (the lowest seed of the reference) are in [appendix.md](appendix.md).\n`
          : `Seed ${seed}.\n`),
    );
    const stats = new Map<string, CohortStat>();
    for (const cohort of cohorts) {
      const refRow = sRows.find((r) => r.method === ref && r.seed === seed);
      for (const method of methods) {
        const row = sRows.find((r) => r.method === method && r.seed === seed) ??
          sRows.filter((r) => r.method === method).sort((a, b) =>
            a.seed - b.seed
          )[0];
        const pred = row.predictions[cohort];
        const m = row.metrics[cohort];
        if (!pred && !m) continue;
        const dl = pred
          ? tryStat(() => delong(pred.labels, pred.scores))
          : new StatsError("no per-patient predictions in the results");
        let paired: CohortStat["paired"] = null;
        if (method !== ref) {
          const refPred = refRow?.predictions[cohort];
          paired = !refRow
            ? new StatsError(`reference ${ref} has no run with seed ${seed}`)
            : row.seed !== seed
            ? new StatsError(`${method} has no run with seed ${seed}`)
            : !pred || !refPred
            ? new StatsError("no per-patient predictions to pair")
            : tryStat(() => {
              const p = pairByPatient(pred, refPred);
              return delongPaired(p.labels, p.sa, p.sb);
            });
        }
        const auc = dl instanceof StatsError
          ? (typeof m?.auc === "number" ? m.auc : null)
          : dl.auc;
        stats.set(`${method}\u0000${cohort}`, {
          method,
          cohort,
          row,
          auc,
          delong: dl,
          paired,
        });
      }
    }

    // Summary: one sentence per method, one clause per cohort.
    if (!methods.includes(ref)) {
      summary.push(
        `- ${label}: no run of the reference method ${ref}, so no comparisons (methods: ${
          methods.join(", ")
        }; choose another reference method).`,
      );
    }
    for (const method of methods) {
      if (!methods.includes(ref) || method === ref) continue;
      for (const cohort of cohorts) {
        const s = stats.get(`${method}\u0000${cohort}`);
        if (!s || s.paired === null) continue;
        // Seed-level: every seed is an independent replicate of the study.
        const x = pairedDifference(sRows, method, ref, cohort);
        if (x && x.d.length >= 2) {
          claims.push({
            label,
            method,
            cohort,
            mean: x.mean,
            lo: x.lo,
            hi: x.hi,
            n: x.d.length,
            p: tTestP(x.d),
            test: "t",
          });
        } else if (!(s.paired instanceof StatsError)) {
          claims.push({
            label,
            method,
            cohort,
            mean: s.paired.diff,
            lo: s.paired.diff - 1.959964 * s.paired.se,
            hi: s.paired.diff + 1.959964 * s.paired.se,
            n: 1,
            p: s.paired.p,
            test: "DeLong",
          });
        }
      }
    }

    for (const cohort of cohorts) {
      const header = [
        "method",
        "AUC [95% CI, DeLong]",
        `bootstrap 95% CI (${resamples})`,
        `p vs ${ref} (paired DeLong)`,
        "Brier",
        "ECE",
        "n (pos)",
      ];
      const anyBayes = methods.some((m) =>
        stats.get(`${m}\u0000${cohort}`)?.row.metrics[cohort]?.bayesAuc
      );
      if (anyValidation) {
        header.push("sens / spec at Youden threshold (from validation)");
      }
      if (anyBayes) {
        header.push("latent upper bound full / image / ehr");
      }
      const lines: string[][] = [header];
      const curves: {
        method: string;
        auc: number;
        points: ReturnType<typeof rocCurve>;
      }[] = [];
      const reliability: ReliabilitySeries[] = [];
      for (const method of methods) {
        const s = stats.get(`${method}\u0000${cohort}`);
        if (!s) continue;
        const pred = s.row.predictions[cohort];
        const m = s.row.metrics[cohort];
        const line = [
          method,
          aucWithCi(s),
          pred
            ? na(
              () =>
                bootstrapAucCi(pred.labels, pred.scores, {
                  resamples,
                  seed: bootSeed,
                }).ci,
              ciText,
            )
            : "n/a (no predictions)",
          s.paired === null
            ? "(reference)"
            : s.paired instanceof StatsError
            ? `n/a (${s.paired.message})`
            : formatP(s.paired.p) +
              (s.paired.note ? ` (${s.paired.note})` : ""),
          pred
            ? na(() => brier(pred.labels, pred.scores), (x) => x.toFixed(4))
            : typeof m?.brier === "number"
            ? m.brier.toFixed(4)
            : "n/a",
          pred
            ? na(() => ece(pred.labels, pred.scores), (x) => x.toFixed(4))
            : "n/a",
          pred
            ? `${pred.labels.length} (${
              pred.labels.filter((y) => y === 1).length
            })`
            : m
            ? `${m.n} (${m.nPositive})`
            : "n/a",
        ];
        if (anyValidation) {
          const val = s.row.predictions[VALIDATION];
          line.push(
            !val
              ? "n/a (no validation predictions)"
              : !pred
              ? "n/a (no predictions)"
              : na(
                () =>
                  operatingPointFromValidation(
                    val.labels,
                    val.scores,
                    pred.labels,
                    pred.scores,
                  ),
                (op) =>
                  `${op.sensitivity.toFixed(3)} / ${
                    op.specificity.toFixed(3)
                  } (t = ${op.threshold.toFixed(3)})`,
              ),
          );
        }
        if (anyBayes) {
          const b = m?.bayesAuc;
          line.push(
            b && [b.full, b.image, b.ehr].every((x) => typeof x === "number")
              ? `${fmt3(b.full)} / ${fmt3(b.image)} / ${fmt3(b.ehr)}`
              : "",
          );
        }
        lines.push(line);
        if (pred && s.auc !== null) {
          const pts = tryStat(() => rocCurve(pred.labels, pred.scores));
          if (!(pts instanceof StatsError)) {
            curves.push({ method, auc: s.auc, points: pts });
          }
          const bins = tryStat(() =>
            reliabilityBins(pred.labels, pred.scores, 10)
          );
          if (!(bins instanceof StatsError)) {
            reliability.push({
              method,
              bins: bins.filter((b) => b.n > 0).map((b) => ({
                meanScore: b.meanScore!,
                fracPositive: b.fracPositive!,
                n: b.n,
              })),
            });
          }
        }
      }
      // Seed-level first: every seed is an independent replicate, so the
      // seed-to-seed spread is the uncertainty a paper should quote.
      body.push(`### ${label}: ${cohort}\n`);
      const seedLevel = nSeeds > 1 ? seedTable(sRows, cohort, methods) : null;
      body.push(exported(`${fileTag}_${cohort}`, seedLevel ?? lines) + "\n");
      if (anyBayes) {
        body.push(
          "*Latent upper bound: Bayes-optimal AUC from the true latents, before noise, blur and scanner; unreachable. The `logreg-*` rows estimate what the features allow.*\n",
        );
      }
      if (seedLevel) {
        appendix.push(`### ${label}: ${cohort}, seed ${seed}\n`);
        appendix.push(
          exported(`${fileTag}_${cohort}_seed${seed}`, lines) + "\n",
        );
      }
      if (curves.length > 0) {
        const link = saveFigure(
          `roc_${fileTag}_${safeName(cohort)}.svg`,
          await rocFigure(curves, `ROC: ${label}, ${cohort} (seed ${seed})`),
        );
        (seedLevel ? appendix : body).push(
          `![ROC curves, ${label}, ${cohort}](${link})\n`,
        );
      }
      if (reliability.length > 0) {
        const link = saveFigure(
          `reliability_${fileTag}_${safeName(cohort)}.svg`,
          await reliabilityFigure(
            reliability,
            `Reliability: ${label}, ${cohort} (seed ${seed})`,
          ),
        );
        (seedLevel ? appendix : body).push(
          `![Reliability diagram, ${label}, ${cohort}](${link})\n`,
        );
      }
    }

    // Mean AUC with its 95% t interval over seeds (DeLong with one seed).
    const intervals: AucInterval[] = [];
    for (const g of aggregateOverSeeds(sRows, "auc")) {
      if (g.cohort === VALIDATION || !cohorts.includes(g.cohort)) continue;
      const h = tHalfWidth(g.sd, g.n);
      intervals.push({
        method: g.method,
        cohort: g.cohort,
        auc: g.mean,
        lo: g.mean - h,
        hi: g.mean + h,
      });
    }
    if (nSeeds === 1) {
      intervals.length = 0;
      for (const s of stats.values()) {
        if (!(s.delong instanceof StatsError)) {
          intervals.push({
            method: s.method,
            cohort: s.cohort,
            auc: s.delong.auc,
            lo: s.delong.ci[0],
            hi: s.delong.ci[1],
          });
        }
      }
    }
    if (intervals.length > 0) {
      const what = nSeeds > 1
        ? `mean over ${nSeeds} seeds with 95% t intervals`
        : `95% DeLong CIs (seed ${seed})`;
      const link = saveFigure(
        `internal_vs_external_${fileTag}.svg`,
        await internalVsExternalFigure(intervals, `AUC per cohort: ${label}`),
      );
      body.push(`![AUC per method and cohort, ${label}](${link})\n`);
      body.push(`*AUC per method, internal vs external cohorts; ${what}.*\n`);
    }
  }

  function seedTable(
    sRows: ResultRow[],
    cohort: string,
    methods: string[],
  ): string[][] | null {
    const groups = aggregateOverSeeds(sRows, "auc").filter((g) =>
      g.cohort === cohort
    );
    const brier = aggregateOverSeeds(sRows, "brier").filter((g) =>
      g.cohort === cohort
    );
    const lines = [[
      "method",
      "AUC mean [95% t CI over seeds]",
      "min - max",
      "Brier mean",
      "seeds",
    ]];
    for (const method of methods) {
      const g = groups.find((x) => x.method === method);
      if (!g) continue;
      const h = tHalfWidth(g.sd, g.n);
      const b = brier.find((x) => x.method === method);
      lines.push([
        method,
        `${fmt3(g.mean)} [${fmt3(g.mean - h)}, ${fmt3(g.mean + h)}]`,
        `${fmt3(g.min)} - ${fmt3(g.max)}`,
        b ? b.mean.toFixed(4) : "n/a",
        `${g.n}`,
      ]);
    }
    return lines.length > 1 ? lines : null;
  }

  async function sweepSection(
    label: string,
    scenarioTag: string,
    sRows: ResultRow[],
  ): Promise<void> {
    for (const [knob, kRows] of byKey(sRows, (r) => r.sweep!.knob)) {
      const methods = orderMethods(kRows.map((r) => r.method), ref);
      const values = uniq(kRows.map((r) => r.sweep!.value)).sort((a, b) =>
        a - b
      );
      const groups = aggregateOverSeeds(kRows, "auc");
      const cohorts = uniq(groups.map((g) => g.cohort)).filter((c) =>
        c !== VALIDATION
      );
      body.push(`## ${label}: sweep over ${knob}\n`);
      if (knob === "labelFraction") {
        const counts = values.map((v) => {
          const l = kRows.find((r) => r.sweep!.value === v)?.extra?.labels as
            | { train: number; val: number }
            | undefined;
          return l ? `${v}: ${l.train} train + ${l.val} validation` : null;
        }).filter((x) => x !== null);
        body.push(
          `The fraction applies to the train and the validation labels alike (early stopping spends labels too); the logistic baselines and probes fit on both. Labeled patients per value: ${
            counts.join("; ")
          }.\n`,
        );
      }
      for (const cohort of cohorts) {
        // A knob that only changes another cohort leaves this one as the
        // base run: say so once instead of repeating identical tables.
        const same = byKey(kRows, (r) => `${r.method}\u0000${r.seed}`);
        const constant = [...same.values()].every((rs) =>
          new Set(rs.map((r) => r.metrics[cohort]?.auc)).size === 1
        );
        if (constant && values.length > 1) {
          body.push(
            `*${cohort}: unchanged by ${knob} (the knob only changes another cohort); see the base run above.*\n`,
          );
          continue;
        }
        const g = (method: string, value: number) =>
          groups.find((x) =>
            x.method === method && x.cohort === cohort && x.value === value
          );
        const ceiling: { value: number; auc: number }[] = [];
        for (const value of values) {
          const full = kRows
            .filter((r) => r.sweep!.value === value)
            .map((r) => r.metrics[cohort]?.bayesAuc?.full)
            .filter((x): x is number => typeof x === "number");
          if (full.length > 0) {
            ceiling.push({ value, auc: meanSd(full).mean });
          }
        }
        const header = [knob, ...methods];
        if (ceiling.length > 0) header.push("latent upper bound");
        const lines = [header];
        const seedsMax = Math.max(
          ...groups.filter((x) => x.cohort === cohort).map((x) => x.n),
        );
        for (const value of values) {
          const line = [String(value)];
          for (const method of methods) {
            const x = g(method, value);
            line.push(
              x
                ? `${fmt3(x.mean)} (${fmt3(x.sd)})${
                  x.n < seedsMax ? ` [${x.n} seeds]` : ""
                }`
                : "",
            );
          }
          if (ceiling.length > 0) {
            const c = ceiling.find((c) => c.value === value);
            line.push(c ? fmt3(c.auc) : "");
          }
          lines.push(line);
        }
        body.push(`### ${label}: ${knob}, ${cohort}\n`);
        body.push(
          `Mean AUC (sd) over ${seedsMax} seed${seedsMax === 1 ? "" : "s"}.\n`,
        );
        body.push(
          exported(`sweep_${knob}_${scenarioTag}${cohort}`, lines) + "\n",
        );
        const points: SweepPoint[] = [];
        for (const method of methods) {
          for (const value of values) {
            const x = g(method, value);
            if (!x) continue;
            const half = tHalfWidth(x.sd, x.n);
            points.push({
              method,
              value,
              mean: x.mean,
              lo: x.mean - half,
              hi: x.mean + half,
            });
          }
        }
        const link = saveFigure(
          `sweep_${safeName(knob)}_${scenarioTag}${safeName(cohort)}.svg`,
          await sweepFigure(points, ceiling, knob, `${cohort}: AUC vs ${knob}`),
        );
        body.push(`![AUC against ${knob}, ${cohort}](${link})\n`);
        body.push(
          "*Mean AUC per method; bands: 95% t intervals over seeds; dashed: latent upper bound (all modalities).*\n",
        );
        // Paired differences against the reference, one compact table.
        const others = methods.filter((m) => m !== ref);
        const dl = [[knob, ...others]];
        for (const value of values) {
          const at = kRows.filter((r) => r.sweep!.value === value);
          dl.push([
            String(value),
            ...others.map((method) => {
              const x = pairedDifference(at, method, ref, cohort);
              if (!x) return "";
              const clear = x.d.length > 1 && (x.lo > 0 || x.hi < 0);
              return `${x.mean >= 0 ? "+" : ""}${fmt3(x.mean)}${
                clear ? "*" : ""
              }`;
            }),
          ]);
        }
        if (others.length > 0 && methods.includes(ref)) {
          body.push(
            `AUC minus ${ref}'s on ${cohort}, paired by seed (mean; * where the 95% t interval over seeds excludes 0):\n`,
          );
          body.push(
            exported(`sweep_${knob}_${scenarioTag}${cohort}_vs_${ref}`, dl) +
              "\n",
          );
        }
      }
    }
  }

  /** "mean [lo, hi]" with a t interval over seeds. */
  function meanTCi(xs: number[]): string {
    if (xs.length === 0) return "n/a";
    const { mean, sd } = meanSd(xs);
    if (xs.length < 2) return fmt3(mean);
    const h = tHalfWidth(sd, xs.length);
    return `${fmt3(mean)} [${fmt3(mean - h)}, ${fmt3(mean + h)}]`;
  }

  /**
   * The paper analog with and without the coding habit, and which
   * mechanism drives the external reversal, read off the habit sweep.
   */
  function habitSection(hRows: ResultRow[]): void {
    if (hRows.length === 0) return;
    const values = uniq(hRows.map((r) => r.sweep!.value)).sort((a, b) => a - b);
    const lo = values[0], hi = values[values.length - 1];
    if (lo === hi) return;
    const methods = orderMethods(hRows.map((r) => r.method), ref);
    const aucs = (method: string, value: number, cohort: string) =>
      hRows.filter((r) =>
        r.method === method && r.sweep!.value === value &&
        typeof r.metrics[cohort]?.auc === "number"
      ).map((r) => r.metrics[cohort].auc as number);
    const lines = [[
      "method",
      `internal, habit ${hi}`,
      `external, habit ${hi}`,
      `internal, habit ${lo} (ablated)`,
      `external, habit ${lo} (ablated)`,
    ]];
    for (const m of methods) {
      lines.push([
        m,
        meanTCi(aucs(m, hi, "internal")),
        meanTCi(aucs(m, hi, "external")),
        meanTCi(aucs(m, lo, "internal")),
        meanTCi(aucs(m, lo, "external")),
      ]);
    }
    body.push("## The paper analog with and without the coding habit\n");
    body.push(
      `The home site's coding habit (\`ehr.codingHabit\`) makes EHR dimensions record the patient's risk score; the external site has none. Mean AUC over seeds [95% t interval over seeds].\n`,
    );
    body.push(exported("coding_habit", lines) + "\n");
    body.push(
      "Which mechanism drives each reversal is stated in the Summary.\n",
    );
    // Reversal: a multimodal method beats the reference at home and loses to it abroad.
    const gap = (m: string, v: number, c: string) => {
      const a = aucs(m, v, c), b = aucs(ref, v, c);
      return a.length > 0 && b.length > 0
        ? meanSd(a).mean - meanSd(b).mean
        : null;
    };
    for (const m of methods.filter((m) => m !== ref)) {
      const gHi = gap(m, hi, "external"), gLo = gap(m, lo, "external");
      const iHi = gap(m, hi, "internal");
      if (gHi === null || gLo === null || iHi === null) continue;
      // 0.02 AUC each way keeps seed noise from being read as a reversal.
      const reversed = iHi >= 0.02 && gHi <= -0.02;
      if (!reversed) continue;
      const cross: string[] = [];
      for (let i = 1; i < values.length; i++) {
        const a = gap(m, values[i - 1], "external");
        const b = gap(m, values[i], "external");
        if (a !== null && b !== null && Math.sign(a) !== Math.sign(b)) {
          // Linear interpolation of the external gap between the two values.
          const at = values[i - 1] + (values[i] - values[i - 1]) * a / (a - b);
          cross.push(`near codingHabit = ${at.toFixed(2)}`);
        }
      }
      mechanisms.push({
        method: m,
        homeGap: iHi,
        abroadGap: gHi,
        ablatedAbroadGap: gLo,
        habitDrives: gLo >= 0,
        crossings: cross,
      });
      const line = `- ${m} reverses against ${ref}: ${iHi >= 0 ? "+" : ""}${
        fmt3(iHi)
      } AUC at home, ${
        fmt3(gHi)
      } abroad with the habit; with the habit ablated it is ${
        gLo >= 0 ? "+" : ""
      }${fmt3(gLo)} abroad. ${
        gLo >= 0
          ? `The coding habit drives the reversal (external gap crosses 0 ${
            cross.join(", ") || "between the swept values"
          }).`
          : "The reversal persists without the habit, so another mechanism (e.g. the scanner or covariate shift) drives it."
      }`;
      summary.push(line);
    }
  }

  async function diagnosticsSection(
    study: string,
    studyRows: ResultRow[],
  ): Promise<void> {
    type Rep = Record<string, {
      probeAuc: number | null;
      latentR2?: Record<string, number>;
    }>;
    const withRep = studyRows.filter((r) =>
      typeof r.extra?.representation === "object" &&
      r.extra?.representation !== null && !r.sweep
    );
    if (withRep.length > 0) {
      const lines = [[
        "method",
        "encoder",
        "latent R^2 shared",
        "image",
        "ehr",
        "probe AUC (internal)",
        "runs",
      ]];
      const methods = orderMethods(withRep.map((r) => r.method), ref);
      for (const method of methods) {
        const mRows = withRep.filter((r) => r.method === method);
        for (const stage of ["random-init", "pretrained", "finetuned"]) {
          const reps = mRows.map((r) => (r.extra!.representation as Rep)[stage])
            .filter((x) => x !== undefined);
          if (reps.length === 0) continue;
          const pick = (k: string) =>
            reps.map((x) => x.latentR2?.[k]).filter((x): x is number =>
              typeof x === "number"
            );
          lines.push([
            method,
            stage,
            meanTCi(pick("shared")),
            meanTCi(pick("image")),
            meanTCi(pick("ehr")),
            meanTCi(
              reps.map((x) => x.probeAuc).filter((x): x is number =>
                typeof x === "number"
              ),
            ),
            String(reps.length),
          ]);
        }
      }
      body.push(`### ${study}: representation diagnostics\n`);
      body.push(
        "Each encoder's frozen embedding, scored alike: ridge R^2 of the true latents and the AUC of a converged logistic probe (IRLS), fitted on train + validation, scored on internal test. `random-init` is the encoder every method starts from (`multimodal` finetunes exactly it). Mean [95% t CI over seeds].\n",
      );
      body.push(exported(`${study}_representation`, lines) + "\n");
    }
    const pre = studyRows.filter((r) =>
      !r.sweep && (r.extra?.steps as { pretrain?: number })?.pretrain
    );
    if (pre.length > 0) {
      const lines = [[
        "method",
        "pretraining steps (min - max)",
        "stopped on plateau",
        "last train loss",
        "last held-out loss",
      ]];
      for (const [method, mRows] of byKey(pre, (r) => r.method)) {
        const steps = mRows.map((r) =>
          (r.extra!.steps as { pretrain: number }).pretrain
        );
        const last = (k: string) =>
          mRows.map((r) => {
            const c = (r.extra!.curves as Record<string, number[]>)?.[k];
            return Array.isArray(c) && c.length > 0 ? c[c.length - 1] : NaN;
          }).filter(Number.isFinite);
        lines.push([
          method,
          `${fmt0(meanSd(steps).mean)} (${Math.min(...steps)} - ${
            Math.max(...steps)
          })`,
          `${
            mRows.filter((r) => r.extra!.plateau === true).length
          } of ${mRows.length}`,
          meanTCi(last("pretrain")),
          meanTCi(last("pretrainHeldOut")),
        ]);
      }
      body.push(`### ${study}: pretraining\n`);
      body.push(
        "Pretraining stops when the held-out loss stops improving (`pretrain.patience`, `minDelta`) or at `pretrain.steps`; the curves figure shows both losses.\n",
      );
      body.push(exported(`${study}_pretraining`, lines) + "\n");
    }
    const series = studyRows.flatMap((r) => {
      const c = r.extra?.curves as Record<string, unknown> | undefined;
      if (!c || typeof c !== "object") return [];
      return Object.entries(c)
        .filter(([, v]) =>
          Array.isArray(v) && v.length > 0 &&
          v.every((x) => typeof x === "number")
        )
        .map(([phase, v]) => ({
          method: r.method,
          seed: r.seed,
          phase,
          losses: v as number[],
        }));
    });
    if (series.length > 0) {
      const link = saveFigure(
        `curves_${safeName(study)}.svg`,
        await curvesFigure(series, `Training curves: ${study}`),
      );
      body.push(`### ${study}: training curves\n`);
      body.push(`![Training loss per logged step, ${study}](${link})\n`);
    }
  }

  const md: string[] = [];
  md.push(`# ${opts.title ?? "mmjepa report"}\n`);
  md.push(describeRuns(cleanRows, ref) + "\n");
  for (const n of opts.notes ?? []) md.push(`${n}\n`);
  const head = headline(cleanRows, ref);
  if (head.crossovers.length > 0) {
    md.push("## Headline\n");
    md.push(
      `Where each pretraining method falls below ${ref} on the ${head.cohort} cohort (mean over seeds of the paired AUC difference; the range is where the crossing can lie given the 95% t intervals):\n`,
    );
    md.push(headlineLines(head).join("\n") + "\n");
    const link = saveFigure("headline.svg", await headlineFigure(head));
    md.push(`![${head.cohort} AUC difference against each knob](${link})\n`);
    md.push(
      `*${head.cohort} AUC minus ${ref}'s, paired by seed, against each swept knob; bands: 95% t intervals over seeds; dashed: no difference.*\n`,
    );
  }
  const adjusted = holm(claims.map((c) => c.p));
  const claimLines: string[] = [];
  claims.forEach((c, i) => {
    const sig = adjusted[i] < 0.05;
    const verb = !sig
      ? "did not differ significantly from"
      : c.mean > 0
      ? "exceeded"
      : "fell below";
    claimLines.push(
      `- ${c.label}: ${c.method} ${verb} ${ref} on ${c.cohort}: ${
        c.mean >= 0 ? "+" : ""
      }${fmt3(c.mean)} AUC [${fmt3(c.lo)}, ${fmt3(c.hi)}]${
        c.n > 1 ? ` over ${c.n} seeds` : ""
      }, Holm-adjusted ${formatP(adjusted[i])}.`,
    );
  });
  summary.unshift(...claimLines);
  md.push("## Summary\n");
  md.push(
    summary.length > 0
      ? summary.join("\n") + "\n"
      : "No comparison with the reference method was possible.\n",
  );
  md.push(
    `Claims compare each method with ${ref}, paired by seed: the mean AUC difference over seeds with its 95% t interval and a one-sample t test (a paired DeLong test where there is one seed); p-values are Holm-adjusted over the ${claims.length} comparisons listed. Per-seed DeLong tests are in the tables below.\n`,
  );
  md.push(
    "Every results table below is also in `tables/` as CSV and LaTeX (booktabs), named after its section, and with the headline and the claims in `report.json`.\n",
  );
  md.push(...body);
  const problems = [
    ...(opts.problems ?? []).map((p) =>
      `- \`${p.file}:${p.line}\`: ${p.message}`
    ),
    ...dropped.map((d) => `- ${d}`),
  ];
  if (problems.length > 0) {
    md.push("## Skipped input\n");
    md.push(problems.join("\n") + "\n");
  }
  md.push(provenance(cleanRows, outDir, opts.provenanceNotes));
  if (appendix.length > 0) {
    writeAtomic(
      join(outDir, "appendix.md"),
      [
        `# ${opts.title ?? "mmjepa report"}: per-seed tables\n`,
        "One seed's per-patient statistics: AUC with 95% DeLong and stratified-bootstrap intervals, the paired DeLong test against the reference, Brier, ECE and the Youden operating point chosen on validation.\n",
        ...appendix,
      ].join("\n"),
    );
  }
  // The report's numbers as data: every table, the headline and the claims.
  writeAtomic(
    join(outDir, "report.json"),
    JSON.stringify(
      {
        title: opts.title ?? "mmjepa report",
        reference: ref,
        bootstrap: { resamples, seed: bootSeed },
        headline: head,
        claims: claims.map((c, i) => ({ ...c, pHolm: adjusted[i] })),
        mechanisms,
        tables,
      },
      null,
      1,
    ) + "\n",
  );
  const reportPath = join(outDir, "report.md");
  const text = md.join("\n");
  writeAtomic(reportPath, text);
  writeAtomic(join(outDir, "report.html"), renderHtml(text, opts.title));
  return { reportPath, figures };
}

/**
 * Rows with unusable per-patient predictions lose those predictions (their
 * metrics still render); each drop is described for "Skipped input".
 */
function dropMalformedPredictions(
  rows: ResultRow[],
): { rows: ResultRow[]; dropped: string[] } {
  const dropped: string[] = [];
  const out = rows.map((r) => {
    const predictions: Record<string, Predictions> = {};
    for (const [cohort, p] of Object.entries(r.predictions ?? {})) {
      const ok = p && Array.isArray(p.ids) && Array.isArray(p.labels) &&
        Array.isArray(p.scores) && p.ids.length === p.labels.length &&
        p.labels.length === p.scores.length;
      if (ok) predictions[cohort] = p;
      else {
        dropped.push(
          `run ${r.runId} (${r.method}, seed ${r.seed}), cohort ${cohort}: predictions need ids, labels and scores arrays of equal length; ignored`,
        );
      }
    }
    return { ...r, metrics: r.metrics ?? {}, predictions };
  });
  return { rows: out, dropped };
}

function describeRuns(rows: ResultRow[], ref: string): string {
  const list = (xs: (string | number)[]) => uniq(xs).join(", ");
  const cohorts = uniq(rows.flatMap((r) => Object.keys(r.metrics)));
  return `${rows.length} runs: studies ${
    list(rows.map((r) => r.study))
  }; scenarios ${list(rows.map((r) => r.scenario))}; methods ${
    list(rows.map((r) => r.method))
  } (reference: ${ref}); seeds ${
    list(rows.map((r) => r.seed).sort((a, b) => a - b))
  }; cohorts ${cohorts.join(", ")}.`;
}

/**
 * The same report as a standalone HTML page (GitHub-like table styling), for
 * readers without a markdown viewer.
 *
 * @example
 * ```ts
 * const html = renderHtml("# Report\n\n| a |\n|---|\n| 1 |\n", "Report");
 * ```
 */
export function renderHtml(markdown: string, title = "mmjepa report"): string {
  const body = marked.parse(markdown, { async: false, gfm: true }) as string;
  const esc = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; }
th { background: #f6f8fa; }
img { max-width: 100%; }
code, pre { background: #f6f8fa; }
</style></head><body>
${body}
</body></html>
`;
}

function provenance(
  rows: ResultRow[],
  outDir: string,
  notes: string[] = [],
): string {
  const out: string[] = ["## Provenance\n"];
  for (const n of notes) out.push(`- ${n}`);
  const versions = uniq(rows.map((r) => JSON.stringify(r.versions ?? {})));
  out.push(
    `- Versions: ${
      versions.map((v) =>
        Object.entries(JSON.parse(v)).map(([k, x]) => `${k} ${x}`).join(", ") ||
        "not recorded"
      ).join("; ")
    }`,
  );
  out.push(
    `- Git commit: ${uniq(rows.map((r) => r.gitCommit ?? "none")).join(", ")}`,
  );
  out.push(
    `- Backend: ${
      uniq(rows.map((r) =>
        r.backend ? `${r.backend.name} (${r.backend.detail})` : "not recorded"
      )).join(", ")
    }`,
  );
  out.push(
    `- Seeds: ${
      uniq(rows.map((r) => r.seed)).sort((a, b) => a - b).join(", ")
    }`,
  );
  out.push(
    `- Run started: ${
      rows.map((r) => r.startedAt).filter(Boolean).sort()[0] ?? "n/a"
    } to ${
      rows.map((r) => r.startedAt).filter(Boolean).sort().at(-1) ?? "n/a"
    }\n`,
  );
  const lines = [["method", "runs", "wall time (s, summed)"]];
  for (const [method, mRows] of byKey(rows, (r) => r.method)) {
    const t = mRows.reduce((a, r) => a + (r.wallSeconds ?? 0), 0);
    lines.push([method, String(mRows.length), t.toFixed(1)]);
  }
  out.push(table(lines) + "\n");
  // Whole resolved configs go beside the report; here only what a reader
  // compares across methods.
  const configs = byKey(rows, (r) => JSON.stringify(r.config ?? {}));
  writeAtomic(
    join(outDir, "configs.yaml"),
    stringifyYaml([...configs].map(([cfg, cRows]) => ({
      runs: cRows.map((r) => r.runId),
      config: JSON.parse(cfg),
    }))),
  );
  const hp = [[
    "method",
    "pretraining (most steps, batch, lr, cross-modal share, EMA start)",
    "finetuning (protocol, most steps, batch, lr)",
    "model (width, depth)",
  ]];
  for (const [method, mRows] of byKey(rows, (r) => r.method)) {
    const e = (mRows[0].config as { experiment?: Record<string, unknown> })
      ?.experiment as
        | {
          pretrain?: Record<string, unknown>;
          finetune?: Record<string, unknown>;
          model?: Record<string, unknown>;
        }
        | undefined;
    const pre = (mRows[0].extra?.steps as { pretrain?: number })?.pretrain;
    const p = e?.pretrain, f = e?.finetune, m = e?.model;
    hp.push([
      method,
      p && pre
        ? `${p.steps}, ${p.batchSize}, ${p.lr}, ${p.crossModalShare}, ${p.emaStart}`
        : "none",
      f ? `${f.protocol}, ${f.steps}, ${f.batchSize}, ${f.lr}` : "n/a",
      m ? `${m.width}, ${m.depth}` : "n/a",
    ]);
  }
  out.push(table(hp) + "\n");
  out.push(
    `Every run's resolved config (${configs.size} distinct) is in [configs.yaml](configs.yaml).\n`,
  );
  return out.join("\n");
}

/**
 * `deno task report FILES... -o DIR`: reads and merges results files,
 * prints malformed lines as `file:line: message` to stderr, writes the
 * report. Returns 0 when a report was written, 1 when no line was usable.
 *
 * @example
 * ```ts
 * Deno.exit(await reportCommand(["a.jsonl", "b.jsonl"], "out/report", {}));
 * ```
 */
export async function reportCommand(
  files: string[],
  outDir: string,
  opts: Omit<ReportOptions, "problems"> = {},
): Promise<number> {
  if (files.length === 0) {
    console.error(
      "report: no results files given (pass one or more .jsonl files)",
    );
    return 1;
  }
  const { rows, problems } = readResults(files);
  for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
  if (rows.length === 0) {
    console.error(
      `report: no usable results lines in ${
        files.join(", ")
      } (${problems.length} skipped); nothing written`,
    );
    return 1;
  }
  const { reportPath, figures } = await writeReport(rows, outDir, {
    ...opts,
    problems,
  });
  console.log(
    `wrote ${reportPath} (${rows.length} runs, ${figures.length} figures${
      problems.length > 0 ? `, ${problems.length} input lines skipped` : ""
    })`,
  );
  return 0;
}
