import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import {
  cohortMontage,
  encodePng,
  generateCohorts,
  montagePng,
  preset,
  withOverrides,
} from "../../sim/mod.ts";

function pngChunks(png: Uint8Array) {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let o = 8; o < png.length;) {
    const len = v.getUint32(o);
    chunks.push({
      type: new TextDecoder().decode(png.subarray(o + 4, o + 8)),
      data: png.subarray(o + 8, o + 8 + len),
    });
    o += 12 + len;
  }
  return chunks;
}

Deno.test("PNG encoder: signature, IHDR, CRC and pixels survive decoding", () => {
  const px = Uint8Array.from({ length: 5 * 3 }, (_, i) => i * 17);
  const png = encodePng(5, 3, px);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
  ]);
  const c = pngChunks(png);
  assert.deepEqual(c.map((x) => x.type), ["IHDR", "IDAT", "IEND"]);
  const ihdr = new DataView(c[0].data.buffer, c[0].data.byteOffset);
  assert.deepEqual([
    ihdr.getUint32(0),
    ihdr.getUint32(4),
    c[0].data[8],
    c[0].data[9],
  ], [5, 3, 8, 0]);
  // CRC-32 of "IEND" is the well-known AE 42 60 82.
  assert.deepEqual(Array.from(png.subarray(png.length - 4)), [
    0xae,
    0x42,
    0x60,
    0x82,
  ]);
  const raw = new Uint8Array(inflateSync(c[1].data));
  const rows = [0, 1, 2].map((y) =>
    Array.from(raw.subarray(y * 6 + 1, y * 6 + 6))
  );
  assert.deepEqual(rows.flat(), Array.from(px));
});

Deno.test("montages: PNG grid and captioned SVG of a volume cohort", () => {
  const s = withOverrides(preset("paper"), {
    "imaging.level": "volume",
    "imaging.volumeSize": 16,
    "imaging.scansPerPatient": 3,
    "internal.pretrain": 0,
    "internal.train": 30,
    "internal.val": 0,
    "internal.test": 0,
    "externals.0.size": 4,
  });
  const set = generateCohorts(s, 2);
  const tiles = set.internal.patients.slice(0, 6).map((p) => ({
    data: p.scans[0].data,
    size: 16,
  }));
  const png = montagePng(tiles, 3, { scale: 2 });
  const ihdr = pngChunks(png)[0].data;
  const dv = new DataView(ihdr.buffer, ihdr.byteOffset);
  assert.deepEqual([dv.getUint32(0), dv.getUint32(4)], [
    3 * 32 + 2 * 2,
    2 * 32 + 2,
  ]);
  const svg = cohortMontage(set);
  assert.match(svg, /^<svg /);
  for (
    const t of [
      "internal: benign",
      "internal: malignant",
      "external: scanner",
      "growth over time",
    ]
  ) {
    assert.ok(svg.includes(t), t);
  }
  assert.ok((svg.match(/<image /g) ?? []).length >= 10);
});
