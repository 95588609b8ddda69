/**
 * Volume augmentation (models/augment.ts) and the fixed 3D sin-cos patch
 * positions (models/tokenizers.ts): the transforms are the symmetries of
 * the cube, shifts replicate the edge, draws are seeded, the jitter acts
 * on standardized values, only training batches are augmented, and every
 * patch of a volume gets its own fixed code.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import {
  drawTransform,
  transformVolume,
  type VolumeTransform,
} from "../../models/augment.ts";
import { fitNormalizer, hostBatch, makeLayout } from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { Encoder } from "../../models/encoder.ts";
import { finetune, pretrain } from "../../models/experiment.ts";
import { ParamSet } from "../../models/params.ts";
import {
  sinCos3d,
  toInputs,
  TokenizerConstants,
} from "../../models/tokenizers.ts";
import { easySet } from "./fixtures.ts";

await initBackend("cpu");

const E = 4;
// Every voxel distinct, so two transforms agree only if they are equal.
const ramp = Float32Array.from({ length: E * E * E }, (_, i) => i);
const ID: VolumeTransform = {
  perm: [0, 1, 2],
  flip: [false, false, false],
  shift: [0, 0, 0],
  scale: 1,
  offset: 0,
};

Deno.test("augment: the 48 cube symmetries, the 8 flips, or none; each a permutation of the voxels", () => {
  for (
    const [symmetries, count] of [["all", 48], ["flips", 8], [
      "none",
      1,
    ]] as const
  ) {
    const rng = new Rng(`sym-${symmetries}`);
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = drawTransform(rng, [E, E, E], {
        symmetries,
        shift: 0,
        jitter: 0,
      });
      const out = transformVolume(ramp, [E, E, E], t);
      assert.deepEqual(
        [...out].sort((a, b) => a - b),
        [...ramp],
        `${symmetries}: not a permutation`,
      );
      seen.add(out.join());
    }
    assert.equal(seen.size, count, symmetries);
  }
  // Not a cube: flips only, whatever is asked.
  const t = drawTransform(new Rng("flat"), [2, 4, 4], {
    symmetries: "all",
    shift: 0,
    jitter: 0,
  });
  assert.deepEqual(t.perm, [0, 1, 2]);
});

Deno.test("augment: identity copies, a flip reverses an axis, a shift replicates the edge", () => {
  assert.deepEqual(transformVolume(ramp, [E, E, E], ID), ramp);
  const at = (v: Float32Array, z: number, y: number, x: number) =>
    v[(z * E + y) * E + x];
  const fx = transformVolume(ramp, [E, E, E], {
    ...ID,
    flip: [false, false, true],
  });
  assert.equal(at(fx, 1, 2, 0), at(ramp, 1, 2, 3));
  const sz = transformVolume(ramp, [E, E, E], { ...ID, shift: [1, 0, 0] });
  assert.equal(at(sz, 2, 1, 1), at(ramp, 1, 1, 1));
  assert.equal(at(sz, 0, 1, 1), at(ramp, 0, 1, 1));
  const swap = transformVolume(ramp, [E, E, E], { ...ID, perm: [2, 1, 0] });
  assert.equal(at(swap, 3, 1, 0), at(ramp, 0, 1, 3));
});

Deno.test("augment: draws are seeded; shifts and jitter stay in range", () => {
  const s = { symmetries: "all" as const, shift: 2, jitter: 0.1 };
  const a = Array.from(
    { length: 50 },
    ((r) => () => drawTransform(r, [E, E, E], s))(new Rng("seed")),
  );
  const b = Array.from(
    { length: 50 },
    ((r) => () => drawTransform(r, [E, E, E], s))(new Rng("seed")),
  );
  assert.deepEqual(a, b);
  const shifts = new Set(a.flatMap((t) => t.shift));
  assert.deepEqual([...shifts].sort(), [-1, -2, 0, 1, 2]);
  assert.ok(a.every((t) => Math.abs(t.scale - 1) <= 0.1));
  assert.ok(a.every((t) => Math.abs(t.offset) <= 0.1));
});

Deno.test("augment: hostBatch applies a patient's transform and jitter, and nothing without one", () => {
  const set = easySet({ mode: "volume", volumeEdge: 8, sizes: { train: 6 } });
  const ps = set.internal.patients.filter((p) => p.split === "train");
  const cfg = resolveExperimentConfig({ model: { patchSize: 4 } });
  const L = makeLayout(set.internal, cfg.model);
  const norm = fitNormalizer(ps, L);
  const use = { image: true, ehr: false };
  const idx = [0, 1];
  const plain = hostBatch(ps, idx, L, norm, use);
  assert.deepEqual(hostBatch(ps, idx, L, norm, use, [null, null]), plain);
  const jit = hostBatch(ps, idx, L, norm, use, [{
    ...ID,
    scale: 2,
    offset: 0.5,
  }, null]);
  const row = L.nImage * L.imageDim;
  for (let j = 0; j < row; j += 97) {
    if (plain.present[Math.floor(j / L.imageDim)] === 0) continue;
    assert.ok(Math.abs(jit.image[j] - (2 * plain.image[j] + 0.5)) < 1e-4);
  }
  assert.deepEqual(jit.image.subarray(row), plain.image.subarray(row));
  const flipped = hostBatch(ps, idx, L, norm, use, [{
    ...ID,
    flip: [true, false, false],
  }, null]);
  assert.notDeepEqual(
    flipped.image.subarray(0, row),
    plain.image.subarray(0, row),
  );
});

Deno.test("augment: hostBatch's one-pass transformed patches equal the patches of transformVolume's volume", () => {
  const set = easySet({ mode: "volume", volumeEdge: 8, sizes: { train: 6 } });
  const ps = set.internal.patients.filter((p) => p.split === "train");
  const use = { image: true, ehr: false };
  const rng = new Rng("one-pass");
  // Patch edge 4: subcube voxel order; edge 8: one patch per scan.
  for (const patchSize of [4, 8]) {
    const cfg = resolveExperimentConfig({ model: { patchSize } });
    const L = makeLayout(set.internal, cfg.model);
    const norm = fitNormalizer(ps, L);
    for (let i = 0; i < 12; i++) {
      const t = drawTransform(rng, L.scanShape, {
        symmetries: "all",
        shift: 2,
        jitter: 0,
      });
      const moved = ps.map((p) => ({
        ...p,
        scans: p.scans.map((s) => ({
          ...s,
          data: transformVolume(s.data, L.scanShape, t),
        })),
      }));
      const idx = ps.map((_, k) => k);
      assert.deepEqual(
        hostBatch(ps, idx, L, norm, use, idx.map(() => t)).image,
        hostBatch(moved, idx, L, norm, use).image,
        `patch ${patchSize}, transform ${JSON.stringify(t)}`,
      );
    }
  }
});

Deno.test("sin-cos positions: one fixed code per patch, none learned", () => {
  const g = 4, w = 32;
  const codes = sinCos3d(g, w);
  const rows = Array.from(
    { length: g ** 3 },
    (_, q) => codes.subarray(q * w, (q + 1) * w).join(),
  );
  assert.equal(new Set(rows).size, g ** 3);
  // The z part (first 2 * floor(w / 6) dims) depends on z alone.
  const d = 2 * Math.floor(w / 6);
  const zPart = (q: number) => codes.subarray(q * w, q * w + d).join();
  assert.equal(zPart(0), zPart(15));
  assert.notEqual(zPart(0), zPart(16));
  const set = easySet({ mode: "volume", volumeEdge: 16, sizes: { train: 4 } });
  for (const positions of ["sincos", "learned"] as const) {
    const cfg = resolveExperimentConfig({ model: { positions } });
    const L = makeLayout(set.internal, cfg.model);
    const enc = new Encoder(L, cfg.model);
    const embed = enc.specs().find((s) => s.name === "enc/embed")!;
    const learnedPatchRows = embed.shape[0] - 3 - L.ehrGroups;
    assert.equal(learnedPatchRows, positions === "sincos" ? 0 : 8);
    if (positions === "sincos") {
      // What the encoder adds: two patches' positions differ by their codes.
      const params = ParamSet.create(enc.specs(), new Rng("init"));
      const ps = set.internal.patients.slice(0, 2);
      const x = toInputs(
        hostBatch(ps, [0, 1], L, fitNormalizer(ps, L), {
          image: true,
          ehr: false,
        }),
        L,
        cfg.model,
      );
      const pos = enc.embed(params.dict, x).pos.arraySync() as number[][][];
      const code = sinCos3d(2, cfg.model.width);
      const W = cfg.model.width;
      for (let k = 0; k < W; k++) {
        const want = code[3 * W + k] - code[5 * W + k];
        assert.ok(Math.abs(pos[0][3][k] - pos[0][5][k] - want) < 1e-5);
      }
      params.dispose();
    }
    enc.dispose();
    const c = new TokenizerConstants(L, w, positions);
    if (positions === "sincos") {
      const fixed = c.fixed!.arraySync();
      for (let i = 0; i < L.nTokens; i++) {
        const want = i < L.nImage
          ? Array.from(
            sinCos3d(2, w).subarray(L.within[i] * w, (L.within[i] + 1) * w),
          )
          : new Array(w).fill(0);
        fixed[i].forEach((v, k) => assert.ok(Math.abs(v - want[k]) < 1e-6));
      }
    } else {
      assert.equal(c.fixed, null);
    }
    c.dispose();
  }
});

Deno.test("augment: volume finetuning is seeded, and the augmentation changes its training batches", async () => {
  const set = easySet({
    mode: "volume",
    volumeEdge: 8,
    sizes: { pretrain: 0, train: 40, val: 20, test: 20 },
    external: 10,
  });
  const run = (augment: "all" | "none") =>
    finetune(
      set,
      "imaging-only",
      null,
      resolveExperimentConfig({
        model: { patchSize: 4 },
        finetune: {
          steps: 6,
          readEvery: 3,
          batchSize: 16,
          augment,
          augmentShift: augment === "none" ? 0 : 1,
          augmentJitter: augment === "none" ? 0 : 0.05,
        },
      }),
      1,
      {},
      { diagnostics: false },
    );
  const a = await run("all"), b = await run("all"), c = await run("none");
  assert.deepEqual(a.curves.finetune, b.curves.finetune);
  assert.deepEqual(a.predictions.internal, b.predictions.internal);
  assert.notDeepEqual(a.curves.finetune, c.curves.finetune);
});

Deno.test("augment: pretrain.augment is seeded and changes volume pretraining's batches", async () => {
  const set = easySet({
    mode: "volume",
    volumeEdge: 8,
    sizes: { pretrain: 40, train: 10, val: 10, test: 10 },
    external: 0,
  });
  const curve = async (augment: boolean) => {
    const pre = await pretrain(
      set,
      "jepa-image",
      resolveExperimentConfig({
        model: { patchSize: 4 },
        pretrain: { steps: 6, readEvery: 3, batchSize: 16, augment },
      }),
      1,
    );
    const c = pre!.curve;
    pre!.dispose();
    return c;
  };
  const a = await curve(true), b = await curve(true), c = await curve(false);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});
