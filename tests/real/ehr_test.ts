import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildCohortSet,
  crossSection,
  eventKinds,
  featureNames,
  fitIca,
  fitPca,
  loadCohortConfig,
  parseDate,
  project,
  type Projection,
  projectionPath,
} from "../../real/mod.ts";
import { Rng } from "../../core/rng.ts";
import { exportTinyCohort } from "./fixtures.ts";

const day = 86_400_000;
const t0 = parseDate("2021-06-30")!;
const ago = (months: number) => t0 - Math.round(months * 30.4375) * day;

Deno.test("cross-section: code rate, last lab and trend, medication window, age", () => {
  const events = [
    { date: ago(1), name: "A", value: null },
    { date: ago(2), name: "A", value: null },
    { date: ago(14), name: "A", value: null },
    { date: ago(6), name: "L", value: 5 },
    { date: ago(3), name: "L", value: 8 },
    { date: ago(-2), name: "L", value: 100 }, // after the scan: ignored
    { date: ago(20), name: "M", value: null },
  ];
  const kinds = eventKinds([events], { M: "medication" });
  assert.deepEqual(kinds, [["A", "code"], ["L", "lab"], ["M", "medication"]]);
  assert.deepEqual(featureNames(kinds, true), [
    "A:rate",
    "L:last",
    "L:trend",
    "M:on",
    "age",
  ]);
  const x = crossSection(events, kinds, t0, 12, 61.5);
  assert.equal(x[0], 2 / 12);
  assert.equal(x[1], 8);
  assert.ok(Math.abs(x[2] - 1) < 0.02, `trend ${x[2]}`); // 3 units in 3 months
  assert.equal(x[3], 0);
  assert.equal(x[4], 61.5);
  assert.equal(crossSection(events, kinds, t0, 24, null)[3], 1);
});

Deno.test("PCA finds the planted directions, largest variance first", () => {
  const rng = new Rng("pca-test");
  const rows = Array.from({ length: 4000 }, () => {
    const a = 3 * rng.normal(), b = rng.normal();
    return Float64Array.from([a, a, a, b, -b, rng.normal()]);
  });
  const p = fitPca(rows, ["x1", "x2", "x3", "x4", "x5", "x6"], 2);
  assert.equal(p.components.length, 2);
  // Standardised: three copies of a (variance 3), then b and -b (2).
  assert.ok(Math.abs(p.variance[0] - 3) < 0.05, `${p.variance}`);
  assert.ok(Math.abs(p.variance[1] - 2) < 0.05, `${p.variance}`);
  const near = (x: number[], y: number[]) =>
    assert.ok(x.every((v, i) => Math.abs(v - y[i]) < 0.05), `${x} vs ${y}`);
  const s3 = 1 / Math.sqrt(3), s2 = 1 / Math.sqrt(2);
  near(p.components[0], [s3, s3, s3, 0, 0, 0]);
  near(p.components[1].map(Math.abs), [0, 0, 0, s2, s2, 0]);
  const z = project(p, rows[0]);
  assert.equal(z.length, 2);
  assert.ok(z.every(Number.isFinite));
});

// Long events from the exported wide table: the first 6 signatures as labs,
// and a code event per record when signature 0 is positive.
function longEvents(dir: string, scale: (pid: string) => number): string {
  const lines = Deno.readTextFileSync(join(dir, "ehr.csv")).trimEnd().split(
    "\n",
  );
  const head = lines[0].split(",");
  const out = ["patient_id,date,name,value"];
  for (const l of lines.slice(1)) {
    const c = l.split(",");
    const pid = c[0], date = c[head.indexOf("date")];
    for (let j = 0; j < 6; j++) {
      const v = Number(c[head.indexOf(`sig_00${j}`)]) * scale(pid);
      out.push(`${pid},${date},lab${j},${v}`);
    }
    if (Number(c[head.indexOf("sig_000")]) > 0) out.push(`${pid},${date},I10,`);
  }
  return out.join("\n") + "\n";
}

