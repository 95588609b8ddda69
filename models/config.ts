/**
 * Model, pretraining and finetuning settings with defaults and validation.
 *
 * Defaults are sized for the study's budget: about 3 s per pretrain plus
 * finetune in `features` mode on one wasm core (see benches/models_bench.ts).
 *
 * @module
 */
import { UserError } from "../core/errors.ts";
import type { Symmetries } from "./augment.ts";

/** How scan times enter the model. */
export type TimeEncoding = "sinusoidal" | "decay" | "both" | "none";
/** JEPA masking strategies. */
export type MaskStrategy = "block" | "modality" | "time";
/** Finetuning protocols. */
export type Protocol = "linear" | "full";
/** JEPA regression losses. */
export type JepaLoss = "l2" | "smooth-l1";

/** Encoder and predictor shape. */
export interface ModelConfig {
  /** Token width. */
  width: number;
  /** Transformer blocks in the encoder. */
  depth: number;
  /** Attention heads (must divide width). */
  heads: number;
  /** Hidden width of each MLP, as a multiple of the token width. */
  mlpRatio: number;
  /** Predictor width (JEPA). */
  predictorWidth: number;
  /** Predictor blocks (JEPA). */
  predictorDepth: number;
  /** Predictor attention heads (must divide predictorWidth). */
  predictorHeads: number;
  /** Most recent scans kept per patient. */
  maxScans: number;
  /** Most recent EHR records kept per patient. */
  maxEhr: number;
  /** EHR signature dimensions are split into this many tokens. */
  ehrGroups: number;
  /** Edge of the cubic patches in `volume` mode (must divide every edge). */
  patchSize: number;
  /** How scan and record times enter the model. */
  timeEncoding: TimeEncoding;
  /**
   * Positions of volume patches: fixed 3D sine-cosine codes (`sincos`,
   * nothing to learn from few labels) or learned embeddings. Volume mode
   * only.
   */
  positions: "sincos" | "learned";
  /**
   * Channels of the strided 2^3 stem before the patch embedding (a 2x2x2
   * convolution with stride 2 as one reshape and matrix product, then
   * ReLU); 0: the patch embedding reads raw voxels. Volume mode only.
   */
  stemChannels: number;
}

/** Self-supervised pretraining settings. */
export interface PretrainConfig {
  /** Most optimizer steps; the run stops earlier on a plateau. */
  steps: number;
  /** Patients per batch. */
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** AdamW decoupled weight decay. */
  weightDecay: number;
  /** Fraction of steps spent warming up linearly. */
  warmupFraction: number;
  /** Global gradient norm clip (0 = off). */
  clipNorm: number;
  /**
   * Share of the pretraining pool held out (seeded) to measure the
   * pretraining loss on patients the encoder does not train on.
   */
  heldOut: number;
  /**
   * Held-out checks (every `readEvery` steps) without a relative
   * improvement of at least `minDelta` before pretraining stops: a plateau.
   */
  patience: number;
  /** Relative held-out loss improvement that counts as progress. */
  minDelta: number;
  /**
   * EMA momentum at the first step. The rule: the target's time constant,
   * 1 / (1 - emaStart) steps, should be a small part of the run (0.99 is
   * 100 steps, fine for a few hundred steps or more). I-JEPA's 0.996 (250
   * steps) is meant for 100k-step runs: over a short run the target then
   * stays near its random init.
   */
  emaStart: number;
  /** EMA momentum at the last step. */
  emaEnd: number;
  /** JEPA regression loss. */
  loss: JepaLoss;
  /**
   * Which JEPA encoder finetuning starts from. I-JEPA evaluates the EMA
   * target, which after 100k+ steps is the better one; with momentum 0.996
   * over the few hundred steps a study affords, the target stays within a
   * few percent of the random init, so `context` (the encoder that was
   * trained) is the default.
   */
  downstream: "context" | "target";
  /**
   * Share of patients whose target is cross-modal or cross-time: a whole
   * modality predicted from the other (image from EHR, EHR from image), or
   * the latest scan from earlier scans and the EHR. The rest draw from
   * `masks`. Cross-modal prediction is what the method is about, so it is
   * a large, explicit share rather than whatever `masks` happen to give.
   */
  crossModalShare: number;
  /** Strategies drawn uniformly for the remaining patients. */
  masks: MaskStrategy[];
  /** Fraction of a modality's tokens hidden by the block masks together. */
  blockFraction: number;
  /** Target blocks per patient for `block` masks, where tokens allow. */
  targetBlocks: number;
  /** Weight of the contrastive term in jepa+contrastive. */
  contrastiveWeight: number;
  /** Read the loss back (and check it) every this many steps. */
  readEvery: number;
}

