/**
 * EHR cross-sections: clinical signature expressions made from the
 * latents by a fixed random mixing, a heavy-tailed nonlinearity and noise
 * (like ICA sources of longitudinal EHR), plus a site coding habit.
 *
 * The coding habit is how concept shift works. At the internal site the
 * last `ehr.habitDims` dimensions also record h = sqrt(k) * lin +
 * sqrt(1 - k) * xi, where lin is the patient's latent risk score (which
 * includes the image-only latents, as when scan findings are coded into the
 * record) and xi is unrelated noise; k = codingHabit * (1 - concept). An
 * external site with concept = c keeps only the fraction 1 - c of that
 * habit, so P(y | EHR) changes there while P(y | image) does not.
 *
 * @module
 */
import type { Draws } from "./fast_rng.ts";
import type { Alloc, Biology } from "./latent.ts";

/**
 * Draws the patient's habit variable for a site with habit strength `k`.
 *
 * @example
 * ```ts
 * const h = habitValue(rng, lin, 0.6);
 * ```
 */
export function habitValue(rng: Draws, lin: number, k: number): number {
  return Math.sqrt(k) * lin + Math.sqrt(1 - k) * rng.normal();
}

/**
 * One cross-section: v_k = m_k (1 + 0.25 |m_k|) + habit_k + noise * eps,
 * where habit_k = loading_k * h on the last habit dimensions and 0 elsewhere.
 *
 * @example
 * ```ts
 * const v = ehrValues(m, h, 0.3, bio, rng);
 * ```
 */
export function ehrValues(
  m: Float64Array,
  habit: number,
  noise: number,
  bio: Biology,
  rng: Draws,
  alloc: Alloc = (n) => new Float32Array(n),
): Float32Array {
  const n = m.length;
  const out = alloc(n);
  const first = n - bio.habitLoading.length;
  for (let k = 0; k < n; k++) {
    const mk = m[k];
    let v = mk * (1 + 0.25 * Math.abs(mk)) + noise * rng.normal();
    if (k >= first) v += bio.habitLoading[k - first] * habit;
    out[k] = v;
  }
  return out;
}

/**
 * Names of the EHR dimensions: sig_000, sig_001, ...
 *
 * @example
 * ```ts
 * ehrNames(2); // ["sig_000", "sig_001"]
 * ```
 */
export function ehrNames(dim: number): string[] {
  return Array.from(
    { length: dim },
    (_, i) => `sig_${String(i).padStart(3, "0")}`,
  );
}
