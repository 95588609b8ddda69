import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  applyAffine,
  buildCohortSet,
  loadCohortConfig,
  readDicomSeries,
  readScan,
} from "../../real/mod.ts";
import { dicomSamples } from "./fixtures.ts";

const data = await dicomSamples();
const series = join(data, "volume");
const tmp = await Deno.makeTempDir({ prefix: "real_dicom_" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(tmp, { recursive: true }),
);

// A 2-slice series from one compressed CT slice: the slice and a copy with
// one ImagePositionPatient value replaced (same length, patched in place).
function patch(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf(from);
  assert.ok(at > 0, `"${from}" not found`);
  assert.equal(from.length, to.length);
  const out = bytes.slice();
  out.set(new TextEncoder().encode(to), at);
  return out;
}

function twoSlices(
  name: string,
  from: string,
  to: string,
  both: [string, string][] = [],
): string {
  let bytes: Uint8Array = Deno.readFileSync(join(data, name));
  for (const [a, b] of both) bytes = patch(bytes, a, b);
  const moved = patch(bytes, from, to);
  const dir = join(tmp, name);
  mkdirSync(dir);
  Deno.writeFileSync(join(dir, "a.dcm"), bytes);
  Deno.writeFileSync(join(dir, "b.dcm"), moved);
  return dir;
}

function stats(x: Float32Array): { min: number; max: number; mean: number } {
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  return { min, max, mean: sum / x.length };
}

Deno.test("RLE and (lossy) JPEG 2000 CT slices decode to the same HU image", async () => {
  const rle = await readDicomSeries(
    twoSlices("rle.dcm", "-75.699997", "-73.199997"),
  );
  const j2k = await readDicomSeries(
    twoSlices("jpeg_2000.dcm", "-75.699997", "-73.199997"),
  );
  assert.deepEqual(rle.dims, [512, 512, 2]);
  assert.equal(rle.modality, "CT");
  assert.ok(Math.abs(rle.spacing[2] - 2.5) < 1e-4, `${rle.spacing}`);
  const s = stats(rle.data);
  // RescaleIntercept -1024 applied: air is about -1000 HU, bone > 500.
  assert.ok(s.min < -1000 && s.max > 500, JSON.stringify(s));
  // This JPEG 2000 file is lossy (mean |difference| about 26 HU), so ask
  // for the same image: correlation, and agreement on the mean.
  const a = stats(rle.data), b = stats(j2k.data);
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < rle.data.length; i++) {
    const x = rle.data[i] - a.mean, y = j2k.data[i] - b.mean;
    cov += x * y;
    va += x * x;
    vb += y * y;
  }
  const r = cov / Math.sqrt(va * vb);
  assert.ok(r > 0.99, `correlation ${r}`);
  assert.ok(Math.abs(a.mean - b.mean) < 10, `means ${a.mean} vs ${b.mean}`);
  assert.deepEqual(
    applyAffine(rle.affine, [0, 0, 0]).map((v) => Math.round(v * 1e4) / 1e4),
    [158.1358, 179.0358, -75.7],
  );
});

Deno.test("JPEG lossless coronal CT: slices stack along the normal (y)", async () => {
  // The sample is a coronal localizer, refused as such; relabelled AXIAL
  // it stands in for a coronal series.
  await assert.rejects(
    () =>
      readDicomSeries(
        twoSlices("jpeg_lossless_sel1.dcm", "\\0.0000000\\", "\\3.0000000\\"),
      ),
    (e: Error) =>
      e instanceof UserError &&
      /a\.dcm: a localizer\/scout image \(ImageType ORIGINAL\\PRIMARY\\LOCALIZER\)/
        .test(e.message),
  );
  Deno.removeSync(join(tmp, "jpeg_lossless_sel1.dcm"), { recursive: true });
  const v = await readDicomSeries(
    twoSlices("jpeg_lossless_sel1.dcm", "\\0.0000000\\", "\\3.0000000\\", [[
      "PRIMARY\\LOCALIZER",
      "PRIMARY\\AXIAL    ",
    ]]),
  );
  assert.deepEqual(v.dims, [512, 400, 2]);
  assert.deepEqual(v.spacing, [1, 1, 3]);
  const s = stats(v.data);
  assert.ok(s.max > s.min + 500, JSON.stringify(s));
  // LPS (-256, 0, 50) -> RAS (256, 0, 50); rows run towards -z; slices +y
  // in LPS, i.e. -y in RAS.
  const at = (p: number[]) =>
    applyAffine(v.affine, p).map((x) => Math.round(x * 1e4) / 1e4 + 0);
  assert.deepEqual(at([0, 0, 0]), [256, 0, 50]);
  assert.deepEqual(at([1, 0, 0]), [255, 0, 50]);
  assert.deepEqual(at([0, 1, 0]), [256, 0, 49]);
  assert.deepEqual(at([0, 0, 1]), [256, -3, 50]);
});

