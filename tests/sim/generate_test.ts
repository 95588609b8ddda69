import assert from "node:assert/strict";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";
import type { Scenario, SyntheticScan } from "../../sim/mod.ts";
import { hashCohorts } from "./helpers.ts";

const small = (s: Scenario, extra: Record<string, unknown> = {}) =>
  withOverrides(s, {
    "internal.pretrain": 60,
    "internal.train": 30,
    "internal.val": 10,
    "internal.test": 40,
    "externals.0.size": 30,
    ...extra,
  });

Deno.test("same seed gives byte-identical cohorts; other seeds differ", () => {
  for (
    const s of [
      small(preset("paper")),
      small(preset("paper"), {
        "imaging.level": "volume",
        "imaging.volumeSize": 16,
        "imaging.scansPerPatient": 2,
      }),
    ]
  ) {
    const a = hashCohorts(generateCohorts(s, 7));
    const b = hashCohorts(generateCohorts(s, 7));
    const c = hashCohorts(generateCohorts(s, 8));
    assert.equal(a, b, `${s.imaging.level}: same seed`);
    assert.notEqual(a, c, `${s.imaging.level}: different seed`);
  }
});

Deno.test("adding an external site leaves the internal cohort unchanged", () => {
  const s = small(preset("shared-cause"));
  const one = generateCohorts(s, 3);
  const two = generateCohorts(
    withOverrides(s, {
      externals: [...s.externals, {
        name: "B",
        size: 20,
        shift: { concept: 1 },
      }],
    }),
    3,
  );
  assert.equal(
    hashCohorts({ internal: one.internal, externals: [] }),
    hashCohorts({ internal: two.internal, externals: [] }),
  );
  assert.equal(two.externals[1].name, "B");
});

Deno.test("cohort structure: splits, labels, shapes, truth", () => {
  const set = generateCohorts(
    small(preset("paper"), {
      "imaging.scansPerPatient": 3,
      "ehr.crossSections": 2,
    }),
    1,
  );
  const c = set.internal;
  const count = (split: string) =>
    c.patients.filter((p) => p.split === split).length;
  assert.deepEqual([
    count("pretrain"),
    count("train"),
    count("val"),
    count("test"),
  ], [60, 30, 10, 40]);
  assert.ok(
    c.patients.every((p) => (p.split === "pretrain") === (p.label === null)),
  );
  assert.deepEqual(c.imaging, { mode: "features", shape: [32] });
  assert.equal(c.ehrNames?.[63], "sig_063");
  for (const p of c.patients) {
    assert.equal(p.scans.length, 3);
    assert.ok(
      p.scans[0].time === 0 && p.scans[1].time >= 0 &&
        p.scans[2].time >= p.scans[1].time,
    );
    assert.equal(p.ehr.length, 2);
    assert.equal(p.ehr[0].values.length, 64);
    assert.equal(p.truth?.zShared.length, 4);
    assert.ok(p.truth!.pMalignant > 0 && p.truth!.pMalignant < 1);
  }
  const ext = set.externals[0];
  assert.equal(ext.kind, "external");
  assert.ok(ext.patients.every((p) => p.split === "test" && p.label !== null));
  for (const k of ["full", "image", "ehr"] as const) {
    const v = c.truth!.bayesAuc[k];
    assert.ok(v > 0.5 && v <= 1, `${k} = ${v}`);
  }
});

Deno.test("prevalence matches the knob, internally and abroad", () => {
  for (const prev of [0.1, 0.3, 0.6]) {
    const s = withOverrides(preset("independent-causes"), {
      "internal.pretrain": 0,
      "internal.train": 4000,
      "internal.val": 0,
      "internal.test": 0,
      "label.prevalence": prev,
      "externals.0.size": 4000,
      "externals.0.shift.prevalence": prev / 2,
    });
    const set = generateCohorts(s, 11);
    const rate = (ps: { label: 0 | 1 | null }[]) =>
      ps.reduce((t, p) => t + (p.label ?? 0), 0) / ps.length;
    const tol = (p: number) => 3.5 * Math.sqrt(p * (1 - p) / 4000) + 0.005;
    assert.ok(
      Math.abs(rate(set.internal.patients) - prev) < tol(prev),
      `internal ${rate(set.internal.patients)} vs ${prev}`,
    );
    assert.ok(
      Math.abs(rate(set.externals[0].patients) - prev / 2) < tol(prev / 2),
      `external ${rate(set.externals[0].patients)} vs ${prev / 2}`,
    );
  }
});

