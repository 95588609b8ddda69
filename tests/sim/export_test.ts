import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { decodeNiftiFile } from "../../real/nifti.ts";
import {
  exportCohorts,
  generateCohorts,
  isoDate,
  preset,
  withOverrides,
} from "../../sim/mod.ts";
import type { SyntheticScan } from "../../sim/mod.ts";

Deno.test("exportCohorts writes NIfTI volumes, manifest, EHR and scenario", () => {
  const s = withOverrides(preset("missing-ehr"), {
    "imaging.level": "volume",
    "imaging.volumeSize": 12,
    "imaging.scansPerPatient": 2,
    "internal.pretrain": 4,
    "internal.train": 3,
    "internal.val": 0,
    "internal.test": 2,
    "internal.acquisition.spacingMm": 0.8,
    "externals.0.size": 2,
    "missingness.labeled": { noEhr: 0, noScan: 0.3 },
  });
  const set = generateCohorts(s, 4);
  const dir = Deno.makeTempDirSync();
  try {
    const out = exportCohorts(set, dir, { scenario: s, seed: 4 });
    const all = [set.internal, ...set.externals].flatMap((c) => c.patients);
    const nScans = all.reduce((t, p) => t + p.scans.length, 0);
    assert.equal(out.scans, nScans);
    const manifest = parse(readFileSync(join(dir, "manifest.csv")), {
      columns: true,
    }) as Record<string, string>[];
    assert.equal(
      manifest.length,
      nScans + all.filter((p) => p.scans.length === 0).length,
    );
    assert.deepEqual(Object.keys(manifest[0]), [
      "patient_id",
      "scan_id",
      "scan_date",
      "path",
      "label",
      "cohort",
      "split",
      "nodule_x_mm",
      "nodule_y_mm",
      "nodule_z_mm",
      "diameter_mm",
    ]);
    const p = all.find((q) => q.scans.length === 2 && q.label !== null)!;
    const scan = p.scans[1] as SyntheticScan;
    const row = manifest.find((r) => r.scan_id === scan.id)!;
    assert.equal(row.label, String(p.label));
    assert.equal(row.scan_date, isoDate(scan.time));
    assert.equal(+row.diameter_mm, +scan.nodule.diameterMm.toPrecision(7));
    assert.ok(
      manifest.filter((r) => r.split === "pretrain").every((r) =>
        r.label === ""
      ),
    );
    const v = decodeNiftiFile(readFileSync(join(dir, row.path)), row.path);
    assert.deepEqual(Array.from(v.data), Array.from(scan.data));
    assert.ok(Math.abs(v.spacing[0] - 0.8) < 1e-6);
    // The recorded nodule centre maps back through the affine to a voxel inside.
    const vox = scan.nodule.centerMm.map((mm, k) =>
      (mm - v.affine[k][3]) / v.affine[k][k]
    );
    assert.ok(vox.every((x) => x >= 0 && x <= 11), `voxel ${vox}`);
    const ehr = parse(readFileSync(join(dir, "ehr.csv")), {
      columns: true,
    }) as Record<string, string>[];
    assert.equal(ehr.length, all.reduce((t, q) => t + q.ehr.length, 0));
    assert.equal(Object.keys(ehr[0]).length, 6 + 64);
    const e0 = all.find((q) => q.ehr.length > 0)!;
    const erow = ehr.find((r) => r.patient_id === e0.id)!;
    assert.ok(
      Math.abs(+erow.sig_005 - e0.ehr[0].values[5]) <
        1e-5 * Math.max(1, Math.abs(e0.ehr[0].values[5])),
    );
    const meta = JSON.parse(readFileSync(join(dir, "scenario.json"), "utf8"));
    assert.equal(meta.seed, 4);
    assert.equal(meta.scenario.imaging.volumeSize, 12);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("features mode exports features.csv and empty image paths", () => {
  const s = withOverrides(preset("shared-cause"), {
    "internal.pretrain": 3,
    "internal.train": 2,
    "internal.val": 0,
    "internal.test": 2,
    "externals.0.size": 2,
  });
  const set = generateCohorts(s, 1);
  const dir = Deno.makeTempDirSync();
  try {
    exportCohorts(set, dir);
    const f = parse(readFileSync(join(dir, "features.csv")), {
      columns: true,
    }) as Record<string, string>[];
    assert.equal(f.length, 9);
    const scan = set.internal.patients[0].scans[0];
    assert.ok(Math.abs(+f[0].f_031 - scan.data[31]) < 1e-5);
    const m = parse(readFileSync(join(dir, "manifest.csv")), {
      columns: true,
    }) as Record<string, string>[];
    assert.ok(m.every((r) => r.path === ""));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
