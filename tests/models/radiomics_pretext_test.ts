/**
 * The radiomics pretext (models/radiomics_pretext.ts): its targets, and a
 * known answer. Pretrained to regress the 16 nodule measurements on
 * unlabeled volumes whose ten properties are drawn independently
 * (sim/known_answer.ts), the frozen encoder must read a noise-free size
 * label (diameter > 7 mm) clearly better than the random-init encoder it
 * started from, through the same converged logistic probe on 200 labels,
 * and the held-out pretext loss must fall well below its start. Nodule
 * volume is one of the measurements, so a pretext that is wired to the
 * wrong patients, or not trained, fails here.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../kernels/backend.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { pretrain, randomInitEncoder } from "../../models/experiment.ts";
import { radiomicsTargets } from "../../models/radiomics_pretext.ts";
import { propertyCohorts } from "../../sim/known_answer.ts";
import { sizeProbe } from "./size_probe.ts";
import { UserError } from "../../core/errors.ts";

await initBackend("wasm");

Deno.test("radiomicsTargets standardizes over patients with a scan and zeroes the rest", () => {
  const set = propertyCohorts({
    seed: 2,
    sizes: { pretrain: 40, train: 2, test: 2 },
    label: () => 0,
  });
  const ps = set.internal.patients.slice(0, 30);
  const noScan = { ...ps[3], scans: [] };
  const pool = [...ps.slice(0, 3), noScan, ...ps.slice(4)];
  const t = radiomicsTargets(pool, set.internal.imaging.shape);
  assert.equal(t.dim, 16);
  assert.equal(t.has[3], 0);
  assert.deepEqual([...t.values.subarray(3 * 16, 4 * 16)], Array(16).fill(0));
  let varying = 0;
  for (let j = 0; j < t.dim; j++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < pool.length; i++) {
      if (!t.has[i]) continue;
      s += t.values[i * t.dim + j];
      s2 += t.values[i * t.dim + j] ** 2;
    }
    const n = pool.length - 1;
    assert.ok(Math.abs(s / n) < 1e-4, `feature ${j}: mean ${s / n}`);
    // A measurement that is constant over the pool has target 0.
    if (s2 > 0) {
      varying++;
      assert.ok(Math.abs(s2 / n - 1) < 1e-3, `feature ${j}: var ${s2 / n}`);
    }
  }
  assert.ok(varying >= 12, `${varying} measurements vary`);
  assert.throws(
    () => radiomicsTargets(pool, [16, 16, 8]),
    (e) => e instanceof UserError && /expected a cube/.test(e.message),
  );
});

Deno.test("radiomics pretext known answer: pretrained frozen features read nodule size better than random init", async () => {
  const set = propertyCohorts({
    seed: 1,
    sizes: { pretrain: 600, train: 200, test: 300 },
    label: () => 0,
  });
  const cfg = resolveExperimentConfig({
    pretrain: { steps: 150, patience: 1000 },
  });
  const train = set.internal.patients.filter((p) => p.split === "train");
  const test = set.internal.patients.filter((p) => p.split === "test");
  const pre = await pretrain(set, "radiomics-image", cfg, 1);
  const random = await randomInitEncoder(set, "radiomics-image", cfg, 1);
  try {
    const a = await sizeProbe(random, train, test);
    const b = await sizeProbe(pre!, train, test);
    const held = pre!.heldOutCurve;
    console.log(
      `size probe: pretrained ${b.toFixed(3)}, random ${
        a.toFixed(3)
      }; held-out pretext loss ${held.map((v) => v.toFixed(3)).join(" ")}`,
    );
    assert.ok(b >= a + 0.1, `pretrained ${b} vs random ${a}`);
    assert.ok(
      held[held.length - 1] < 0.85 * held[0],
      `held-out loss ${held[0]} -> ${held[held.length - 1]}`,
    );
  } finally {
    pre?.dispose();
    random.dispose();
  }
});
