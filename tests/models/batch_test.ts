import assert from "node:assert/strict";
import type { Cohort, Patient } from "../../cohort/types.ts";
import {
  DEMO,
  EHR,
  fitNormalizer,
  hostBatch,
  IMAGE,
  makeLayout,
  type Normalizer,
} from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";

const identity = (imageDim: number, ehrDim: number): Normalizer => ({
  imageMean: new Float32Array(imageDim),
  imageStd: new Float32Array(imageDim).fill(1),
  ehrMean: new Float32Array(ehrDim),
  ehrStd: new Float32Array(ehrDim).fill(1),
  demoMean: new Float32Array([60, 0.5, 20]),
  demoStd: new Float32Array([10, 0.5, 10]),
});

function cohort(
  mode: "volume" | "features",
  shape: number[],
  patients: Patient[],
): Cohort {
  return {
    name: "c",
    kind: "internal",
    source: "real",
    imaging: { mode, shape },
    ehrDim: 5,
    patients,
  };
}

const patient = (
  scans: number,
  dataOf: (k: number) => Float32Array,
): Patient => ({
  id: "p",
  split: "train",
  label: 1,
  scans: Array.from(
    { length: scans },
    (_, k) => ({ id: `s${k}`, time: 12 * k, data: dataOf(k) }),
  ),
  ehr: [{ time: 30, values: new Float32Array([1, 2, 3, 4, 5]) }],
  demographics: { age: 70, sex: null, packYears: 30 },
});

Deno.test("volume scans become raster-order 3D patches", () => {
  const vol = Float32Array.from({ length: 4 * 4 * 4 }, (_, i) => i);
  const c = cohort("volume", [4, 4, 4], [patient(1, () => vol)]);
  const cfg = resolveExperimentConfig({
    model: { patchSize: 2, maxScans: 1, maxEhr: 1, ehrGroups: 2 },
  });
  const L = makeLayout(c, cfg.model);
  assert.equal(L.patchesPerScan, 8);
  assert.equal(L.imageDim, 8);
  const h = hostBatch(c.patients, [0], L, identity(1, 5), {
    image: true,
    ehr: true,
  });
  // Patch 5 = (z 1, y 0, x 1): voxels z in 2..3, y in 0..1, x in 2..3.
  const expect: number[] = [];
  for (let z = 2; z < 4; z++) {
    for (let y = 0; y < 2; y++) {
      for (let x = 2; x < 4; x++) expect.push(z * 16 + y * 4 + x);
    }
  }
  assert.deepEqual(Array.from(h.image.subarray(5 * 8, 6 * 8)), expect);
});

Deno.test("latest scans kept, times relative to the last scan, gaps masked", () => {
  const c = cohort("features", [2], [
    patient(4, (k) => new Float32Array([k, -k])),
  ]);
  const cfg = resolveExperimentConfig({
    model: { maxScans: 3, maxEhr: 2, ehrGroups: 2 },
  });
  const L = makeLayout(c, cfg.model);
  assert.equal(L.nTokens, 3 + 4 + 1);
  assert.deepEqual(Array.from(L.modality), [
    IMAGE,
    IMAGE,
    IMAGE,
    EHR,
    EHR,
    EHR,
    EHR,
    DEMO,
  ]);
  assert.equal(L.groupSize, 3);
  const h = hostBatch(c.patients, [0], L, identity(2, 5), {
    image: true,
    ehr: true,
  });
  assert.deepEqual(Array.from(h.image), [1, -1, 2, -2, 3, -3]);
  assert.deepEqual(Array.from(h.times.subarray(0, 3)), [-24, -12, 0]);
  assert.deepEqual(Array.from(h.present), [1, 1, 1, 1, 1, 0, 0, 1]);
  assert.equal(h.times[3], -6);
  // EHR padded to groups of 3: [1 2 3][4 5 0]; second record slot empty.
  assert.deepEqual(Array.from(h.ehr), [1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0]);
  // age 70 -> 1, sex unknown -> 0 with flag, pack-years 30 -> 1.
  assert.deepEqual(Array.from(h.demo), [1, 0, 1, 0, 1, 0]);
  const imageOnly = hostBatch(c.patients, [0], L, identity(2, 5), {
    image: true,
    ehr: false,
  });
  assert.deepEqual(Array.from(imageOnly.present), [1, 1, 1, 0, 0, 0, 0, 0]);
});

Deno.test("normalizer standardizes per feature", () => {
  const ps = [0, 1, 2, 3].map((k) =>
    patient(1, () => new Float32Array([k, 10]))
  );
  const c = cohort("features", [2], ps);
  const L = makeLayout(c, resolveExperimentConfig({}).model);
  const n = fitNormalizer(ps, L);
  assert.ok(Math.abs(n.imageMean[0] - 1.5) < 1e-6);
  assert.ok(Math.abs(n.imageStd[0] - Math.sqrt(1.25)) < 1e-6);
  assert.equal(n.imageStd[1], 1); // constant feature: no division by zero
});

Deno.test("volume patches of edge 4 arrive as 2x2x2 subcubes (for the strided stem)", () => {
  const vol = Float32Array.from({ length: 8 * 8 * 8 }, (_, i) => i);
  const c = cohort("volume", [8, 8, 8], [patient(1, () => vol)]);
  const cfg = resolveExperimentConfig({ model: { patchSize: 4 } });
  const L = makeLayout(c, cfg.model);
  assert.equal(L.voxelOrder, "subcube");
  const h = hostBatch(c.patients, [0], L, identity(1, 5), {
    image: true,
    ehr: false,
  });
  // Patch 1 = (z 0, y 0, x 1); its subcube 1 = (z 0, y 0, x 1) inside it:
  // voxels z 0..1, y 0..1, x 6..7.
  const expect: number[] = [];
  for (let z = 0; z < 2; z++) {
    for (let y = 0; y < 2; y++) {
      for (let x = 6; x < 8; x++) expect.push(z * 64 + y * 8 + x);
    }
  }
  const off = 1 * 64 + 1 * 8;
  assert.deepEqual(Array.from(h.image.subarray(off, off + 8)), expect);
});

Deno.test("volume mode: scan slots from the data, at most model.maxScans; features mode as configured", () => {
  const vol = new Float32Array(4 * 4 * 4);
  const cfg = resolveExperimentConfig({ model: { patchSize: 2, maxScans: 3 } });
  const one = cohort("volume", [4, 4, 4], [patient(1, () => vol)]);
  assert.equal(makeLayout(one, cfg.model).maxScans, 1);
  assert.equal(makeLayout(one, cfg.model).nImage, 8);
  const two = cohort("volume", [4, 4, 4], [
    patient(1, () => vol),
    patient(2, () => vol),
  ]);
  assert.equal(makeLayout(two, cfg.model).maxScans, 2);
  const five = cohort("volume", [4, 4, 4], [patient(5, () => vol)]);
  assert.equal(makeLayout(five, cfg.model).maxScans, 3);
  const feats = cohort("features", [2], [
    patient(1, () => new Float32Array(2)),
  ]);
  assert.equal(makeLayout(feats, cfg.model).maxScans, 3);
});
