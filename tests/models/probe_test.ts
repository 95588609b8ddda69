import assert from "node:assert/strict";
import { Rng } from "../../core/rng.ts";
import { embeddingStd, ridgeR2 } from "../../models/probe.ts";

Deno.test("embedding std per dimension", () => {
  // Column 0: 0, 2 (std 1); column 1: constant (std 0).
  assert.equal(embeddingStd(new Float32Array([0, 5, 2, 5]), 2, 2), 0.5);
});

Deno.test("ridge R^2: near 1 for a linear map, near 0 for noise", () => {
  const rng = new Rng("probe");
  const dim = 6, k = 2;
  const make = (n: number) => {
    const x = rng.normals(n * dim);
    const y = new Float32Array(n * k), noise = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      y[i * k] = 2 * x[i * dim] - x[i * dim + 3] + 0.5;
      y[i * k + 1] = x[i * dim + 1] + 0.01 * rng.normal();
      noise[i * k] = rng.normal();
      noise[i * k + 1] = rng.normal();
    }
    return { x, y, noise };
  };
  const tr = make(300), te = make(200);
  const fit = ridgeR2(tr.x, tr.y, te.x, te.y, dim, k);
  assert.ok(fit > 0.99, `linear R2 ${fit}`);
  const none = ridgeR2(tr.x, tr.noise, te.x, te.noise, dim, k);
  assert.ok(none < 0.05 && none > -0.2, `noise R2 ${none}`);
});
