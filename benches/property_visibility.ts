/**
 * How visible is each nodule property in the rendered volume? For each of
 * the ten properties, an independent-property cohort (sim/known_answer.ts,
 * seed 11, 400 train / 400 test, 32^3 at 1.75 mm) is labeled "property
 * above its median" and the logreg-volume baseline (16 hand-crafted
 * measurements, core/radiomics.ts) is fit on train and scored on test.
 * Run: `npx -y deno@2.9.6 run -A benches/property_visibility.ts [seed]`.
 *
 * @module
 */
import { propertyCohorts } from "../sim/known_answer.ts";
import { type Nodule, noduleFromSource } from "../sim/features.ts";
import { volumeFeatureMatrix } from "../core/radiomics.ts";
import { fitLogistic, predictLogistic } from "../models/probe.ts";
import { aucMannWhitney } from "../reports/auc.ts";

const seed = Number(Deno.args[0] ?? 11);
const median = noduleFromSource(new Float64Array(10), 1);
const props: [keyof Nodule, Partial<Nodule>][] = [
  ["diameterMm", {}],
  ["solidFraction", {}],
  ["spiculation", {}],
  ["spiculation", { diameterMm: 14 }],
  ["marginMm", {}],
  ["textureHu", {}],
  ["textureHu", { diameterMm: 14 }],
  ["elongation", {}],
  ["elongation", { diameterMm: 14 }],
  ["calcification", {}],
  ["vesselMm", {}],
  ["pleuraGapMm", {}],
  ["lungShiftHu", {}],
];
for (const [p, fixed] of props) {
  const t0 = performance.now();
  const set = propertyCohorts({
    seed,
    sizes: { train: 400, test: 400 },
    fixed,
    label: (n) => ((n[p] as number) > (median[p] as number) ? 1 : 0),
  });
  const ps = set.internal.patients;
  const tr = ps.filter((q) => q.split === "train");
  const te = ps.filter((q) => q.split === "test");
  const shape = set.internal.imaging.shape;
  const a = volumeFeatureMatrix(tr, shape), b = volumeFeatureMatrix(te, shape);
  const m = fitLogistic(a.x, tr.map((q) => q.label ?? 0), a.dim);
  const auc = aucMannWhitney(
    te.map((q) => q.label ?? 0),
    predictLogistic(m, b.x, b.dim),
  );
  console.log(
    `${p}${Object.keys(fixed).length ? " " + JSON.stringify(fixed) : ""}\t${
      auc.toFixed(3)
    }\t(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}
