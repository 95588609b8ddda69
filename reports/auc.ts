/**
 * ROC AUC, its DeLong variance and confidence interval, and the paired
 * DeLong test between two scorings of the same patients.
 *
 * Conventions follow R pROC with `direction = "<"` fixed: a higher score
 * means "more likely positive", and the curve is never flipped to make the
 * AUC exceed 0.5 (pROC's automatic direction would hide a method that is
 * worse than chance).
 *
 * References:
 * - DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas under
 *   two or more correlated receiver operating characteristic curves: a
 *   nonparametric approach. Biometrics 44(3):837-845.
 * - Sun X, Xu W (2014). Fast implementation of DeLong's algorithm for
 *   comparing the areas under correlated receiver operating characteristic
 *   curves. IEEE Signal Processing Letters 21(11):1389-1393. Their midrank
 *   formulation gives the structural components in O(n log n) instead of
 *   the O(m n) pairwise kernel of the original paper.
 *
 * @module
 */
import jStatUntyped from "jstat";

// jstat ships no types (and with a manual node_modules its JS is inferred
// without the distributions it adds at run time): the calls used, typed.
const jStat = jStatUntyped as unknown as {
  normal: {
    inv(p: number, mean: number, sd: number): number;
    cdf(x: number, mean: number, sd: number): number;
  };
};

/**
 * A statistic is undefined for the given data (one class only, too few
 * patients, tied scores, NaN scores). The message says which and why, so a
 * report can print it instead of NaN.
 *
 * @example
 * ```ts
 * try {
 *   aucMannWhitney([0, 0], [0.1, 0.2]);
 * } catch (e) {
 *   if (e instanceof StatsError) console.log(`n/a (${e.message})`);
 * }
 * ```
 */
export class StatsError extends Error {
  /** @param message what is undefined and why */
  constructor(message: string) {
    super(message);
    this.name = "StatsError";
  }
}

/**
 * Standard normal quantile (jstat; accurate to ~1e-9, unlike the probit of
 * simple-statistics).
 *
 * @example
 * ```ts
 * normalQuantile(0.975); // 1.959963984540054
 * ```
 */
export function normalQuantile(p: number): number {
  return jStat.normal.inv(p, 0, 1);
}

/**
 * Two-sided p-value of a standard normal z statistic.
 *
 * @example
 * ```ts
 * twoSidedP(1.96); // 0.04999579029644087
 * ```
 */
export function twoSidedP(z: number): number {
  return 2 * jStat.normal.cdf(-Math.abs(z), 0, 1);
}

/**
 * Midranks (1-based; tied values share the mean of their ranks).
 *
 * @example
 * ```ts
 * midranks([0.3, 0.1, 0.3]); // [2.5, 1, 2.5]
 * ```
 */
export function midranks(xs: ArrayLike<number>): Float64Array {
  const n = xs.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    xs[a] - xs[b]
  );
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && xs[order[j + 1]] === xs[order[i]]) j++;
    // positions i..j (0-based) share ranks i+1..j+1
    const r = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Labels and scores split by class, after validation. */
interface Split {
  pos: number[];
  neg: number[];
}

function split(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  minPerClass: number,
  what: string,
): Split {
  if (labels.length !== scores.length) {
    throw new StatsError(
      `${what} undefined: ${labels.length} labels but ${scores.length} scores`,
    );
  }
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const s = scores[i];
    if (!Number.isFinite(s)) {
      throw new StatsError(
        `${what} undefined: score ${i} is ${s} (all scores must be finite numbers)`,
      );
    }
    if (labels[i] === 1) pos.push(s);
    else if (labels[i] === 0) neg.push(s);
    else {
      throw new StatsError(
        `${what} undefined: label ${i} is ${labels[i]} (labels must be 0 or 1)`,
      );
    }
  }
  const n = labels.length;
  if (pos.length === 0 || neg.length === 0) {
    throw new StatsError(
      `${what} undefined: all ${n} labels are ${
        pos.length === 0 ? 0 : 1
      } (need both classes)`,
    );
  }
  if (pos.length < minPerClass || neg.length < minPerClass) {
    throw new StatsError(
      `${what} undefined: ${pos.length} positives and ${neg.length} negatives (need at least ${minPerClass} of each)`,
    );
  }
  return { pos, neg };
}

/**
 * ROC AUC as the Mann-Whitney statistic: P(score+ > score-) + 0.5 P(tie).
 * Equals sklearn `roc_auc_score` and pROC `auc(direction = "<")`.
 *
 * @example
 * ```ts
 * aucMannWhitney([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // 0.75
 * ```
 */
export function aucMannWhitney(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): number {
  const { pos, neg } = split(labels, scores, 1, "AUC");
  return components(pos, neg).auc;
}

/** Sun & Xu structural components of one scoring. */
interface Components {
  auc: number;
  /** V10: per positive, fraction of negatives it out-scores (ties half). */
  v10: Float64Array;
  /** V01: per negative, fraction of positives that out-score it. */
  v01: Float64Array;
}

function components(pos: number[], neg: number[]): Components {
  const m = pos.length;
  const n = neg.length;
  const tx = midranks(pos);
  const ty = midranks(neg);
  const tz = midranks([...pos, ...neg]);
  let sumPos = 0;
  for (let i = 0; i < m; i++) sumPos += tz[i];
  const auc = (sumPos - m * (m + 1) / 2) / (m * n);
  const v10 = new Float64Array(m);
  for (let i = 0; i < m; i++) v10[i] = (tz[i] - tx[i]) / n;
  const v01 = new Float64Array(n);
  for (let j = 0; j < n; j++) v01[j] = 1 - (tz[m + j] - ty[j]) / m;
  return { auc, v10, v01 };
}

