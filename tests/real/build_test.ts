import assert from "node:assert/strict";
import { join } from "node:path";
import type { CohortSet, Patient } from "../../cohort/types.ts";
import { buildCohortSet, loadCohortConfig } from "../../real/mod.ts";
import { exportTinyCohort, writeConfig } from "./fixtures.ts";

// ROI = the whole 16^3 scan on its own grid: the round trip must give the
// in-memory voxels back.
const ROUND_TRIP =
  `preprocess: { roiSize: 16, spacingMm: 1, huWindow: null, centre: scan }
columns: { split: split }`;

const dir = await Deno.makeTempDir({ prefix: "real_build_" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);
const truth = exportTinyCohort(dir);
const cfgPath = writeConfig(dir, ROUND_TRIP);

function byId(set: CohortSet): Map<string, Patient> {
  return new Map(
    [set.internal, ...set.externals].flatMap((c) =>
      c.patients.map((p) => [p.id, p] as const)
    ),
  );
}

Deno.test("a sim/ export round-trips: volumes, EHR, labels, splits, times", async () => {
  const cfg = await loadCohortConfig(cfgPath);
  const seen: string[] = [];
  const { set, skipped } = await buildCohortSet(cfg, {
    skipBad: false,
    seed: 1,
    onProgress: (_d, _t, what) => seen.push(what),
  });
  assert.equal(skipped.length, 0);
  assert.equal(set.internal.source, "real");
  assert.deepEqual(set.internal.imaging, {
    mode: "volume",
    shape: [16, 16, 16],
  });
  assert.deepEqual(set.externals.map((c) => c.name), ["external"]);
  assert.equal(set.internal.ehrDim, truth.internal.ehrDim);
  const got = byId(set);
  let voxels = 0, maxVoxelErr = 0, maxEhrErr = 0, maxTimeErr = 0;
  for (const c of [truth.internal, ...truth.externals]) {
    for (const p of c.patients) {
      const q = got.get(p.id);
      assert.ok(q, `patient ${p.id} missing`);
      assert.equal(q.label, p.label);
      assert.equal(q.split, p.split);
      assert.equal(q.scans.length, p.scans.length);
      for (const [k, s] of p.scans.entries()) {
        assert.equal(q.scans[k].id, s.id);
        maxTimeErr = Math.max(maxTimeErr, Math.abs(q.scans[k].time - s.time));
        for (let i = 0; i < s.data.length; i++) {
          maxVoxelErr = Math.max(
            maxVoxelErr,
            Math.abs(q.scans[k].data[i] - s.data[i]),
          );
        }
        voxels += s.data.length;
      }
      assert.equal(q.ehr.length, p.ehr.length);
      for (const [k, r] of p.ehr.entries()) {
        maxTimeErr = Math.max(maxTimeErr, Math.abs(q.ehr[k].time - r.time));
        for (let i = 0; i < r.values.length; i++) {
          maxEhrErr = Math.max(
            maxEhrErr,
            Math.abs(q.ehr[k].values[i] - r.values[i]) /
              Math.max(1, Math.abs(r.values[i])),
          );
        }
      }
      const d = p.demographics, e = q.demographics;
      assert.equal(e.sex, d.sex);
      assert.equal(e.packYears === null, d.packYears === null);
      if (d.age !== null) {
        assert.ok(
          Math.abs(e.age! - d.age) < 0.06,
          `${p.id} age ${e.age} vs ${d.age}`,
        );
      }
    }
  }
  assert.ok(voxels > 50 * 4096, `only ${voxels} voxels compared`);
  assert.ok(maxVoxelErr < 1e-3, `voxel error ${maxVoxelErr} HU`);
  assert.ok(maxEhrErr < 1e-5, `EHR relative error ${maxEhrErr}`);
  // Dates are whole days: half a day is 0.0164 months.
  assert.ok(maxTimeErr < 0.017, `time error ${maxTimeErr} months`);
  assert.ok(
    seen.every((w) => w.startsWith("decoded") || w.startsWith("cached")),
  );
});

Deno.test("second build reads every ROI from the cache and is identical", async () => {
  const cfg = await loadCohortConfig(cfgPath);
  const first = await buildCohortSet(cfg, { skipBad: false, seed: 1 });
  const seen: string[] = [];
  const second = await buildCohortSet(cfg, {
    skipBad: false,
    seed: 1,
    onProgress: (_d, _t, what) => seen.push(what),
  });
  assert.ok(seen.length > 50);
  assert.deepEqual(seen.filter((w) => !w.startsWith("cached")), []);
  assert.deepEqual(second.set, first.set);
  // A setting change misses the cache.
  const other = writeConfig(
    dir,
    `preprocess: { roiSize: 8, spacingMm: 1.5, huWindow: [-1000, 400], normalize: true }`,
    "other.yaml",
  );
  const miss: string[] = [];
  const third = await buildCohortSet(await loadCohortConfig(other), {
    skipBad: false,
    seed: 1,
    onProgress: (_d, _t, what) => miss.push(what),
  });
  assert.ok(miss.every((w) => w.startsWith("decoded")));
  const roi =
    third.set.internal.patients.find((p) => p.scans.length)!.scans[0].data;
  assert.equal(roi.length, 512);
  assert.ok(roi.every((v) => v >= 0 && v <= 1));
});

Deno.test("seeded patient-level splits: unlabeled -> pretrain, no patient twice, k-fold", async () => {
  const cfg = await loadCohortConfig(writeConfig(
    dir,
    `preprocess: { roiSize: 16, huWindow: null }\nsplits: { train: 0.5, val: 0.25, test: 0.25 }`,
    "split.yaml",
  ));
  const a = await buildCohortSet(cfg, { skipBad: false, seed: 5 });
  const b = await buildCohortSet(cfg, { skipBad: false, seed: 5 });
  const c = await buildCohortSet(cfg, { skipBad: false, seed: 6 });
  const splits = (s: CohortSet) =>
    s.internal.patients.map((p) => `${p.id}:${p.split}`);
  assert.deepEqual(splits(a.set), splits(b.set));
  assert.notDeepEqual(splits(a.set), splits(c.set));
  for (const p of a.set.internal.patients) {
    assert.equal(p.split === "pretrain", p.label === null, p.id);
  }
  const labeled =
    a.set.internal.patients.filter((p) => p.label !== null).length;
  const test = a.set.internal.patients.filter((p) => p.split === "test").length;
  assert.ok(Math.abs(test - labeled / 4) <= 2, `${test} of ${labeled} in test`);
  assert.ok(a.set.externals[0].patients.every((p) => p.split === "test"));

  const k = await loadCohortConfig(writeConfig(
    dir,
    `preprocess: { roiSize: 16, huWindow: null }\nsplits: { kfold: 4 }`,
    "kfold.yaml",
  ));
  const tested = new Map<string, number>();
  for (let fold = 0; fold < 4; fold++) {
    const f = await buildCohortSet(k, { skipBad: false, seed: 5, fold });
    for (const p of f.set.internal.patients) {
      if (p.split === "test") tested.set(p.id, (tested.get(p.id) ?? 0) + 1);
    }
  }
  assert.equal(tested.size, labeled);
  assert.ok([...tested.values()].every((n) => n === 1));
});

Deno.test("wide EHR columns and dates come from the config", async () => {
  const csv = Deno.readTextFileSync(join(dir, "ehr.csv"))
    .replace(/^patient_id,cohort,date/, "pid,cohort,when");
  Deno.writeTextFileSync(join(dir, "ehr_renamed.csv"), csv);
  const cfg = await loadCohortConfig(writeConfig(
    dir,
    `preprocess: { roiSize: 16, huWindow: null, centre: scan }
columns: { split: split }`,
    "renamed.yaml",
  ));
  cfg.ehr = {
    format: "wide",
    path: join(dir, "ehr_renamed.csv"),
    columns: { patientId: "pid", date: "when" },
    signatureColumns: null,
  };
  const { set } = await buildCohortSet(cfg, { skipBad: false, seed: 1 });
  const p = set.internal.patients.find((p) => p.ehr.length > 0)!;
  const t = truth.internal.patients.find((q) => q.id === p.id)!;
  assert.ok(Math.abs(p.ehr[0].values[3] - t.ehr[0].values[3]) < 1e-5);
});

Deno.test("a cohort YAML with an unknown method is refused with the valid names", async () => {
  const bad = writeConfig(dir, "methods: [jepa, jepaa]", "bad_methods.yaml");
  await assert.rejects(
    () => loadCohortConfig(bad),
    /bad_methods\.yaml: methods\[1\]: expected one of imaging-only, .*, got "jepaa"; did you mean "jepa"\?/,
  );
});
