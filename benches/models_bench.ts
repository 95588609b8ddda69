/**
 * Throughput of one JEPA pretraining step and one finetuning step at the
 * default model sizes, in features and volume mode, on every backend that
 * starts here (cpu, wasm; webgpu when an adapter exists).
 *
 * A step's time is the difference between runs of k1 and k2 steps divided
 * by k2 - k1, so setup, first-call compilation and the final readback
 * cancel out.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, probeWebGpu } from "../core/backend.ts";
import {
  type ExperimentConfig,
  finetune,
  pretrain,
  resolveExperimentConfig,
} from "../models/mod.ts";
import { easySet } from "../tests/models/fixtures.ts";
import type { BenchLine, BenchOptions } from "./harness.ts";

async function stepSeconds(
  run: (steps: number) => Promise<unknown>,
  k1: number,
  k2: number,
): Promise<number> {
  const t0 = performance.now();
  await run(k1);
  const t1 = performance.now();
  await run(k2);
  const t2 = performance.now();
  return Math.max(1e-6, ((t2 - t1) - (t1 - t0)) / 1000 / (k2 - k1));
}

/**
 * Runs the models benchmark.
 *
 * @example
 * ```ts
 * const lines = await run({ quick: true, log: console.error });
 * ```
 */
export async function run(o: BenchOptions): Promise<BenchLine[]> {
  const backends: ("cpu" | "wasm" | "webgpu")[] = ["wasm", "cpu"];
  if (await probeWebGpu()) backends.push("webgpu");
  const lines: BenchLine[] = [];
  const baseline: Record<string, number> = {};
  for (const mode of ["features", "volume"] as const) {
    const set = easySet({
      mode,
      volumeEdge: mode === "volume" ? 32 : undefined,
      sizes: { pretrain: 300, train: 150, val: 40, test: 20 },
      external: 0,
    });
    for (const backend of backends) {
      await initBackend(backend);
      // Volume mode on slow backends: fewer steps, or the bench takes minutes.
      const slow = backend !== "wasm" && mode === "volume";
      const [k1, k2] = slow ? [1, 2] : o.quick ? [2, 4] : [3, 9];
      // Volume mode has ~200 tokens per patient: a smaller batch keeps the
      // bench to minutes; samples/s is still per patient.
      const vb = mode === "volume" ? 32 : undefined;
      const base = resolveExperimentConfig({
        pretrain: vb ? { batchSize: vb } : {},
        finetune: vb ? { batchSize: vb } : {},
      });
      const cfg = (steps: number): ExperimentConfig => ({
        model: base.model,
        pretrain: { ...base.pretrain, steps, readEvery: steps },
        finetune: { ...base.finetune, steps, readEvery: steps, patience: 1000 },
      });
      for (const phase of ["jepa pretraining", "finetuning"] as const) {
        const batch = phase === "finetuning"
          ? Math.min(base.finetune.batchSize, 150)
          : base.pretrain.batchSize;
        o.log(`models: ${phase}, ${mode}, ${backend}`);
        const s = await stepSeconds(
          async (steps) => {
            if (phase === "finetuning") {
              await finetune(set, "multimodal", null, cfg(steps), 1);
            } else {
              (await pretrain(set, "jepa", cfg(steps), 1))?.dispose();
            }
          },
          k1,
          k2,
        );
        const name = `models: ${phase} step, ${mode}, ${backend}`;
        const value = batch / s;
        const key = `${phase}/${mode}`;
        if (backend === "wasm") baseline[key] = value;
        o.log(
          `${name}: ${value.toFixed(1)} samples/s, ${
            (s * 1000).toFixed(1)
          } ms/step`,
        );
        lines.push({
          name,
          value: Number(value.toFixed(1)),
          unit: "samples/s",
          note: `${
            (s * 1000).toFixed(1)
          } ms/step, batch ${batch}, tensors ${tf.memory().numTensors}`,
          ...(backend !== "wasm" && baseline[key]
            ? {
              baseline: {
                name: `models: ${phase} step, ${mode}, wasm`,
                value: Number(baseline[key].toFixed(1)),
                ratio: Number((value / baseline[key]).toFixed(3)),
              },
            }
            : {}),
        });
      }
    }
  }
  return lines;
}

if (import.meta.main) {
  const lines = await run({
    quick: Deno.args.includes("--quick"),
    log: (m) => console.error(m),
  });
  for (const l of lines) {
    console.log(`${l.name}: ${l.value} ${l.unit} (${l.note})`);
  }
}