function covariance(a: Float64Array, b: Float64Array): number {
  const k = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < k; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= k;
  mb /= k;
  let s = 0;
  for (let i = 0; i < k; i++) s += (a[i] - ma) * (b[i] - mb);
  return s / (k - 1);
}

/** AUC with its DeLong standard error and confidence interval. */
export interface DelongResult {
  /** Mann-Whitney AUC. */
  auc: number;
  /** DeLong variance of the AUC. */
  variance: number;
  /** Square root of the variance. */
  se: number;
  /** Confidence interval, `auc -+ z * se` clipped to [0, 1] as in pROC. */
  ci: [number, number];
  /** Confidence level used. */
  level: number;
  /** Number of positives and negatives. */
  nPositive: number;
  /** Number of negatives. */
  nNegative: number;
}

/**
 * DeLong variance and CI of one AUC (pROC `ci.auc(method = "delong")`).
 * Throws {@link StatsError} for fewer than 2 patients per class or when all
 * scores are tied (no ranking information; the CI would be a point).
 *
 * @example
 * ```ts
 * const r = delong([0, 0, 0, 1, 1, 1], [0.1, 0.5, 0.5, 0.5, 0.7, 0.9]);
 * console.log(r.auc, r.ci);
 * ```
 */
export function delong(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  level = 0.95,
): DelongResult {
  const { pos, neg } = split(labels, scores, 2, "DeLong CI");
  assertNotAllTied(scores, "DeLong CI");
  const { auc, v10, v01 } = components(pos, neg);
  const variance = covariance(v10, v10) / pos.length +
    covariance(v01, v01) / neg.length;
  const se = Math.sqrt(variance);
  const z = normalQuantile(1 - (1 - level) / 2);
  return {
    auc,
    variance,
    se,
    ci: [Math.max(0, auc - z * se), Math.min(1, auc + z * se)],
    level,
    nPositive: pos.length,
    nNegative: neg.length,
  };
}

function assertNotAllTied(scores: ArrayLike<number>, what: string): void {
  for (let i = 1; i < scores.length; i++) {
    if (scores[i] !== scores[0]) return;
  }
  throw new StatsError(
    `${what} undefined: all ${scores.length} scores are tied (${
      scores[0]
    }), so the ranking carries no information`,
  );
}

/** Paired DeLong test of two AUCs on the same patients. */
export interface DelongPairedResult {
  /** AUC of scoring A. */
  aucA: number;
  /** AUC of scoring B. */
  aucB: number;
  /** aucA - aucB. */
  diff: number;
  /** Standard error of the difference. */
  se: number;
  /** z statistic, diff / se (0 when the two scorings rank identically). */
  z: number;
  /** Two-sided p-value. */
  p: number;
  /** Set when the variance of the difference is zero; says why. */
  note?: string;
}

/**
 * Paired DeLong test (pROC `roc.test(method = "delong", paired = TRUE)`):
 * z = (AUC_A - AUC_B) / sqrt(var_A + var_B - 2 cov_AB). When both scorings
 * rank every positive-negative pair alike the difference has zero variance
 * and zero mean: p = 1 with a `note`. A nonzero difference with zero
 * variance cannot be tested and throws {@link StatsError}.
 *
 * @example
 * ```ts
 * const t = delongPaired([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9], [0.2, 0.1, 0.7, 0.8]);
 * console.log(t.diff, t.p);
 * ```
 */
export function delongPaired(
  labels: ArrayLike<number>,
  scoresA: ArrayLike<number>,
  scoresB: ArrayLike<number>,
): DelongPairedResult {
  if (scoresA.length !== scoresB.length) {
    throw new StatsError(
      `paired DeLong test undefined: ${scoresA.length} vs ${scoresB.length} scores (both methods must score the same patients)`,
    );
  }
  const a = split(labels, scoresA, 2, "paired DeLong test");
  const b = split(labels, scoresB, 2, "paired DeLong test");
  const ca = components(a.pos, a.neg);
  const cb = components(b.pos, b.neg);
  const m = a.pos.length;
  const n = a.neg.length;
  const varA = covariance(ca.v10, ca.v10) / m + covariance(ca.v01, ca.v01) / n;
  const varB = covariance(cb.v10, cb.v10) / m + covariance(cb.v01, cb.v01) / n;
  const cov = covariance(ca.v10, cb.v10) / m + covariance(ca.v01, cb.v01) / n;
  const diff = ca.auc - cb.auc;
  const variance = varA + varB - 2 * cov;
  // Rounding leaves ~1e-17 where the exact variance is zero.
  if (variance <= 1e-15) {
    if (Math.abs(diff) <= 1e-12) {
      return {
        aucA: ca.auc,
        aucB: cb.auc,
        diff,
        se: 0,
        z: 0,
        p: 1,
        note:
          "both scorings order every positive-negative pair alike (zero variance of the difference)",
      };
    }
    throw new StatsError(
      `paired DeLong test undefined: AUCs differ (${ca.auc} vs ${cb.auc}) but the difference has zero variance`,
    );
  }
  const se = Math.sqrt(variance);
  const z = diff / se;
  return { aucA: ca.auc, aucB: cb.auc, diff, se, z, p: twoSidedP(z) };
}
