/**
 * Times the JEPA, contrastive and finetuning steps of the models bench on
 * wasm with mmjepa's kernels and prints one JSON object
 * `{ "<mode>/<phase>": ms }`. Self-contained (only models/, core/,
 * kernels/ and the test fixtures, as they were before issue 17), so
 * benches/before_after.ts can copy it into an older checkout and time the
 * same steps there.
 *
 * Usage: `deno run -A benches/step_timer.ts [features,volume]`
 *
 * @module
 */
import { setCustomKernels } from "../kernels/mod.ts";
import {
  type ExperimentConfig,
  finetune,
  pretrain,
  resolveExperimentConfig,
} from "../models/mod.ts";
import { easySet } from "../tests/models/fixtures.ts";

// Trees before issue 18 set the backend up in core/backend.ts.
const OLD_BACKEND = "../core/backend.ts";
const { initBackend } = await import("../kernels/backend.ts").catch(
  () => import(OLD_BACKEND) as Promise<typeof import("../kernels/backend.ts")>,
);

/** The three timed steps, as the models bench names them. */
export const STEP_PHASES = [
  "jepa pretraining",
  "contrastive pretraining",
  "finetuning",
] as const;

/**
 * Median ms per step of each phase in one mode (the models bench's sizes:
 * features batch 128 / 64, volume 32^3 batch 32), by the k1 / k2 step
 * difference, median of `repeats`.
 *
 * @example
 * ```ts
 * const ms = await timeSteps("volume", 3); // { "jepa pretraining": 120, ... }
 * ```
 */
export async function timeSteps(
  mode: "features" | "volume",
  repeats = 3,
): Promise<Record<string, number>> {
  await initBackend("wasm");
  setCustomKernels(true);
  const set = easySet({
    mode,
    volumeEdge: mode === "volume" ? 32 : undefined,
    sizes: { pretrain: 300, train: 150, val: 40, test: 20 },
    external: 0,
  });
  const vb = mode === "volume" ? 32 : undefined;
  const base = resolveExperimentConfig({
    pretrain: vb ? { batchSize: vb } : {},
    finetune: vb ? { batchSize: vb } : {},
  });
  const cfg = (steps: number): ExperimentConfig => ({
    model: base.model,
    pretrain: { ...base.pretrain, steps, readEvery: steps },
    finetune: {
      ...base.finetune,
      batchSize: Math.min(base.finetune.batchSize, 150),
      steps,
      readEvery: steps,
      patience: 1000,
    },
  });
  const out: Record<string, number> = {};
  for (const phase of STEP_PHASES) {
    const run = async (steps: number) => {
      if (phase === "finetuning") {
        await finetune(set, "multimodal", null, cfg(steps), 1);
      } else {
        const method = phase === "jepa pretraining" ? "jepa" : "contrastive";
        (await pretrain(set, method, cfg(steps), 1))?.dispose();
      }
    };
    const samples: number[] = [];
    for (let r = 0; r < repeats; r++) {
      let [k1, k2] = [3, 9];
      for (let tries = 0; tries < 4; tries++, k2 *= 2) {
        const t0 = performance.now();
        await run(k1);
        const t1 = performance.now();
        await run(k2);
        const t2 = performance.now();
        const per = ((t2 - t1) - (t1 - t0)) / (k2 - k1);
        if (per > 0) {
          samples.push(per);
          break;
        }
      }
    }
    samples.sort((a, b) => a - b);
    out[phase] = samples[Math.floor(samples.length / 2)];
  }
  return out;
}

if (import.meta.main) {
  const modes = (Deno.args[0] ?? "features,volume").split(",") as (
    | "features"
    | "volume"
  )[];
  const result: Record<string, number> = {};
  for (const mode of modes) {
    for (const [phase, ms] of Object.entries(await timeSteps(mode))) {
      result[`${mode}/${phase}`] = ms;
    }
  }
  console.log(JSON.stringify(result));
}
