/**
 * The study's one answer: along which knob, and from which value, does each
 * pretraining method fall below the reference method on the external
 * cohort? Computed as plain data from results rows (seed-level paired
 * differences with t intervals), then rendered as a few lines and one
 * small-multiples figure.
 *
 * @module
 */
import type { ResultRow } from "../core/results.ts";
import { pairedDifference } from "./aggregate.ts";
import { renderSvg } from "./figures.ts";

/** Method minus reference AUC at one knob value, over seeds. */
export interface Difference {
  /** The knob. */
  knob: string;
  /** The method compared with the reference. */
  method: string;
  /** Knob value. */
  value: number;
  /** Mean over seeds of (method AUC - reference AUC), paired by seed. */
  mean: number;
  /** Lower edge of the 95% t interval over seeds. */
  lo: number;
  /** Upper edge. */
  hi: number;
  /** Seeds paired. */
  n: number;
}

/** Where one method falls below the reference along one knob. */
export interface Crossover {
  /** The knob. */
  knob: string;
  /** The method. */
  method: string;
  /**
   * `below-from`: the mean difference turns negative at `at` (linear
   * interpolation between the swept values) and stays negative; `never`:
   * not negative at any value; `always`: negative at every value;
   * `mixed`: changes sign more than once.
   */
  kind: "below-from" | "never" | "always" | "mixed";
  /** Interpolated knob value where the mean difference crosses 0. */
  at: number | null;
  /**
   * The interval of knob values where the crossing can lie: from the last
   * value whose 95% t interval lies above 0 to the first whose interval lies
   * below 0 (an end of the sweep where no value is that clear).
   */
  range: [number, number] | null;
}

/** Everything the headline shows. */
export interface Headline {
  /** The reference method. */
  reference: string;
  /** The cohort compared ("external"). */
  cohort: string;
  /** Per knob, method and value. */
  differences: Difference[];
  /** Per knob and method. */
  crossovers: Crossover[];
}

/** Methods with a self-supervised pretraining phase, as the rows record it. */
function pretrained(rows: ResultRow[]): string[] {
  const out = new Set<string>();
  for (const r of rows) {
    const steps = r.extra?.steps as { pretrain?: number } | undefined;
    if (steps?.pretrain && steps.pretrain > 0) out.add(r.method);
  }
  return [...out].sort();
}

/**
 * The headline model from results rows: for every swept knob and every
 * pretraining method, the seed-paired AUC difference against `reference`
 * on `cohort`, and where it turns negative.
 *
 * @example
 * ```ts
 * const h = headline(rows, "imaging-only");
 * h.crossovers.filter((c) => c.kind === "below-from");
 * ```
 */
export function headline(
  rows: ResultRow[],
  reference: string,
  cohort = "external",
): Headline {
  const methods = pretrained(rows);
  const swept = rows.filter((r) => r.sweep);
  const knobs = [...new Set(swept.map((r) => r.sweep!.knob))].sort();
  const differences: Difference[] = [];
  const crossovers: Crossover[] = [];
  for (const knob of knobs) {
    const kRows = swept.filter((r) => r.sweep!.knob === knob);
    const values = [...new Set(kRows.map((r) => r.sweep!.value))].sort((
      a,
      b,
    ) => a - b);
    for (const method of methods) {
      const diffs: Difference[] = [];
      for (const value of values) {
        const at = kRows.filter((r) => r.sweep!.value === value);
        const x = pairedDifference(at, method, reference, cohort);
        if (!x) continue;
        diffs.push({
          knob,
          method,
          value,
          mean: x.mean,
          lo: x.lo,
          hi: x.hi,
          n: x.d.length,
        });
      }
      if (diffs.length === 0) continue;
      differences.push(...diffs);
      crossovers.push(crossoverOf(knob, method, diffs));
    }
  }
  return { reference, cohort, differences, crossovers };
}

