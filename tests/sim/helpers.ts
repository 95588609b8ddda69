/**
 * Measurements the sim tests share: hashing a cohort set and the
 * cross-modal linear R^2 of generated features.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Cohort, CohortSet } from "../../cohort/types.ts";

/**
 * SHA-256 over every number and id in a cohort set.
 *
 * @example
 * ```ts
 * hashCohorts(set); // "3fa1..."
 * ```
 */
export function hashCohorts(set: CohortSet): string {
  const h = createHash("sha256");
  const f32 = (a: Float32Array) =>
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  for (const c of [set.internal, ...set.externals]) {
    h.update(JSON.stringify([c.name, c.imaging, c.ehrDim, c.truth]));
    for (const p of c.patients) {
      h.update(JSON.stringify([p.id, p.split, p.label, p.demographics]));
      for (const s of p.scans) {
        h.update(`${s.id}/${s.time}`);
        f32(s.data);
      }
      for (const r of p.ehr) {
        h.update(`${r.time}`);
        f32(r.values);
      }
      if (p.truth) {
        f32(p.truth.zShared);
        f32(p.truth.zImage);
        f32(p.truth.zEhr);
        h.update(`${p.truth.pMalignant}`);
      }
    }
  }
  return h.digest("hex");
}

/** Solves the symmetric positive definite system A x = b (Cholesky). */
function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
    y[i] = s / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
    x[i] = s / l[i * n + i];
  }
  return x;
}

/**
 * Mean over image features of the R^2 of a least-squares fit of the
 * feature on the first `ehrDims` EHR values (first cross-section) plus an
 * intercept, over patients that have both modalities.
 *
 * @example
 * ```ts
 * crossModalR2(set.internal); // ~0 when modalities are independent
 * ```
 */
export function crossModalR2(c: Cohort, ehrDims: number = c.ehrDim): number {
  const ps = c.patients.filter((p) => p.scans.length > 0 && p.ehr.length > 0);
  const e = ehrDims + 1, f = c.imaging.shape[0];
  const xtx = new Float64Array(e * e);
  const xty = Array.from({ length: f }, () => new Float64Array(e));
  const x = new Float64Array(e);
  const sy = new Float64Array(f), syy = new Float64Array(f);
  for (const p of ps) {
    x[0] = 1;
    x.set(p.ehr[0].values.subarray(0, ehrDims), 1);
    for (let i = 0; i < e; i++) {
      for (let j = 0; j < e; j++) xtx[i * e + j] += x[i] * x[j];
    }
    const y = p.scans[0].data;
    for (let k = 0; k < f; k++) {
      for (let i = 0; i < e; i++) xty[k][i] += x[i] * y[k];
      sy[k] += y[k];
      syy[k] += y[k] * y[k];
    }
  }
  let r2 = 0;
  for (let k = 0; k < f; k++) {
    const beta = solveSpd(xtx, xty[k], e);
    let explained = 0;
    for (let i = 0; i < e; i++) explained += beta[i] * xty[k][i];
    const n = ps.length, mean = sy[k] / n;
    const total = syy[k] - n * mean * mean;
    r2 += (explained - n * mean * mean) / total;
  }
  return r2 / f;
}
