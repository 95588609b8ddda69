/**
 * Stratified bootstrap percentile confidence interval of the AUC, as pROC
 * `ci.auc(method = "bootstrap", boot.stratified = TRUE)`: each resample
 * draws the positives and the negatives separately with replacement, so
 * every resample keeps the observed class sizes and its AUC is defined.
 *
 * @module
 */
import { type Rng, RngStreams } from "../core/rng.ts";
import { aucMannWhitney, StatsError } from "./auc.ts";

/** Options of {@link bootstrapAucCi}. */
export interface BootstrapOptions {
  /** Number of resamples (default 2000, pROC's default). */
  resamples?: number;
  /** Seed of the resampling stream (default 0). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/** A bootstrap CI and what produced it. */
export interface BootstrapResult {
  /** AUC on the original sample. */
  auc: number;
  /** Percentile interval. */
  ci: [number, number];
  /** Resamples drawn. */
  resamples: number;
  /** Seed used. */
  seed: number;
  /** Confidence level. */
  level: number;
}

/**
 * Sample quantile with linear interpolation (R `quantile(type = 7)`, the
 * default pROC uses for percentile intervals).
 *
 * @example
 * ```ts
 * quantile7([1, 2, 3, 4], 0.5); // 2.5
 * ```
 */
export function quantile7(sorted: ArrayLike<number>, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Stratified bootstrap percentile CI of the AUC; the same seed gives the
 * same interval.
 *
 * @example
 * ```ts
 * const r = bootstrapAucCi(labels, scores, { resamples: 2000, seed: 1 });
 * console.log(r.ci);
 * ```
 */
export function bootstrapAucCi(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  opts: BootstrapOptions = {},
): BootstrapResult {
  const resamples = opts.resamples ?? 2000;
  const seed = opts.seed ?? 0;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 2) {
    throw new StatsError(
      `bootstrap CI undefined: resamples must be an integer >= 2, got ${resamples}`,
    );
  }
  const auc = aucMannWhitney(labels, scores); // validates labels and scores
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    (labels[i] === 1 ? pos : neg).push(scores[i]);
  }
  const rng: Rng = new RngStreams(seed).get("bootstrap");
  const m = pos.length;
  const n = neg.length;
  const y = new Array<number>(m + n).fill(0, m).fill(1, 0, m);
  const s = new Array<number>(m + n);
  const aucs = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < m; i++) s[i] = pos[rng.int(m)];
    for (let j = 0; j < n; j++) s[m + j] = neg[rng.int(n)];
    aucs[b] = aucMannWhitney(y, s);
  }
  aucs.sort();
  const alpha = (1 - level) / 2;
  return {
    auc,
    ci: [quantile7(aucs, alpha), quantile7(aucs, 1 - alpha)],
    resamples,
    seed,
    level,
  };
}
