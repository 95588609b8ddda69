import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { appendResults, type ResultRow } from "../../core/results.ts";
import { Rng } from "../../core/rng.ts";
import { meanSd, tHalfWidth } from "../../reports/aggregate.ts";
import { aucMannWhitney, delong, delongPaired } from "../../reports/auc.ts";
import {
  brier,
  operatingPointFromValidation,
} from "../../reports/calibration.ts";
import { reportCommand, writeReport } from "../../reports/markdown.ts";

const METHODS: Record<string, number> = {
  "imaging-only": 0.6,
  "jepa": 1.4,
  "ehr-only": 0.8,
};

/** One synthetic run: scores = sigmoid(strength * label + noise). */
function makeRow(
  method: string,
  seed: number,
  study: string,
  sweepValue?: number,
): ResultRow {
  // In the sweep jepa's signal grows with the knob and overtakes the
  // reference's fixed one, so the summary must report a sign change.
  const strength = sweepValue === undefined
    ? METHODS[method]
    : method === "jepa"
    ? 3 * sweepValue
    : 1;
  const predictions: ResultRow["predictions"] = {};
  const metrics: ResultRow["metrics"] = {};
  const cohorts: [string, number, number][] = [["internal", 120, 0.3], [
    "external-A",
    80,
    0.5,
  ]];
  if (sweepValue === undefined) cohorts.push(["validation", 60, 0.3]);
  for (const [cohort, n, shift] of cohorts) {
    // Patients (ids, labels, shared latent) depend on seed and cohort only,
    // so all methods of a seed score the same patients.
    const pat = new Rng(`pat/${study}/${seed}/${cohort}/${sweepValue}`);
    const noise = new Rng(
      `noise/${study}/${seed}/${cohort}/${method}/${sweepValue}`,
    );
    const ids = Array.from({ length: n }, (_, i) => `${cohort}-${i}`);
    const labels = ids.map(() => (pat.bernoulli(0.35) ? 1 : 0));
    const latent = labels.map((y) => y + pat.normal());
    const scores = latent.map((z, i) =>
      1 /
      (1 +
        Math.exp(
          -(strength * (labels[i] - shift) + 0.7 * z * 0.3 + noise.normal()),
        ))
    );
    // Round to create ties, as real thresholds do.
    const rounded = scores.map((s) => Math.round(s * 50) / 50);
    predictions[cohort] = { ids, labels, scores: rounded };
    metrics[cohort] = {
      n,
      nPositive: labels.filter((y) => y === 1).length,
      auc: aucMannWhitney(labels, rounded),
      brier: brier(labels, rounded),
      bayesAuc: { full: 0.95, image: 0.85, ehr: 0.8 },
    };
  }
  const extra: Record<string, unknown> = {};
  if (sweepValue === undefined) {
    extra.curves = {
      pretrain: [1, 0.8, 0.6, 0.55],
      finetune: [0.7, 0.6, 0.58],
    };
    if (method === "jepa") {
      extra.latentR2 = { shared: 0.61, image: 0.3, ehr: 0.25 };
      extra.embeddingStd = 0.9;
      extra.representation = {
        "random-init": {
          probeAuc: 0.7,
          embeddingStd: 0.8,
          latentR2: { shared: 0.4, image: 0.3, ehr: 0.2 },
        },
        pretrained: {
          probeAuc: 0.75,
          embeddingStd: 0.9,
          latentR2: { shared: 0.61, image: 0.3, ehr: 0.25 },
        },
      };
    }
  }
  return {
    schema: 1,
    runId: `${study}-${method}-${seed}-${sweepValue ?? "x"}`,
    study,
    scenario: "baseline",
    sweep: sweepValue === undefined
      ? undefined
      : { knob: "crossModalCorrelation", value: sweepValue },
    method,
    seed,
    backend: { name: "cpu", detail: "test" },
    versions: { mmjepa: "0.1.0", deno: Deno.version.deno },
    gitCommit: "abc123",
    startedAt: "2026-01-01T00:00:00Z",
    wallSeconds: 2.5,
    config: { method, strength },
    metrics,
    predictions,
    extra,
  };
}

/** Parses the markdown table following a heading line. */
function tableAfter(md: string, heading: string): string[][] {
  const lines = md.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `heading ${heading} not found`);
  const rows: string[][] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith("#")) break;
    // Captions may stand between a heading and its table.
    if (!l.startsWith("|") && rows.length === 0) continue;
    if (!l.startsWith("|")) break;
    rows.push(l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows.filter((r) => !/^[-: ]+$/.test(r.join("")));
}

