/**
 * The study-facing API: pretrain once per method and seed, finetune as
 * often as needed (label fractions, protocols), and collect predictions on
 * the internal test split and every external cohort.
 *
 * Every method uses the same encoder and the same initial weights for a
 * given seed, so differences between methods come from the objective.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { labeledIn, patientsIn } from "../cohort/select.ts";
import type { CohortSet, Patient } from "../cohort/types.ts";
import { UserError } from "../core/errors.ts";
import { type Rng, RngStreams } from "../core/rng.ts";
import {
  fitNormalizer,
  hostBatch,
  type Layout,
  makeLayout,
  type ModalityUse,
  type Normalizer,
} from "./batch.ts";
import type { ExperimentConfig, ModelConfig } from "./config.ts";
import { contrastiveLoss, contrastiveSpecs } from "./contrastive.ts";
import { Encoder } from "./encoder.ts";
import { emaUpdateFrom, jepaLoss, momentumAt, predictorSpecs } from "./jepa.ts";
import { maskBatch } from "./masks.ts";
import { ParamSet, variableFrom } from "./params.ts";
import { embeddingStd, ridgeR2 } from "./probe.ts";
import {
  bceWithLogits,
  fusedEmbedding,
  headLogits,
  headSpecs,
} from "./supervised.ts";
import { toInputs } from "./tokenizers.ts";
import { type Hooks, train, type TrainTask } from "./train.ts";

/**
 * The methods the study compares.
 *
 * @example
 * ```ts
 * for (const method of METHODS) await runExperiment(set, method, cfg, 1);
 * ```
 */
export const METHODS = [
  "imaging-only",
  "ehr-only",
  "multimodal",
  "contrastive",
  "jepa",
  "jepa+contrastive",
] as const;
/** One method. */
export type Method = typeof METHODS[number];

/**
 * Which modalities a method's encoder sees.
 *
 * @example
 * ```ts
 * methodUses("imaging-only"); // { image: true, ehr: false }
 * ```
 */
export function methodUses(method: Method): ModalityUse {
  return {
    image: method !== "ehr-only",
    ehr: method !== "imaging-only",
  };
}

/**
 * Whether a method has a self-supervised pretraining phase.
 *
 * @example
 * ```ts
 * hasPretraining("multimodal"); // false
 * ```
 */
export function hasPretraining(method: Method): boolean {
  return method === "contrastive" || method === "jepa" ||
    method === "jepa+contrastive";
}

/** Scores for one set of patients. */
export interface Scored {
  /** Patient ids. */
  ids: string[];
  /** 0/1 labels. */
  labels: number[];
  /** P(malignant) from the model. */
  scores: number[];
}

/** What one finetuning produced. */
export interface ExperimentResult {
  /** By cohort name: "internal" test patients, and each external cohort. */
  predictions: Record<string, Scored>;
  /** Internal validation patients. */
  validation: Scored;
  /** Loss curves (mean per readback window). */
  curves: { pretrain: number[]; finetune: number[] };
  /** Mean per-dimension std of the frozen fused embedding on internal test. */
  embeddingStd: number;
  /** Ridge R^2 of each latent group from the frozen embedding (synthetic only). */
  latentR2?: { shared: number; image: number; ehr: number };
  /** Optimizer steps. */
  steps: { pretrain: number; finetune: number };
  /** Wall-clock seconds. */
  seconds: { pretrain: number; finetune: number };
}

/**
 * A finetuned model as host data, for saving (real/saved_model.ts): what
 * scoring a patient needs besides the patient.
 */
export interface FinetunedModel {
  /** The method it was trained by. */
  method: Method;
  /** Model config it was built with. */
  model: ModelConfig;
  /** Token layout of the training cohort. */
  layout: Layout;
  /** Standardization fitted on the training pool. */
  norm: Normalizer;
  /** Modalities the method reads. */
  use: ModalityUse;
  /** Encoder parameters by name (ParamSet order). */
  encoder: { names: string[]; shapes: number[][]; values: Float32Array[] };
  /** Head parameters by name. */
  head: { names: string[]; shapes: number[][]; values: Float32Array[] };
}

