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
import { ensureBackend } from "../kernels/backend.ts";
import { UserError } from "../core/errors.ts";
import { type Rng, RngStreams } from "../core/rng.ts";
import {
  fitNormalizer,
  type HostBatch,
  hostBatch,
  type Layout,
  makeLayout,
  type ModalityUse,
  type Normalizer,
} from "./batch.ts";
import {
  type ExperimentConfig,
  LEVEL_FINETUNE,
  type ModelConfig,
} from "./config.ts";
import { contrastiveLoss, contrastiveSpecs } from "./contrastive.ts";
import {
  radiomicsLoss,
  radiomicsSpecs,
  radiomicsTargets,
} from "./radiomics_pretext.ts";
import { Encoder } from "./encoder.ts";
import { emaUpdateFrom, jepaLoss, momentumAt, predictorSpecs } from "./jepa.ts";
import { maskBatch } from "./masks.ts";
import { ParamSet, variableFrom } from "./params.ts";
import {
  embeddingStd,
  fitLogistic,
  predictLogistic,
  ridgeR2,
} from "./probe.ts";
import { aucMannWhitney } from "../reports/auc.ts";
import {
  augments,
  type AugmentSettings,
  drawTransform,
  type VolumeTransform,
} from "./augment.ts";
import {
  bceWithLogits,
  fusedEmbedding,
  headLogits,
  headSpecs,
} from "./supervised.ts";
import { type Method, METHOD_SPECS, type Objective } from "./methods.ts";
import { toInputs } from "./tokenizers.ts";
import { type Hooks, train, type TrainTask } from "./train.ts";
import { volumeFeatureMatrix } from "../core/radiomics.ts";

/**
 * Which modalities a method's model sees (from {@link METHOD_SPECS}).
 *
 * @example
 * ```ts
 * methodUses("imaging-only"); // { image: true, ehr: false }
 * ```
 */
export function methodUses(method: Method): ModalityUse {
  return { ...METHOD_SPECS[method].uses };
}

/**
 * Whether a method is a no-deep-model baseline: a converged logistic
 * regression on {@link rawFeatures} (image, EHR or both).
 *
 * @example
 * ```ts
 * isBaseline("logreg-both"); // true
 * ```
 */