function assertSvg(path: string): void {
  const svg = readFileSync(path, "utf8");
  assert.ok(svg.startsWith("<svg"), `${path} starts with <svg`);
  assert.ok(svg.trimEnd().endsWith("</svg>"), `${path} ends with </svg>`);
  assert.match(svg, /<svg[^>]* width="\d+(\.\d+)?"/);
  assert.match(svg, /<svg[^>]* height="\d+(\.\d+)?"/);
  assert.ok(!svg.includes("NaN"), `${path} has no NaN`);
  // XML-ish: every opened element is closed in order.
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (m[1] === "/") assert.equal(stack.pop(), m[2], `${path}: </${m[2]}>`);
    else if (m[3] !== "/") stack.push(m[2]);
  }
  assert.deepEqual(stack, [], `${path}: unclosed elements`);
}

Deno.test("report: numbers equal the results rows, SVGs valid, bad lines listed", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "mmjepa-report-" });
  const rows: ResultRow[] = [];
  for (const seed of [1, 2]) {
    for (const method of Object.keys(METHODS)) {
      rows.push(makeRow(method, seed, "paper"));
    }
  }
  for (const value of [0, 0.5, 1]) {
    for (const seed of [1, 2, 3]) {
      for (const method of ["imaging-only", "jepa"]) {
        rows.push(makeRow(method, seed, "sweep/crossModalCorrelation", value));
      }
    }
  }
  // A cohort with one class only: every statistic must say why it is n/a.
  const oneClass = rows[0].predictions.internal;
  rows[0].predictions["external-B"] = {
    ids: oneClass.ids.slice(0, 20),
    labels: new Array(20).fill(0),
    scores: oneClass.scores.slice(0, 20),
  };
  rows[0].metrics["external-B"] = { n: 20, nPositive: 0, auc: NaN, brier: 0.1 };
  // A sweep run whose predictions lack scores: listed, its metrics still count.
  const broken = rows.find((r) => r.sweep && r.method === "jepa")!;
  broken.predictions.internal = {
    ids: ["x"],
    labels: [1],
  } as unknown as ResultRow["predictions"][string];
  const fileA = join(dir, "a.jsonl");
  const fileB = join(dir, "b.jsonl");
  appendResults(fileA, rows.slice(0, 10));
  appendResults(fileB, rows.slice(10));
  // Malformed lines appended to b: bad JSON, missing field, schema 2.
  const { runId: _drop, ...noRunId } = rows[12];
  Deno.writeTextFileSync(
    fileB,
    "{not json\n" + JSON.stringify(noRunId) + "\n" +
      JSON.stringify({ ...rows[13], schema: 2 }) + "\n",
    { append: true },
  );
  const goodLinesInB = rows.length - 10;

  const errors: string[] = [];
  const origError = console.error;
  const origLog = console.log;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  console.log = () => {};
  let code: number;
  try {
    code = await reportCommand([fileA, fileB], join(dir, "out"), {
      bootstrapResamples: 200,
      seed: 5,
    });
  } finally {
    console.error = origError;
    console.log = origLog;
  }
  assert.equal(code, 0);
  assert.deepEqual(errors.map((e) => e.replace(/ \(.*$/, "")), [
    `${fileB}:${goodLinesInB + 1}: not valid JSON`,
    `${fileB}:${goodLinesInB + 2}: missing field(s): runId`,
    `${fileB}:${goodLinesInB + 3}: schema version 2 is not supported`,
  ]);

  const md = readFileSync(join(dir, "out", "report.md"), "utf8");
  assert.ok(!md.includes("NaN"), "no NaN in the report");
  assert.match(md, /## Skipped input/);
  assert.ok(
    md.includes(
      `- run ${broken.runId} (jepa, seed ${broken.seed}), cohort internal: predictions need ids, labels and scores arrays of equal length; ignored`,
    ),
  );
  assert.ok(md.includes(`\`${fileB}:${goodLinesInB + 1}\`: not valid JSON`));

  // Seed-level tables: mean AUC with its t interval over the seeds.
  for (const cohort of ["internal", "external-A"]) {
    const t = tableAfter(md, `### paper: ${cohort}`);
    assert.equal(t[0][1], "AUC mean [95% t CI over seeds]");
    for (const line of t.slice(1)) {
      const xs = rows.filter((r) => r.study === "paper" && r.method === line[0])
        .map((r) => r.metrics[cohort].auc!);
      const { mean, sd } = meanSd(xs);
      const h = tHalfWidth(sd, xs.length);
      assert.equal(
        line[1],
        `${mean.toFixed(3)} [${(mean - h).toFixed(3)}, ${
          (mean + h).toFixed(3)
        }]`,
      );
    }
  }
  // Per-seed tables (appendix.md) use seed 1; AUC and CI equal the rows'.
  const appendix = readFileSync(join(dir, "out", "appendix.md"), "utf8");
  for (const cohort of ["internal", "external-A"]) {
    const t = tableAfter(appendix, `### paper: ${cohort}, seed 1`);
    assert.equal(t[0][0], "method");
    assert.deepEqual(t.slice(1).map((r) => r[0]), [
      "imaging-only",
      "ehr-only",
      "jepa",
    ]);
    const refRow = rows.find((r) =>
      r.method === "imaging-only" && r.seed === 1
    )!;
    for (const line of t.slice(1)) {
      const row = rows.find((r) =>
        r.method === line[0] && r.seed === 1 && r.study === "paper"
      )!;
      const p = row.predictions[cohort];
      const d = delong(p.labels, p.scores);
      assert.equal(
        line[1],
        `${row.metrics[cohort].auc!.toFixed(3)} [${d.ci[0].toFixed(3)}, ${
          d.ci[1].toFixed(3)
        }]`,
      );
      assert.equal(line[4], row.metrics[cohort].brier!.toFixed(4));
      assert.equal(
        line[6],
        `${row.metrics[cohort].n} (${row.metrics[cohort].nPositive})`,
      );
      const val = row.predictions.validation;
      const op = operatingPointFromValidation(
        val.labels,
        val.scores,
        p.labels,
        p.scores,
      );
      assert.equal(
        line[7],
        `${op.sensitivity.toFixed(3)} / ${op.specificity.toFixed(3)} (t = ${
          op.threshold.toFixed(3)
        })`,
      );
      assert.equal(line[8], "0.950 / 0.850 / 0.800");
      if (line[0] === "imaging-only") {
        assert.equal(line[3], "(reference)");
      } else {
        const r = refRow.predictions[cohort];
        const pp = delongPaired(p.labels, p.scores, r.scores).p;
        assert.equal(
          line[3],
          pp < 0.001 ? "p < 0.001" : `p = ${pp.toFixed(3)}`,
        );
      }
      const [lo, hi] = line[2].slice(1, -1).split(", ").map(Number);
      assert.ok(
        lo <= row.metrics[cohort].auc! + 1e-3 &&
          row.metrics[cohort].auc! <= hi + 1e-3,
      );
    }
  }
  const b = tableAfter(md, "### paper: external-B");
  assert.match(
    b[1][1],
    /^n\/a \(DeLong CI undefined: all 20 labels are 0 \(need both classes\)\)$/,
  );

  // Sweep table: mean +- sd over seeds equals the rows.
  const s = tableAfter(
    md,
    "### sweep/crossModalCorrelation: crossModalCorrelation, internal",
  );
  assert.equal(s.length, 4);
  assert.ok(
    md.includes(
      "### sweep/crossModalCorrelation: crossModalCorrelation, internal\n\nMean AUC (sd) over 3 seeds.",
    ),
  );
  for (const line of s.slice(1)) {
    const v = Number(line[0]);
    const aucs = rows.filter((r) => r.sweep?.value === v && r.method === "jepa")
      .map((r) => r.metrics.internal.auc!);
    const mean = aucs.reduce((a, x) => a + x, 0) / aucs.length;
    assert.ok(
      line[2].startsWith(`${mean.toFixed(3)} (`),
      `${line[2]} vs ${mean}`,
    );
    // Full seed count: stated once in the caption, not per cell.
    assert.ok(!line[2].includes("seeds"), line[2]);
  }

  // Summary claims: the seed-paired mean difference, as the rows give it,
  // with a t interval and a Holm-adjusted p.
  const paired = [1, 2].map((seed) => {
    const at = (m: string) =>
      rows.find((r) =>
        r.study === "paper" && r.method === m && r.seed === seed
      )!
        .metrics.internal.auc!;
    return at("jepa") - at("imaging-only");
  });
  const meanDiff = paired.reduce((a, b) => a + b, 0) / 2;
  assert.match(
    md,
    new RegExp(
      `- paper: jepa (exceeded|fell below|did not differ significantly from) imaging-only on internal: \\${
        meanDiff >= 0 ? "+" : "-"
      }${
        Math.abs(meanDiff).toFixed(3)
      } AUC \\[-?\\d\\.\\d{3}, -?\\d\\.\\d{3}\\] over 2 seeds, Holm-adjusted p`,
    ),
  );
  assert.match(md, /p-values are Holm-adjusted over the \d+ comparisons/);
  // Paired differences per value, from the rows, starred where clear.
  const diffs = tableAfter(
    md.slice(
      md.indexOf("AUC minus imaging-only's on internal, paired by seed"),
    ),
    "AUC minus imaging-only's on internal, paired by seed (mean; * where the 95% t interval over seeds excludes 0):",
  );
  assert.deepEqual(diffs[0], ["crossModalCorrelation", "jepa"]);
  for (const line of diffs.slice(1)) {
    const v = Number(line[0]);
    const d = [1, 2, 3].map((seed) => {
      const at = (m: string) =>
        rows.find((r) =>
          r.sweep?.value === v && r.method === m && r.seed === seed
        )!.metrics.internal.auc!;
      return at("jepa") - at("imaging-only");
    });
    const { mean, sd } = meanSd(d);
    const h = tHalfWidth(sd, 3);
    assert.equal(
      line[1],
      `${mean >= 0 ? "+" : ""}${mean.toFixed(3)}${
        mean - h > 0 || mean + h < 0 ? "*" : ""
      }`,
    );
  }
  assert.ok(
    !md.includes("### paper: validation"),
    "validation is not tabulated",
  );
  // Resolved configs beside the report, a hyperparameter table inside.
  assert.match(
    md,
    /Every run's resolved config \(\d+ distinct\) is in \[configs\.yaml\]/,
  );
  const configs = readFileSync(join(dir, "out", "configs.yaml"), "utf8");
  assert.match(configs, /runs:/);
  // Representation table: every stage of the encoder on equal footing.
  assert.match(md, /\| jepa +\| random-init +\| 0\.400 /);
  assert.match(md, /\| jepa +\| pretrained +\| 0\.610 /);

  const figs = [...Deno.readDirSync(join(dir, "out", "figures"))].map((e) =>
    e.name
  ).sort();
  assert.deepEqual(figs, [
    "curves_paper.svg",
    "internal_vs_external_paper.svg",
    "reliability_paper_external-A.svg",
    "reliability_paper_internal.svg",
    "roc_paper_external-A.svg",
    "roc_paper_internal.svg",
    "sweep_crossModalCorrelation_external-A.svg",
    "sweep_crossModalCorrelation_internal.svg",
  ]);
  const svgOf = (f: string) =>
    readFileSync(join(dir, "out", "figures", f), "utf8");
  assert.match(
    svgOf("sweep_crossModalCorrelation_internal.svg"),
    /stroke-dasharray="6,4"/,
  );
  for (const m of ["imaging-only", "jepa", "ehr-only"]) {
    assert.ok(
      svgOf("internal_vs_external_paper.svg").includes(`>${m}</text>`),
      m,
    );
  }
  for (const f of figs) {
    assertSvg(join(dir, "out", "figures", f));
    assert.ok(
      md.includes(`](figures/${f})`) || appendix.includes(`](figures/${f})`),
      `report links ${f}`,
    );
  }
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("reportCommand returns 1 when no line is usable", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "mmjepa-report-" });
  const f = join(dir, "bad.jsonl");
  Deno.writeTextFileSync(f, "{oops\n");
  const errors: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assert.equal(await reportCommand([f], join(dir, "out")), 1);
  } finally {
    console.error = orig;
  }
  assert.match(errors[0], /bad\.jsonl:1: not valid JSON/);
  assert.match(errors[1], /no usable results lines/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("report is deterministic and says when the reference is missing", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "mmjepa-report-" });
  const rows = ["jepa", "ehr-only"].map((m) => makeRow(m, 7, "paper"));
  const opts = {
    bootstrapResamples: 100,
    seed: 2,
    referenceMethod: "imaging-only",
  };
  const a = await writeReport(rows, join(dir, "a"), opts);
  const b = await writeReport(rows, join(dir, "b"), opts);
  const mdA = readFileSync(a.reportPath, "utf8");
  assert.equal(mdA, readFileSync(b.reportPath, "utf8"));
  assert.deepEqual(
    a.figures.map((f) => readFileSync(f, "utf8")),
    b.figures.map((f) => readFileSync(f, "utf8")),
  );
  assert.match(
    mdA,
    /- paper: no run of the reference method imaging-only, so no comparisons \(methods: ehr-only, jepa;/,
  );
  assert.ok(!mdA.includes("NaN"));
  // With a present reference the p column is filled.
  const c = await writeReport(rows, join(dir, "c"), {
    ...opts,
    referenceMethod: "jepa",
  });
  const t = tableAfter(
    readFileSync(c.reportPath, "utf8"),
    "### paper: internal",
  );
  assert.equal(t[1][0], "jepa");
  assert.match(t[2][3], /^p (=|<) 0\.\d{3}$/);
  Deno.removeSync(dir, { recursive: true });
});
