// Wiring of the training code, checked through the public API: which
// weights finetuning starts from, what the linear probe may touch, which
// labeled patients a label fraction keeps, which snapshot early stopping
// returns, what gradient clipping does, and that seeds matter.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { CohortSet, Patient } from "../../cohort/types.ts";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import { hostBatch } from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { Encoder } from "../../models/encoder.ts";
import {
  type ExperimentResult,
  finetune,
  methodUses,
  pretrain,
  type Pretrained,
} from "../../models/experiment.ts";
import { ParamSet } from "../../models/params.ts";
import { fusedEmbedding } from "../../models/supervised.ts";
import { toInputs } from "../../models/tokenizers.ts";
import { train, type TrainTask } from "../../models/train.ts";
import { easySet } from "./fixtures.ts";

await initBackend("cpu");

const set = easySet({
  seed: 6,
  sizes: { pretrain: 60, train: 40, val: 16, test: 40 },
  external: 10,
});
const model = { width: 8, depth: 1, heads: 2, predictorWidth: 8, maxEhr: 1 };
const pretrainCfg = { steps: 6, batchSize: 32, readEvery: 6, lr: 1e-2 };

function config(finetuneOver: Record<string, unknown> = {}) {
  return resolveExperimentConfig({
    model,
    pretrain: pretrainCfg,
    finetune: {
      steps: 6,
      batchSize: 32,
      readEvery: 3,
      patience: 100,
      ...finetuneOver,
    },
  });
}

/** Fused embeddings of `patients` under the pretrained encoder's weights. */
function frozenEmbeddings(pre: Pretrained, patients: Patient[]): Float64Array {
  const enc = new Encoder(pre.layout, pre.model);
  const e = tf.tidy(() => {
    const h = hostBatch(
      patients,
      patients.map((_, i) => i),
      pre.layout,
      pre.norm,
      methodUses(pre.method),
    );
    return fusedEmbedding(
      enc,
      pre.encoder.dict,
      toInputs(h, pre.layout, pre.model),
    ).dataSync();
  });
  enc.dispose();
  return Float64Array.from(e);
}

/** Solves A x = b by Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) {
      if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    }
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

/**
 * Largest residual of a least-squares fit of the internal test logits on
 * [frozen embedding, 1]: ~0 when the scores come from a linear head on the
 * pretrained encoder's embeddings, large otherwise.
 */
function linearResidual(pre: Pretrained, r: ExperimentResult): number {
  const scored = r.predictions.internal;
  const byId = new Map(set.internal.patients.map((p) => [p.id, p]));
  const ps = scored.ids.map((id) => byId.get(id)!);
  const emb = frozenEmbeddings(pre, ps);
  const w = model.width, k = w + 1;
  const rows = ps.map((_, i) => [...emb.subarray(i * w, (i + 1) * w), 1]);
  const y = scored.scores.map((s) => Math.log(s / (1 - s)));
  const ata = Array.from({ length: k }, (_, a) =>
    Array.from(
      { length: k },
      (_, b) => rows.reduce((s, r) => s + r[a] * r[b], 0),
    ));
  const aty = Array.from(
    { length: k },
    (_, a) => rows.reduce((s, r, i) => s + r[a] * y[i], 0),
  );
  const beta = solve(ata, aty);
  let worst = 0;
  rows.forEach((r, i) => {
    const fit = r.reduce((s, v, j) => s + v * beta[j], 0);
    worst = Math.max(worst, Math.abs(fit - y[i]));
  });
  return worst;
}

const pre = (await pretrain(set, "jepa", config(), 1))!;

Deno.test("finetuning with a zero learning rate scores with the pretrained encoder", async () => {
  const still = config({ lr: 0, weightDecay: 0 });
  const r = await finetune(set, "jepa", pre, still, 1);
  const fromPre = linearResidual(pre, r);
  assert.ok(
    fromPre < 1e-3,
    `scores are not a linear head on the pretrained embeddings (${fromPre})`,
  );
  // The check can tell: a finetuning from the initial weights is not.
  const scratch = await finetune(set, "jepa", null, still, 1);
  const fromInit = linearResidual(pre, scratch);
  assert.ok(fromInit > 1e-2, `from scratch also fits (${fromInit})`);
});

Deno.test("the linear probe leaves the encoder bit-identical", async () => {
  const w0 = await pre.encoder.values();
  const r = await finetune(
    set,
    "jepa",
    pre,
    config({ protocol: "linear", lr: 3e-2, steps: 12 }),
    1,
  );
  assert.deepEqual(await pre.encoder.values(), w0);
  const residual = linearResidual(pre, r);
  assert.ok(
    residual < 1e-3,
    `probe scores drifted off the frozen encoder (${residual})`,
  );
});

/**
 * Copies the set so that reading a train patient's scans is counted, and
 * drops the synthetic truth so that only training reads them repeatedly.
 */
function countingSet(counts: Map<string, number>): CohortSet {
  const patients = set.internal.patients.map((p): Patient => {
    if (p.split !== "train") return p;
    const q: Patient = { ...p, truth: undefined };
    Object.defineProperty(q, "scans", {
      enumerable: true,
      get() {
        counts.set(p.id, (counts.get(p.id) ?? 0) + 1);
        return p.scans;
      },
    });
    return q;
  });
  return { ...set, internal: { ...set.internal, patients } };
}

