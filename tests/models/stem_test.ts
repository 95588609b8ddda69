/**
 * The multi-layer strided stem (model.stemDepth) and mean-max pooling
 * (model.pooling) against plain-loop references on the raw volume, so the
 * nested voxel order, the weight layout and the masking are all checked.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { Cohort, Patient } from "../../cohort/types.ts";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import { hostBatch, makeLayout, type Normalizer } from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { Encoder } from "../../models/encoder.ts";
import { ParamSet } from "../../models/params.ts";
import { toInputs } from "../../models/tokenizers.ts";
import {
  bceWithLogits,
  fusedEmbedding,
  headLogits,
  headSpecs,
} from "../../models/supervised.ts";
import { UserError } from "../../core/errors.ts";
import { centralDifference, lossReader } from "./central_difference.ts";

// wasm: the fused dense kernels skip the input gradient where told to, so
// the gradient check sees what a stem layer passes back in training.
await initBackend("wasm");

const E = 16; // volume edge
const identity: Normalizer = {
  imageMean: new Float32Array(1),
  imageStd: new Float32Array(1).fill(1),
  ehrMean: new Float32Array(2),
  ehrStd: new Float32Array(2).fill(1),
  demoMean: new Float32Array([60, 0.5, 20]),
  demoStd: new Float32Array([10, 0.5, 10]),
};

function volumeCohort(...vols: Float32Array[]): Cohort {
  const patients = vols.map((vol, i): Patient => ({
    id: `p${i}`,
    split: "train",
    label: (i % 2) as 0 | 1,
    scans: [{ id: `s${i}`, time: 0, data: vol }],
    ehr: [],
    demographics: { age: null, sex: null, packYears: null },
  }));
  return {
    name: "c",
    kind: "internal",
    source: "real",
    imaging: { mode: "volume", shape: [E, E, E] },
    ehrDim: 2,
    patients,
  };
}

/** Strided 2^3 convolution + ReLU on a [g, g, g, cin] grid, weights [8 cin, cout] (cell raster, then channel). */
function conv(
  x: Float32Array,
  g: number,
  cin: number,
  w: Float32Array,
  b: Float32Array,
  cout: number,
): Float32Array {
  const h = g / 2;
  const out = new Float32Array(h * h * h * cout);
  for (let Z = 0; Z < h; Z++) {
    for (let Y = 0; Y < h; Y++) {
      for (let X = 0; X < h; X++) {
        for (let o = 0; o < cout; o++) {
          let s = b[o];
          let r = 0;
          for (let z = 0; z < 2; z++) {
            for (let y = 0; y < 2; y++) {
              for (let xx = 0; xx < 2; xx++) {
                const at = ((2 * Z + z) * g + 2 * Y + y) * g + 2 * X + xx;
                for (let c = 0; c < cin; c++, r++) {
                  s += x[at * cin + c] * w[r * cout + o];
                }
              }
            }
          }
          out[((Z * h + Y) * h + X) * cout + o] = Math.max(0, s);
        }
      }
    }
  }
  return out;
}

Deno.test("a two-layer stem equals two strided 2^3 convolutions on each patch, cells in raster order", () => {
  const rng = new Rng("stem");
  const vol = Float32Array.from({ length: E ** 3 }, () => rng.normal());
  const c = volumeCohort(vol);
  const cfg = resolveExperimentConfig({
    model: { patchSize: 8, stemChannels: 2, stemDepth: 2, width: 6 },
  });
  const L = makeLayout(c, cfg.model);
  assert.equal(L.subcubeLevels, 2);
  const enc = new Encoder(L, cfg.model);
  const ps = ParamSet.create(enc.specs(), new Rng("init"));
  const names = ps.names;
  assert.ok(names.includes("enc/stem2/w"), "second stem layer");
  const host = hostBatch(c.patients, [0], L, identity, {
    image: true,
    ehr: false,
  });
  const got = tf.tidy(() => {
    const x = toInputs(host, L, cfg.model);
    return enc.embed(ps.dict, x).content.slice([0, 0, 0], [1, 8, 6])
      .dataSync();
  });
  const d = (k: string) => ps.dict[k].dataSync() as Float32Array;
  const w1 = d("enc/stem/w"), b1 = d("enc/stem/b");
  const w2 = d("enc/stem2/w"), b2 = d("enc/stem2/b");
  const wi = d("enc/image/w"), bi = d("enc/image/b");
  assert.equal(wi.length, 8 * 4 * 6); // 2^3 cells of 4 channels -> 6
  for (let q = 0; q < 8; q++) {
    const [pz, py, px] = [q >> 2, (q >> 1) & 1, q & 1];
    const patch = new Float32Array(512);
    for (let z = 0; z < 8; z++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          patch[(z * 8 + y) * 8 + x] =
            vol[((pz * 8 + z) * E + py * 8 + y) * E + px * 8 + x];
        }
      }
    }
    const h1 = conv(patch, 8, 1, w1, b1, 2);
    const h2 = conv(h1, 4, 2, w2, b2, 4);
    for (let o = 0; o < 6; o++) {
      let s = bi[o];
      for (let r = 0; r < 32; r++) s += h2[r] * wi[r * 6 + o];
      const g = got[q * 6 + o];
      assert.ok(
        Math.abs(g - s) < 1e-4 * (1 + Math.abs(s)),
        `patch ${q} channel ${o}: ${g} vs ${s}`,
      );
    }
  }
  enc.dispose();
});

