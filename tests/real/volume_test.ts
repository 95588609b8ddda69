import assert from "node:assert/strict";
import { UserError } from "../../core/errors.ts";
import {
  applyAffine,
  checkVolume,
  extractRoi,
  insideVolume,
  invertAffine,
  type Volume,
  windowHu,
} from "../../real/mod.ts";

// A permuted, flipped, anisotropic, shifted grid: i runs along -y (0.8 mm),
// j along +x (0.6 mm), k along +z (2.5 mm).
const affine = [
  [0, 0.6, 0, -10],
  [-0.8, 0, 0, 25],
  [0, 0, 2.5, -40],
  [0, 0, 0, 1],
];
const dims: [number, number, number] = [60, 70, 30];
const f = (x: number, y: number, z: number) => 3 * x - 2 * y + 0.5 * z + 7;

function linearVolume(): Volume {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++) {
        const [x, y, z] = applyAffine(affine, [i, j, k]);
        data[i + dims[0] * (j + dims[1] * k)] = f(x, y, z);
      }
    }
  }
  return { dims, data, affine };
}

Deno.test("invertAffine undoes the affine", () => {
  const inv = invertAffine(affine);
  const p = [3.5, 17, 4.25];
  const back = applyAffine(inv, applyAffine(affine, p));
  assert.ok(back.every((v, i) => Math.abs(v - p[i]) < 1e-12), `${back}`);
  assert.throws(
    () =>
      invertAffine([[1, 0, 0, 0], [2, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
    UserError,
  );
});

Deno.test("trilinear ROI on an oblique grid reproduces a linear field exactly", () => {
  const v = linearVolume();
  const centre = [1.3, -2.7, -12.1];
  const size = 10, s = 1;
  const roi = extractRoi(v, centre, { size, spacingMm: s });
  const half = (size - 1) / 2;
  let worst = 0;
  for (let z = 0; z < size; z++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const want = f(
          centre[0] + (x - half) * s,
          centre[1] + (y - half) * s,
          centre[2] + (z - half) * s,
        );
        worst = Math.max(
          worst,
          Math.abs(roi[x + size * (y + size * z)] - want),
        );
      }
    }
  }
  assert.ok(worst < 1e-3, `max error ${worst}`);
});

Deno.test("outside the scan is padded; inside test uses half-voxel edges", () => {
  const v = linearVolume();
  // The first slice (k = 0) is at z = -40 and 2.5 mm thick: the scan ends
  // at z = -41.25. ROI slices sit at z = -44.75 ... -37.75.
  const roi = extractRoi(v, [0, 10, -41.25], {
    size: 8,
    spacingMm: 1,
    pad: -3000,
  });
  const slice = (z: number) => Array.from(roi.slice(64 * z, 64 * (z + 1)));
  assert.ok(slice(3).every((x) => x === -3000));
  assert.ok(slice(4).every((x) => Math.abs(x - f(0, 10, -40.75)) < 40));
  assert.equal(insideVolume(v, [-10, 25, -41.2]), true);
  assert.equal(insideVolume(v, [-10, 25, -41.3]), false);
});

Deno.test("HU window clips and normalises", () => {
  const x = Float32Array.from([-2000, -1000, -300, 400, 1000]);
  assert.deepEqual(Array.from(windowHu(x.slice(), [-1000, 400], false)), [
    -1000,
    -1000,
    -300,
    400,
    400,
  ]);
  assert.deepEqual(Array.from(windowHu(x, [-1000, 400], true)), [
    0,
    0,
    0.5,
    1,
    1,
  ]);
});

Deno.test("checkVolume names NaN voxels and flat images", () => {
  const v = linearVolume();
  v.data[5 + 60 * (6 + 70 * 7)] = NaN;
  assert.throws(
    () => checkVolume(v, "x.nii"),
    /x\.nii: voxel \(5, 6, 7\) is NaN/,
  );
  assert.throws(
    () =>
      checkVolume(
        { dims: [4, 4, 1], data: new Float32Array(16), affine },
        "flat.nii",
      ),
    /flat\.nii: image is 4x4x1/,
  );
});
