/**
 * Does JEPA pretraining on volumes learn what the nodule shows? Pretrains
 * `jepa-image` on the unlabeled volumes of a known-answer cohort
 * (sim/known_answer.ts: ten nodule properties drawn independently), then
 * fits converged logistic probes on the frozen pooled embeddings of the
 * random-init and the pretrained encoder for labels that read one
 * property each (size, solidity, spiculation), with 30 and 200 labels,
 * and prints the pretraining curves and the embedding spread.
 *
 * Run: `npx -y deno@2.9.6 run -A benches/jepa_volume_probe.ts '{"pretrain":{"steps":300}}'`
 * (the argument is a partial experiment config, JSON; env MMJEPA_PROBE_PRETRAIN
 * sets the unlabeled pool, default 600).
 *
 * @module
 */
import { initBackend } from "../kernels/backend.ts";
import {
  type PartialExperimentConfig,
  resolveExperimentConfig,
} from "../models/config.ts";
import {
  frozenEmbeddings,
  pretrain,
  randomInitEncoder,
} from "../models/experiment.ts";
import { embeddingStd, fitLogistic, predictLogistic } from "../models/probe.ts";
import { aucMannWhitney } from "../reports/auc.ts";
import { propertyCohorts } from "../sim/known_answer.ts";
import type { Nodule } from "../sim/features.ts";
import type { Patient } from "../cohort/types.ts";
import * as tf from "@tensorflow/tfjs";
import { Encoder } from "../models/encoder.ts";
import { hostBatch } from "../models/batch.ts";
import { toInputs } from "../models/tokenizers.ts";
import { layerNorm } from "../models/transformer.ts";
import type { Pretrained } from "../models/experiment.ts";

/**
 * Share of the layer-normed token outputs' variance that differs between
 * patients at a fixed position (the rest is what the position alone
 * predicts), on image tokens.
 */
async function patientShare(
  enc: Pretrained,
  ps: Patient[],
): Promise<{ share: number; central: Float32Array; raw: Float32Array }> {
  const e = new Encoder(enc.layout, enc.model);
  const n = enc.layout.patchesPerScan;
  const out = tf.tidy(() => {
    const h = hostBatch(ps, ps.map((_, i) => i), enc.layout, enc.norm, {
      image: true,
      ehr: false,
    });
    const x = toInputs(h, enc.layout, enc.model);
    const t = layerNorm(e.forward(enc.encoder.dict, x, x.present), null, null)
      .slice([0, 0, 0], [-1, n, -1]);
    const total = tf.moments(t.reshape([-1, enc.model.width]), 0).variance
      .mean();
    const within = tf.moments(t, 0).variance.mean();
    const g = Math.round(Math.cbrt(n));
    const idx: number[] = [];
    const c = [Math.floor((g - 1) / 2), Math.ceil((g - 1) / 2)];
    for (const z of c) {
      for (const y of c) for (const xx of c) idx.push((z * g + y) * g + xx);
    }
    const full = e.forward(enc.encoder.dict, x, x.present);
    const central = tf.gather(full, tf.tensor1d(idx, "int32"), 1).mean(1);
    const raw = tf.gather(x.image, tf.tensor1d(idx, "int32"), 1).mean(2);
    return [tf.stack([within, total]), central, raw];
  });
  const [w, t] = await out[0].data();
  const central = await out[1].data() as Float32Array;
  const raw = await out[2].data() as Float32Array;
  tf.dispose(out);
  e.dispose();
  return { share: w / t, central, raw };
}

await initBackend("wasm");
const partial: PartialExperimentConfig = JSON.parse(Deno.args[0] ?? "{}");
const cfg = resolveExperimentConfig(partial, "argument");
const pool = Number(Deno.env.get("MMJEPA_PROBE_PRETRAIN") ?? 600);
const seed = Number(Deno.env.get("MMJEPA_PROBE_SEED") ?? 1);
const set = propertyCohorts({
  seed,
  sizes: { pretrain: pool, train: 200, val: 0, test: 300 },
  fixed: JSON.parse(Deno.env.get("MMJEPA_PROBE_FIXED") ?? "{}"),
  label: () => 0,
});
const props = (p: Patient) =>
  (p.scans[0] as unknown as { properties: Nodule }).properties;
const labels: Record<string, (n: Nodule) => number> = {
  size: (n) => n.diameterMm > 7 ? 1 : 0,
  solidity: (n) => n.solidFraction > 0.5 ? 1 : 0,
  spiculation: (n) => n.spiculation > 0.3 ? 1 : 0,
};
const train = set.internal.patients.filter((p) => p.split === "train");
const test = set.internal.patients.filter((p) => p.split === "test");

const t0 = performance.now();
const pre = await pretrain(set, "jepa-image", cfg, seed);
console.log(
  `pretrain: ${pre!.steps} steps, ${pre!.seconds.toFixed(1)} s, plateau ${
    pre!.plateau
  }`,
);
console.log(`  train curve ${pre!.curve.map((v) => v.toFixed(4)).join(" ")}`);
console.log(
  `  held-out ${pre!.heldOutCurve.map((v) => v.toFixed(4)).join(" ")}`,
);
const random = await randomInitEncoder(set, "jepa-image", cfg, seed);
const width = cfg.model.width;
for (
  const [name, enc] of [["random-init", random], ["pretrained", pre!]] as const
) {
  const eTrain = await frozenEmbeddings(enc, train);
  const eTest = await frozenEmbeddings(enc, test);
  const dTrain = await patientShare(enc, train);
  const dTest = await patientShare(enc, test);
  console.log(
    `${name}: std ${embeddingStd(eTest, test.length, width).toFixed(4)}` +
      `, patient share ${dTest.share.toFixed(3)}`,
  );
  const views: [string, Float32Array, Float32Array, number][] = [
    ["mean pool", eTrain, eTest, width],
    ["central 8 tokens", dTrain.central, dTest.central, width],
  ];
  if (name === "random-init") {
    views.push(["central 8 raw patches", dTrain.raw, dTest.raw, 8]);
  }
  for (const [view, a, b, dim] of views) {
    const parts = [`  ${view}:`];
    for (const [label, rule] of Object.entries(labels)) {
      for (const n of [30, 200]) {
        const y = train.slice(0, n).map((p) => rule(props(p)));
        const m = fitLogistic(a.subarray(0, n * dim), y, dim);
        const auc = aucMannWhitney(
          test.map((p) => rule(props(p))),
          predictLogistic(m, b, dim),
        );
        parts.push(`${label}@${n} ${auc.toFixed(3)}`);
      }
    }
    console.log(parts.join(" "));
  }
}
random.dispose();
pre!.dispose();
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
