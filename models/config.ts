/**
 * Model, pretraining and finetuning settings with defaults and validation.
 *
 * Defaults are sized for the study's budget: about 3 s per pretrain plus
 * finetune in `features` mode on one wasm core (see benches/models_bench.ts).
 *
 * @module
 */
import {
  bool,
  configError,
  defaults,
  int,
  list,
  nullable,
  num,
  obj,
  oneOf,
  resolveConfig,
  type Schema,
} from "../core/schema.ts";

/**
 * The time encodings.
 *
 * @example
 * ```ts
 * TIME_ENCODINGS.includes("decay"); // true
 * ```
 */
export const TIME_ENCODINGS = ["sinusoidal", "decay", "both", "none"] as const;
/** How scan times enter the model. */
export type TimeEncoding = typeof TIME_ENCODINGS[number];
/**
 * The JEPA masking strategies.
 *
 * @example
 * ```ts
 * MASK_STRATEGIES; // ["block", "modality", "time"]
 * ```
 */
export const MASK_STRATEGIES = ["block", "modality", "time"] as const;
/** JEPA masking strategies. */
export type MaskStrategy = typeof MASK_STRATEGIES[number];
/**
 * The finetuning protocols.
 *
 * @example
 * ```ts
 * PROTOCOLS; // ["linear", "full"]
 * ```
 */
export const PROTOCOLS = ["linear", "full"] as const;
/** Finetuning protocols. */
export type Protocol = typeof PROTOCOLS[number];
/**
 * The JEPA regression losses.
 *
 * @example
 * ```ts
 * JEPA_LOSSES; // ["l2", "smooth-l1"]
 * ```
 */
export const JEPA_LOSSES = ["l2", "smooth-l1"] as const;
/** JEPA regression losses. */
export type JepaLoss = typeof JEPA_LOSSES[number];
/**
 * How JEPA targets are normalized (see models/jepa.ts targetTokens).
 *
 * @example
 * ```ts
 * TARGET_NORMS; // ["layer", "layer+batch"]
 * ```
 */
export const TARGET_NORMS = ["layer", "layer+batch", "layer+instance"] as const;
/** How JEPA targets are normalized. */
export type TargetNorm = typeof TARGET_NORMS[number];
/**
 * Which JEPA encoder finetuning starts from.
 *
 * @example
 * ```ts
 * DOWNSTREAM_ENCODERS[0]; // "context"
 * ```
 */
export const DOWNSTREAM_ENCODERS = ["context", "target"] as const;
/**
 * How volume patches get their positions.
 *
 * @example
 * ```ts
 * PATCH_POSITIONS; // ["sincos", "learned"]
 * ```
 */
export const PATCH_POSITIONS = ["sincos", "learned"] as const;
/** How volume patches get their positions. */
export type PatchPositions = typeof PATCH_POSITIONS[number];
/**
 * The cube-symmetry sets of volume augmentation (models/augment.ts).
 *
 * @example
 * ```ts
 * SYMMETRY_SETS; // ["all", "flips", "none"]
 * ```
 */
export const SYMMETRY_SETS = ["all", "flips", "none"] as const;
/** A cube-symmetry set of volume augmentation. */
export type SymmetrySet = typeof SYMMETRY_SETS[number];

/**
 * How the encoder pools tokens.
 *
 * @example
 * ```ts
 * POOLINGS; // ["mean", "meanmax"]
 * ```
 */
