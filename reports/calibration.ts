/**
 * Calibration and operating-point metrics: Brier score, expected
 * calibration error, reliability bins, and sensitivity/specificity at a
 * Youden threshold chosen on validation data (never on the test set, which
 * would flatter the operating point).
 *
 * @module
 */
import { StatsError } from "./auc.ts";

function check(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  what: string,
): void {
  if (labels.length !== scores.length) {
    throw new StatsError(
      `${what} undefined: ${labels.length} labels but ${scores.length} scores`,
    );
  }
  if (labels.length === 0) {
    throw new StatsError(`${what} undefined: no patients`);
  }
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new StatsError(
        `${what} undefined: score ${i} is ${
          scores[i]
        } (all scores must be finite numbers)`,
      );
    }
    if (labels[i] !== 0 && labels[i] !== 1) {
      throw new StatsError(
        `${what} undefined: label ${i} is ${labels[i]} (labels must be 0 or 1)`,
      );
    }
  }
}

/**
 * Brier score: mean squared difference of predicted probability and label.
 *
 * @example
 * ```ts
 * brier([0, 1], [0.2, 0.6]); // (0.04 + 0.16) / 2 = 0.1
 * ```
 */
export function brier(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): number {
  check(labels, scores, "Brier score");
  let s = 0;
  for (let i = 0; i < labels.length; i++) s += (scores[i] - labels[i]) ** 2;
  return s / labels.length;
}

/** One equal-width probability bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Lower edge (inclusive). */
  lo: number;
  /** Upper edge (exclusive, except the last bin which includes 1). */
  hi: number;
  /** Patients in the bin. */
  n: number;
  /** Mean predicted probability in the bin (null when empty). */
  meanScore: number | null;
  /** Fraction of positives in the bin (null when empty). */
  fracPositive: number | null;
}

/**
 * Reliability bins over [0, 1] with equal width; a score s falls in bin
 * floor(s * bins), with s = 1 in the last bin. Scores outside [0, 1] are
 * rejected since they are not probabilities.
 *
 * @example
 * ```ts
 * reliabilityBins([0, 1, 1], [0.05, 0.95, 0.7], 10)[9].n; // 1
 * ```
 */
export function reliabilityBins(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  bins = 10,
): ReliabilityBin[] {
  check(labels, scores, "reliability bins");
  const n = new Array<number>(bins).fill(0);
  const sumS = new Array<number>(bins).fill(0);
  const sumY = new Array<number>(bins).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const s = scores[i];
    if (s < 0 || s > 1) {
      throw new StatsError(
        `calibration undefined: score ${i} is ${s}, outside [0, 1] (scores must be probabilities)`,
      );
    }
    const b = Math.min(Math.floor(s * bins), bins - 1);
    n[b]++;
    sumS[b] += s;
    sumY[b] += labels[i];
  }
  return n.map((k, b) => ({
    lo: b / bins,
    hi: (b + 1) / bins,
    n: k,
    meanScore: k > 0 ? sumS[b] / k : null,
    fracPositive: k > 0 ? sumY[b] / k : null,
  }));
}

/**
 * Expected calibration error with equal-width bins: the patient-weighted
 * mean of |fraction positive - mean score| over non-empty bins.
 *
 * @example
 * ```ts
 * ece([0, 1], [0.2, 0.6], 10); // (|0 - 0.2| + |1 - 0.6|) / 2 = 0.3
 * ```
 */
export function ece(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  bins = 10,
): number {
  const rb = reliabilityBins(labels, scores, bins);
  let s = 0;
  for (const b of rb) {
    if (b.n > 0) s += b.n * Math.abs(b.fracPositive! - b.meanScore!);
  }
  return s / labels.length;
}

/** Sensitivity and specificity at a threshold (positive when score >= t). */
export interface OperatingPoint {
  /** Threshold. */
  threshold: number;
  /** True positive rate. */
  sensitivity: number;
  /** True negative rate. */
  specificity: number;
}

/**
 * Sensitivity and specificity when "score >= threshold" is called positive.
 *
 * @example
 * ```ts
 * sensSpecAt([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9], 0.5);
 * // { threshold: 0.5, sensitivity: 1, specificity: 0.5 }
 * ```
 */
export function sensSpecAt(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number,
): OperatingPoint {
  check(labels, scores, "sensitivity/specificity");
  let tp = 0, p = 0, tn = 0, q = 0;
  for (let i = 0; i < labels.length; i++) {
    const called = scores[i] >= threshold;
    if (labels[i] === 1) {
      p++;
      if (called) tp++;
    } else {
      q++;
      if (!called) tn++;
    }
  }
  if (p === 0 || q === 0) {
    throw new StatsError(
      `sensitivity/specificity undefined: all ${labels.length} labels are ${
        p === 0 ? 0 : 1
      } (need both classes)`,
    );
  }
  return { threshold, sensitivity: tp / p, specificity: tn / q };
}

/**
 * The threshold maximising Youden's J = sensitivity + specificity - 1 on
 * validation data. Candidates are the observed scores; among equal J the
 * highest threshold wins (fewest false positives).
 *
 * @example
 * ```ts
 * youdenThreshold([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9]).threshold; // 0.9
 * ```
 */
export function youdenThreshold(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): OperatingPoint & { j: number } {
  check(labels, scores, "Youden threshold");
  const candidates = [...new Set(Array.from(scores))].sort((a, b) => b - a);
  let best: (OperatingPoint & { j: number }) | null = null;
  for (const t of candidates) {
    const op = sensSpecAt(labels, scores, t);
    const j = op.sensitivity + op.specificity - 1;
    if (best === null || j > best.j + 1e-12) best = { ...op, j };
  }
  return best!;
}

/**
 * Sensitivity and specificity on a test set at the Youden threshold of a
 * validation set.
 *
 * @example
 * ```ts
 * const op = operatingPointFromValidation(val.labels, val.scores, test.labels, test.scores);
 * console.log(op.threshold, op.sensitivity, op.specificity);
 * ```
 */
export function operatingPointFromValidation(
  valLabels: ArrayLike<number>,
  valScores: ArrayLike<number>,
  testLabels: ArrayLike<number>,
  testScores: ArrayLike<number>,
): OperatingPoint {
  const { threshold } = youdenThreshold(valLabels, valScores);
  return sensSpecAt(testLabels, testScores, threshold);
}
