import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  buildCohortSet,
  loadCohortConfig,
  skippedCsv,
  type SkippedRecord,
} from "../../real/mod.ts";
import { encodeNifti } from "../../sim/nifti.ts";
import { exportTinyCohort } from "./fixtures.ts";

const dir = await Deno.makeTempDir({ prefix: "real_bad_" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);
exportTinyCohort(dir);
const manifest = Deno.readTextFileSync(join(dir, "manifest.csv")).trimEnd()
  .split("\n");
const ehr = Deno.readTextFileSync(join(dir, "ehr.csv")).trimEnd().split("\n");
const header = manifest[0].split(",");
const col = (name: string) => header.indexOf(name);

// Line 2 (row 2) and line 3 are two scans of the first patient.
function edit(line: number, column: string, value: string): string[] {
  const out = [...manifest];
  const cells = out[line - 1].split(",");
  cells[col(column)] = value;
  out[line - 1] = cells.join(",");
  return out;
}

const n = 16;
const nanData = new Float32Array(n * n * n).fill(-800);
nanData[5 + n * 6 + n * n * 7] = NaN;
const img = (name: string, bytes: Uint8Array) => {
  Deno.writeFileSync(join(dir, "images", name), bytes);
  return `images/${name}`;
};
const vol = (dims: [number, number, number], data: Float32Array) =>
  encodeNifti({ dims, spacing: [1, 1, 1], origin: [-7.5, -7.5, -7.5], data });
const nanPath = img("nan.nii.gz", vol([n, n, n], nanData));
const flatPath = img("flat.nii.gz", vol([n, n, 1], new Float32Array(n * n)));
// Incompressible voxels, so that cutting the gzip stream loses data.
const noise = Float32Array.from(
  { length: n ** 3 },
  (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1000,
);
const whole = encodeNifti({
  dims: [n, n, n],
  spacing: [1, 1, 1],
  origin: [-7.5, -7.5, -7.5],
  data: noise,
}, false);
const cutPath = img("cut.nii", whole.slice(0, 2000));
const zipped = gzipSync(whole);
const cutGz = img("cut.nii.gz", zipped.slice(0, zipped.length >> 1));

async function build(
  lines: string[],
  skipBad: boolean,
  ehrLines: string[] = ehr,
): Promise<{ skipped: SkippedRecord[]; scans: number }> {
  const tag = crypto.randomUUID().slice(0, 8);
  Deno.writeTextFileSync(join(dir, `m-${tag}.csv`), lines.join("\n") + "\n");
  Deno.writeTextFileSync(join(dir, `e-${tag}.csv`), ehrLines.join("\n") + "\n");
  const yaml = join(dir, `c-${tag}.yaml`);
  Deno.writeTextFileSync(
    yaml,
    `manifest: m-${tag}.csv
ehr: { format: wide, path: e-${tag}.csv }
cacheDir: cache
preprocess: { roiSize: 8 }
`,
  );
  const { set, skipped } = await buildCohortSet(await loadCohortConfig(yaml), {
    skipBad,
    seed: 1,
  });
  const scans = [set.internal, ...set.externals]
    .flatMap((c) => c.patients).reduce((a, p) => a + p.scans.length, 0);
  return { skipped, scans };
}

const cases: [string, string[], string[], RegExp][] = [
  [
    "missing file",
    edit(2, "path", "images/nope.nii.gz"),
    ehr,
    /row 2, field "path".*missing file/,
  ],
  [
    "label not 0/1",
    edit(3, "label", "2"),
    ehr,
    /row 3, field "label".*not 0, 1/,
  ],
  [
    "duplicate scan id",
    [...manifest, manifest[1]],
    ehr,
    new RegExp(
      `row ${manifest.length + 1}, field "scan_id".*duplicate scan id`,
    ),
  ],
  [
    "unparseable date",
    edit(2, "scan_date", "2020-13-45"),
    ehr,
    /row 2, field "scan_date".*unparseable date/,
  ],
  [
    "nodule outside",
    edit(2, "nodule_x_mm", "500"),
    ehr,
    /row 2, field "path".*outside the scan/,
  ],
  [
    "NaN voxels",
    edit(2, "path", nanPath),
    ehr,
    /row 2, field "path".*nan\.nii\.gz: voxel \(5, 6, 7\) is NaN/,
  ],
  ["2D image", edit(2, "path", flatPath), ehr, /row 2.*flat\.nii\.gz.*3D/],
  [
    "truncated NIfTI",
    edit(2, "path", cutPath),
    ehr,
    /row 2.*cut\.nii: truncated/,
  ],
  [
    "truncated gzip",
    edit(2, "path", cutGz),
    ehr,
    /row 2.*cut\.nii\.gz: unreadable gzip/,
  ],
  [
    "EHR unknown patient",
    manifest,
    [...ehr, ehr[1].replace(/^[^,]+/, "ghost")],
    new RegExp(
      `e-.*\\.csv row ${
        ehr.length + 1
      }, field "patient_id".*unknown patient id "ghost"`,
    ),
  ],
  [
    "EHR bad date",
    manifest,
    [...ehr, ehr[1].replace(/,\d{4}-\d\d-\d\d,/, ",yesterday,")],
    new RegExp(
      `row ${ehr.length + 1}, field "date".*unparseable date "yesterday"`,
    ),
  ],
];

for (const [name, lines, ehrLines, pattern] of cases) {
  Deno.test(`bad input is named, never silent: ${name}`, async () => {
    await assert.rejects(
      () => build(lines, false, ehrLines),
      (e: Error) => {
        assert.ok(e instanceof UserError, e.message);
        assert.match(e.message, pattern);
        return true;
      },
    );
  });
}

Deno.test("--skip-bad drops exactly the bad records and lists them", async () => {
  const clean = await build(manifest, true);
  assert.equal(clean.skipped.length, 0);
  // Rows 2-3 and 4-5 are two patients' two scans each: each keeps one.
  let lines = edit(2, "path", "images/nope.nii.gz");
  const cells = lines[3].split(",");
  cells[col("label")] = "x";
  lines[3] = cells.join(",");
  lines = [...lines, lines[5]];
  const badEhr = [...ehr, ehr[1].replace(/^[^,]+/, "ghost")];
  const r = await build(lines, true, badEhr);
  assert.deepEqual(
    r.skipped.map((s) => [s.row, s.field]),
    [[2, "path"], [4, "label"], [lines.length, "scan_id"], [
      ehr.length + 1,
      "patient_id",
    ]],
  );
  // The duplicate was a copy of a kept scan.
  assert.equal(r.scans, clean.scans - 2);
  // A patient whose rows are all bad: its EHR rows say so.
  const gone = edit(3, "path", "images/nope.nii.gz");
  const g = await build(
    edit(2, "path", "images/nope.nii.gz").map((l, i) => i === 2 ? gone[2] : l),
    true,
  );
  const ehrSkips = g.skipped.filter((s) => s.field === "patient_id");
  assert.ok(ehrSkips.length > 0);
  assert.ok(
    ehrSkips.every((s) => s.reason.includes("all were skipped")),
    ehrSkips[0].reason,
  );
  const csv = skippedCsv(r.skipped).split("\n");
  assert.equal(csv[0], "file,row,id,field,reason");
  assert.equal(csv.filter((l) => l.trim()).length, 5);
});
