/**
 * Representation health in plain JS: per-dimension spread of embeddings
 * (a collapsed encoder maps everyone to one point) and how well a ridge
 * regression recovers ground-truth latents from them.
 *
 * @module
 */

/**
 * Mean over dimensions of the standard deviation across patients.
 *
 * @param emb [n, dim] row-major
 *
 * @example
 * ```ts
 * embeddingStd(new Float32Array([0, 1, 2, 3]), 2, 2); // 1
 * ```
 */
export function embeddingStd(
  emb: Float32Array,
  n: number,
  dim: number,
): number {
  if (n < 2) return 0;
  let total = 0;
  for (let j = 0; j < dim; j++) {
    let s = 0, sq = 0;
    for (let i = 0; i < n; i++) {
      const v = emb[i * dim + j];
      s += v;
      sq += v * v;
    }
    const m = s / n;
    total += Math.sqrt(Math.max(0, sq / n - m * m));
  }
  return total / dim;
}

function cholSolve(
  a: Float64Array,
  b: Float64Array,
  d: number,
  k: number,
): void {
  // In place: a (d x d, SPD) becomes its Cholesky factor; b (d x k) the solution.
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let q = 0; q < j; q++) s -= a[j * d + q] * a[j * d + q];
    const l = Math.sqrt(Math.max(s, 1e-12));
    a[j * d + j] = l;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let q = 0; q < j; q++) t -= a[i * d + q] * a[j * d + q];
      a[i * d + j] = t / l;
    }
  }
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < d; i++) {
      let t = b[i * k + c];
      for (let q = 0; q < i; q++) t -= a[i * d + q] * b[q * k + c];
      b[i * k + c] = t / a[i * d + i];
    }
    for (let i = d - 1; i >= 0; i--) {
      let t = b[i * k + c];
      for (let q = i + 1; q < d; q++) t -= a[q * d + i] * b[q * k + c];
      b[i * k + c] = t / a[i * d + i];
    }
  }
}

/**
 * Ridge regression from embeddings to targets, fit on one set and scored
 * on another: R^2 = 1 - sum of squared errors / total sum of squares,
 * pooled over all target columns.
 *
 * @param xTrain [nTrain, dim] @param yTrain [nTrain, k]
 * @param xTest [nTest, dim] @param yTest [nTest, k]
 * @param lambda ridge strength relative to the number of training rows
 *
 * @example
 * ```ts
 * const r2 = ridgeR2(xTr, yTr, xTe, yTe, 32, 4);
 * ```
 */
export function ridgeR2(
  xTrain: Float32Array,
  yTrain: Float32Array,
  xTest: Float32Array,
  yTest: Float32Array,
  dim: number,
  k: number,
  lambda = 1e-3,
): number {
  const n = xTrain.length / dim, m = xTest.length / dim;
  if (n < 2 || m < 1 || k === 0) return NaN;
  const xm = new Float64Array(dim), xs = new Float64Array(dim);
  const ym = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) xm[j] += xTrain[i * dim + j] / n;
    for (let c = 0; c < k; c++) ym[c] += yTrain[i * k + c] / n;
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      xs[j] += (xTrain[i * dim + j] - xm[j]) ** 2 / n;
    }
  }
  for (let j = 0; j < dim; j++) xs[j] = Math.sqrt(xs[j]) || 1;
  const z = (x: Float32Array, i: number, j: number) =>
    (x[i * dim + j] - xm[j]) / xs[j];
  const a = new Float64Array(dim * dim), b = new Float64Array(dim * k);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < dim; p++) {
      const zp = z(xTrain, i, p);
      for (let q = 0; q <= p; q++) a[p * dim + q] += zp * z(xTrain, i, q);
      for (let c = 0; c < k; c++) {
        b[p * k + c] += zp * (yTrain[i * k + c] - ym[c]);
      }
    }
  }
  for (let p = 0; p < dim; p++) {
    for (let q = 0; q < p; q++) a[q * dim + p] = a[p * dim + q];
    a[p * dim + p] += lambda * n;
  }
  cholSolve(a, b, dim, k);
  const tm = new Float64Array(k);
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < k; c++) tm[c] += yTest[i * k + c] / m;
  }
  let sse = 0, sst = 0;
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < k; c++) {
      let pred = ym[c];
      for (let p = 0; p < dim; p++) pred += z(xTest, i, p) * b[p * k + c];
      sse += (yTest[i * k + c] - pred) ** 2;
      sst += (yTest[i * k + c] - tm[c]) ** 2;
    }
  }
  return sst > 0 ? 1 - sse / sst : NaN;
}