/** A pretrained encoder, reusable by several finetunings. */
export interface Pretrained {
  /** The method that pretrained it. */
  method: Method;
  /** Token layout it was trained on. */
  layout: Layout;
  /** Model config it was built with; finetuning must use the same. */
  model: ModelConfig;
  /** Standardization fitted on the pretraining pool. */
  norm: Normalizer;
  /** Encoder weights (not trainable; finetuning copies them). */
  encoder: ParamSet;
  /** Pretraining loss curve. */
  curve: number[];
  /** Steps taken. */
  steps: number;
  /** Seconds taken. */
  seconds: number;
  /** Frees the weights. */
  dispose(): void;
}

function setup(set: CohortSet, cfg: ExperimentConfig) {
  const layout = makeLayout(set.internal, cfg.model);
  for (const c of set.externals) {
    if (
      c.ehrDim !== set.internal.ehrDim ||
      c.imaging.mode !== set.internal.imaging.mode ||
      c.imaging.shape.join() !== set.internal.imaging.shape.join()
    ) {
      throw new UserError(
        `cohort ${c.name}: imaging ${c.imaging.mode} [${c.imaging.shape}] and ehrDim ${c.ehrDim} must match the internal cohort's (${set.internal.imaging.mode} [${set.internal.imaging.shape}], ${set.internal.ehrDim})`,
      );
    }
  }
  // Pretrain, train and val only: test and external patients never shape the model.
  const pool = patientsIn(set.internal, ["pretrain", "train", "val"]);
  return { layout, norm: fitNormalizer(pool, layout), pool };
}

function batchIndices(n: number, size: number, rng: Rng): number[] {
  return rng.permutation(n).slice(0, Math.min(n, size));
}

/**
 * Self-supervised pretraining on the internal pretrain + train + val
 * patients (labels unused). Returns null for methods without pretraining.
 *
 * @example
 * ```ts
 * const pre = await pretrain(set, "jepa", resolveExperimentConfig(), 1);
 * const a = await finetune(set, "jepa", pre, cfg, 1);
 * pre?.dispose();
 * ```
 */
