/**
 * Models and training: tokenizers, the multimodal transformer encoder,
 * JEPA / contrastive / radiomics-pretext / supervised objectives, AdamW,
 * the training loop, safetensors checkpoints and representation probes.
 *
 * @example
 * ```ts
 * import { resolveExperimentConfig, runExperiment } from "./mod.ts";
 * const result = await runExperiment(set, "jepa", resolveExperimentConfig(), 1);
 * ```
 *
 * @module
 */
export * from "./config.ts";
export * from "./batch.ts";
export * from "./params.ts";
export * from "./tokenizers.ts";
export * from "./transformer.ts";
export * from "./encoder.ts";
export * from "./masks.ts";
export * from "./jepa.ts";
export * from "./contrastive.ts";
export * from "./radiomics_pretext.ts";
export * from "./supervised.ts";
export * from "./optim.ts";
export * from "./train.ts";
export * from "./safetensors.ts";
export * from "./checkpoint.ts";
export * from "./probe.ts";
export * from "./experiment.ts";
export * from "./methods.ts";
export * from "./augment.ts";