/** A fitted logistic regression on standardized features. */
export interface LogisticModel {
  /** Feature means used to standardize. */
  mean: Float64Array;
  /** Feature standard deviations used to standardize (1 for constants). */
  std: Float64Array;
  /** Weights on the standardized features. */
  w: Float64Array;
  /** Intercept. */
  b: number;
  /** Newton iterations taken. */
  iterations: number;
}

/**
 * Ridge-penalized logistic regression fitted to convergence by Newton's
 * method (IRLS): the probe a frozen representation deserves, instead of a
 * few gradient steps that stop wherever the budget ends. Features are
 * standardized on the fitting rows; the intercept is not penalized.
 *
 * @param x [n, dim] row-major features
 * @param y n labels in {0, 1}
 * @param ridge L2 penalty on the standardized weights, in log-likelihood units
 *
 * @example
 * ```ts
 * const m = fitLogistic(new Float32Array([0, 1, 2, 3]), [0, 0, 1, 1], 1);
 * predictLogistic(m, new Float32Array([3]), 1)[0] > 0.5; // true
 * ```
 */
export function fitLogistic(
  x: Float32Array,
  y: ArrayLike<number>,
  dim: number,
  ridge = 1,
): LogisticModel {
  const n = y.length;
  if (x.length !== n * dim) {
    throw new Error(`fitLogistic: ${x.length} values for ${n} x ${dim}`);
  }
  const mean = new Float64Array(dim), std = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] / n;
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) std[j] += (x[i * dim + j] - mean[j]) ** 2 / n;
  }
  for (let j = 0; j < dim; j++) std[j] = Math.sqrt(std[j]) || 1;
  const d = dim + 1; // last coordinate: intercept
  const z = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      z[i * d + j] = (x[i * dim + j] - mean[j]) / std[j];
    }
    z[i * d + dim] = 1;
  }
  const beta = new Float64Array(d);
  let it = 0;
  for (; it < 100; it++) {
    const h = new Float64Array(d * d), g = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      let eta = 0;
      for (let j = 0; j < d; j++) eta += z[i * d + j] * beta[j];
      const p = 1 / (1 + Math.exp(-eta));
      const w = Math.max(p * (1 - p), 1e-10), r = y[i] - p;
      for (let a = 0; a < d; a++) {
        const za = z[i * d + a];
        g[a] += za * r;
        for (let c = 0; c <= a; c++) h[a * d + c] += w * za * z[i * d + c];
      }
    }
    for (let a = 0; a < d; a++) {
      for (let c = 0; c < a; c++) h[c * d + a] = h[a * d + c];
      const pen = a < dim ? ridge : 1e-8;
      h[a * d + a] += pen;
      g[a] -= pen * beta[a];
    }
    cholSolve(h, g, d, 1);
    let step = 0;
    for (let a = 0; a < d; a++) {
      beta[a] += g[a];
      step = Math.max(step, Math.abs(g[a]));
    }
    if (step < 1e-9) break;
  }
  return { mean, std, w: beta.slice(0, dim), b: beta[dim], iterations: it + 1 };
}

/**
 * P(y = 1) for each row of `x` under a {@link fitLogistic} model.
 *
 * @example
 * ```ts
 * const p = predictLogistic(model, xTest, dim);
 * ```
 */
export function predictLogistic(
  m: LogisticModel,
  x: Float32Array,
  dim: number,
): number[] {
  const n = x.length / dim, out: number[] = [];
  for (let i = 0; i < n; i++) {
    let eta = m.b;
    for (let j = 0; j < dim; j++) {
      eta += m.w[j] * (x[i * dim + j] - m.mean[j]) / m.std[j];
    }
    out.push(1 / (1 + Math.exp(-eta)));
  }
  return out;
}