export async function pretrain(
  set: CohortSet,
  method: Method,
  cfg: ExperimentConfig,
  seed: number,
  hooks: Hooks = {},
): Promise<Pretrained | null> {
  if (!hasPretraining(method)) return null;
  const { layout, norm, pool } = setup(set, cfg);
  if (pool.length === 0) {
    throw new UserError(
      `cohort ${set.internal.name}: no patients to pretrain on`,
    );
  }
  const streams = new RngStreams(seed);
  const pc = cfg.pretrain, m = cfg.model;
  const enc = new Encoder(layout, m);
  const online = ParamSet.create(enc.specs(), streams.get("init/enc"));
  const useJepa = method !== "contrastive";
  const useCon = method !== "jepa";
  const pred = useJepa
    ? ParamSet.create(predictorSpecs(m), streams.get("init/pred"))
    : null;
  const con = useCon
    ? ParamSet.create(contrastiveSpecs(m.width), streams.get("init/con"))
    : null;
  const target = useJepa ? variableFrom(online.flat(), false) : null;
  const both = { image: true, ehr: true };
  const task: TrainTask = {
    phase: `${method} pretraining`,
    sets: [online, ...(pred ? [pred] : []), ...(con ? [con] : [])],
    state: target ? { target } : {},
    identity: { method, seed, model: m, pretrain: pc, pool: pool.length },
    loss(step) {
      const idx = batchIndices(
        pool.length,
        pc.batchSize,
        streams.get(`pretrain/batch/${step}`),
      );
      const h = hostBatch(pool, idx, layout, norm, both);
      const x = toInputs(h, layout, m);
      let loss = tf.scalar(0);
      if (pred && target) {
        const mk = maskBatch(
          layout,
          h.present,
          h.n,
          pc.masks,
          pc.blockFraction,
          streams.get(`pretrain/mask/${step}`),
        );
        const ctx = tf.tensor2d(mk.context, [h.n, layout.nTokens]);
        const hid = tf.tensor2d(mk.target, [h.n, layout.nTokens]);
        loss = loss.add(jepaLoss(
          enc,
          online.dict,
          pred.dict,
          online.unflatten(target),
          x,
          ctx,
          hid,
          m,
          pc.loss,
        ));
      }
      if (con) {
        const c = contrastiveLoss(enc, { ...online.dict, ...con.dict }, x);
        loss = loss.add(pred ? c.mul(pc.contrastiveWeight) : c);
      }
      return loss as tf.Scalar;
    },
    afterStep(step) {
      if (target) {
        emaUpdateFrom(
          target,
          online,
          momentumAt(step, pc.steps, pc.emaStart, pc.emaEnd),
        );
      }
    },
  };
  try {
    const r = await train(
      task,
      {
        steps: pc.steps,
        lr: pc.lr,
        weightDecay: pc.weightDecay,
        warmupFraction: pc.warmupFraction,
        clipNorm: pc.clipNorm,
        readEvery: pc.readEvery,
      },
      hooks,
      `pretrain-${method.replace("+", "-")}`,
    );
    // See PretrainConfig.downstream for why the context encoder is the default.
    let values: Float32Array[];
    if (target && pc.downstream === "target") {
      const parts = tf.tidy(() => Object.values(online.unflatten(target)));
      values = await Promise.all(
        parts.map(async (t) => new Float32Array(await t.data())),
      );
      tf.dispose(parts);
    } else {
      values = await online.values();
    }
    const encoder = ParamSet.fromValues(online, values, false);
    return {
      method,
      layout,
      model: m,
      norm,
      encoder,
      curve: r.curve,
      steps: r.steps,
      seconds: r.seconds,
      dispose: () => encoder.dispose(),
    };
  } finally {
    online.dispose();
    pred?.dispose();
    con?.dispose();
    target?.dispose();
    enc.dispose();
  }
}

function stratifiedFraction(
  patients: Patient[],
  fraction: number,
  rng: Rng,
): Patient[] {
  if (fraction >= 1) return patients;
  const out: Patient[] = [];
  for (const cls of [0, 1]) {
    const group = patients.filter((p) => p.label === cls);
    const keep = Math.max(
      group.length > 0 ? 1 : 0,
      Math.round(fraction * group.length),
    );
    out.push(...rng.shuffle(group).slice(0, keep));
  }
  // Back to cohort order, so the fraction alone decides who is in.
  const order = new Map(patients.map((p, i) => [p, i]));
  return out.sort((a, b) => order.get(a)! - order.get(b)!);
}

/**
 * Supervised finetuning (linear probe or full) on the labeled train split,
 * early stopping on the validation split; predicts internal test and
 * every external cohort.
 *
 * @param pre a pretrained encoder, or null to start from the initial weights
 * @param keep called with the finetuned weights before they are freed
 *   (to save the model)
 *
 * @example
 * ```ts
 * const result = await finetune(set, "multimodal", null, cfg, 1);
 * console.log(result.predictions.internal.scores.length);
 * ```
 */