Deno.test("label noise flips labels at the configured rate", () => {
  const s = withOverrides(preset("shared-cause"), {
    "internal.pretrain": 0,
    "internal.train": 6000,
    "internal.val": 0,
    "internal.test": 0,
    "label.strength": 40,
    "demographics.riskWeight": 0,
    "label.labelNoise": 0.2,
    externals: [],
  });
  const ps = generateCohorts(s, 5).internal.patients;
  // With a near-deterministic risk, a label disagrees with p > 0.5 mostly by noise.
  const flipped =
    ps.filter((p) => (p.truth!.pMalignant > 0.5 ? 1 : 0) !== p.label).length /
    ps.length;
  assert.ok(Math.abs(flipped - 0.2) < 0.025, `flip rate ${flipped}`);
});

Deno.test("missingness: rates per part, never both modalities missing", () => {
  const s = withOverrides(preset("missing-ehr"), {
    "internal.pretrain": 5000,
    "internal.train": 5000,
    "internal.val": 0,
    "internal.test": 0,
    "missingness.pretrain": { noEhr: 0.5, noScan: 0.2 },
    "missingness.labeled": { noEhr: 0.1, noScan: 0.3 },
    externals: [],
  });
  const ps = generateCohorts(s, 2).internal.patients;
  for (
    const [split, noEhr, noScan] of [["pretrain", 0.5, 0.2], [
      "train",
      0.1,
      0.3,
    ]] as const
  ) {
    const part = ps.filter((p) => p.split === split);
    const e = part.filter((p) => p.ehr.length === 0).length / part.length;
    const sc = part.filter((p) => p.scans.length === 0).length / part.length;
    assert.ok(Math.abs(e - noEhr) < 0.03, `${split} noEhr ${e}`);
    assert.ok(Math.abs(sc - noScan) < 0.03, `${split} noScan ${sc}`);
    assert.ok(part.every((p) => p.ehr.length + p.scans.length > 0));
    assert.ok(
      part.filter((p) => p.ehr.length === 0).every((p) =>
        p.demographics.age === null
      ),
    );
  }
});

Deno.test("nodule growth follows the risk, not the realised label", () => {
  const s = withOverrides(preset("shared-cause"), {
    "internal.pretrain": 0,
    "internal.train": 4000,
    "internal.val": 0,
    "internal.test": 0,
    "imaging.scansPerPatient": 2,
    "imaging.meanIntervalMonths": 12,
    "label.labelNoise": 0,
    externals: [],
  });
  const rows: { p: number; label: number; rate: number }[] = [];
  for (const p of generateCohorts(s, 4).internal.patients) {
    const [a, b] = p.scans as SyntheticScan[];
    if (b.time < 1 || a.nodule.diameterMm > 15) continue;
    // Volume doublings per year from the diameter ratio.
    const rate = 3 * Math.log2(b.nodule.diameterMm / a.nodule.diameterMm) /
      (b.time / 12);
    rows.push({ p: p.truth!.pMalignant, label: p.label!, rate });
  }
  const median = (x: number[]) =>
    [...x].sort((u, v) => u - v)[Math.floor(x.length / 2)];
  // Median doubling time 40 months at risk 0, 5 at risk 1 (geometric).
  const low = rows.filter((r) => r.p < 0.1).map((r) => r.rate);
  const high = rows.filter((r) => r.p > 0.9).map((r) => r.rate);
  assert.ok(median(low) > 0.2 && median(low) < 0.5, `low risk ${median(low)}`);
  assert.ok(
    median(high) > 1.6 && median(high) < 2.6,
    `high risk ${median(high)}`,
  );
  // At the same risk the label adds nothing: within a middle risk band,
  // malignant and benign nodules grow alike.
  const mid = rows.filter((r) => r.p > 0.4 && r.p < 0.6);
  const m1 = median(mid.filter((r) => r.label === 1).map((r) => r.rate));
  const m0 = median(mid.filter((r) => r.label === 0).map((r) => r.rate));
  assert.ok(Math.abs(m1 - m0) < 0.25, `same risk: ${m1} vs ${m0}`);
});
