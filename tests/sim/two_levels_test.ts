/**
 * One patient, two levels: the `features` vector is what a detector
 * measures from the same drawn nodule that `volume` mode renders, so both
 * levels of one seed hold the same patients and share the image ceiling.
 */
import assert from "node:assert/strict";
import { generateCohorts, preset, withOverrides } from "../../sim/mod.ts";
import type { Scenario, SyntheticScan } from "../../sim/mod.ts";
import type { Nodule } from "../../sim/features.ts";
import { VOLUME_FEATURE_NAMES, volumeFeatures } from "../../core/radiomics.ts";

const sizes = (s: Scenario, extra: Record<string, unknown> = {}) =>
  withOverrides(s, {
    "internal.pretrain": 0,
    "internal.train": 0,
    "internal.val": 0,
    "internal.test": 400,
    externals: [],
    ...extra,
  });

function ranks(x: number[]): number[] {
  const order = x.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(x.length);
  order.forEach(([, i], k) => r[i] = k);
  return r;
}

function spearman(a: number[], b: number[]): number {
  const ra = ranks(a), rb = ranks(b);
  const n = a.length, m = (n - 1) / 2;
  let s = 0, sa = 0, sb = 0;
  for (let i = 0; i < n; i++) {
    s += (ra[i] - m) * (rb[i] - m);
    sa += (ra[i] - m) ** 2;
    sb += (rb[i] - m) ** 2;
  }
  return s / Math.sqrt(sa * sb);
}

const PROPS: (keyof Nodule)[] = [
  "diameterMm",
  "spiculation",
  "solidFraction",
  "marginMm",
  "lungShiftHu",
  "textureHu",
  "calcification",
  "vesselMm",
  "elongation",
  "pleuraGapMm",
];

const vol = sizes(preset("paper-volume"));
const feat = withOverrides(vol, { "imaging.level": "features" });
const V = generateCohorts(vol, 5).internal;
const F = generateCohorts(feat, 5).internal;

Deno.test("both levels of a seed hold the same patients and the same nodules", () => {
  assert.equal(V.patients.length, F.patients.length);
  V.patients.forEach((p, i) => {
    const q = F.patients[i];
    assert.equal(p.label, q.label);
    assert.deepEqual(p.truth, q.truth);
    assert.deepEqual(p.ehr, q.ehr);
    assert.deepEqual(
      (p.scans[0] as SyntheticScan).properties,
      (q.scans[0] as SyntheticScan).properties,
    );
  });
});

Deno.test("detector features measure the drawn properties", () => {
  const props = F.patients.map((p) => (p.scans[0] as SyntheticScan).properties);
  PROPS.forEach((name, k) => {
    const f = F.patients.map((p) => p.scans[0].data[k]);
    const rho = spearman(f, props.map((n) => n[name] as number));
    // Feature k is property k through a monotone map plus detector noise
    // (0.3 at 20 HU against a tanh of unit-variance scores).
    assert.ok(Math.abs(rho) > 0.8, `feature ${k} vs ${name}: ${rho}`);
  });
});

Deno.test("what a volume shows and what the detector reports agree", () => {
  const iv = VOLUME_FEATURE_NAMES.indexOf("log_volume");
  const size = vol.imaging.volumeSize;
  const measured = V.patients.map((p) =>
    volumeFeatures(p.scans[0].data, size)[iv]
  );
  const reported = F.patients.map((p) => p.scans[0].data[0]);
  const rho = spearman(measured, reported);
  // Segmentation picks up attached vessels and spicules, and the voxels
  // are 1.75 mm (0.67 on this cohort).
  assert.ok(rho > 0.6, `measured volume vs detector size feature: ${rho}`);
});

Deno.test("the image ceiling is the same at both levels but for the texture the volume does not show, lower when the detector reads fewer properties", () => {
  const cv = V.truth!.bayesAuc, cf = F.truth!.bayesAuc;
  // The volume level counts nine of the ten properties
  // (VOLUME_UNSEEN_PROPERTIES): never more than the detector's ten.
  assert.ok(cv.image <= cf.image + 1e-9, `${cv.image} vs ${cf.image}`);
  assert.equal(cv.ehr, cf.ehr);
  assert.equal(cv.full, cf.full);
  // With 16 image-side latents, nine rendered properties show nine
  // directions of them; eight detector features show only eight.
  const wide = { "latent.imageDim": 12 };
  const nine = generateCohorts(withOverrides(vol, wide), 5).internal.truth!
    .bayesAuc;
  const eight = generateCohorts(
    withOverrides(feat, { ...wide, "imaging.featureDim": 8 }),
    5,
  ).internal.truth!.bayesAuc;
  assert.ok(
    eight.image < nine.image - 0.005,
    `${eight.image} vs ${nine.image}`,
  );
});
