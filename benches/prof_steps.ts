/**
 * Profiles selected wasm steps of the models bench (mmjepa kernels) and
 * prints the top kernels of each; a narrower `task bench --profile`.
 *
 * Usage: `deno run -A benches/prof_steps.ts features:contrastive volume:contrastive volume:finetuning`
 *
 * @module
 */
import { setCustomKernels } from "../kernels/mod.ts";
import { initBackend } from "../kernels/backend.ts";
import { type ExperimentConfig, finetune, pretrain } from "../models/mod.ts";
import { setup } from "./models_bench.ts";
import { formatProfile, profileSteps } from "./profile.ts";

await initBackend("wasm");
setCustomKernels(true);
for (const spec of Deno.args) {
  const [mode, phase] = spec.split(":") as ["features" | "volume", string];
  const { set, base, batchOf } = setup(mode);
  const cfg = (steps: number): ExperimentConfig => ({
    model: base.model,
    pretrain: { ...base.pretrain, steps, readEvery: steps },
    finetune: {
      ...base.finetune,
      batchSize: batchOf("finetuning"),
      steps,
      readEvery: steps,
      patience: 1000,
    },
  });
  const run = async (steps: number) => {
    if (phase === "finetuning") {
      await finetune(set, "multimodal", null, cfg(steps), 1);
    } else {(await pretrain(
        set,
        phase as "jepa" | "contrastive",
        cfg(steps),
        1,
      ))?.dispose();}
  };
  const s = await stepSeconds(run, 2, 6);
  console.log(`${spec}: ${(s * 1000).toFixed(1)} ms/step`);
  console.log(formatProfile(spec, await profileSteps(run, 2, 6), 12));
}

async function stepSeconds(
  run: (steps: number) => Promise<void>,
  k1: number,
  k2: number,
): Promise<number> {
  await run(1);
  let t = performance.now();
  await run(k1);
  const a = performance.now() - t;
  t = performance.now();
  await run(k2);
  const b = performance.now() - t;
  return (b - a) / (k2 - k1) / 1000;
}
