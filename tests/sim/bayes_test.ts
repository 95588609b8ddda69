import assert from "node:assert/strict";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";
import { RngStreams } from "../../core/rng.ts";
import { FastRng } from "../../sim/fast_rng.ts";
import { bayesCeilings, imagePosteriors, rowBasis } from "../../sim/bayes.ts";
import { imageRows } from "../../sim/features.ts";
import {
  calibrateIntercept,
  drawLatents,
  makeBiology,
  riskInputs,
  riskLogit,
  riskModel,
  sigmoid,
} from "../../sim/latent.ts";

Deno.test("ceilings follow what each modality can see", () => {
  const base = {
    "internal.pretrain": 0,
    "internal.train": 0,
    "internal.val": 0,
    "internal.test": 3000,
    "label.strength": 4,
    externals: [],
  };
  // Shared cause, but no modality shows z_s: the image sees nothing of the
  // risk, the EHR only the demographics.
  const blind = generateCohorts(
    withOverrides(preset("shared-cause"), {
      ...base,
      crossModalCorrelation: 0,
    }),
    1,
  ).internal.truth!.bayesAuc;
  assert.ok(Math.abs(blind.image - 0.5) < 0.04, JSON.stringify(blind));
  assert.ok(
    blind.ehr > 0.51 && blind.ehr < blind.full - 0.3,
    JSON.stringify(blind),
  );
  // A coding habit lets the EHR see the image-only part of the risk.
  const ind = withOverrides(preset("independent-causes"), base);
  const plain = generateCohorts(ind, 2).internal.truth!.bayesAuc;
  const habit = generateCohorts(
    withOverrides(ind, { "ehr.codingHabit": 0.9 }),
    2,
  ).internal.truth!.bayesAuc;
  assert.ok(habit.ehr > plain.ehr + 0.05, `${habit.ehr} vs ${plain.ehr}`);
  assert.ok(Math.abs(habit.image - plain.image) < 0.005);
});

Deno.test("the image ceiling counts only what the rendered properties reveal", () => {
  const s = withOverrides(preset("paper"), { "latent.imageDim": 12 });
  const streams = new RngStreams(4);
  const bio = makeBiology(s, streams);
  const model = riskModel(s);
  const rng = new FastRng(streams.get("t"));
  const n = 3000, rho = s.crossModalCorrelation;
  const zs = Array.from(
    { length: n },
    () => drawLatents(rng, bio, { mean: 0, scale: 1 }, 0.5),
  );
  const rs = zs.map((z) => riskInputs(bio, z));
  const logits = Float64Array.from(rs, (r) => riskLogit(model, r));
  const intercept = calibrateIntercept(logits, 0.3);
  const patients = zs.map((z, i) => {
    const p = sigmoid(logits[i] + intercept);
    return {
      r: rs[i],
      p,
      label: (rng.uniform() < p ? 1 : 0) as 0 | 1,
      habit: 0,
      z: { shared: z.zShared, image: z.zImage },
    };
  });
  const dim = bio.sharedDim + bio.imageDim;
  const ceiling = (imageRows?: Float64Array) =>
    bayesCeilings(patients, {
      bio,
      model,
      intercept,
      rho,
      covariate: { mean: 0, scale: 1 },
      habitK: 0,
      rng: new FastRng(new RngStreams(1).get("c")),
      imageRows,
    }).image;
  const all = ceiling(); // the latent-group rule: the image sees z_s and z_i
  const identity = new Float64Array(dim * dim);
  for (let j = 0; j < dim; j++) identity[j * dim + j] = 1;
  assert.ok(Math.abs(ceiling(identity) - all) < 0.005);
  assert.equal(ceiling(new Float64Array(dim)), 0.5);
  // Nine shown properties (texture is not) show nine of the 16
  // image-side directions.
  const rendered = ceiling(imageRows(bio, rho, "volume"));
  assert.ok(
    rendered < all - 0.01 && rendered > 0.6,
    `rendered ${rendered}, all ${all}`,
  );
  assert.equal(rowBasis(imageRows(bio, rho, "volume"), dim).length, 9);
});

Deno.test("an image that shows every latent behind the risk knows the true risk", () => {
  // Risk from z_s and z_i only (no EHR weight, no demographics): with the
  // whole latent space revealed, P(malignant | image) is p itself; with
  // nothing revealed, one prior average for everyone.
  const s = withOverrides(preset("paper"), {
    "label.weights": { shared: 0.5, image: 1, ehr: 0 },
    "demographics.riskWeight": 0,
  });
  const streams = new RngStreams(6);
  const bio = makeBiology(s, streams);
  const model = riskModel(s);
  const rng = new FastRng(streams.get("t"));
  const zs = Array.from(
    { length: 200 },
    () => drawLatents(rng, bio, { mean: 0, scale: 1 }, 0.5),
  );
  const rs = zs.map((z) => riskInputs(bio, z));
  const logits = Float64Array.from(rs, (r) => riskLogit(model, r));
  const intercept = calibrateIntercept(logits, 0.3);
  const patients = zs.map((z, i) => ({
    r: rs[i],
    p: sigmoid(logits[i] + intercept),
    label: (i % 2) as 0 | 1,
    habit: 0,
    z: { shared: z.zShared, image: z.zImage },
  }));
  const dim = bio.sharedDim + bio.imageDim;
  const post = (imageRows: Float64Array) =>
    imagePosteriors(patients, {
      bio,
      model,
      intercept,
      rho: s.crossModalCorrelation,
      covariate: { mean: 0, scale: 1 },
      habitK: 0,
      rng: new FastRng(new RngStreams(1).get("c")),
      imageRows,
    });
  const identity = new Float64Array(dim * dim);
  for (let j = 0; j < dim; j++) identity[j * dim + j] = 1;
  post(identity).forEach((q, i) =>
    assert.ok(Math.abs(q - patients[i].p) < 1e-9, `${q} vs ${patients[i].p}`)
  );
  const blind = post(new Float64Array(dim));
  const mean = patients.reduce((t, p) => t + p.p, 0) / patients.length;
  blind.forEach((q) => assert.equal(q, blind[0]));
  // 256 prior draws against 200 patients: each mean is off by about 0.02-0.03.
  assert.ok(Math.abs(blind[0] - mean) < 0.1, `${blind[0]} vs ${mean}`);
});