Deno.test("labelFraction trains on that share of each class", async () => {
  const trainees = set.internal.patients.filter((p) => p.split === "train");
  for (const fraction of [0.3, 1]) {
    // Reads that grow with the number of steps come from training batches.
    const reads = async (steps: number) => {
      const counts = new Map<string, number>();
      await finetune(
        countingSet(counts),
        "multimodal",
        null,
        config({ labelFraction: fraction, steps, batchSize: 1000 }),
        1,
      );
      return counts;
    };
    const short = await reads(3), long = await reads(6);
    const used = trainees.filter((p) =>
      (long.get(p.id) ?? 0) > (short.get(p.id) ?? 0)
    );
    for (const cls of [0, 1]) {
      const all = trainees.filter((p) => p.label === cls).length;
      const kept = used.filter((p) => p.label === cls).length;
      assert.ok(
        Math.abs(kept - fraction * all) <= 1 && kept >= 1,
        `fraction ${fraction}, class ${cls}: trained on ${kept} of ${all}`,
      );
    }
  }
});

function scalarSet(name: string): ParamSet {
  return ParamSet.create(
    [{ name: "w", shape: [1], init: { value: 0 }, decay: false }],
    new Rng(name),
  );
}

Deno.test("early stopping returns the weights of the best validation check", async () => {
  for (const patience of [3, 100]) {
    const ps = scalarSet("early");
    const vals = [5, 3, 1, 2, 4, 6, 7, 8];
    const seen: number[] = [];
    const task: TrainTask = {
      phase: "early stopping test",
      sets: [ps],
      identity: null,
      // Pulls w up by a fixed amount each step: every check sees another w.
      loss: () => ps.vars[0].sub(100).square().sum() as tf.Scalar,
      validate: async () => {
        seen.push((await ps.vars[0].data())[0]);
        return vals[seen.length - 1];
      },
    };
    const r = await train(task, {
      steps: vals.length,
      lr: 0.1,
      weightDecay: 0,
      warmupFraction: 0,
      clipNorm: 0,
      readEvery: 1,
      patience,
    });
    const w = (await ps.vars[0].data())[0];
    ps.dispose();
    assert.ok(seen[2] > seen[1] && seen[3] > seen[2], `${seen}`);
    assert.equal(
      w,
      seen[2],
      `patience ${patience}: kept ${w}, best ${seen[2]}`,
    );
    assert.equal(r.stoppedEarly, patience === 3);
    assert.equal(r.steps, patience === 3 ? 6 : 8);
  }
});

Deno.test("gradient clipping: a huge gradient counts as a unit one", async () => {
  const finalW = async (grads: number[], clipNorm: number) => {
    const ps = scalarSet("clip");
    const task: TrainTask = {
      phase: "clipping test",
      sets: [ps],
      identity: null,
      loss: (step) => ps.vars[0].mul(grads[step]).sum() as tf.Scalar,
    };
    await train(task, {
      steps: grads.length,
      lr: 0.1,
      weightDecay: 0,
      warmupFraction: 0,
      clipNorm,
      readEvery: grads.length,
    });
    const w = (await ps.vars[0].data())[0];
    ps.dispose();
    return w;
  };
  const spike = [1000, 1, 1, 1, 1, 1], flat = [1, 1, 1, 1, 1, 1];
  const a = await finalW(spike, 1), b = await finalW(flat, 1);
  assert.ok(Math.abs(a - b) < 1e-5, `clipped: ${a} vs ${b}`);
  // Without clipping the spike dominates Adam's second moment.
  const c = await finalW(spike, 0), d = await finalW(flat, 0);
  assert.ok(Math.abs(c - d) > 1e-2, `unclipped: ${c} vs ${d}`);
});

Deno.test("seeds matter: other seeds, other initial weights and batches", async () => {
  const other = (await pretrain(set, "jepa", config(), 2))!;
  const a = (await pre.encoder.values()).flatMap((v) => Array.from(v));
  const b = (await other.encoder.values()).flatMap((v) => Array.from(v));
  other.dispose();
  assert.notDeepEqual(a, b);
  const s1 = await finetune(set, "multimodal", null, config(), 1);
  const s2 = await finetune(set, "multimodal", null, config(), 2);
  assert.notDeepEqual(
    s1.predictions.internal.scores,
    s2.predictions.internal.scores,
  );
});

Deno.test("a method sees only its own modalities", async () => {
  const changed = structuredClone(set);
  for (
    const p of [...changed.internal.patients, ...changed.externals[0].patients]
  ) {
    for (const r of p.ehr) r.values = r.values.map((v) => 3 - 2 * v);
    p.demographics = {
      age: 20,
      sex: p.demographics.sex === 1 ? 0 : 1,
      packYears: 0,
    };
  }
  const a = await finetune(set, "imaging-only", null, config(), 1);
  const b = await finetune(changed, "imaging-only", null, config(), 1);
  assert.deepEqual(b.predictions, a.predictions, "imaging-only reads the EHR");
  const c = await finetune(set, "multimodal", null, config(), 1);
  const d = await finetune(changed, "multimodal", null, config(), 1);
  assert.notDeepEqual(
    d.predictions,
    c.predictions,
    "multimodal ignores the EHR",
  );
});

Deno.test("finetuning stops early on its patience and passes its clip norm", async () => {
  const long = config({ steps: 300, readEvery: 1, patience: 1, lr: 5e-2 });
  const r = await finetune(set, "multimodal", null, long, 1);
  assert.ok(r.steps.finetune < 300, `ran all ${r.steps.finetune} steps`);
  const clipped = await finetune(
    set,
    "multimodal",
    null,
    config({ clipNorm: 1e-6 }),
    1,
  );
  const free = await finetune(
    set,
    "multimodal",
    null,
    config({ clipNorm: 0 }),
    1,
  );
  assert.notDeepEqual(
    clipped.predictions.internal.scores,
    free.predictions.internal.scores,
  );
});
