import assert from "node:assert/strict";
import { eigs } from "mathjs";
import { jacobiEigen } from "../../real/ehr.ts";

// The hand-written Jacobi in real/ehr.ts is kept because it is faster than
// mathjs's eigs; this checks that both give the same decomposition.

function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648 - 0.5;
  };
}

/** A covariance-like symmetric matrix (d features, n rows, some correlated). */
function covariance(d: number, n: number, seed: number): number[][] {
  const r = seeded(seed);
  const rows = Array.from({ length: n }, () => {
    const common = r();
    return Array.from(
      { length: d },
      (_, j) => r() + (j % 3 === 0 ? common : 0),
    );
  });
  const c = Array.from({ length: d }, () => new Array(d).fill(0));
  for (const x of rows) {
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) c[i][j] += x[i] * x[j] / n;
    }
  }
  return c;
}

function viaMathjs(a: number[][]): { values: number[]; vectors: number[][] } {
  const r = eigs(a, { eigenvectors: true }) as unknown as {
    eigenvectors: { value: number; vector: number[] }[];
  };
  const ev = [...r.eigenvectors].sort((p, q) => q.value - p.value);
  return { values: ev.map((e) => e.value), vectors: ev.map((e) => e.vector) };
}

Deno.test("jacobiEigen matches mathjs eigs on symmetric matrices", () => {
  for (const [d, seed] of [[2, 1], [7, 2], [24, 3], [48, 4]]) {
    const a = covariance(d, 300, seed);
    const j = jacobiEigen(a);
    const m = viaMathjs(a);
    const scale = Math.max(...m.values.map(Math.abs));
    for (let i = 0; i < d; i++) {
      assert.ok(
        Math.abs(j.values[i] - m.values[i]) < 1e-10 * scale,
        `d=${d} value ${i}: ${j.values[i]} vs ${m.values[i]}`,
      );
      // Vectors agree up to sign where the eigenvalue is well separated.
      const gap = Math.min(
        i > 0 ? m.values[i - 1] - m.values[i] : Infinity,
        i < d - 1 ? m.values[i] - m.values[i + 1] : Infinity,
      );
      if (gap > 1e-6 * scale) {
        const norm = Math.hypot(...m.vectors[i]);
        const cos = j.vectors[i].reduce((s, x, k) =>
          s + x * m.vectors[i][k], 0) /
          norm;
        assert.ok(1 - Math.abs(cos) < 1e-8, `d=${d} vector ${i}: cos ${cos}`);
      }
      // And each is an eigenpair of a: |A v - λ v| small.
      const v = j.vectors[i];
      const res = Math.hypot(
        ...a.map((row, r) =>
          row.reduce((s, x, k) => s + x * v[k], 0) - j.values[i] * v[r]
        ),
      );
      assert.ok(res < 1e-10 * scale, `d=${d} residual ${i}: ${res}`);
    }
  }
});