export async function finetune(
  set: CohortSet,
  method: Method,
  pre: Pretrained | null,
  cfg: ExperimentConfig,
  seed: number,
  hooks: Hooks = {},
  keep?: (m: FinetunedModel) => void | Promise<void>,
): Promise<ExperimentResult> {
  const s0 = setup(set, cfg);
  const layout = pre?.layout ?? s0.layout;
  const norm = pre?.norm ?? s0.norm;
  if (
    pre && (pre.layout.nTokens !== s0.layout.nTokens ||
      JSON.stringify(pre.model) !== JSON.stringify(cfg.model))
  ) {
    throw new UserError(
      "finetune: the pretrained encoder was built with another model config or token layout; pass the config used for pretraining",
    );
  }
  const fc = cfg.finetune, m = cfg.model;
  const streams = new RngStreams(seed);
  const use = methodUses(method);
  const trainSet = stratifiedFraction(
    labeledIn(set.internal, "train"),
    fc.labelFraction,
    streams.get("finetune/labels"),
  );
  const valSet = labeledIn(set.internal, "val");
  if (trainSet.length === 0) {
    throw new UserError(
      `cohort ${set.internal.name}: no labeled patients in the train split`,
    );
  }
  const enc = new Encoder(layout, m);
  const encP = pre
    ? ParamSet.fromValues(
      pre.encoder,
      await pre.encoder.values(),
      fc.protocol === "full",
    )
    : ParamSet.create(
      enc.specs(),
      streams.get("init/enc"),
      fc.protocol === "full",
    );
  const head = ParamSet.create(headSpecs(m.width), streams.get("init/head"));
  const chunk = 256;

  const embed = (patients: Patient[]) =>
    embedAll(enc, encP, patients, layout, norm, use);
  const linear = fc.protocol === "linear";
  const trainEmb = linear ? await embed(trainSet) : null;
  const valEmb = linear && valSet.length > 0 ? await embed(valSet) : null;
  const labelsOf = (ps: Patient[]) =>
    Float32Array.from(ps, (p) => p.label ?? 0);

  const logitsFor = (
    patients: Patient[],
    idx: number[],
    emb: Float32Array | null,
  ) => {
    if (emb) {
      const rows = new Float32Array(idx.length * m.width);
      idx.forEach((r, i) =>
        rows.set(emb.subarray(r * m.width, (r + 1) * m.width), i * m.width)
      );
      return headLogits(head.dict, tf.tensor2d(rows, [idx.length, m.width]));
    }
    const x = toInputs(hostBatch(patients, idx, layout, norm, use), layout, m);
    return headLogits(head.dict, fusedEmbedding(enc, encP.dict, x));
  };
  const lossOn = async (patients: Patient[], emb: Float32Array | null) => {
    let total = 0;
    for (let s = 0; s < patients.length; s += chunk) {
      const idx = range(s, Math.min(patients.length, s + chunk));
      const l = tf.tidy(() =>
        bceWithLogits(
          logitsFor(patients, idx, emb),
          tf.tensor1d(labelsOf(idx.map((i) => patients[i]))),
        ).mul(idx.length)
      );
      total += (await l.data())[0];
      l.dispose();
    }
    return total / patients.length;
  };
  const scoreAll = async (patients: Patient[]): Promise<Scored> => {
    const scores: number[] = [];
    for (let s = 0; s < patients.length; s += chunk) {
      const idx = range(s, Math.min(patients.length, s + chunk));
      const p = tf.tidy(() => tf.sigmoid(logitsFor(patients, idx, null)));
      scores.push(...await p.data());
      p.dispose();
    }
    return {
      ids: patients.map((p) => p.id),
      labels: patients.map((p) => p.label ?? 0),
      scores,
    };
  };

  const trainLabels = labelsOf(trainSet);
  const task: TrainTask = {
    phase: `${method} finetuning`,
    sets: linear ? [head] : [encP, head],
    identity: {
      method,
      seed,
      model: m,
      finetune: fc,
      pretrained: pre ? { method: pre.method, steps: pre.steps } : null,
      train: trainSet.length,
    },
    loss(step) {
      const idx = batchIndices(
        trainSet.length,
        fc.batchSize,
        streams.get(`finetune/batch/${step}`),
      );
      const y = tf.tensor1d(Float32Array.from(idx, (i) => trainLabels[i]));
      return bceWithLogits(logitsFor(trainSet, idx, trainEmb), y);
    },
    validate: valSet.length > 0 ? () => lossOn(valSet, valEmb) : undefined,
  };
  try {
    const r = await train(
      task,
      {
        steps: fc.steps,
        lr: fc.lr,
        weightDecay: fc.weightDecay,
        warmupFraction: fc.warmupFraction,
        clipNorm: fc.clipNorm,
        readEvery: fc.readEvery,
        patience: fc.patience,
      },
      hooks,
      `finetune-${method.replace("+", "-")}`,
    );

    const predictions: Record<string, Scored> = {
      [set.internal.name]: await scoreAll(labeledIn(set.internal, "test")),
    };
    for (const c of set.externals) {
      predictions[c.name] = await scoreAll(
        c.patients.filter((p) => p.label !== null),
      );
    }
    const validation = await scoreAll(valSet);
    if (keep) {
      const host = async (p: ParamSet) => ({
        names: p.names,
        shapes: p.shapes,
        values: await p.values(),
      });
      await keep({
        method,
        model: m,
        layout,
        norm,
        use,
        encoder: await host(encP),
        head: await host(head),
      });
    }

    // Representation health of the frozen encoder: pretrained if any, else finetuned.
    const testAll = patientsIn(set.internal, ["test"]);
    const frozen = pre ? pre.encoder : encP;
    const testEmb = await embedAll(enc, frozen, testAll, layout, norm, use);
    const health: Pick<ExperimentResult, "embeddingStd" | "latentR2"> = {
      embeddingStd: embeddingStd(testEmb, testAll.length, m.width),
    };
    const fitSet = patientsIn(set.internal, ["train", "val"]).filter((p) =>
      p.truth
    );
    const testTruth = testAll.filter((p) => p.truth);
    if (
      fitSet.length > 1 && testTruth.length === testAll.length &&
      testAll.length > 0
    ) {
      const fitEmb = await embedAll(enc, frozen, fitSet, layout, norm, use);
      const r2 = (key: "zShared" | "zImage" | "zEhr") => {
        const k = fitSet[0].truth![key].length;
        const y = (ps: Patient[]) => {
          const out = new Float32Array(ps.length * k);
          ps.forEach((p, i) => out.set(p.truth![key], i * k));
          return out;
        };
        return ridgeR2(fitEmb, y(fitSet), testEmb, y(testAll), m.width, k);
      };
      health.latentR2 = {
        shared: r2("zShared"),
        image: r2("zImage"),
        ehr: r2("zEhr"),
      };
    }
    return {
      predictions,
      validation,
      curves: { pretrain: pre?.curve ?? [], finetune: r.curve },
      ...health,
      steps: { pretrain: pre?.steps ?? 0, finetune: r.steps },
      seconds: { pretrain: pre?.seconds ?? 0, finetune: r.seconds },
    };
  } finally {
    encP.dispose();
    head.dispose();
    enc.dispose();
  }
}

