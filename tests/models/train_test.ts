import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../../kernels/backend.ts";
import { DivergenceError } from "../../core/errors.ts";
import {
  type PartialExperimentConfig,
  resolveExperimentConfig,
} from "../../models/config.ts";
import {
  finetune,
  pretrain,
  type Pretrained,
} from "../../models/experiment.ts";
import { Interrupted } from "../../models/train.ts";
import { easySet } from "./fixtures.ts";

await initBackend("cpu");

const set = easySet({
  sizes: { pretrain: 60, train: 40, val: 20, test: 20 },
  external: 10,
});
const tiny: PartialExperimentConfig = {
  model: {
    width: 8,
    heads: 2,
    depth: 1,
    predictorWidth: 8,
    predictorHeads: 2,
    ehrGroups: 4,
  },
  pretrain: { batchSize: 16, steps: 40, readEvery: 10 },
  finetune: { batchSize: 16, steps: 40, readEvery: 10, patience: 2 },
};
const cfgWith = (o: PartialExperimentConfig) =>
  resolveExperimentConfig({
    model: { ...tiny.model, ...o.model },
    pretrain: { ...tiny.pretrain, ...o.pretrain },
    finetune: { ...tiny.finetune, ...o.finetune },
  });

async function weights(pre: Pretrained): Promise<number[]> {
  return (await pre.encoder.values()).flatMap((v) => Array.from(v));
}

Deno.test("tensor count stays flat over 200 pretraining steps", async () => {
  const start = tf.memory().numTensors;
  const counts: number[] = [];
  const pre = await pretrain(
    set,
    "jepa+contrastive",
    cfgWith({ pretrain: { steps: 200, readEvery: 20 } }),
    1,
    { onProgress: () => counts.push(tf.memory().numTensors) },
  );
  assert.equal(counts.length, 10);
  assert.ok(counts.every((c) => c === counts[0]), `counts ${counts}`);
  pre!.dispose();
  assert.equal(tf.memory().numTensors, start);
});

Deno.test("same seed, same losses and weights; another seed differs", async () => {
  const cfg = cfgWith({ pretrain: { steps: 20, readEvery: 1 } });
  const a = (await pretrain(set, "jepa+contrastive", cfg, 3))!;
  const b = (await pretrain(set, "jepa+contrastive", cfg, 3))!;
  const c = (await pretrain(set, "jepa+contrastive", cfg, 4))!;
  assert.equal(a.curve.length, 20);
  assert.deepEqual(a.curve, b.curve);
  assert.deepEqual(await weights(a), await weights(b));
  assert.notDeepEqual(a.curve, c.curve);
  const fa = await finetune(set, "jepa+contrastive", a, cfg, 3);
  const fb = await finetune(set, "jepa+contrastive", b, cfg, 3);
  assert.deepEqual(fa.curves.finetune, fb.curves.finetune);
  assert.deepEqual(
    fa.predictions.internal.scores,
    fb.predictions.internal.scores,
  );
  for (const p of [a, b, c]) p.dispose();
});

Deno.test("resumed pretraining and finetuning equal uninterrupted runs", async () => {
  const cfg = cfgWith({});
  const dir = mkdtempSync(join(tmpdir(), "resume-"));
  const full = (await pretrain(set, "jepa", cfg, 5))!;
  const fullFt = await finetune(set, "jepa", full, cfg, 5);

  const stop = new AbortController();
  await assert.rejects(
    pretrain(set, "jepa", cfg, 5, {
      checkpointDir: dir,
      signal: stop.signal,
      onProgress: (_p, step) => step === 20 && stop.abort(),
    }),
    (e: unknown) => e instanceof Interrupted && e.step === 20,
  );
  const resumed =
    (await pretrain(set, "jepa", cfg, 5, { checkpointDir: dir }))!;
  assert.deepEqual(resumed.curve, full.curve);
  assert.deepEqual(await weights(resumed), await weights(full));

  const stop2 = new AbortController();
  await assert.rejects(
    finetune(set, "jepa", resumed, cfg, 5, {
      checkpointDir: dir,
      signal: stop2.signal,
      onProgress: (_p, step) => step === 10 && stop2.abort(),
    }),
    Interrupted,
  );
  const ft = await finetune(set, "jepa", resumed, cfg, 5, {
    checkpointDir: dir,
  });
  assert.deepEqual(ft.curves.finetune, fullFt.curves.finetune);
  assert.deepEqual(
    ft.predictions.internal.scores,
    fullFt.predictions.internal.scores,
  );
  full.dispose();
  resumed.dispose();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a non-finite loss stops the run naming the step", async () => {
  const cfg = cfgWith({ finetune: { clipNorm: 0, readEvery: 5, steps: 40 } });
  // Past validation on purpose: the loop itself must catch the blow-up.
  cfg.finetune.lr = 1e30;
  await assert.rejects(
    finetune(set, "multimodal", null, cfg, 1),
    (e: unknown) =>
      e instanceof DivergenceError && e.step >= 1 &&
      e.message.includes(`at step ${e.step}`) &&
      (e.lastFinite === null || Number.isFinite(e.lastFinite)),
  );
});