/** Supervised finetuning settings. */
export interface FinetuneConfig {
  /** `linear`: frozen encoder, train the head; `full`: train everything. */
  protocol: Protocol;
  /** Fraction of the labeled train split used (stratified, seeded). */
  labelFraction: number;
  /** Most optimizer steps. */
  steps: number;
  /** Patients per batch. */
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** AdamW decoupled weight decay. */
  weightDecay: number;
  /** Fraction of steps spent warming up linearly. */
  warmupFraction: number;
  /** Global gradient norm clip (0 = off). */
  clipNorm: number;
  /** Validation checks without improvement before stopping. */
  patience: number;
  /** Read the loss back and check validation every this many steps. */
  readEvery: number;
  /**
   * Volume training batches: cube symmetries drawn per patient (`all`: 48,
   * `flips`: 8, `none`). Volume mode only; see models/augment.ts.
   */
  augment: Symmetries;
  /** Volume training batches: largest random shift per axis, voxels. */
  augmentShift: number;
  /** Volume training batches: intensity scale and offset jitter (standardized units). */
  augmentJitter: number;
  /**
   * Early stopping reads the validation loss smoothed exponentially with
   * this weight on the past (0: the raw loss; see LoopConfig.smoothing).
   * null: the imaging level's default, {@link LEVEL_FINETUNE}.
   */
  valSmoothing: number | null;
  /**
   * Relative improvement of the (smoothed) validation loss that counts as
   * progress. null: the imaging level's default, {@link LEVEL_FINETUNE}.
   */
  minDelta: number | null;
}

/**
 * Per imaging level, what a null `finetune.valSmoothing` or
 * `finetune.minDelta` means. Features mode keeps the raw rule it was
 * tuned with. In volume mode the validation split is small (100 patients
 * in paper-volume, 10 at label fraction 0.1) and its loss moves by about
 * +-0.05 between checks, more than the changes it judges: the rule reads
 * an average of about the last four checks and asks for a 1% gain.
 *
 * @example
 * ```ts
 * LEVEL_FINETUNE.volume.valSmoothing; // 0.75
 * ```
 */
export const LEVEL_FINETUNE: Readonly<
  Record<"features" | "volume", { valSmoothing: number; minDelta: number }>
> = {
  features: { valSmoothing: 0, minDelta: 0 },
  volume: { valSmoothing: 0.75, minDelta: 0.01 },
};

/** Everything one experiment needs besides data, method and seed. */
export interface ExperimentConfig {
  /** Encoder shape. */
  model: ModelConfig;
  /** Pretraining (ignored by methods without it). */
  pretrain: PretrainConfig;
  /** Finetuning. */
  finetune: FinetuneConfig;
}

/** A partial experiment config, as read from a file or flags. */
export interface PartialExperimentConfig {
  /** Overrides of {@link ModelConfig}. */
  model?: Partial<ModelConfig>;
  /** Overrides of {@link PretrainConfig}. */
  pretrain?: Partial<PretrainConfig>;
  /** Overrides of {@link FinetuneConfig}. */
  finetune?: Partial<FinetuneConfig>;
}

/**
 * The default encoder: small enough for ~300 trainings in minutes.
 *
 * @example
 * ```ts
 * const wide = { ...DEFAULT_MODEL, width: 64 };
 * ```
 */
