/**
 * Aggregation of per-run metrics over seeds: one group per study, scenario,
 * method, cohort and sweep value.
 *
 * @module
 */
import jStatUntyped from "jstat";
import type { ResultRow } from "../core/results.ts";

// jstat ships no types (and with a manual node_modules its JS is inferred
// without the distributions it adds at run time): the calls used, typed.
const jStat = jStatUntyped as unknown as {
  studentt: {
    inv(p: number, dof: number): number;
    cdf(t: number, dof: number): number;
  };
};

/** Mean and spread of one metric over the seeds of a group. */
export interface SeedSummary {
  /** Study name. */
  study: string;
  /** Scenario name. */
  scenario: string;
  /** Method name. */
  method: string;
  /** Cohort name. */
  cohort: string;
  /** Swept knob, or null outside sweeps. */
  knob: string | null;
  /** Sweep value, or null outside sweeps. */
  value: number | null;
  /** Number of seeds with a finite value. */
  n: number;
  /** Seeds that contributed. */
  seeds: number[];
  /** Mean. */
  mean: number;
  /** Sample standard deviation (n - 1; 0 for a single seed). */
  sd: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
}

/**
 * Mean, sd, min and max of a metric ("auc", "brier", or any numeric key of
 * `metrics[cohort]`) over seeds, per study x scenario x method x cohort x
 * sweep value. Non-finite values are skipped.
 *
 * @example
 * ```ts
 * const groups = aggregateOverSeeds(rows, "auc");
 * for (const g of groups) console.log(g.method, g.cohort, g.mean, g.sd);
 * ```
 */
export function aggregateOverSeeds(
  rows: ResultRow[],
  metric = "auc",
): SeedSummary[] {
  const groups = new Map<
    string,
    {
      key: Omit<SeedSummary, "n" | "mean" | "sd" | "min" | "max" | "seeds">;
      xs: number[];
      seeds: number[];
    }
  >();
  for (const r of rows) {
    for (const [cohort, m] of Object.entries(r.metrics ?? {})) {
      const x = (m as Record<string, unknown> | null)?.[metric];
      if (typeof x !== "number" || !Number.isFinite(x)) continue;
      const knob = r.sweep?.knob ?? null;
      const value = r.sweep?.value ?? null;
      const id = JSON.stringify([
        r.study,
        r.scenario,
        r.method,
        cohort,
        knob,
        value,
      ]);
      let g = groups.get(id);
      if (!g) {
        g = {
          key: {
            study: r.study,
            scenario: r.scenario,
            method: r.method,
            cohort,
            knob,
            value,
          },
          xs: [],
          seeds: [],
        };
        groups.set(id, g);
      }
      g.xs.push(x);
      g.seeds.push(r.seed);
    }
  }
  return [...groups.values()].map(({ key, xs, seeds }) => {
    const { mean, sd } = meanSd(xs);
    return {
      ...key,
      n: xs.length,
      seeds,
      mean,
      sd,
      min: Math.min(...xs),
      max: Math.max(...xs),
    };
  });
}

/**
 * Mean and sample standard deviation (n - 1 denominator; sd 0 for n = 1).
 *
 * @example
 * ```ts
 * meanSd([1, 2, 3]); // { mean: 2, sd: 1 }
 * ```
 */
export function meanSd(xs: number[]): { mean: number; sd: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, sd: 0 };
  const ss = xs.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, sd: Math.sqrt(ss / (n - 1)) };
}

/**
 * Half-width of the two-sided 95% t interval for a mean over `n` seeds:
 * t(0.975, n - 1) x sd / sqrt(n). With 3 seeds t is 4.30, not 1.96, so a
 * normal quantile would make the interval 2.2 times too narrow. 0 for n < 2.
 *
 * @example
 * ```ts
 * tHalfWidth(1, 3); // 2.484...
 * ```
 */
export function tHalfWidth(sd: number, n: number): number {
  if (n < 2) return 0;
  return jStat.studentt.inv(0.975, n - 1) * sd / Math.sqrt(n);
}

/**
 * Holm's step-down adjustment of p-values for a family of comparisons
 * (same as R's `p.adjust(p, method = "holm")`), in the input order.
 *
 * @example
 * ```ts
 * holm([0.01, 0.02, 0.03, 0.04, 0.05]); // [0.05, 0.08, 0.09, 0.09, 0.09]
 * ```
 */
export function holm(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((i, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p[i]));
    out[i] = running;
  });
  return out;
}

/**
 * Two-sided one-sample t test of mean 0 for seed-level differences:
 * p = 2 P(T > |t|) with n - 1 degrees of freedom. NaN for n < 2 and 0 for
 * a nonzero mean with no spread.
 *
 * @example
 * ```ts
 * tTestP([0.05, 0.07, 0.06]); // 0.00913 (R: t.test gives p-value = 0.009133)
 * ```
 */
export function tTestP(d: readonly number[]): number {
  const n = d.length;
  if (n < 2) return NaN;
  const { mean, sd } = meanSd([...d]);
  if (sd === 0) return mean === 0 ? 1 : 0;
  const t = Math.abs(mean) / (sd / Math.sqrt(n));
  return 2 * (1 - jStat.studentt.cdf(t, n - 1));
}

/** A method's AUC minus the reference's, paired by seed, with its t interval. */
export interface PairedDifference {
  /** Mean over seeds of the paired differences. */
  mean: number;
  /** Lower edge of the 95% t interval over seeds (= mean for one seed). */
  lo: number;
  /** Upper edge. */
  hi: number;
  /** The per-seed differences. */
  d: number[];
}

/**
 * `method`'s AUC on `cohort` minus `reference`'s, paired by seed over
 * `rows` (the rows of one condition), with a 95% t interval; null when no
 * seed has both.
 *
 * @example
 * ```ts
 * const x = pairedDifference(paperRows, "jepa", "imaging-only", "external");
 * ```
 */
export function pairedDifference(
  rows: ResultRow[],
  method: string,
  reference: string,
  cohort: string,
): PairedDifference | null {
  const d: number[] = [];
  for (const r of rows.filter((x) => x.method === method)) {
    const ref = rows.find((x) => x.method === reference && x.seed === r.seed);
    const a = r.metrics[cohort]?.auc, b = ref?.metrics[cohort]?.auc;
    if (typeof a === "number" && typeof b === "number") d.push(a - b);
  }
  if (d.length === 0) return null;
  const { mean, sd } = meanSd(d);
  const h = tHalfWidth(sd, d.length);
  return { mean, lo: mean - h, hi: mean + h, d };
}