export function isBaseline(method: Method): boolean {
  return METHOD_SPECS[method].model === "logistic";
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
  return METHOD_SPECS[method].objectives.length > 0;
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
  /** Pretraining loss curve (mean per readback window). */
  curve: number[];
  /** Held-out pretraining loss at each readback. */
  heldOutCurve: number[];
  /** Whether the held-out loss plateaued before the step budget ran out. */
  plateau: boolean;
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

// A seeded transform per patient and step for a volume level's training
// batches, or null where augmentation changes nothing. Pretraining and
// finetuning draw from their own streams, so one does not shift the other.
function batchAugmenter(
  layout: Layout,
  fc: ExperimentConfig["finetune"],
  streams: RngStreams,
  phase: "pretrain" | "finetune",
): ((n: number, step: number) => VolumeTransform[]) | null {
  const aug: AugmentSettings = {
    symmetries: fc.augment,
    shift: fc.augmentShift,
    jitter: fc.augmentJitter,
  };
  if (layout.mode !== "volume" || !augments(aug)) return null;
  return (n, step) => {
    const rng = streams.get(`${phase}/augment/${step}`);
    return Array.from(
      { length: n },
      () => drawTransform(rng, layout.scanShape, aug),
    );
  };
}

function batchIndices(n: number, size: number, rng: Rng): number[] {
  return rng.permutation(n).slice(0, Math.min(n, size));
}

/**
 * Splits the pretraining pool into patients the encoder trains on and a
 * seeded held-out share that only measures the pretraining loss.
 */
function holdOut(
  pool: Patient[],
  share: number,
  rng: Rng,
): { fit: Patient[]; heldOut: Patient[] } {
  const k = share > 0 && pool.length >= 20
    ? Math.min(512, Math.max(8, Math.round(share * pool.length)))
    : 0;
  const out = new Set(rng.permutation(pool.length).slice(0, k));
  return {
    fit: pool.filter((_, i) => !out.has(i)),
    heldOut: pool.filter((_, i) => out.has(i)),
  };
}

/**
 * Self-supervised pretraining on the internal pretrain + train + val
 * patients (labels unused). Returns null for methods without pretraining.
 *
 * The run is I-JEPA's loop: per step a batch, masks, the loss (targets
 * from the EMA encoder, context + predictor, regression on hidden tokens;
 * plus InfoNCE for the contrastive methods), AdamW, then the momentum
 * update of the target. Every `readEvery` steps the same loss is measured
 * with fixed masks on a held-out share of the pool; the run stops when it
 * has not improved by `minDelta` for `patience` checks, or at `steps`.
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
  await ensureBackend();
  const { layout, norm, pool } = setup(set, cfg);
  if (pool.length === 0) {
    throw new UserError(
      `cohort ${set.internal.name}: no patients to pretrain on`,
    );
  }
  const streams = new RngStreams(seed);
  const pc = cfg.pretrain, m = cfg.model;
  const { fit, heldOut } = holdOut(
    pool,
    pc.heldOut,
    streams.get("pretrain/held-out"),
  );
  const enc = new Encoder(layout, m);
  const online = ParamSet.create(enc.specs(), streams.get("init/enc"));
  const objectives: readonly Objective[] = METHOD_SPECS[method].objectives;
  const useJepa = objectives.includes("jepa");
  const useCon = objectives.includes("contrastive");
  const pred = useJepa
    ? ParamSet.create(predictorSpecs(m), streams.get("init/pred"))
    : null;
  const con = useCon
    ? ParamSet.create(contrastiveSpecs(m.width), streams.get("init/con"))
    : null;
  const rad = objectives.includes("radiomics")
    ? ParamSet.create(radiomicsSpecs(m.width), streams.get("init/rad"))
    : null;
  const target = useJepa ? variableFrom(online.flat(), false) : null;
  // The measurements each pool patient's encoder output should predict,
  // standardized over the whole pool (held-out patients included: no
  // label is involved).
  const radTargets = rad
    ? radiomicsTargets([...fit, ...heldOut], set.internal.imaging.shape)
    : null;
  const rowsOf = (from: Float32Array, dim: number, rows: number[]) => {
    const out = new Float32Array(rows.length * dim);
    rows.forEach((r, i) =>
      out.set(from.subarray(r * dim, (r + 1) * dim), i * dim)
    );
    return out;
  };
  // What the method reads (both modalities for the multimodal objectives).
  const reads = methodUses(method);

  // The objective on one batch with given masks (null: contrastive only).
  const objective = (
    h: HostBatch,
    masks: { context: Float32Array; target: Float32Array } | null,
    poolRows: number[],
  ): tf.Scalar => {
    const x = toInputs(h, layout, m);
    // The objectives, summed in order (no "0 +" op).
    const parts: tf.Scalar[] = [];
    if (pred && target && masks) {
      const ctx = tf.tensor2d(masks.context, [h.n, layout.nTokens]);
      const hid = tf.tensor2d(masks.target, [h.n, layout.nTokens]);
      parts.push(jepaLoss(
        enc,
        online.dict,
        pred.dict,
        () => online.unflatten(target),
        x,
        ctx,
        hid,
        m,
        pc.loss,
        pc.targetNorm,
      ));
    }
    if (con) {
      const c = contrastiveLoss(enc, { ...online.dict, ...con.dict }, x);
      parts.push(pred ? c.mul(pc.contrastiveWeight) : c);
    }
    if (rad && radTargets) {
      const t = tf.tensor2d(
        rowsOf(radTargets.values, radTargets.dim, poolRows),
        [h.n, radTargets.dim],
      );
      const has = tf.tensor1d(rowsOf(radTargets.has, 1, poolRows));
      parts.push(
        radiomicsLoss(enc, { ...online.dict, ...rad.dict }, x, t, has),
      );
    }
    return parts.length === 0
      ? tf.scalar(0)
      : parts.reduce((a, b) => a.add(b) as tf.Scalar);
  };

  // JEPA masks for a batch from a named stream (none without JEPA).
  const masksFor = (h: HostBatch, stream: string) =>
    useJepa ? maskBatch(layout, h.present, h.n, pc, streams.get(stream)) : null;

  // Held-out batches and their masks are drawn once, so every check
  // measures the same thing.
  const heldBatches = chunks(heldOut.length, pc.batchSize).map((idx, i) => {
    const h = hostBatch(heldOut, idx, layout, norm, reads, undefined, true);
    return {
      h,
      masks: masksFor(h, `pretrain/held-out/mask/${i}`),
      poolRows: idx.map((k) => fit.length + k),
    };
  });
  const heldOutLoss = async (): Promise<number> => {
    let total = 0, count = 0;
    for (const { h, masks, poolRows } of heldBatches) {
      const l = tf.tidy(() => objective(h, masks, poolRows).mul(h.n));
      total += (await l.data())[0];
      count += h.n;
      l.dispose();
    }
    return total / Math.max(1, count);
  };

  // Training batches only, with the finetuning settings' symmetries,
  // shifts and jitter.
  const pretrainAugment = pc.augment
    ? batchAugmenter(layout, cfg.finetune, streams, "pretrain")
    : null;
  const task: TrainTask = {
    phase: `${method} pretraining`,
    sets: [
      online,
      ...(pred ? [pred] : []),
      ...(con ? [con] : []),
      ...(rad ? [rad] : []),
    ],
    state: target ? { target } : {},
    identity: { method, seed, model: m, pretrain: pc, pool: pool.length },
    loss(step) {
      const idx = batchIndices(
        fit.length,
        pc.batchSize,
        streams.get(`pretrain/batch/${step}`),
      );
      const h = hostBatch(
        fit,
        idx,
        layout,
        norm,
        reads,
        pretrainAugment?.(idx.length, step),
        true,
      );
      return objective(h, masksFor(h, `pretrain/mask/${step}`), idx);
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
    validate: heldBatches.length > 0 ? heldOutLoss : undefined,
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
        patience: pc.patience,
        minDelta: pc.minDelta,
        restoreBest: false,
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
      heldOutCurve: r.valCurve,
      plateau: r.stoppedEarly,
      steps: r.steps,
      seconds: r.seconds,
      dispose: () => encoder.dispose(),
    };
  } finally {
    online.dispose();
    pred?.dispose();
    con?.dispose();
    rad?.dispose();
    target?.dispose();
    enc.dispose();
  }
}

/**
 * The encoder every method of `seed` starts from, untrained, as a
 * {@link Pretrained} (0 steps): the baseline a frozen-feature probe of a
 * pretrained encoder is compared with.
 *
 * @example
 * ```ts
 * const random = await randomInitEncoder(set, "jepa-image", cfg, 1);
 * const emb = await frozenEmbeddings(random, patients);
 * random.dispose();
 * ```
 */
export async function randomInitEncoder(
  set: CohortSet,
  method: Method,
  cfg: ExperimentConfig,
  seed: number,
): Promise<Pretrained> {
  await ensureBackend();
  const { layout, norm } = setup(set, cfg);
  const enc = new Encoder(layout, cfg.model);
  const encoder = ParamSet.create(
    enc.specs(),
    new RngStreams(seed).get("init/enc"),
    false,
  );
  enc.dispose();
  return {
    method,
    layout,
    model: cfg.model,
    norm,
    encoder,
    curve: [],
    heldOutCurve: [],
    plateau: false,
    steps: 0,
    seconds: 0,
    dispose: () => encoder.dispose(),
  };
}

/**
 * Fused embeddings [n * width] of `patients` from a frozen encoder (what
 * a linear probe reads), through the modalities its method uses.
 *
 * @example
 * ```ts
 * const emb = await frozenEmbeddings(pre, patientsIn(set.internal, ["test"]));
 * ```
 */
export async function frozenEmbeddings(
  pre: Pretrained,
  patients: Patient[],
): Promise<Float32Array> {
  await ensureBackend();
  const enc = new Encoder(pre.layout, pre.model);
  try {
    return await embedAll(
      enc,
      pre.encoder,
      patients,
      pre.layout,
      pre.norm,
      methodUses(pre.method),
    );
  } finally {
    enc.dispose();
  }
}

function chunks(n: number, size: number): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < n; s += size) out.push(range(s, Math.min(n, s + size)));
  return out;
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
 * The labeled patients a finetuning may use: `labelFraction` of each class
 * of the train split and of the validation split. Validation labels are
 * labels too, so "labelFraction 0.1" means a tenth of both.
 *
 * @example
 * ```ts
 * const { train, val } = labelBudget(set.internal, 0.2, new Rng("x"));
 * ```
 */