export const DEFAULT_MODEL: ModelConfig = {
  width: 32,
  depth: 1,
  heads: 2,
  mlpRatio: 2,
  predictorWidth: 16,
  predictorDepth: 1,
  predictorHeads: 2,
  maxScans: 3,
  maxEhr: 1,
  ehrGroups: 8,
  patchSize: 8,
  timeEncoding: "sinusoidal",
  positions: "sincos",
  stemChannels: 8,
};

/**
 * Default pretraining.
 *
 * @example
 * ```ts
 * const long = { ...DEFAULT_PRETRAIN, steps: 1000 };
 * ```
 */
export const DEFAULT_PRETRAIN: PretrainConfig = {
  steps: 600,
  batchSize: 128,
  lr: 2e-3,
  weightDecay: 0.05,
  warmupFraction: 0.05,
  clipNorm: 1,
  heldOut: 0.1,
  patience: 3,
  minDelta: 0.01,
  emaStart: 0.99,
  emaEnd: 1,
  loss: "l2",
  downstream: "context",
  crossModalShare: 1,
  masks: ["block", "time"],
  blockFraction: 0.4,
  targetBlocks: 2,
  contrastiveWeight: 1,
  readEvery: 25,
};

/**
 * Default finetuning.
 *
 * @example
 * ```ts
 * const probe = { ...DEFAULT_FINETUNE, protocol: "linear" as const };
 * ```
 */
export const DEFAULT_FINETUNE: FinetuneConfig = {
  protocol: "full",
  labelFraction: 1,
  steps: 60,
  batchSize: 64,
  lr: 2e-3,
  weightDecay: 0.01,
  warmupFraction: 0.1,
  clipNorm: 1,
  patience: 3,
  readEvery: 10,
  augment: "all",
  augmentShift: 2,
  augmentJitter: 0.05,
  valSmoothing: null,
  minDelta: null,
};

type Rule = [min: number, max: number, integer: boolean];

const MODEL_RULES: Record<string, Rule> = {
  width: [4, 4096, true],
  depth: [1, 64, true],
  heads: [1, 64, true],
  mlpRatio: [1, 16, false],
  predictorWidth: [2, 4096, true],
  predictorDepth: [1, 64, true],
  predictorHeads: [1, 64, true],
  maxScans: [1, 64, true],
  maxEhr: [1, 64, true],
  ehrGroups: [1, 4096, true],
  patchSize: [1, 512, true],
  stemChannels: [0, 256, true],
};
const TRAIN_RULES: Record<string, Rule> = {
  steps: [1, 1e7, true],
  batchSize: [1, 1e6, true],
  lr: [0, 10, false],
  weightDecay: [0, 10, false],
  warmupFraction: [0, 1, false],
  clipNorm: [0, 1e6, false],
  emaStart: [0, 1, false],
  emaEnd: [0, 1, false],
  blockFraction: [0.01, 0.99, false],
  targetBlocks: [1, 64, true],
  crossModalShare: [0, 1, false],
  heldOut: [0, 0.5, false],
  minDelta: [0, 1, false],
  contrastiveWeight: [0, 1e3, false],
  readEvery: [1, 1e6, true],
  labelFraction: [0.001, 1, false],
  patience: [1, 1e6, true],
  augmentShift: [0, 64, true],
  augmentJitter: [0, 1, false],
  valSmoothing: [0, 0.99, false],
};

// Keys where null means "the imaging level's default".
const NULLABLE = new Set(["valSmoothing", "minDelta"]);

function check(
  obj: Record<string, unknown>,
  rules: Record<string, Rule>,
  where: string,
): void {
  for (const [key, value] of Object.entries(obj)) {
    const rule = rules[key];
    if (!rule || (value === null && NULLABLE.has(key))) continue;
    const [min, max, integer] = rule;
    if (
      typeof value !== "number" || !Number.isFinite(value) || value < min ||
      value > max || (integer && !Number.isInteger(value))
    ) {
      throw new UserError(
        `${where}.${key}: expected ${
          integer ? "an integer" : "a number"
        } in [${min}, ${max}], got ${JSON.stringify(value)}`,
      );
    }
  }
}

function oneOf<T extends string>(
  value: T,
  allowed: readonly string[],
  key: string,
): void {
  if (!allowed.includes(value)) {
    throw new UserError(
      `${key}: expected one of ${allowed.join(", ")}, got ${
        JSON.stringify(value)
      }`,
    );
  }
}

