/**
 * The one HU windowing step that every CT volume goes through before a
 * model reads it, whether it was rendered by the simulator (sim/) or
 * resampled from a real scan (real/). Keeping a single definition here (a
 * module with no project imports) is what makes the two paths feed the
 * model the same kind of numbers: clipped HU, then the model's own global
 * standardization, identical for both.
 *
 * @module
 */

/**
 * The default lung window, HU: air (-1000) to dense soft tissue and early
 * calcification (400). Real ROIs default to it (real/config.ts) and the
 * simulator windows every rendered volume with it.
 *
 * @example
 * ```ts
 * windowHu(roi, DEFAULT_HU_WINDOW, false);
 * ```
 */
export const DEFAULT_HU_WINDOW: readonly [number, number] = [-1000, 400];

/**
 * Clips to an HU window and, when `normalize`, maps it linearly to [0, 1].
 * In place; returns the same array.
 *
 * @example
 * ```ts
 * windowHu(roi, [-1000, 400], true);
 * ```
 */
export function windowHu(
  data: Float32Array,
  window: readonly [number, number],
  normalize: boolean,
): Float32Array {
  const [lo, hi] = window;
  for (let i = 0; i < data.length; i++) {
    const v = Math.min(Math.max(data[i], lo), hi);
    data[i] = normalize ? (v - lo) / (hi - lo) : v;
  }
  return data;
}
