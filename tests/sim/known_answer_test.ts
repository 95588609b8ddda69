import assert from "node:assert/strict";
import { propertyCohorts } from "../../sim/known_answer.ts";
import type { SyntheticScan } from "../../sim/mod.ts";
import { VOLUME_FEATURE_NAMES, volumeFeatures } from "../../core/radiomics.ts";
import { aucMannWhitney } from "../../reports/auc.ts";

Deno.test("property cohorts: independent properties, fixed ones held, labels from the rule", () => {
  const set = propertyCohorts({
    seed: 3,
    sizes: { pretrain: 10, train: 300, test: 100 },
    external: 20,
    fixed: { diameterMm: 16, elongation: 1, vesselMm: 0 },
    label: (n) => (n.spiculation > 0.5 ? 1 : 0),
  });
  const ps = set.internal.patients;
  assert.equal(ps.length, 410);
  assert.equal(set.externals[0].patients.length, 20);
  assert.ok(
    ps.filter((p) => p.split === "pretrain").every((p) => p.label === null),
  );
  const props = ps.map((p) => (p.scans[0] as SyntheticScan).properties);
  assert.ok(props.every((n) => n.diameterMm === 16 && n.vesselMm === 0));
  const labeled = ps.filter((p) => p.label !== null);
  for (const p of labeled) {
    const n = (p.scans[0] as SyntheticScan).properties;
    assert.equal(p.label, n.spiculation > 0.5 ? 1 : 0);
  }
  // Independent draws: solidity says nothing about the spiculation label.
  const y = labeled.map((p) => p.label ?? 0);
  const solid = labeled.map((p) =>
    (p.scans[0] as SyntheticScan).properties.solidFraction
  );
  assert.ok(Math.abs(aucMannWhitney(y, solid) - 0.5) < 0.1);
  // ... while the rendered shape of a 16 mm round nodule without a vessel
  // does (vessels and elongation would dominate these two measurements).
  const f = labeled.map((p) => volumeFeatures(p.scans[0].data, 32));
  for (const [name, sign] of [["surface_roughness", 1], ["sphericity", -1]]) {
    const j = VOLUME_FEATURE_NAMES.indexOf(name as string);
    const a = aucMannWhitney(y, f.map((x) => (sign as number) * x[j]));
    assert.ok(a > 0.65, `${name}: AUC ${a}`);
  }
});
