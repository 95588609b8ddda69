import assert from "node:assert/strict";
import { aucMannWhitney } from "../../reports/auc.ts";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";
import type { Cohort } from "../../cohort/types.ts";
import { crossModalR2 } from "./helpers.ts";

Deno.test("cross-modal R^2 of generated features rises with crossModalCorrelation", () => {
  const r2 = [0, 0.25, 0.5, 0.75, 1].map((rho) => {
    const s = withOverrides(preset("shared-cause"), {
      crossModalCorrelation: rho,
      "internal.pretrain": 2500,
      "internal.train": 0,
      "internal.val": 0,
      "internal.test": 0,
      externals: [],
    });
    return crossModalR2(generateCohorts(s, 1).internal);
  });
  for (let i = 1; i < r2.length; i++) {
    assert.ok(
      r2[i] > r2[i - 1] + 0.05,
      `R^2 by rho: ${r2.map((v) => v.toFixed(3))}`,
    );
  }
  // Independent modalities: only the fitting bias of 65 predictors on 2,500 rows.
  assert.ok(r2[0] < 0.05, `rho = 0 gives R^2 ${r2[0]}`);
});

/** What each shift should move, measured from generated data. */
function measure(c: Cohort) {
  const ps = c.patients;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const labels = ps.map((p) => p.label ?? 0);
  // Coding habit: how well the habit dimensions (the last 8) rank the label.
  const habit = mean(
    [56, 57, 58, 59, 60, 61, 62, 63].map((k) =>
      Math.abs(aucMannWhitney(labels, ps.map((p) => p.ehr[0].values[k])) - 0.5)
    ),
  );
  return {
    prevalence: mean(labels),
    latentMean: mean(
      ps.flatMap((p) => [...p.truth!.zShared, ...p.truth!.zImage]),
    ),
    featureOffset: mean(ps.map((p) => mean([...p.scans[0].data]))),
    habit,
    // Without the habit dimensions, which a concept shift rewrites.
    r2: crossModalR2(c, 56),
    imageCeiling: c.truth!.bayesAuc.image,
  };
}
type Metric = keyof ReturnType<typeof measure>;
const TOL: Record<Metric, number> = {
  prevalence: 0.03,
  latentMean: 0.05,
  featureOffset: 0.05,
  habit: 0.04,
  r2: 0.03,
  imageCeiling: 0.04,
};

Deno.test("each shift moves its target and leaves the others within noise", () => {
  const N = 3000;
  const s = withOverrides(preset("paper"), {
    crossModalCorrelation: 0.3,
    "internal.pretrain": 0,
    "internal.train": 0,
    "internal.val": 0,
    "internal.test": 100,
    externals: [
      { name: "base", size: N },
      { name: "prevalence", size: N, shift: { prevalence: 0.6 } },
      {
        name: "covariate",
        size: N,
        shift: { covariate: { mean: 0.5, scale: 1 } },
      },
      {
        name: "acquisition",
        size: N,
        shift: { acquisition: { offsetHu: 50, noiseHu: 40, blur: 1.5 } },
      },
      { name: "concept", size: N, shift: { concept: 1 } },
      { name: "correlation", size: N, shift: { crossModalCorrelation: 0.9 } },
    ],
  });
  const set = generateCohorts(s, 21);
  const m = Object.fromEntries(set.externals.map((c) => [c.name, measure(c)]));
  const base = m.base;
  const target: Record<string, [Metric, (d: number) => boolean][]> = {
    prevalence: [["prevalence", (d) => d > 0.25]],
    covariate: [["latentMean", (d) => Math.abs(d - 0.5) < 0.05]],
    acquisition: [["featureOffset", (d) => d > 0.3]],
    concept: [["habit", (d) => d < -0.04]],
    correlation: [["r2", (d) => d > 0.2]],
  };
  // Allowed side effects: a noisier, blurrier scanner lowers the measured
  // cross-modal R^2 (the latent correlation is unchanged), and shifted
  // latents shift the detector features that read them. The coding habit
  // records image findings in the EHR, so removing it (concept shift) lowers
  // the image-EHR R^2 too.
  const alsoMoves: Record<string, Metric[]> = {
    acquisition: ["r2"],
    concept: ["r2"],
    covariate: ["featureOffset"],
  };
  const report = JSON.stringify(m, null, 1);
  for (const [name, checks] of Object.entries(target)) {
    for (const [metric, ok] of checks) {
      const d = m[name][metric] - base[metric];
      assert.ok(
        ok(d),
        `${name}: ${metric} moved by ${d.toFixed(3)}\n${report}`,
      );
    }
    for (const metric of Object.keys(TOL) as Metric[]) {
      if (
        checks.some(([t]) => t === metric) || alsoMoves[name]?.includes(metric)
      ) continue;
      const d = m[name][metric] - base[metric];
      assert.ok(
        Math.abs(d) < TOL[metric],
        `${name}: ${metric} should stay, moved by ${d.toFixed(3)}\n${report}`,
      );
    }
  }
  // The concept shift lowers the EHR ceiling but not the image ceiling.
  const ceil = (n: string) =>
    set.externals.find((c) => c.name === n)!.truth!.bayesAuc;
  assert.ok(ceil("concept").ehr < ceil("base").ehr - 0.03);
});

