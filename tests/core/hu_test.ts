import assert from "node:assert/strict";
import { DEFAULT_HU_WINDOW, windowHu } from "../../core/hu.ts";
import { windowHu as realWindowHu } from "../../real/volume.ts";
import { volumeFeatures } from "../../core/radiomics.ts";

Deno.test("windowHu clips to the window and optionally maps it to [0, 1]", () => {
  const v = Float32Array.of(-1200, -1000, -300, 400, 900);
  assert.deepEqual(
    Array.from(windowHu(v.slice(), DEFAULT_HU_WINDOW, false)),
    [-1000, -1000, -300, 400, 400],
  );
  assert.deepEqual(
    Array.from(windowHu(v.slice(), [-1000, 400], true)),
    [0, 0, 0.5, 1, 1],
  );
  // real/ and sim/ call the one definition.
  assert.equal(realWindowHu, windowHu);
});

Deno.test("nodule measurements are the same on HU and on a [0, 1] window", () => {
  const n = 16, v = new Float32Array(n ** 3).fill(-850);
  for (let z = 5; z < 11; z++) {
    for (let y = 5; y < 11; y++) {
      for (let x = 5; x < 11; x++) v[(z * n + y) * n + x] = 30;
    }
  }
  const hu = volumeFeatures(v, n);
  const unit = volumeFeatures(windowHu(v.slice(), DEFAULT_HU_WINDOW, true), n);
  hu.forEach((h, i) => assert.ok(Math.abs(h - unit[i]) < 1e-3, `${i}`));
  assert.ok(Math.abs(hu[0] - Math.log1p(216)) < 1e-9, "6^3 voxels");
});
