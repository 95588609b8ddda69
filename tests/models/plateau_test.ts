/**
 * The loop's stopping rules on a scripted validation curve: a relative
 * `minDelta` (what pretraining's plateau uses), `restoreBest` (false for
 * pretraining: keep the last weights; true for finetuning) and
 * `smoothing` (volume finetuning: the rule reads an exponentially smoothed
 * curve, so one lucky check does not end the run).
 */
import assert from "node:assert/strict";
import type * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import { ParamSet } from "../../models/params.ts";
import { train, type TrainTask } from "../../models/train.ts";

await initBackend("cpu");

async function run(
  curve: number[],
  minDelta: number,
  restoreBest: boolean,
  smoothing = 0,
): Promise<{
  steps: number;
  stopped: boolean;
  w: number;
  seen: number[];
  smoothed: number[];
}> {
  const ps = ParamSet.create(
    [{ name: "w", shape: [1], init: { value: 0 }, decay: false }],
    new Rng("plateau"),
  );
  const seen: number[] = [];
  let k = 0;
  const task: TrainTask = {
    phase: "plateau test",
    sets: [ps],
    identity: {},
    // Gradient descent on (w - 10)^2: w grows every step.
    loss: () => ps.vars[0].sub(10).square().sum() as tf.Scalar,
    validate: async () => {
      seen.push((await ps.vars[0].data())[0]);
      return curve[Math.min(k++, curve.length - 1)];
    },
  };
  const r = await train(task, {
    steps: 100,
    lr: 0.1,
    weightDecay: 0,
    warmupFraction: 0,
    clipNorm: 0,
    readEvery: 5,
    patience: 2,
    minDelta,
    restoreBest,
    smoothing,
  });
  const w = (await ps.vars[0].data())[0];
  ps.dispose();
  return {
    steps: r.steps,
    stopped: r.stoppedEarly,
    w,
    seen,
    smoothed: r.smoothedCurve,
  };
}

// Falls 10% per check, then by 0.5% per check.
const curve = [1, 0.9, 0.81, 0.806, 0.802, 0.798, 0.794];

Deno.test("minDelta: improvements smaller than it count as a plateau", async () => {
  const loose = await run(curve, 0.01, false);
  // Best at check 3 (0.81); checks 4 and 5 improve by < 1%: stop after 5.
  assert.equal(loose.steps, 25);
  assert.ok(loose.stopped);
  const strict = await run(curve, 0, false);
  // Any decrease counts: it runs through the curve (7 checks) and stops
  // after two flat checks past its end.
  assert.equal(strict.steps, 45);
  assert.ok(strict.stopped);
});

Deno.test("restoreBest: the best check's weights, or the last ones", async () => {
  const last = await run(curve, 0.01, false);
  assert.equal(last.w, (await run(curve, 0.01, false)).w);
  assert.ok(Math.abs(last.w - last.seen[4]) < 1e-6, `${last.w} vs last check`);
  const best = await run(curve, 0.01, true);
  assert.ok(
    Math.abs(best.w - best.seen[2]) < 1e-6,
    `${best.w} vs best check ${best.seen[2]}`,
  );
  assert.ok(best.seen[4] > best.seen[2] + 1e-3, "weights moved after the best");
});

// A falling curve with one lucky check (0.5 at check 3), then flat at 0.6.
const noisy = [1, 0.9, 0.5, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6];

Deno.test("smoothing: one lucky validation check does not end the run", async () => {
  const raw = await run(noisy, 0.01, true, 0);
  // Raw rule: best at check 3, checks 4 and 5 worse: stop after 25 steps
  // with the lucky check's weights.
  assert.equal(raw.steps, 25);
  assert.ok(Math.abs(raw.w - raw.seen[2]) < 1e-6);
  assert.deepEqual(raw.smoothed, raw.seen.map((_, i) => noisy[i]));
  const sm = await run(noisy, 0.01, true, 0.75);
  // s = 0.75 s + 0.25 v: 1, 0.975, 0.856, 0.855, ... falls while the
  // curve falls and converges to 0.6; once it gains < 1% for two checks
  // (after check 19) the run stops with the weights of check 17.
  assert.equal(sm.steps, 95);
  assert.ok(sm.stopped);
  assert.ok(Math.abs(sm.smoothed[2] - 0.85625) < 1e-9, `${sm.smoothed}`);
  assert.ok(
    Math.abs(sm.w - sm.seen[16]) < 1e-6,
    `${sm.w} vs check 17 ${sm.seen[16]}`,
  );
});