export function labelBudget(
  cohort: CohortSet["internal"],
  fraction: number,
  rng: Rng,
): { train: Patient[]; val: Patient[] } {
  return {
    train: stratifiedFraction(labeledIn(cohort, "train"), fraction, rng),
    val: stratifiedFraction(labeledIn(cohort, "val"), fraction, rng),
  };
}

/**
 * Hand-made raw features of each patient, for the logistic baselines: the
 * latest scan (its feature vector, or in `volume` mode the mean of each
 * patch), the latest EHR record and the demographics, all standardized,
 * with a presence flag per modality (0-filled when absent).
 *
 * @example
 * ```ts
 * const { x, dim } = rawFeatures(patients, layout, norm, methodUses("logreg-both"));
 * ```
 */
export function rawFeatures(
  patients: Patient[],
  layout: Layout,
  norm: Normalizer,
  use: ModalityUse,
): { x: Float32Array; dim: number } {
  const L = layout;
  const img = use.image
    ? L.patchesPerScan * (L.mode === "features" ? L.imageDim : 1) + 1
    : 0;
  const ehrWidth = L.ehrGroups * L.groupSize;
  const ehr = use.ehr ? L.ehrDim + 6 + 1 : 0;
  const dim = img + ehr;
  const x = new Float32Array(patients.length * dim);
  for (let s = 0; s < patients.length; s += 256) {
    const idx = range(s, Math.min(patients.length, s + 256));
    const h = hostBatch(patients, idx, L, norm, use);
    for (let b = 0; b < h.n; b++) {
      const row = x.subarray((s + b) * dim, (s + b + 1) * dim);
      const pres = h.present.subarray(b * L.nTokens, (b + 1) * L.nTokens);
      let o = 0;
      if (use.image) {
        let last = -1;
        for (let k = 0; k < L.maxScans; k++) {
          if (pres[k * L.patchesPerScan] === 1) last = k;
        }
        if (last >= 0) {
          for (let q = 0; q < L.patchesPerScan; q++) {
            const off = (b * L.nImage + last * L.patchesPerScan + q) *
              L.imageDim;
            if (L.mode === "features") {
              for (let j = 0; j < L.imageDim; j++) {
                row[o + q * L.imageDim + j] = h.image[off + j];
              }
            } else {
              let m = 0;
              for (let j = 0; j < L.imageDim; j++) m += h.image[off + j];
              row[o + q] = m / L.imageDim;
            }
          }
          row[img - 1] = 1;
        }
        o = img;
      }
      if (use.ehr) {
        let last = -1;
        for (let k = 0; k < L.maxEhr; k++) {
          if (pres[L.nImage + k * L.ehrGroups] === 1) last = k;
        }
        if (last >= 0) {
          const off = (b * L.maxEhr + last) * ehrWidth;
          for (let j = 0; j < L.ehrDim; j++) row[o + j] = h.ehr[off + j];
          row[o + L.ehrDim + 6] = 1;
        }
        for (let j = 0; j < 6; j++) row[o + L.ehrDim + j] = h.demo[b * 6 + j];
      }
    }
  }
  return { x, dim };
}

