// The modality mask hides either side: predicting the image from the EHR
// and the EHR from the image, about half the time each. Written against
// maskBatch's current signature; adapt the call if the mask policy changes.
import assert from "node:assert/strict";
import { Rng } from "../../core/rng.ts";
import {
  fitNormalizer,
  hostBatch,
  IMAGE,
  makeLayout,
} from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { maskBatch, only } from "../../models/masks.ts";
import { easySet } from "./fixtures.ts";

Deno.test("the modality mask hides the image and the EHR about equally often", () => {
  const set = easySet({
    sizes: { pretrain: 200, train: 0, val: 0, test: 0 },
    external: 0,
  });
  const cfg = resolveExperimentConfig({ model: { maxEhr: 1 } });
  const L = makeLayout(set.internal, cfg.model);
  const ps = set.internal.patients;
  const h = hostBatch(ps, ps.map((_, i) => i), L, fitNormalizer(ps, L), {
    image: true,
    ehr: true,
  });
  const { target } = maskBatch(
    L,
    h.present,
    h.n,
    only(["modality"]),
    new Rng("balance"),
  );
  let image = 0, ehr = 0;
  for (let b = 0; b < h.n; b++) {
    let ti = 0, te = 0;
    for (let t = 0; t < L.nTokens; t++) {
      if (target[b * L.nTokens + t] !== 1) continue;
      if (L.modality[t] === IMAGE) ti++;
      else te++;
    }
    if (ti > 0 && te === 0) image++;
    if (te > 0 && ti === 0) ehr++;
  }
  assert.ok(image + ehr > 150, `${image} + ${ehr} patients masked by modality`);
  const share = image / (image + ehr);
  assert.ok(
    share > 0.35 && share < 0.65,
    `image hidden for ${share} of patients`,
  );
});
