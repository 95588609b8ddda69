import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  applyAffine,
  decodeNiftiFile,
  extractRoi,
  invertAffine,
  readNifti,
} from "../../real/mod.ts";
import { encodeNifti } from "../../sim/nifti.ts";
import { niftiSamples } from "./fixtures.ts";

const data = await niftiSamples();

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("big- and little-endian float32 samples decode to the same volume", () => {
  const big = readNifti(join(data, "big.nii.gz"));
  const little = readNifti(join(data, "little.nii.gz"));
  assert.equal(big.littleEndian, false);
  assert.equal(little.littleEndian, true);
  assert.deepEqual(big.dims, [64, 64, 21]);
  assert.deepEqual(little.dims, [64, 64, 21]);
  assert.equal(maxDiff(big.data, little.data), 0);
  // Not a constant image: the comparison above has something to compare.
  const s = new Set(big.data.slice(0, 64 * 64 * 10));
  assert.ok(s.size > 100, `only ${s.size} distinct values`);
});

Deno.test("NIfTI-2 sample equals its NIfTI-1 twin, voxels and affine", () => {
  const n1 = readNifti(join(data, "avg152T1_LR_nifti.nii.gz"));
  const n2 = readNifti(join(data, "avg152T1_LR_nifti2.nii.gz"));
  assert.equal(n1.version, 1);
  assert.equal(n2.version, 2);
  assert.deepEqual(n1.dims, [91, 109, 91]);
  assert.deepEqual(n2.dims, [91, 109, 91]);
  assert.equal(maxDiff(n1.data, n2.data), 0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      assert.ok(Math.abs(n1.affine[r][c] - n2.affine[r][c]) < 1e-4);
    }
  }
  assert.deepEqual(n1.spacing.map((s) => Math.round(s * 1000) / 1000), [
    2,
    2,
    2,
  ]);
});

Deno.test("header extension is skipped, not read as voxels", () => {
  const v = readNifti(join(data, "with_extension.nii.gz"));
  assert.equal(v.hasExtension, true);
  assert.equal(v.data.length, v.dims[0] * v.dims[1] * v.dims[2]);
  assert.ok(v.data.every(Number.isFinite));
});

Deno.test("non-NIfTI, 5D and truncated files are refused by name", async () => {
  assert.throws(
    () => readNifti(join(data, "not-nifti.nii")),
    (e: Error) =>
      e instanceof UserError && e.message.includes("not-nifti.nii") &&
      e.message.includes("not a NIfTI file"),
  );
  assert.throws(
    () => readNifti(join(data, "5D.nii")),
    (e: Error) =>
      e instanceof UserError && /5D\.nii.*only single 3D/.test(e.message),
  );
  const whole = Deno.readFileSync(join(data, "avg152T1_LR_nifti.nii"));
  const dir = await Deno.makeTempDir();
  const cut = join(dir, "cut.nii");
  Deno.writeFileSync(cut, whole.slice(0, whole.length / 2));
  assert.throws(
    () => readNifti(cut),
    (e: Error) =>
      e instanceof UserError && e.message.includes("cut.nii") &&
      e.message.includes("truncated"),
  );
  const gz = join(dir, "cut.nii.gz");
  Deno.writeFileSync(gz, gzipSync(whole).slice(0, 5000));
  assert.throws(
    () => readNifti(gz),
    (e: Error) => e instanceof UserError && e.message.includes("cut.nii.gz"),
  );
  assert.throws(
    () => readNifti(join(dir, "absent.nii.gz")),
    (e: Error) => e instanceof UserError && e.message.includes("absent.nii.gz"),
  );
});

// A NIfTI-1 file with int16 voxels, scl_slope/scl_inter, and either an
// sform (diagonal) or only a qform (180 degrees about z: x and y flipped).
function crafted(transform: "sform" | "qform"): Uint8Array {
  const dims: [number, number, number] = [4, 5, 6];
  const n = 4 * 5 * 6;
  const bytes = encodeNifti({
    dims,
    spacing: [0.5, 0.75, 2],
    origin: [10, -20, 30],
    data: new Float32Array(n),
  }, false);
  const out = new Uint8Array(352 + 2 * n);
  out.set(bytes.slice(0, 352));
  const h = new DataView(out.buffer);
  h.setInt16(70, 4, true); // int16
  h.setInt16(72, 16, true);
  h.setFloat32(112, 2, true); // scl_slope
  h.setFloat32(116, -1024, true); // scl_inter
  for (let i = 0; i < n; i++) h.setInt16(352 + 2 * i, i, true);
  if (transform === "qform") {
    h.setInt16(254, 0, true); // sform_code 0
    h.setFloat32(256 + 0, 0, true); // quatern_b (offset 256)
    h.setFloat32(260, 0, true); // quatern_c
    h.setFloat32(264, 1, true); // quatern_d: 180 degrees about z
    // A wrong sform that must be ignored.
    h.setFloat32(280, 99, true);
  }
  return out;
}

Deno.test("scl_slope/scl_inter apply; sform wins, qform used without sform", () => {
  const s = decodeNiftiFile(crafted("sform"), "s.nii");
  assert.equal(s.transform, "sform");
  assert.equal(s.data[0], -1024);
  assert.equal(s.data[7], 7 * 2 - 1024);
  assert.deepEqual(applyAffine(s.affine, [1, 2, 3]), [10.5, -18.5, 36]);
  const q = decodeNiftiFile(crafted("qform"), "q.nii");
  assert.equal(q.transform, "qform");
  const w = applyAffine(q.affine, [1, 2, 3]);
  assert.deepEqual(w.map((x) => Math.round(x * 1e4) / 1e4), [9.5, -21.5, 36]);
  assert.deepEqual(q.spacing.map((x) => Math.round(x * 1e4) / 1e4), [
    0.5,
    0.75,
    2,
  ]);
});

Deno.test("world <-> voxel mapping on the known affine, and ROI sampling", () => {
  const q = decodeNiftiFile(crafted("qform"), "q.nii");
  const inv = invertAffine(q.affine);
  const ijk = applyAffine(inv, [9.5, -21.5, 36]);
  assert.deepEqual(ijk.map((x) => Math.round(x * 1e6) / 1e6), [1, 2, 3]);
  // A 1-voxel ROI at spacing 1 centred on voxel (1, 2, 3)'s world point.
  const roi = extractRoi(q, [9.5, -21.5, 36], { size: 1, spacingMm: 1 });
  const index = 1 + 4 * 2 + 20 * 3;
  assert.equal(roi[0], index * 2 - 1024);
  // In RAS +x runs along voxel -i here (qform flip): the ROI's central
  // row, 0.5 mm per step along +x, reads voxels i = 2, 1, 0.
  const three = extractRoi(q, [9.5, -21.5, 36], { size: 3, spacingMm: 0.5 });
  assert.deepEqual(
    Array.from(three.slice(12, 15)),
    [index + 1, index, index - 1].map((v) => v * 2 - 1024),
  );
});