Deno.test("20-slice series: sorted by position, not file name; spacing from positions", async () => {
  const v = await readDicomSeries(series);
  assert.deepEqual(v.dims, [256, 256, 20]);
  assert.ok(Math.abs(v.spacing[0] - 0.859375) < 1e-6);
  // Positions along the normal (0, -0.134158, 0.99096) run from -61.594 to
  // 71.416 mm in 19 steps.
  assert.ok(Math.abs(v.spacing[2] - 133.01 / 19) < 1e-3, `${v.spacing}`);
  const first = applyAffine(v.affine, [0, 0, 0]);
  assert.deepEqual(first.map((x) => Math.round(x * 1e4) / 1e4), [
    110.5,
    78.3063,
    -72.7575,
  ]);
  const second = applyAffine(v.affine, [0, 0, 1]);
  // brain_002 is at LPS (-110.5, -79.3063, -65.7575), 0.1 mm off the mean step.
  assert.ok(Math.abs(second[2] - -65.7575) < 0.1, `${second}`);
  assert.ok(Math.abs(second[1] - 79.3063) < 0.1, `${second}`);
  // Same slices under names in reverse order: same volume.
  const files = readdirSync(series).sort();
  const dir = join(tmp, "renamed");
  mkdirSync(dir);
  files.forEach((f, i) =>
    copyFileSync(
      join(series, f),
      join(dir, `s${String(99 - i).padStart(3, "0")}.dcm`),
    )
  );
  const w = await readDicomSeries(dir);
  assert.deepEqual(w.affine, v.affine);
  assert.ok(w.data.every((x, i) => x === v.data[i]));
  assert.ok(w.files[0].endsWith("s099.dcm"));
});

Deno.test("missing slice, single slice and non-DICOM file are refused by name", async () => {
  const files = readdirSync(series).sort();
  const gap = join(tmp, "gap");
  mkdirSync(gap);
  files.filter((_, i) => i !== 10).forEach((f) =>
    copyFileSync(join(series, f), join(gap, f))
  );
  await assert.rejects(
    () => readDicomSeries(gap),
    (e: Error) =>
      e instanceof UserError &&
      /brain_012\.dcm: slice spacing 13\.9\d\d mm/.test(e.message),
  );
  await assert.rejects(
    () => readScan(join(data, "rle.dcm")),
    (e: Error) =>
      e instanceof UserError && /rle\.dcm: a single 2D slice/.test(e.message),
  );
  const junk = join(tmp, "junk");
  mkdirSync(junk);
  Deno.writeTextFileSync(join(junk, "x.dcm"), "hello, not a DICOM file");
  await assert.rejects(
    () => readDicomSeries(junk),
    (e: Error) => e instanceof UserError && e.message.includes("x.dcm"),
  );
});

Deno.test("a DICOM series folder in the manifest becomes a cached ROI", async () => {
  const dir = join(tmp, "cohort");
  mkdirSync(dir);
  Deno.writeTextFileSync(
    join(dir, "manifest.csv"),
    `patient_id,scan_id,scan_date,path,label,cohort
p1,p1-s0,2021-03-04,${series},1,internal
`,
  );
  Deno.writeTextFileSync(
    join(dir, "c.yaml"),
    `manifest: manifest.csv
cacheDir: cache
preprocess: { roiSize: 16, spacingMm: 4, huWindow: null }
`,
  );
  const cfg = await loadCohortConfig(join(dir, "c.yaml"));
  const seen: string[] = [];
  for (let run = 0; run < 2; run++) {
    const { set } = await buildCohortSet(cfg, {
      skipBad: false,
      seed: 1,
      onProgress: (_d, _t, w) => seen.push(w),
    });
    const roi = set.internal.patients[0].scans[0].data;
    assert.equal(roi.length, 16 ** 3);
    // Centre crop of a head MR: mostly tissue, no padding value inside.
    const s = stats(roi);
    assert.ok(s.max > 100 && s.min >= 0, JSON.stringify(s));
    assert.equal(set.internal.ehrDim, 0);
  }
  assert.deepEqual(seen, ["decoded p1-s0", "cached p1-s0"]);
});