/** How much of each thing a frozen encoder's embedding carries. */
export interface RepresentationScore {
  /** Ridge R^2 of each latent group on internal test (synthetic only). */
  latentR2?: { shared: number; image: number; ehr: number };
  /** Internal-test AUC of a converged logistic probe fitted on train + val. */
  probeAuc: number | null;
  /** Mean per-dimension std of the embedding on internal test. */
  embeddingStd: number;
}

/** Which encoder a {@link RepresentationScore} is of. */
export type EncoderStage = "random-init" | "pretrained" | "finetuned";

/** What one finetuning produced. */
export interface ExperimentResult {
  /** By cohort name: "internal" test patients, and each external cohort. */
  predictions: Record<string, Scored>;
  /** Internal validation patients. */
  validation: Scored;
  /** Loss curves (mean per readback window). */
  curves: { pretrain: number[]; pretrainHeldOut: number[]; finetune: number[] };
  /** Whether pretraining stopped on a held-out plateau. */
  plateau: boolean;
  /** Mean per-dimension std of the frozen fused embedding on internal test. */
  embeddingStd: number;
  /** Ridge R^2 of each latent group from the frozen embedding (synthetic only). */
  latentR2?: { shared: number; image: number; ehr: number };
  /** The same diagnostics for the random-init, pretrained and finetuned encoder. */
  representation: Partial<Record<EncoderStage, RepresentationScore>>;
  /** Labeled patients used: train and validation (both inside the label budget). */
  labels: { train: number; val: number };
  /** Optimizer steps. */
  steps: { pretrain: number; finetune: number };
  /** Wall-clock seconds. */
  seconds: { pretrain: number; finetune: number };
}

