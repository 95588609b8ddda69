/**
 * Checkpoints: `<base>.safetensors` (weights, optimizer and EMA state) plus
 * a `<base>.json` sidecar (config, step, loss curves), both written
 * atomically. The step is stored in both, so a pair torn by a crash between
 * the two writes is detected instead of silently mixed.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../core/errors.ts";
import { writeAtomic } from "../core/results.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
} from "./safetensors.ts";

/** What a checkpoint holds. */
export interface Checkpoint<M> {
  /** Named float32 tensors. */
  tensors: Record<string, NamedTensor>;
  /** JSON-serializable sidecar; must contain `step`. */
  meta: M & { step: number };
}

/**
 * Writes `<base>.safetensors` then `<base>.json`.
 *
 * @example
 * ```ts
 * saveCheckpoint("out/ckpt/pretrain", { tensors, meta: { step: 100, config } });
 * ```
 */
export function saveCheckpoint<M>(base: string, ck: Checkpoint<M>): void {
  mkdirSync(dirname(base), { recursive: true });
  const step = String(ck.meta.step);
  writeAtomic(`${base}.safetensors`, encodeSafetensors(ck.tensors, { step }));
  writeAtomic(`${base}.json`, JSON.stringify(ck.meta, null, 1) + "\n");
}

/**
 * Reads a checkpoint, or null when none exists at `base`.
 *
 * @throws UserError when the two files disagree or do not parse
 *
 * @example
 * ```ts
 * const ck = loadCheckpoint<{ config: unknown }>("out/ckpt/pretrain");
 * ```
 */
export function loadCheckpoint<M>(base: string): Checkpoint<M> | null {
  const st = `${base}.safetensors`, js = `${base}.json`;
  if (!existsSync(st) || !existsSync(js)) return null;
  const { tensors, metadata } = decodeSafetensors(readFileSync(st), st);
  let meta: M & { step: number };
  try {
    meta = JSON.parse(readFileSync(js, "utf8"));
  } catch {
    throw new UserError(
      `${js}: not valid JSON; delete the checkpoint to restart`,
    );
  }
  if (String(meta.step) !== metadata.step) {
    throw new UserError(
      `${base}: weights are from step ${metadata.step} but the sidecar says ${meta.step}; delete both files to restart`,
    );
  }
  return { tensors, meta };
}
