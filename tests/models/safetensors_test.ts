import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import { loadCheckpoint, saveCheckpoint } from "../../models/checkpoint.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
} from "../../models/safetensors.ts";

Deno.test("files parse by the published layout", () => {
  const a = { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) };
  const s = { shape: [], data: new Float32Array([Math.PI]) };
  const bytes = encodeSafetensors({ a, s }, { step: "7" });
  const view = new DataView(bytes.buffer);
  const len = Number(view.getBigUint64(0, true));
  assert.equal((8 + len) % 8, 0);
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + len)),
  );
  assert.deepEqual(header.__metadata__, { step: "7" });
  assert.deepEqual(header.a, {
    dtype: "F32",
    shape: [2, 3],
    data_offsets: [0, 24],
  });
  assert.deepEqual(header.s, {
    dtype: "F32",
    shape: [],
    data_offsets: [24, 28],
  });
  assert.equal(bytes.length, 8 + len + 28);
  for (let i = 0; i < 6; i++) {
    assert.equal(view.getFloat32(8 + len + 4 * i, true), a.data[i]);
  }
  assert.equal(view.getFloat32(8 + len + 24, true), Math.fround(Math.PI));
  const back = decodeSafetensors(bytes);
  assert.deepEqual(Array.from(back.tensors.a.data), Array.from(a.data));
  assert.deepEqual(back.tensors.s.shape, []);
});

Deno.test("broken files are rejected with a UserError", () => {
  const bytes = encodeSafetensors({
    a: { shape: [2], data: new Float32Array([1, 2]) },
  });
  assert.throws(
    () => decodeSafetensors(bytes.subarray(0, bytes.length - 4)),
    UserError,
  );
  assert.throws(() => decodeSafetensors(new Uint8Array(4)), UserError);
});

Deno.test("checkpoint sidecar and weights must agree", () => {
  const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
  const base = join(dir, "run");
  assert.equal(loadCheckpoint(base), null);
  saveCheckpoint(base, {
    tensors: { w: { shape: [1], data: new Float32Array([2]) } },
    meta: { step: 3, note: "x" },
  });
  const ck = loadCheckpoint<{ note: string }>(base)!;
  assert.equal(ck.meta.note, "x");
  assert.equal(ck.tensors.w.data[0], 2);
  const meta = JSON.parse(readFileSync(`${base}.json`, "utf8"));
  writeFileSync(`${base}.json`, JSON.stringify({ ...meta, step: 4 }));
  assert.throws(() => loadCheckpoint(base), /step 3 but the sidecar says 4/);
  Deno.removeSync(dir, { recursive: true });
});