export const POOLINGS = ["mean", "meanmax"] as const;
/** How the encoder pools tokens. */
export type Pooling = typeof POOLINGS[number];

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
  positions: PatchPositions;
  /**
   * Channels of the strided 2^3 stem before the patch embedding (a 2x2x2
   * convolution with stride 2 as one reshape and matrix product, then
   * ReLU); 0: the patch embedding reads raw voxels. Volume mode only.
   */
  stemChannels: number;
  /**
   * Volume mode: the embedding the head reads weights each patch by a
   * Gaussian of its distance from the scan centre with this sigma, in
   * patches (models/supervised.ts centreWeights); 0: the plain mean.
   */
  poolCentre: number;
  /**
   * Strided 2^3 layers in the stem (each one reshape, one product and a
   * ReLU; layer k has stemChannels * 2^(k-1) channels), so the patch
   * embedding reads (patchSize / 2^stemDepth)^3 cells. Needs patchSize
   * divisible by 2^stemDepth. Volume mode with stemChannels > 0 only.
   */
  stemDepth: number;
  /**
   * How {@link Encoder.pool} reduces tokens: `mean` (masked mean) or
   * `meanmax` (masked mean and masked max, averaged: a local finding in one
   * patch is not diluted by the other tokens).
   */
  pooling: Pooling;
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
   * JEPA targets: `layer` (I-JEPA: each target token layer-normalized) or
   * `layer+batch` (then each position and channel standardized across the
   * batch's patients, so only what differs between patients is a target).
   */
  targetNorm: TargetNorm;
  /**
   * Which JEPA encoder finetuning starts from. I-JEPA evaluates the EMA
   * target, which after 100k+ steps is the better one; with momentum 0.996
   * over the few hundred steps a study affords, the target stays within a
   * few percent of the random init, so `context` (the encoder that was
   * trained) is the default.
   */
  downstream: typeof DOWNSTREAM_ENCODERS[number];
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
  /**
   * Volume mode: share of image target blocks placed to overlap the scan's
   * central patches, where a nodule-centred ROI holds the nodule (0:
   * anywhere, as I-JEPA).
   */
  centreTargets: number;
  /**
   * Volume mode: pretraining batches get the finetuning augmentation
   * (`finetune.augment`, `augmentShift`, `augmentJitter`), seeded per step.
   */
  augment: boolean;
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
  augment: SymmetrySet;
  /**
   * Volume training batches: largest random shift per axis, voxels. Off by
   * default: a shift of a voxel or two moves a nodule across the 8-voxel
   * patch grid, and with it the encoder read a known-answer size label at
   * 0.62-0.67 AUC instead of 0.74-0.79 (README, volume section).
   */
  augmentShift: number;
  /** Volume training batches: intensity scale and offset jitter (standardized units). */
  augmentJitter: number;
  /**
   * `full` finetuning of a pretrained encoder starts from a converged
   * logistic probe head fitted on its frozen embeddings of the training
   * labels (LP-FT) instead of a random head. No effect without pretraining.
   */
  probeFirst: boolean;
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

// The schemas: one line per field with its range and default. Adding a
// field = adding it to the interface above and one line here.
const MODEL_SCHEMA = obj<ModelConfig>({
  width: int(4, 4096, 32),
  depth: int(1, 64, 1),
  heads: int(1, 64, 2),
  mlpRatio: num(1, 16, 2),
  predictorWidth: int(2, 4096, 16),
  predictorDepth: int(1, 64, 1),
  predictorHeads: int(1, 64, 2),
  maxScans: int(1, 64, 3),
  maxEhr: int(1, 64, 1),
  ehrGroups: int(1, 4096, 8),
  patchSize: int(1, 512, 8),
  timeEncoding: oneOf(TIME_ENCODINGS, "sinusoidal"),
  positions: oneOf(PATCH_POSITIONS, "sincos"),
  stemChannels: int(0, 256, 8),
  poolCentre: num(0, 64, 0),
  stemDepth: int(1, 4, 1),
  pooling: oneOf(POOLINGS, "mean"),
});

const PRETRAIN_SCHEMA = obj<PretrainConfig>({
  steps: int(1, 1e7, 600),
  batchSize: int(1, 1e6, 128),
  lr: num(0, 10, 2e-3),
  weightDecay: num(0, 10, 0.05),
  warmupFraction: num(0, 1, 0.05),
  clipNorm: num(0, 1e6, 1),
  heldOut: num(0, 0.5, 0.1),
  patience: int(1, 1e6, 3),
  minDelta: num(0, 1, 0.01),
  emaStart: num(0, 1, 0.99),
  emaEnd: num(0, 1, 1),
  loss: oneOf(JEPA_LOSSES, "l2"),
  targetNorm: oneOf(TARGET_NORMS, "layer"),
  downstream: oneOf(DOWNSTREAM_ENCODERS, "context"),
  crossModalShare: num(0, 1, 1),
  masks: list(oneOf(MASK_STRATEGIES), { min: 1, def: ["block", "time"] }),
  blockFraction: num(0.01, 0.99, 0.4),
  targetBlocks: int(1, 64, 2),
  centreTargets: num(0, 1, 0),
  augment: bool(false),
  contrastiveWeight: num(0, 1e3, 1),
  readEvery: int(1, 1e6, 25),
});

const FINETUNE_SCHEMA = obj<FinetuneConfig>({
  protocol: oneOf(PROTOCOLS, "full"),
  labelFraction: num(0.001, 1, 1),
  steps: int(1, 1e7, 60),
  batchSize: int(1, 1e6, 64),
  lr: num(0, 10, 2e-3),
  weightDecay: num(0, 10, 0.01),
  warmupFraction: num(0, 1, 0.1),
  clipNorm: num(0, 1e6, 1),
  patience: int(1, 1e6, 3),
  readEvery: int(1, 1e6, 10),
  augment: oneOf(SYMMETRY_SETS, "all"),
  augmentShift: int(0, 64, 0),
  augmentJitter: num(0, 1, 0.05),
  probeFirst: bool(false),
  valSmoothing: nullable(num(0, 0.99)),
  minDelta: nullable(num(0, 1)),
});

/**
 * The experiment schema: model, pretrain and finetune with ranges and
 * defaults.
 *
 * @example
 * ```ts
 * const cfg = resolveConfig(EXPERIMENT_SCHEMA, { model: { width: 64 } }, "flags");
 * ```
 */
export const EXPERIMENT_SCHEMA: Schema<ExperimentConfig> = obj<
  ExperimentConfig
>({
  model: MODEL_SCHEMA,
  pretrain: PRETRAIN_SCHEMA,
  finetune: FINETUNE_SCHEMA,
});

/**
 * The default encoder: small enough for ~300 trainings in minutes.
 *
 * @example
 * ```ts
 * const wide = { ...DEFAULT_MODEL, width: 64 };
 * ```
 */
export const DEFAULT_MODEL: ModelConfig = defaults(MODEL_SCHEMA);

/**
 * Default pretraining.
 *
 * @example
 * ```ts
 * const long = { ...DEFAULT_PRETRAIN, steps: 1000 };
 * ```
 */
export const DEFAULT_PRETRAIN: PretrainConfig = defaults(PRETRAIN_SCHEMA);

/**
 * Default finetuning.
 *
 * @example
 * ```ts
 * const probe = { ...DEFAULT_FINETUNE, protocol: "linear" as const };
 * ```
 */
export const DEFAULT_FINETUNE: FinetuneConfig = defaults(FINETUNE_SCHEMA);

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
  const cfg = resolveConfig(EXPERIMENT_SCHEMA, partial, source);
  const at = (path: string) => ({ source, path });
  const m = cfg.model;
  if (m.width % m.heads !== 0) {
    throw configError(
      at("model.heads"),
      `a divisor of model.width (${m.width})`,
      m.heads,
    );
  }
  if (m.predictorWidth % m.predictorHeads !== 0) {
    throw configError(
      at("model.predictorHeads"),
      `a divisor of model.predictorWidth (${m.predictorWidth})`,
      m.predictorHeads,
    );
  }
  if (m.width % 2 !== 0) {
    throw configError(at("model.width"), "an even number", m.width);
  }
  if (m.stemChannels > 0 && m.patchSize % 2 !== 0) {
    throw configError(
      at("model.stemChannels"),
      `0, or an even model.patchSize for the 2^3 stem (patchSize is ${m.patchSize})`,
      m.stemChannels,
    );
  }
  if (m.stemChannels > 0 && m.patchSize % (1 << m.stemDepth) !== 0) {
    throw configError(
      at("model.stemDepth"),
      `a depth with 2^stemDepth dividing model.patchSize (${m.patchSize})`,
      m.stemDepth,
    );
  }
  if (m.poolCentre > 0 && m.pooling !== "mean") {
    // Centre weighting replaces the encoder's pooling in the head, so a
    // second pooling choice would be silently ignored.
    throw configError(
      at("model.pooling"),
      `"mean" while model.poolCentre is set (${m.poolCentre}); use one of the two`,
      m.pooling,
    );
  }
  if (cfg.pretrain.emaEnd < cfg.pretrain.emaStart) {
    throw configError(
      at("pretrain.emaEnd"),
      `a number >= pretrain.emaStart (${cfg.pretrain.emaStart})`,
      cfg.pretrain.emaEnd,
    );
  }
  return cfg;
}