function crossoverOf(
  knob: string,
  method: string,
  d: Difference[],
): Crossover {
  const neg = d.map((x) => x.mean < 0);
  const changes = neg.slice(1).filter((v, i) => v !== neg[i]).length;
  if (neg.every((v) => !v)) {
    return { knob, method, kind: "never", at: null, range: null };
  }
  if (neg.every((v) => v)) {
    return { knob, method, kind: "always", at: null, range: null };
  }
  if (changes > 1 || neg[0]) {
    return { knob, method, kind: "mixed", at: null, range: null };
  }
  const i = neg.indexOf(true);
  const a = d[i - 1], b = d[i];
  const at = a.value + (b.value - a.value) * a.mean / (a.mean - b.mean);
  const above = d.slice(0, i).filter((x) => x.lo > 0).pop();
  const below = d.slice(i).find((x) => x.hi < 0);
  return {
    knob,
    method,
    kind: "below-from",
    at,
    range: [above?.value ?? d[0].value, below?.value ?? d[d.length - 1].value],
  };
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

/**
 * The headline as markdown lines: one per pretraining method.
 *
 * @example
 * ```ts
 * console.log(headlineLines(headline(rows, "imaging-only")).join("\n"));
 * ```
 */
export function headlineLines(h: Headline): string[] {
  const methods = [...new Set(h.crossovers.map((c) => c.method))];
  return methods.map((m) => {
    const parts = h.crossovers.filter((c) => c.method === m).map((c) => {
      if (c.kind === "below-from") {
        return `${c.knob} from about ${fmt(c.at!)} (somewhere in ${
          fmt(c.range![0])
        }-${fmt(c.range![1])})`;
      }
      if (c.kind === "always") return `${c.knob} at every value`;
      if (c.kind === "mixed") return `${c.knob} at some values (sign changes)`;
      return null;
    }).filter((x) => x !== null);
    const never = h.crossovers.filter((c) =>
      c.method === m && c.kind === "never"
    ).map((c) => c.knob);
    return `- **${m}** falls below ${h.reference} on the ${h.cohort} cohort along ${
      parts.length > 0 ? parts.join("; ") : "no knob"
    }${never.length > 0 ? `; never along ${never.join(", ")}` : ""}.`;
  });
}

/**
 * Small multiples: the external AUC difference (method minus reference)
 * against each knob, one panel per knob, 95% t bands over seeds, the zero
 * line, and a diamond where each method's mean crosses it.
 *
 * @example
 * ```ts
 * const svg = await headlineFigure(headline(rows, "imaging-only"));
 * ```
 */
export function headlineFigure(h: Headline): Promise<string> {
  const x = { field: "value", type: "quantitative", title: null };
  // One data set for the facets: the differences, and each crossing as a
  // point on the zero line.
  const values = [
    ...h.differences.map((d) => ({ ...d, kind: "difference" })),
    ...h.crossovers.filter((c) => c.at !== null).map((c) => ({
      knob: c.knob,
      method: c.method,
      value: c.at,
      mean: 0,
      kind: "crossing",
    })),
  ];
  const only = (kind: string) => ({ filter: `datum.kind === '${kind}'` });
  return renderSvg({
    data: { values },
    config: {
      font: "sans-serif",
      axis: { labelFontSize: 12, titleFontSize: 13 },
      // Line swatches at full opacity (the bands would make them pale).
      legend: {
        labelFontSize: 12,
        titleFontSize: 13,
        labelLimit: 0,
        symbolType: "stroke",
        symbolStrokeWidth: 3,
        symbolOpacity: 1,
      },
      header: { labelFontSize: 13 },
    },
    facet: {
      column: { field: "knob", type: "nominal", title: null },
    },
    resolve: { scale: { x: "independent" } },
    spec: {
      width: 170,
      height: 170,
      layer: [
        {
          transform: [only("difference")],
          mark: { type: "area", opacity: 0.15 },
          encoding: {
            x,
            y: {
              field: "lo",
              type: "quantitative",
              title: `${h.cohort} AUC minus ${h.reference}`,
            },
            y2: { field: "hi" },
            color: { field: "method", type: "nominal", title: "method" },
          },
        },
        {
          transform: [only("difference")],
          mark: { type: "line", point: true, strokeWidth: 2 },
          encoding: {
            x,
            y: { field: "mean", type: "quantitative" },
            color: { field: "method", type: "nominal", title: "method" },
          },
        },
        {
          mark: { type: "rule", color: "black", strokeDash: [4, 3] },
          encoding: { y: { datum: 0 } },
        },
        {
          transform: [only("crossing")],
          mark: {
            type: "point",
            shape: "diamond",
            size: 120,
            filled: true,
            stroke: "black",
            strokeWidth: 1,
          },
          encoding: {
            x,
            y: { field: "mean", type: "quantitative" },
            color: { field: "method", type: "nominal" },
          },
        },
      ],
    },
  });
}
