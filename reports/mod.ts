/**
 * Statistics, figures and the markdown report.
 *
 * @example
 * ```ts
 * import { delong, writeReport } from "./reports/mod.ts";
 * const { auc, ci } = delong([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9]);
 * ```
 *
 * @module
 */
export * from "./auc.ts";
export * from "./bootstrap.ts";
export * from "./calibration.ts";
export * from "./aggregate.ts";
export * from "./figures.ts";
export * from "./markdown.ts";