function known(
  obj: object | undefined,
  defaults: object,
  where: string,
  source: string,
): void {
  for (const key of Object.keys(obj ?? {})) {
    if (!(key in defaults)) {
      throw new UserError(
        `${source}: unknown key ${where}.${key}; accepted: ${
          Object.keys(defaults).join(", ")
        }`,
      );
    }
  }
}

/**
 * Fills defaults into a partial config and validates every value.
 *
 * @param partial overrides (any subset)
 * @param source where they came from, named in error messages
 * @throws UserError naming the key, the accepted range and the value
 *
 * @example
 * ```ts
 * const cfg = resolveExperimentConfig({ model: { width: 64 } }, "flags");
 * ```
 */
export function resolveExperimentConfig(
  partial: PartialExperimentConfig = {},
  source = "config",
): ExperimentConfig {
  known(partial, { model: 1, pretrain: 1, finetune: 1 }, "", source);
  known(partial.model, DEFAULT_MODEL, "model", source);
  known(partial.pretrain, DEFAULT_PRETRAIN, "pretrain", source);
  known(partial.finetune, DEFAULT_FINETUNE, "finetune", source);
  const cfg: ExperimentConfig = {
    model: { ...DEFAULT_MODEL, ...partial.model },
    pretrain: { ...DEFAULT_PRETRAIN, ...partial.pretrain },
    finetune: { ...DEFAULT_FINETUNE, ...partial.finetune },
  };
  const at = (k: string) => `${source}: ${k}`;
  check({ ...cfg.model }, MODEL_RULES, `${source}: model`);
  check({ ...cfg.pretrain }, TRAIN_RULES, `${source}: pretrain`);
  check({ ...cfg.finetune }, TRAIN_RULES, `${source}: finetune`);
  const m = cfg.model;
  if (m.width % m.heads !== 0) {
    throw new UserError(
      `${
        at("model.heads")
      }: must divide model.width (${m.width}), got ${m.heads}`,
    );
  }
  if (m.predictorWidth % m.predictorHeads !== 0) {
    throw new UserError(
      `${
        at("model.predictorHeads")
      }: must divide model.predictorWidth (${m.predictorWidth}), got ${m.predictorHeads}`,
    );
  }
  if (m.width % 2 !== 0) {
    throw new UserError(`${at("model.width")}: must be even, got ${m.width}`);
  }
  oneOf(
    m.timeEncoding,
    ["sinusoidal", "decay", "both", "none"],
    at("model.timeEncoding"),
  );
  oneOf(m.positions, ["sincos", "learned"], at("model.positions"));
  oneOf(cfg.finetune.augment, ["all", "flips", "none"], at("finetune.augment"));
  if (m.stemChannels > 0 && m.patchSize % 2 !== 0) {
    throw new UserError(
      `${
        at("model.stemChannels")
      }: the 2^3 stem needs an even model.patchSize, got ${m.patchSize}`,
    );
  }
  oneOf(cfg.pretrain.loss, ["l2", "smooth-l1"], at("pretrain.loss"));
  oneOf(
    cfg.pretrain.downstream,
    ["context", "target"],
    at("pretrain.downstream"),
  );
  oneOf(cfg.finetune.protocol, ["linear", "full"], at("finetune.protocol"));
  if (!Array.isArray(cfg.pretrain.masks) || cfg.pretrain.masks.length === 0) {
    throw new UserError(
      `${
        at("pretrain.masks")
      }: expected a non-empty list of block, modality, time`,
    );
  }
  for (const s of cfg.pretrain.masks) {
    oneOf(s, ["block", "modality", "time"], at("pretrain.masks"));
  }
  if (cfg.pretrain.emaEnd < cfg.pretrain.emaStart) {
    throw new UserError(
      `${
        at("pretrain.emaEnd")
      }: must be >= pretrain.emaStart (${cfg.pretrain.emaStart}), got ${cfg.pretrain.emaEnd}`,
    );
  }
  return cfg;
}