Deno.test("long EHR: one record per scan, PCA fitted on training patients only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "real_ehr_" });
  try {
    const truth = exportTinyCohort(dir);
    const test = new Set(
      truth.internal.patients.filter((p) => p.split === "test").map((p) =>
        p.id
      ),
    );
    const yaml = join(dir, "c.yaml");
    Deno.writeTextFileSync(
      yaml,
      `manifest: manifest.csv
columns: { split: split }
ehr: { format: long, path: events.csv, lookbackMonths: 12 }
demographics: { age: null, sex: null, packYears: null }
signatureDim: 4
cacheDir: cache
preprocess: { roiSize: 8 }
`,
    );
    const cfg = await loadCohortConfig(yaml);
    const runs: Projection[] = [];
    for (const factor of [1, 100]) {
      // Second run: test (and external) patients' values scaled by 100.
      Deno.writeTextFileSync(
        join(dir, "events.csv"),
        longEvents(
          dir,
          (pid) => test.has(pid) || pid.startsWith("external") ? factor : 1,
        ),
      );
      const { set } = await buildCohortSet(cfg, { skipBad: false, seed: 4 });
      assert.equal(set.internal.ehrDim, 4);
      assert.deepEqual(set.internal.ehrNames, [
        "pc_000",
        "pc_001",
        "pc_002",
        "pc_003",
      ]);
      for (const p of set.internal.patients) {
        if (p.ehr.length === 0) continue;
        assert.deepEqual(p.ehr.map((r) => r.time), p.scans.map((s) => s.time));
      }
      runs.push(JSON.parse(Deno.readTextFileSync(projectionPath(cfg, 4))));
    }
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[0].features.slice(0, 3), [
      "I10:rate",
      "lab0:last",
      "lab0:trend",
    ]);
    const training = truth.internal.patients.filter((p) =>
      (p.split === "pretrain" || p.split === "train") && p.ehr.length > 0
    ).reduce((n, p) => n + p.scans.length, 0);
    assert.equal(runs[0].fittedRows, training);
    assert.ok(runs[0].variance[0] > runs[0].variance[3]);
    // The same data through ICA.
    Deno.writeTextFileSync(
      yaml,
      Deno.readTextFileSync(yaml).replace(
        "signatureDim: 4",
        "signatureDim: 3\nprojection: ica",
      ),
    );
    const ica = await buildCohortSet(await loadCohortConfig(yaml), {
      skipBad: false,
      seed: 4,
    });
    assert.deepEqual(ica.set.internal.ehrNames, ["ic_000", "ic_001", "ic_002"]);
    const saved: Projection = JSON.parse(
      Deno.readTextFileSync(projectionPath(cfg, 4)),
    );
    assert.equal(saved.kind, "ica");
    assert.equal(saved.components.length, 3);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("ICA unmixes two independent non-Gaussian sources", () => {
  const rng = new Rng("ica-test");
  const src: [number, number][] = [];
  const rows = Array.from({ length: 3000 }, () => {
    // Two unit-variance sources: uniform and Laplace.
    const a = Math.sqrt(3) * (rng.uniform() * 2 - 1);
    const u = rng.uniform() - 0.5;
    const b = -Math.sign(u) * Math.log(1 - 2 * Math.abs(u)) / Math.SQRT2;
    src.push([a, b]);
    return Float64Array.from([a + b, a + 0.5 * b, a - 0.2 * b, b]);
  });
  const p = fitIca(rows, ["x1", "x2", "x3", "x4"], 2);
  assert.equal(p.kind, "ica");
  const out = rows.map((r) => project(p, r));
  const corr = (u: number[], v: number[]) => {
    const mu = u.reduce((a, b) => a + b, 0) / u.length;
    const mv = v.reduce((a, b) => a + b, 0) / v.length;
    let c = 0, su = 0, sv = 0;
    for (let i = 0; i < u.length; i++) {
      c += (u[i] - mu) * (v[i] - mv);
      su += (u[i] - mu) ** 2;
      sv += (v[i] - mv) ** 2;
    }
    return Math.abs(c / Math.sqrt(su * sv));
  };
  // Each source is matched by one output; PCA alone would mix them.
  for (const s of [0, 1]) {
    const best = Math.max(
      ...[0, 1].map((o) => corr(out.map((x) => x[o]), src.map((x) => x[s]))),
    );
    assert.ok(best > 0.98, `source ${s}: best |r| ${best}`);
  }
  const pca = fitPca(rows, ["x1", "x2", "x3", "x4"], 2);
  const pcaOut = rows.map((r) => project(pca, r));
  const pcaBest = [0, 1].map((s) =>
    Math.max(
      ...[0, 1].map((o) => corr(pcaOut.map((x) => x[o]), src.map((x) => x[s]))),
    )
  );
  assert.ok(Math.min(...pcaBest) < 0.95, `PCA already separates: ${pcaBest}`);
});
