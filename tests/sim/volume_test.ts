import assert from "node:assert/strict";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";
import type { SyntheticScan } from "../../sim/mod.ts";
import type { Cohort } from "../../cohort/types.ts";

const N = 16;

/**
 * Background level and high-frequency noise from a 4^3 corner, as medians
 * over patients (a large nodule can reach a corner; medians ignore those).
 */
function background(c: Cohort) {
  const levels: number[] = [], sds: number[] = [];
  for (const p of c.patients) {
    const v = p.scans[0].data;
    let sum = 0, d2 = 0;
    for (let z = 0; z < 4; z++) {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 4; x++) {
          const i = (z * N + y) * N + x;
          sum += v[i];
          d2 += (v[i + 1] - v[i]) ** 2;
        }
      }
    }
    levels.push(sum / 64);
    sds.push(Math.sqrt(d2 / 64));
  }
  const median = (x: number[]) =>
    x.sort((a, b) => a - b)[Math.floor(x.length / 2)];
  return { level: median(levels), diffSd: median(sds) };
}

Deno.test("volumes: shape, HU range, nodule at the recorded centre", () => {
  const s = withOverrides(preset("paper"), {
    "imaging.level": "volume",
    "imaging.volumeSize": 32,
    "internal.pretrain": 0,
    "internal.train": 50,
    "internal.val": 0,
    "internal.test": 0,
    externals: [],
  });
  const c = generateCohorts(s, 1).internal;
  assert.deepEqual(c.imaging, { mode: "volume", shape: [32, 32, 32] });
  let hotter = 0;
  for (const p of c.patients) {
    const scan = p.scans[0] as SyntheticScan;
    assert.equal(scan.data.length, 32 ** 3);
    const [x, y, z] = scan.nodule.centerMm.map((mm) =>
      Math.round(mm / scan.spacingMm + 15.5)
    );
    const centre = scan.data[(z * 32 + y) * 32 + x];
    const corner = scan.data[0];
    if (centre > corner + 150) hotter++;
    // Windowed like real ROIs (core/hu.ts): clipped to [-1000, 400] HU.
    for (const v of scan.data) assert.ok(v >= -1000 && v <= 400, `HU ${v}`);
  }
  // Ground-glass nodules are only a few hundred HU above lung; nearly all are brighter.
  assert.ok(hotter >= 45, `${hotter}/50 nodule centres brighter than lung`);
});

Deno.test("acquisition shift changes HU offset and noise; other shifts do not", () => {
  const size = 800;
  const s = withOverrides(preset("shared-cause"), {
    "imaging.level": "volume",
    "imaging.volumeSize": N,
    "internal.pretrain": 0,
    "internal.train": 0,
    "internal.val": 0,
    "internal.test": 0,
    externals: [
      { name: "base", size },
      {
        name: "scanner",
        size,
        shift: { acquisition: { offsetHu: 60, noiseHu: 45 } },
      },
      { name: "prevalence", size, shift: { prevalence: 0.7 } },
      { name: "concept", size, shift: { concept: 1 } },
    ],
  });
  const set = generateCohorts(s, 5);
  const m = Object.fromEntries(
    set.externals.map((c) => [c.name, background(c)]),
  );
  const msg = JSON.stringify(m);
  assert.ok(Math.abs(m.scanner.level - m.base.level - 60) < 8, msg);
  // Texture gradients add to the differences, so they grow less than the noise (x2.25).
  assert.ok(m.scanner.diffSd > 1.4 * m.base.diffSd, msg);
  for (const other of ["prevalence", "concept"]) {
    assert.ok(Math.abs(m[other].level - m.base.level) < 8, msg);
    assert.ok(Math.abs(m[other].diffSd / m.base.diffSd - 1) < 0.1, msg);
  }
});

Deno.test("blur smooths the noise grain; spacing shrinks the nodule in voxels", () => {
  const base = {
    "imaging.level": "volume",
    "imaging.volumeSize": N,
    "internal.pretrain": 0,
    "internal.train": 300,
    "internal.val": 0,
    "internal.test": 0,
    "internal.acquisition.noiseHu": 60,
    externals: [],
  };
  const sharp = generateCohorts(
    withOverrides(preset("shared-cause"), {
      ...base,
      "internal.acquisition.blur": 0,
    }),
    2,
  ).internal;
  const soft = generateCohorts(
    withOverrides(preset("shared-cause"), {
      ...base,
      "internal.acquisition.blur": 2,
    }),
    2,
  ).internal;
  const ratio = background(soft).diffSd / background(sharp).diffSd;
  assert.ok(ratio < 0.85, `soft / sharp voxel-difference SD ${ratio}`);
  // Dense voxels near the nodule (within a fixed 9 mm of its centre): the
  // chest wall and vessels also reach -400 HU elsewhere in the cube.
  const count = (c: Cohort) =>
    c.patients.reduce((t, p) => {
      const scan = p.scans[0] as SyntheticScan;
      const sp = scan.spacingMm;
      const [cx, cy, cz] = scan.nodule.centerMm.map((mm) =>
        mm / sp + (N - 1) / 2
      );
      let k = 0;
      scan.data.forEach((v, i) => {
        const x = i % N, y = Math.floor(i / N) % N, z = Math.floor(i / N / N);
        const d = Math.hypot(x - cx, y - cy, z - cz) * sp;
        if (d < 9 && v > -400) k++;
      });
      return t + k;
    }, 0);
  const fine = generateCohorts(
    withOverrides(preset("shared-cause"), {
      ...base,
      "internal.acquisition.spacingMm": 0.7,
    }),
    2,
  ).internal;
  const coarse = generateCohorts(
    withOverrides(preset("shared-cause"), {
      ...base,
      "internal.acquisition.spacingMm": 1.4,
    }),
    2,
  ).internal;
  assert.ok(
    count(coarse) < 0.5 * count(fine),
    `${count(coarse)} vs ${count(fine)} dense voxels`,
  );
});
