import assert from "node:assert/strict";
import { Rng } from "../../core/rng.ts";
import { aucMannWhitney, StatsError } from "../../reports/auc.ts";
import {
  curvesFigure,
  reliabilityFigure,
  rocCurve,
  rocFigure,
  sweepFigure,
} from "../../reports/figures.ts";

Deno.test("rocCurve by hand, ties move diagonally", () => {
  // scores desc: 0.9 (+), 0.5 (+, -, -) tied, 0.1 (-)
  assert.deepEqual(rocCurve([0, 0, 0, 1, 1], [0.1, 0.5, 0.5, 0.5, 0.9]), [
    { fpr: 0, tpr: 0 },
    { fpr: 0, tpr: 0.5 },
    { fpr: 2 / 3, tpr: 1 },
    { fpr: 1, tpr: 1 },
  ]);
  assert.throws(() => rocCurve([1, 1], [0.1, 0.2]), StatsError);
  assert.throws(() => rocCurve([0, 1], [0.1, NaN]), /score 1 is NaN/);
});

Deno.test("trapezoid area under rocCurve equals the Mann-Whitney AUC", () => {
  const rng = new Rng("roc-area");
  const labels = Array.from({ length: 150 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const scores = labels.map((y) => Math.round((y + rng.normal()) * 5) / 5);
  const pts = rocCurve(labels, scores);
  let area = 0;
  for (let i = 1; i < pts.length; i++) {
    area += (pts[i].fpr - pts[i - 1].fpr) * (pts[i].tpr + pts[i - 1].tpr) / 2;
  }
  assert.ok(Math.abs(area - aucMannWhitney(labels, scores)) < 1e-12);
});

Deno.test("figures render to SVG with size and content", async () => {
  const roc = await rocFigure(
    [{
      method: "jepa",
      auc: 0.75,
      points: rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
    }],
    "internal",
  );
  assert.match(roc, /^<svg[^>]* width="\d+" height="\d+"/);
  assert.ok(roc.includes("jepa (AUC 0.750)"));
  const sweep = await sweepFigure(
    [
      { method: "a", value: 0, mean: 0.6, lo: 0.55, hi: 0.65 },
      { method: "a", value: 1, mean: 0.7, lo: 0.65, hi: 0.75 },
    ],
    [{ value: 0, auc: 0.9 }, { value: 1, auc: 0.95 }],
    "knob",
    "internal",
  );
  assert.match(sweep, /stroke-dasharray="6,4"/);
  const curves = await curvesFigure(
    [{ method: "jepa", seed: 1, phase: "pretrain", losses: [1, 0.5, 0.25] }],
    "paper",
  );
  assert.ok(curves.startsWith("<svg") && curves.includes("pretrain"));
});

Deno.test("reliability diagram: one line per method, diagonal, whole legend", async () => {
  const svg = await reliabilityFigure([
    {
      method: "jepa+contrastive (a long name)",
      bins: [
        { meanScore: 0.1, fracPositive: 0.15, n: 50 },
        { meanScore: 0.7, fracPositive: 0.6, n: 30 },
      ],
    },
  ], "external");
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes(">jepa+contrastive (a long name)</text>"));
  assert.ok(svg.includes("observed fraction malignant"));
});