Deno.test("stemDepth must leave whole cells in a patch", () => {
  assert.throws(
    () =>
      resolveExperimentConfig({
        model: { patchSize: 4, stemChannels: 8, stemDepth: 3 },
      }),
    (e: unknown) =>
      e instanceof UserError && /model\.stemDepth/.test(e.message),
  );
});

Deno.test("meanmax pooling and centre weighting cannot both be set", () => {
  assert.throws(
    () =>
      resolveExperimentConfig({
        model: { pooling: "meanmax", poolCentre: 0.75 },
      }),
    (e: unknown) =>
      e instanceof UserError && /model\.pooling/.test(e.message) &&
      /poolCentre/.test(e.message),
  );
  resolveExperimentConfig({ model: { pooling: "mean", poolCentre: 0.75 } });
});

Deno.test("meanmax pooling averages the masked mean and the masked max; no token gives zeros", () => {
  const cfg = resolveExperimentConfig({ model: { pooling: "meanmax" } });
  const c = volumeCohort(new Float32Array(E ** 3));
  const enc = new Encoder(makeLayout(c, cfg.model), cfg.model);
  const out = tf.tensor3d([
    [[1, -5], [3, -1], [100, 100]],
    [[7, 7], [8, 8], [9, 9]],
  ]);
  const mask = tf.tensor2d([[1, 1, 0], [0, 0, 0]]);
  const got = Array.from(enc.pool(out, mask).dataSync());
  // Patient 0: mean (2, -3), max (3, -1) -> (2.5, -2); the masked 100s
  // must not win the max. Patient 1: nothing visible -> 0.
  assert.deepEqual(got, [2.5, -2, 0, 0]);
  enc.dispose();
});

Deno.test("finite differences match gradients through a two-layer stem and mean-max pooling", async () => {
  const rng = new Rng("stem-grad");
  const vols = Array.from(
    { length: 4 },
    () => Float32Array.from({ length: E ** 3 }, () => rng.normal()),
  );
  const c = volumeCohort(...vols);
  const cfg = resolveExperimentConfig({
    model: {
      patchSize: 8,
      stemChannels: 2,
      stemDepth: 2,
      width: 8,
      heads: 2,
      pooling: "meanmax",
    },
  });
  const L = makeLayout(c, cfg.model);
  const h = hostBatch(c.patients, [0, 1, 2, 3], L, identity, {
    image: true,
    ehr: false,
  });
  const enc = new Encoder(L, cfg.model);
  const params = ParamSet.create([...enc.specs(), ...headSpecs(8)], rng);
  const lossFn = () => {
    const x = toInputs(h, L, cfg.model);
    return bceWithLogits(
      headLogits(params.dict, fusedEmbedding(enc, params.dict, x)),
      x.labels,
    ) as tf.Scalar;
  };
  const lossValue = lossReader(lossFn);
  const { grads, value } = tf.variableGrads(lossFn, params.vars);
  value.dispose();
  const eps = 1e-3;
  let checked = 0;
  for (let i = 0; i < params.vars.length; i++) {
    const name = params.names[i];
    if (!name.startsWith("enc/stem") && !name.startsWith("enc/image")) continue;
    const v = params.vars[i];
    const g = await grads[v.name].data();
    const base = new Float32Array(await v.data());
    for (let rep = 0; rep < 3; rep++) {
      const k = rng.int(base.length);
      const numeric = await centralDifference(v, base, k, eps, lossValue);
      const err = Math.abs(numeric - g[k]) /
        (Math.abs(numeric) + Math.abs(g[k]) + 1e-2);
      // Or a small absolute error: the stem has thousands of ReLUs, and a
      // few sit within eps of their kink (seen: 8e-4 on a bias whose
      // gradient is 1e-3, where the other probes agree to 1e-4). A wiring
      // error is off by the size of the gradients themselves (1e-2 to 1e-1).
      assert.ok(
        err < 1e-2 || Math.abs(numeric - g[k]) < 2e-3,
        `${name}[${k}]: numeric ${numeric} vs ${g[k]}`,
      );
      checked++;
    }
  }
  // Both stem layers (w, b) and the patch embedding (w, b), 3 probes each.
  assert.equal(checked, 18);
  tf.dispose(grads);
  params.dispose();
  enc.dispose();
});
