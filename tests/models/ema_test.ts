import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import { emaUpdate, momentumAt } from "../../models/jepa.ts";
import { AdamW, lrAt } from "../../models/optim.ts";
import { ParamSet, variableFrom } from "../../models/params.ts";

await initBackend("cpu");

Deno.test("EMA update arithmetic on known values", async () => {
  const target = variableFrom(tf.tensor1d([1, 2, 3]), false);
  const online = tf.tensor1d([3, 2, -1]);
  emaUpdate(target, online, 0.75);
  const v = await target.data();
  // 0.75 * target + 0.25 * online
  assert.deepEqual(Array.from(v), [1.5, 2, 2]);
  emaUpdate(target, online, 1);
  assert.deepEqual(Array.from(await target.data()), [1.5, 2, 2]);
  target.dispose();
  online.dispose();
});

Deno.test("momentum rises linearly from 0.996 to 1", () => {
  assert.equal(momentumAt(0, 101, 0.996, 1), 0.996);
  assert.ok(Math.abs(momentumAt(50, 101, 0.996, 1) - 0.998) < 1e-12);
  assert.equal(momentumAt(100, 101, 0.996, 1), 1);
});

Deno.test("warmup then cosine", () => {
  assert.ok(Math.abs(lrAt(0, 100, 1, 0.1) - 0.1) < 1e-12);
  assert.equal(lrAt(9, 100, 1, 0.1), 1);
  assert.ok(Math.abs(lrAt(10, 100, 1, 0.1) - 1) < 1e-12);
  assert.ok(lrAt(55, 100, 1, 0.1) < 0.51 && lrAt(55, 100, 1, 0.1) > 0.49);
  assert.ok(lrAt(99, 100, 1, 0.1) < 1e-3);
});

Deno.test("AdamW step matches the formula, with clipping and decay", async () => {
  const ps = ParamSet.create([
    { name: "w", shape: [2], init: { value: 1 }, decay: true },
    { name: "b", shape: [1], init: { value: 1 }, decay: false },
  ], new Rng("x"));
  const opt = new AdamW([ps], { weightDecay: 0.1, clipNorm: 1 });
  tf.tidy(() => {
    opt.apply([tf.tensor1d([3, 0]), tf.tensor1d([4])], 0.5);
  });
  // |g| = 5 -> clipped to [0.6, 0, 0.8]; first Adam step moves by lr * sign.
  const w = await ps.vars[0].data(), b = await ps.vars[1].data();
  assert.ok(Math.abs(w[0] - (1 - 0.5 * (1 + 0.1))) < 1e-5, `w0 ${w[0]}`);
  assert.ok(Math.abs(w[1] - (1 - 0.5 * 0.1)) < 1e-5, `w1 ${w[1]}`);
  assert.ok(Math.abs(b[0] - (1 - 0.5)) < 1e-5, `b ${b[0]}`);
  opt.dispose();
  ps.dispose();
});
