/**
 * Does the volume encoder read a nodule property? For one property, an
 * independent-property cohort (sim/known_answer.ts, 32^3 at 1.75 mm, the
 * paper-volume scanner) is labeled "property above its median", and
 * imaging-only is finetuned on it with the given config overrides; prints
 * the test AUC, the wall time and the finetuning last step read. The
 * encoder-side companion of benches/property_visibility.ts (which asks the
 * same of the 16 hand-crafted measurements).
 *
 * Run: `npx -y deno@2.9.6 run -A benches/encoder_visibility.ts
 * spiculation '{"diameterMm":14}' '{"model":{"stemDepth":2}}' [seed]`.
 *
 * @module
 */
import { initBackend } from "../kernels/backend.ts";
import { propertyCohorts } from "../sim/known_answer.ts";
import { type Nodule, noduleFromSource } from "../sim/features.ts";
import {
  type PartialExperimentConfig,
  resolveExperimentConfig,
} from "../models/config.ts";
import { finetune } from "../models/experiment.ts";
import { aucMannWhitney } from "../reports/auc.ts";

await initBackend("wasm");
const prop = (Deno.args[0] ?? "spiculation") as keyof Nodule;
const fixed = JSON.parse(Deno.args[1] ?? "{}") as Partial<Nodule>;
const over = JSON.parse(Deno.args[2] ?? "{}") as PartialExperimentConfig;
const seed = Number(Deno.args[3] ?? 11);
const sizes = JSON.parse(Deno.env.get("EV_SIZES") ?? "null") ??
  { train: 300, val: 100, test: 300 };
const median = noduleFromSource(new Float64Array(10), 1);
const set = propertyCohorts({
  seed,
  sizes,
  fixed,
  label: (n) => ((n[prop] as number) > (median[prop] as number) ? 1 : 0),
});
const cfg = resolveExperimentConfig(
  {
    ...over,
    finetune: { steps: 300, patience: 1000, ...over.finetune },
  },
  "argument 3",
);
const t0 = performance.now();
let steps = 0;
const r = await finetune(set, "imaging-only", null, cfg, 1, {
  onProgress: (phase, step, _total, loss) => {
    steps = step;
    if (Deno.env.get("EV_VERBOSE")) console.log(phase, step, loss);
  },
}, { diagnostics: false });
const wall = (performance.now() - t0) / 1000;
const p = r.predictions.internal;
console.log(
  `${prop} ${JSON.stringify(fixed)} ${JSON.stringify(over)} seed ${seed}\tAUC ${
    aucMannWhitney(p.labels, p.scores).toFixed(3)
  }\t${wall.toFixed(1)} s\t${steps} steps`,
);
