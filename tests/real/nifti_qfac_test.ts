// NIfTI-1 qform with qfac = pixdim[0] = -1: the third axis is mirrored
// (a left-handed voxel grid), so z decreases with k.
import assert from "node:assert/strict";
import { applyAffine, decodeNiftiFile } from "../../real/mod.ts";
import { encodeNifti } from "../../sim/nifti.ts";

function qformOnly(qfac: number): Uint8Array {
  const bytes = encodeNifti({
    dims: [4, 5, 6],
    spacing: [0.5, 0.75, 2],
    origin: [10, -20, 30],
    data: new Float32Array(4 * 5 * 6),
  }, false);
  const h = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  h.setInt16(254, 0, true); // sform_code 0: the qform decides
  h.setFloat32(76, qfac, true); // pixdim[0]
  return bytes;
}

Deno.test("qform qfac = -1 mirrors the third voxel axis", () => {
  const plus = decodeNiftiFile(qformOnly(1), "plus.nii");
  const minus = decodeNiftiFile(qformOnly(-1), "minus.nii");
  assert.equal(minus.transform, "qform");
  assert.deepEqual(applyAffine(plus.affine, [1, 2, 3]), [10.5, -18.5, 36]);
  assert.deepEqual(applyAffine(minus.affine, [1, 2, 3]), [10.5, -18.5, 24]);
  // Spacing stays positive either way.
  assert.deepEqual(minus.spacing.map((s) => Math.round(s * 1e4) / 1e4), [
    0.5,
    0.75,
    2,
  ]);
});
