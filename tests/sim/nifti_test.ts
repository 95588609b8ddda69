import assert from "node:assert/strict";
import { decodeNiftiFile } from "../../real/nifti.ts";
import { encodeNifti } from "../../sim/mod.ts";

Deno.test("NIfTI-1 round trip keeps data, spacing, affine and codes", () => {
  const data = Float32Array.from({ length: 4 * 3 * 2 }, (_, i) => i * 1.5 - 7);
  for (const gzip of [true, false]) {
    const bytes = encodeNifti(
      { dims: [4, 3, 2], spacing: [0.7, 0.8, 2.5], origin: [-10, 5, 3], data },
      gzip,
    );
    assert.equal(bytes[0] === 0x1f && bytes[1] === 0x8b, gzip);
    // Read back with the reader real cohorts go through: one decoder.
    const v = decodeNiftiFile(bytes, "round-trip.nii");
    assert.deepEqual(v.dims, [4, 3, 2]);
    assert.deepEqual(Array.from(v.data), Array.from(data));
    assert.deepEqual(v.spacing.map((x) => +x.toFixed(5)), [0.7, 0.8, 2.5]);
    assert.deepEqual(v.affine.map((r) => r.map((x) => +x.toFixed(5))), [
      [0.7, 0, 0, -10],
      [0, 0.8, 0, 5],
      [0, 0, 2.5, 3],
      [0, 0, 0, 1],
    ]);
    assert.equal(v.transform, "sform");
    const raw = gzip ? null : new DataView(bytes.buffer, bytes.byteOffset);
    if (raw) {
      assert.deepEqual([raw.getInt16(252, true), raw.getInt16(254, true)], [
        1,
        1,
      ]);
    }
  }
  // The header's magic and vox_offset, as other readers check them.
  const raw = encodeNifti({
    dims: [1, 1, 1],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    data: new Float32Array(1),
  }, false);
  assert.equal(new TextDecoder().decode(raw.subarray(344, 347)), "n+1");
  assert.equal(new DataView(raw.buffer).getFloat32(108, true), 352);
});
