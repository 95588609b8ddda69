import assert from "node:assert/strict";
import { FastRng } from "../../sim/fast_rng.ts";
import { RngStreams } from "../../core/rng.ts";

Deno.test("FastRng: deterministic per stream, standard normal moments and tail", () => {
  const a = new FastRng(new RngStreams(1).get("x"));
  const b = new FastRng(new RngStreams(1).get("x"));
  const c = new FastRng(new RngStreams(2).get("x"));
  const xa = Array.from({ length: 5 }, () => a.normal());
  assert.deepEqual(xa, Array.from({ length: 5 }, () => b.normal()));
  assert.notDeepEqual(xa, Array.from({ length: 5 }, () => c.normal()));
  const n = 400_000;
  let s = 0, s2 = 0, s4 = 0, tail = 0, u = 0;
  for (let i = 0; i < n; i++) {
    const x = a.normal();
    s += x;
    s2 += x * x;
    s4 += x ** 4;
    if (x > 2.5) tail++;
    u += a.uniform();
  }
  assert.ok(Math.abs(s / n) < 0.01, `mean ${s / n}`);
  assert.ok(Math.abs(s2 / n - 1) < 0.015, `var ${s2 / n}`);
  assert.ok(Math.abs(s4 / n - 3) < 0.1, `4th moment ${s4 / n}`);
  // P(Z > 2.5) = 0.00621
  assert.ok(Math.abs(tail / n - 0.00621) < 0.0008, `tail ${tail / n}`);
  assert.ok(Math.abs(u / n - 0.5) < 0.003);
});