Deno.test("Bayes AUC of a strong, noise-free scenario is near 1; ceilings order", () => {
  const s = withOverrides(preset("independent-causes"), {
    "label.strength": 30,
    "label.labelNoise": 0,
    "demographics.riskWeight": 0,
    "internal.pretrain": 0,
    "internal.train": 0,
    "internal.val": 0,
    "internal.test": 2000,
    externals: [],
  });
  const t = generateCohorts(s, 9).internal.truth!.bayesAuc;
  assert.ok(t.full > 0.98, `full ${t.full}`);
  // Each modality sees only half of the cause.
  assert.ok(t.image < 0.9 && t.ehr < 0.9, JSON.stringify(t));
  const noisy =
    generateCohorts(withOverrides(s, { "label.labelNoise": 0.2 }), 9)
      .internal.truth!.bayesAuc;
  assert.ok(noisy.full < t.full - 0.15, `with label noise ${noisy.full}`);
});

Deno.test("label mechanism: shared-cause is visible to both modalities, independent-causes to neither fully", () => {
  const common = {
    "internal.pretrain": 0,
    "internal.train": 0,
    "internal.val": 0,
    "internal.test": 2000,
    "label.strength": 4,
    externals: [],
  };
  const sh =
    generateCohorts(withOverrides(preset("shared-cause"), common), 3).internal
      .truth!.bayesAuc;
  const ind =
    generateCohorts(withOverrides(preset("independent-causes"), common), 3)
      .internal.truth!.bayesAuc;
  assert.ok(
    sh.full - sh.image < 0.03 && sh.full - sh.ehr < 0.03,
    JSON.stringify(sh),
  );
  assert.ok(
    ind.full - ind.image > 0.08 && ind.full - ind.ehr > 0.08,
    JSON.stringify(ind),
  );
});

Deno.test("paper preset: EHR beats imaging at home, not abroad", () => {
  const s = withOverrides(preset("paper"), {
    "internal.pretrain": 0,
    "internal.test": 3000,
    "externals.0.size": 3000,
  });
  const set = generateCohorts(s, 1);
  const home = set.internal.truth!.bayesAuc,
    away = set.externals[0].truth!.bayesAuc;
  assert.ok(home.image > 0.75 && home.image < 0.92, JSON.stringify(home));
  assert.ok(
    home.ehr > home.image + 0.02 && home.full > home.ehr,
    JSON.stringify(home),
  );
  // Abroad the coding habit is gone: what the EHR reveals drops below the image.
  assert.ok(
    away.ehr < home.ehr - 0.1 && away.ehr < away.image,
    `${JSON.stringify(away)} vs ${JSON.stringify(home)}`,
  );
});
