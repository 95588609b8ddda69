import assert from "node:assert/strict";
import { Rng, RngStreams } from "../../core/rng.ts";

Deno.test("same seed and stream name give the same draws", () => {
  const a = new RngStreams(7).get("data");
  const b = new RngStreams(7).get("data");
  const xa = Array.from({ length: 50 }, () => a.normal());
  const xb = Array.from({ length: 50 }, () => b.normal());
  assert.deepEqual(xa, xb);
});

Deno.test("streams are independent of each other and of the seed", () => {
  const s = new RngStreams(7);
  const data = s.get("data").uniform();
  assert.notEqual(data, s.get("init").uniform());
  assert.notEqual(data, new RngStreams(8).get("data").uniform());
  assert.notEqual(
    s.child("internal").get("data").uniform(),
    s.child("external").get("data").uniform(),
  );
});

Deno.test("drawing from one stream does not shift another", () => {
  const s = new RngStreams(3);
  const before = s.get("init").uniform();
  const data = s.get("data");
  for (let i = 0; i < 1000; i++) data.uniform();
  assert.equal(s.get("init").uniform(), before);
});

Deno.test("saved state resumes the exact sequence", () => {
  const r = new Rng("resume");
  for (let i = 0; i < 17; i++) r.normal();
  const st = r.state();
  const next = Array.from({ length: 10 }, () => r.normal());
  const r2 = new Rng("", st);
  assert.deepEqual(Array.from({ length: 10 }, () => r2.normal()), next);
});

Deno.test("normal draws have mean 0 and variance 1", () => {
  const r = new Rng("moments");
  const n = 200_000;
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  const mean = s / n, v = s2 / n - mean * mean;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(v - 1) < 0.01, `variance ${v}`);
});

Deno.test("permutation contains every index once", () => {
  const p = new Rng("perm").permutation(100);
  assert.deepEqual([...p].sort((a, b) => a - b), [...Array(100).keys()]);
  assert.notDeepEqual(p, [...Array(100).keys()]);
});