/** Fused embeddings [n, w] of `patients` on the host, in chunks. */
async function embedAll(
  enc: Encoder,
  params: ParamSet,
  patients: Patient[],
  layout: Layout,
  norm: Normalizer,
  use: ModalityUse,
): Promise<Float32Array> {
  const w = enc.model.width, chunk = 256;
  const out = new Float32Array(patients.length * w);
  for (let s = 0; s < patients.length; s += chunk) {
    const idx = range(s, Math.min(patients.length, s + chunk));
    const e = tf.tidy(() => {
      const h = hostBatch(patients, idx, layout, norm, use);
      return fusedEmbedding(enc, params.dict, toInputs(h, layout, enc.model));
    });
    out.set(await e.data(), s * w);
    e.dispose();
  }
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/**
 * Pretraining (when the method has one) then finetuning.
 *
 * @example
 * ```ts
 * const r = await runExperiment(set, "jepa", resolveExperimentConfig(), 1);
 * ```
 */
export async function runExperiment(
  set: CohortSet,
  method: Method,
  cfg: ExperimentConfig,
  seed: number,
  hooks: Hooks = {},
): Promise<ExperimentResult> {
  const pre = await pretrain(set, method, cfg, seed, hooks);
  try {
    return await finetune(set, method, pre, cfg, seed, hooks);
  } finally {
    pre?.dispose();
  }
}
