import assert from "node:assert/strict";
import type { ResultRow } from "../../core/results.ts";
import {
  headline,
  headlineFigure,
  headlineLines,
} from "../../reports/headline.ts";

function row(
  method: string,
  seed: number,
  knob: string,
  value: number,
  auc: number,
): ResultRow {
  return {
    method,
    seed,
    study: `sweep/${knob}`,
    sweep: { knob, value },
    metrics: { external: { n: 100, nPositive: 30, auc, brier: 0.2 } },
    extra: { steps: { pretrain: method === "jepa" ? 100 : 0, finetune: 10 } },
  } as unknown as ResultRow;
}

// jepa - imaging-only: +0.10, +0.02, -0.06, -0.10 at habit 0, 0.3, 0.6, 0.9,
// with seed noise +-0.005 so that intervals are tight.
const rows: ResultRow[] = [];
const gaps = [0.1, 0.02, -0.06, -0.1];
[0, 0.3, 0.6, 0.9].forEach((v, i) => {
  for (const [seed, e] of [[1, -0.005], [2, 0], [3, 0.005]]) {
    rows.push(row("imaging-only", seed, "codingHabit", v, 0.7));
    rows.push(row("jepa", seed, "codingHabit", v, 0.7 + gaps[i] + e));
    rows.push(row("imaging-only", seed, "acquisitionShift", v, 0.7));
    rows.push(row("jepa", seed, "acquisitionShift", v, 0.75 + e));
  }
});

Deno.test("headline: crossing point and its range from seed-paired differences", () => {
  const h = headline(rows, "imaging-only");
  // Only the pretrained method is compared, along both knobs.
  assert.deepEqual(
    h.crossovers.map((c) => `${c.method}/${c.knob}/${c.kind}`),
    ["jepa/acquisitionShift/never", "jepa/codingHabit/below-from"],
  );
  const c = h.crossovers[1];
  // Linear interpolation between 0.3 (+0.02) and 0.6 (-0.06): 0.3 + 0.3/4.
  assert.ok(Math.abs(c.at! - 0.375) < 1e-9, `at ${c.at}`);
  // Tight intervals: last clearly above is 0.3, first clearly below 0.6.
  assert.deepEqual(c.range, [0.3, 0.6]);
  const d = h.differences.find((x) =>
    x.knob === "codingHabit" && x.value === 0
  )!;
  assert.ok(Math.abs(d.mean - 0.1) < 1e-12);
  assert.equal(d.n, 3);
  const lines = headlineLines(h);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /\*\*jepa\*\* falls below imaging-only on the external cohort along codingHabit from about 0\.38 \(somewhere in 0\.30-0\.60\); never along acquisitionShift\./,
  );
});

Deno.test("headline figure: one panel per knob, legend text whole", async () => {
  const svg = await headlineFigure(headline(rows, "imaging-only"));
  assert.ok(svg.startsWith("<svg"));
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1]
  );
  assert.ok(
    texts.includes("codingHabit") && texts.includes("acquisitionShift"),
  );
  assert.ok(texts.includes("jepa"), texts.join("|"));
  assert.ok(!texts.some((t) => t.includes("…")), "truncated text");
  const sizes = [...svg.matchAll(/font-size="(\d+(?:\.\d+)?)px"/g)].map((m) =>
    Number(m[1])
  );
  assert.ok(sizes.length > 0 && sizes.every((x) => x >= 12), `${sizes}`);
});
