/**
 * The cohort type shared by `sim/`, `real/` and `models/`.
 *
 * @example
 * ```ts
 * import type { Cohort } from "./mod.ts";
 * function labeled(c: Cohort) {
 *   return c.patients.filter((p) => p.label !== null);
 * }
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./select.ts";
export * from "./manifest.ts";