/** Options of {@link finetune}. */
export interface FinetuneOptions {
  /**
   * Score the random-init, pretrained and finetuned encoders (default
   * true). They cost three embeddings of the internal cohort; a study
   * turns them off for label-fraction variants of a run it scored already.
   */
  diagnostics?: boolean;
  /** Called with the finetuned weights before they are freed (to save them). */
  keep?: (m: FinetunedModel) => void | Promise<void>;
}

/**
 * Supervised finetuning on the label budget (see {@link labelBudget}):
 * `full` trains encoder and head with early stopping on the validation
 * labels; `linear` fits a converged logistic probe on the frozen
 * embeddings of train + validation; the logistic baselines do the same on
 * {@link rawFeatures}. Predicts internal test and every external cohort,
 * and scores the random-init, pretrained and finetuned encoders alike.
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
  opts: FinetuneOptions = {},
): Promise<ExperimentResult> {
  await ensureBackend();
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
  const budget = labelBudget(
    set.internal,
    fc.labelFraction,
    streams.get("finetune/labels"),
  );
  const trainSet = budget.train, valSet = budget.val;
  if (trainSet.length === 0) {
    throw new UserError(
      `cohort ${set.internal.name}: no labeled patients in the train split`,
    );
  }
  const labelsOf = (ps: Patient[]) =>
    Float32Array.from(ps, (p) => p.label ?? 0);
  const testSet = labeledIn(set.internal, "test");
  const scoredCohorts = [
    { name: set.internal.name, patients: testSet },
    ...set.externals.map((c) => ({
      name: c.name,
      patients: c.patients.filter((p) => p.label !== null),
    })),
  ];
  const scored = (ps: Patient[], scores: number[]): Scored => ({
    ids: ps.map((p) => p.id),
    labels: ps.map((p) => p.label ?? 0),
    scores,
  });
  const labels = { train: trainSet.length, val: valSet.length };

  if (isBaseline(method)) {
    const t0 = performance.now();
    const fitOn = [...trainSet, ...valSet];
    // logreg-volume measures the nodule (core/radiomics.ts) instead.
    const features = (ps: Patient[]) =>
      method === "logreg-volume"
        ? volumeFeatureMatrix(ps, set.internal.imaging.shape)
        : rawFeatures(ps, layout, norm, use);
    const f = features(fitOn);
    const model = fitLogistic(f.x, labelsOf(fitOn), f.dim);
    const predict = (ps: Patient[]) =>
      scored(ps, predictLogistic(model, features(ps).x, f.dim));
    const predictions: Record<string, Scored> = {};
    for (const c of scoredCohorts) predictions[c.name] = predict(c.patients);
    return {
      predictions,
      validation: predict(valSet),
      curves: { pretrain: [], pretrainHeldOut: [], finetune: [] },
      plateau: false,
      embeddingStd: NaN,
      representation: {},
      labels,
      steps: { pretrain: 0, finetune: 0 },
      seconds: { pretrain: 0, finetune: (performance.now() - t0) / 1000 },
    };
  }

  const enc = new Encoder(layout, m);
  const linear = fc.protocol === "linear";
  const encP = pre
    ? ParamSet.fromValues(pre.encoder, await pre.encoder.values(), !linear)
    : ParamSet.create(enc.specs(), streams.get("init/enc"), !linear);
  const head = ParamSet.create(headSpecs(m.width), streams.get("init/head"));
  const chunk = 256;
  const embed = (params: ParamSet, patients: Patient[]) =>
    embedAll(enc, params, patients, layout, norm, use);

  const logitsFor = (
    patients: Patient[],
    idx: number[],
    transforms?: VolumeTransform[],
  ) => {
    const x = toInputs(
      hostBatch(patients, idx, layout, norm, use, transforms, true),
      layout,
      m,
    );
    return headLogits(head.dict, fusedEmbedding(enc, encP.dict, x));
  };
  const lossOn = async (patients: Patient[]) => {
    let total = 0;
    for (let s = 0; s < patients.length; s += chunk) {
      const idx = range(s, Math.min(patients.length, s + chunk));
      const l = tf.tidy(() =>
        bceWithLogits(
          logitsFor(patients, idx),
          tf.tensor1d(labelsOf(idx.map((i) => patients[i]))),
        ).mul(idx.length)
      );
      total += (await l.data())[0];
      l.dispose();
    }
    return total / patients.length;
  };
  const scoreAll = async (patients: Patient[]): Promise<number[]> => {
    const scores: number[] = [];
    for (let s = 0; s < patients.length; s += chunk) {
      const idx = range(s, Math.min(patients.length, s + chunk));
      const p = tf.tidy(() => tf.sigmoid(logitsFor(patients, idx)));
      scores.push(...await p.data());
      p.dispose();
    }
    return scores;
  };

  const trainLabels = labelsOf(trainSet);
  // Training batches only.
  const augmentFor = batchAugmenter(layout, fc, streams, "finetune");
  try {
    const t0 = performance.now();
    let curve: number[] = [], steps = 0;
    let score: (ps: Patient[]) => Promise<number[]>;
    // A converged probe on frozen embeddings, written into the head with
    // its standardization undone: one scoring path.
    const probeHead = async (fitOn: Patient[]) => {
      const probe = fitLogistic(
        await embed(encP, fitOn),
        labelsOf(fitOn),
        m.width,
      );
      const w = new Float32Array(m.width);
      let b = probe.b;
      for (let j = 0; j < m.width; j++) {
        w[j] = probe.w[j] / probe.std[j];
        b -= probe.w[j] * probe.mean[j] / probe.std[j];
      }
      tf.tidy(() => {
        head.vars[head.names.indexOf("head/w")].assign(
          tf.tensor2d(w, [m.width, 1]),
        );
        head.vars[head.names.indexOf("head/b")].assign(tf.tensor1d([b]));
      });
    };
    if (linear) {
      // The frozen encoder is judged, not the optimizer.
      await probeHead([...trainSet, ...valSet]);
      score = scoreAll;
    } else {
      // LP-FT (Kumar et al. 2022): a pretrained encoder's finetuning starts
      // from the probe head fitted on the training labels, so the first
      // gradients do not come from a random head (validation labels stay
      // out: they judge the stopping).
      if (pre && fc.probeFirst) await probeHead(trainSet);
      const task: TrainTask = {
        phase: `${method} finetuning`,
        sets: [encP, head],
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
          const t = augmentFor?.(idx.length, step);
          return bceWithLogits(logitsFor(trainSet, idx, t), y);
        },
        validate: valSet.length > 0 ? () => lossOn(valSet) : undefined,
      };
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
          smoothing: fc.valSmoothing ??
            LEVEL_FINETUNE[layout.mode].valSmoothing,
          minDelta: fc.minDelta ?? LEVEL_FINETUNE[layout.mode].minDelta,
        },
        hooks,
        `finetune-${method.replace("+", "-")}`,
      );
      curve = r.curve;
      steps = r.steps;
      score = scoreAll;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (opts.keep) {
      const host = async (p: ParamSet) => ({
        names: p.names,
        shapes: p.shapes,
        values: await p.values(),
      });
      await opts.keep({
        method,
        model: m,
        layout,
        norm,
        use,
        encoder: await host(encP),
        head: await host(head),
      });
    }

    const predictions: Record<string, Scored> = {};
    for (const c of scoredCohorts) {
      predictions[c.name] = scored(c.patients, await score(c.patients));
    }
    const validation = scored(valSet, await score(valSet));

    // The same diagnostics for every stage, on the same patients.
    const representation: ExperimentResult["representation"] = {};
    if (opts.diagnostics !== false) {
      const diag = (p: ParamSet) =>
        representationScore(
          set,
          (ps) => embed(p, ps),
          m.width,
          [...trainSet, ...valSet],
        );
      // Same stream, same draw: the weights every method starts from.
      const random = ParamSet.create(
        enc.specs(),
        streams.get("init/enc"),
        false,
      );
      try {
        representation["random-init"] = await diag(random);
      } finally {
        random.dispose();
      }
      if (pre) representation.pretrained = await diag(pre.encoder);
      if (!linear) representation.finetuned = await diag(encP);
    }
    // Frozen encoder, as reported before: pretrained if any, else finetuned.
    const frozen = representation.pretrained ?? representation.finetuned ??
      representation["random-init"];
    return {
      predictions,
      validation,
      curves: {
        pretrain: pre?.curve ?? [],
        pretrainHeldOut: pre?.heldOutCurve ?? [],
        finetune: curve,
      },
      plateau: pre?.plateau ?? false,
      embeddingStd: frozen?.embeddingStd ?? NaN,
      ...(frozen?.latentR2 ? { latentR2: frozen.latentR2 } : {}),
      representation,
      labels,
      steps: { pretrain: pre?.steps ?? 0, finetune: steps },
      seconds: { pretrain: pre?.seconds ?? 0, finetune: seconds },
    };
  } finally {
    encP.dispose();
    head.dispose();
    enc.dispose();
  }
}

async function representationScore(
  set: CohortSet,
  embed: (ps: Patient[]) => Promise<Float32Array>,
  width: number,
  labeledFit: Patient[],
): Promise<RepresentationScore> {
  // Each patient is embedded once; the probe and the R^2 pick their rows.
  const test = patientsIn(set.internal, ["test"]);
  const trainVal = patientsIn(set.internal, ["train", "val"]);
  const testEmb = await embed(test);
  const tvEmb = await embed(trainVal);
  const rows = (emb: Float32Array, from: Patient[], subset: Patient[]) => {
    const at = new Map(from.map((p, i) => [p, i]));
    const out = new Float32Array(subset.length * width);
    subset.forEach((p, i) => {
      const r = at.get(p)!;
      out.set(emb.subarray(r * width, (r + 1) * width), i * width);
    });
    return out;
  };
  const out: RepresentationScore = {
    probeAuc: null,
    embeddingStd: embeddingStd(testEmb, test.length, width),
  };
  const labeledTest = test.filter((p) => p.label !== null);
  const ys = (ps: Patient[]) => ps.map((p) => p.label ?? 0);
  if (
    new Set(ys(labeledFit)).size === 2 && new Set(ys(labeledTest)).size === 2
  ) {
    const probe = fitLogistic(
      rows(tvEmb, trainVal, labeledFit),
      ys(labeledFit),
      width,
    );
    out.probeAuc = aucMannWhitney(
      ys(labeledTest),
      predictLogistic(probe, rows(testEmb, test, labeledTest), width),
    );
  }
  const fitSet = trainVal.filter((p) => p.truth);
  if (fitSet.length > 1 && test.length > 0 && test.every((p) => p.truth)) {
    const fitEmb = rows(tvEmb, trainVal, fitSet);
    const r2 = (key: "zShared" | "zImage" | "zEhr") => {
      const k = fitSet[0].truth![key].length;
      const y = (ps: Patient[]) => {
        const o = new Float32Array(ps.length * k);
        ps.forEach((p, i) => o.set(p.truth![key], i * k));
        return o;
      };
      return ridgeR2(fitEmb, y(fitSet), testEmb, y(test), width, k);
    };
    out.latentR2 = {
      shared: r2("zShared"),
      image: r2("zImage"),
      ehr: r2("zEhr"),
    };
  }
  return out;
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
      const h = hostBatch(patients, idx, layout, norm, use, undefined, true);
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
