// Every planned sweep value reaches what the job generates and trains on,
// and seeds differ between repeats.
import assert from "node:assert/strict";
import { initBackend } from "../../kernels/backend.ts";
import { defaultStudy, type StudyConfig } from "../../study/config.ts";
import type { Job } from "../../study/job.ts";
import { runJob } from "../../study/job.ts";
import { acquisitionAtStrength, planStudy } from "../../study/plan.ts";
import { generateCohorts, withOverrides } from "../../sim/mod.ts";

await initBackend("cpu");

function study(): StudyConfig {
  return {
    ...defaultStudy("quick"),
    methods: ["imaging-only", "jepa"],
    seeds: 3,
  };
}

Deno.test("repeats of a job get distinct seeds, the same for every method", () => {
  const s = study();
  const jobs = planStudy(s, 40);
  for (const method of s.methods) {
    const seeds = jobs.filter((j) =>
      j.method === method && j.index < s.seeds * s.methods.length
    )
      .map((j) => j.seed);
    assert.deepEqual(seeds, [40, 41, 42], `${method}: ${seeds}`);
  }
  // Every (scenario, method) pair runs once per seed.
  const keys = jobs.map((j) => JSON.stringify([j.scenario, j.method, j.seed]));
  assert.equal(new Set(keys).size, keys.length);
});

Deno.test("every external sweep row reports a cohort generated with its value", () => {
  const s = study();
  const sweeps = new Map(s.sweeps.map((w) => [w.knob, w]));
  let checked = 0;
  for (const job of planStudy(s, 1)) {
    for (const v of job.variants) {
      for (const row of v.rows) {
        const sw = row.sweep && sweeps.get(row.sweep.knob);
        if (!sw || sw.kind !== "external") continue;
        const spec = job.scenario.externals.find((e) =>
          e.name === row.cohorts.external
        );
        assert.ok(spec, `no external cohort ${row.cohorts.external}`);
        const value = row.sweep!.value;
        if (sw.path === "shift.acquisition") {
          assert.deepEqual(
            spec.shift.acquisition,
            acquisitionAtStrength(job.scenario.internal.acquisition, value),
          );
        } else {
          const field = sw.path.split(".")[1] as keyof typeof spec.shift;
          assert.equal(spec.shift[field], value, `${sw.knob}=${value}`);
        }
        checked++;
      }
    }
  }
  assert.ok(checked > 0);
});

Deno.test("concept-shift sweep values reach the generated EHR", () => {
  // Concept shift replaces the internal coding habit in the EHR, so the
  // Bayes ceiling of an EHR-only model on that cohort drops (measured on
  // seeds 1 and 2 at 300 patients: about 0.92 at 0 and 0.82 at 1).
  const job = planStudy(study(), 1)[0];
  const s = withOverrides(job.scenario, {
    "internal.pretrain": 0,
    "internal.train": 2,
    "internal.val": 2,
    "internal.test": 2,
  });
  const set = generateCohorts({
    ...s,
    externals: s.externals.map((e) => ({ ...e, size: 300 })),
  }, 1);
  const ehrCeiling = (name: string) =>
    set.externals.find((c) => c.name === name)!.truth!.bayesAuc.ehr;
  const none = ehrCeiling("conceptShift=0"),
    full = ehrCeiling("conceptShift=1");
  assert.ok(none - full > 0.05, `EHR ceiling ${none} at 0, ${full} at 1`);
});

Deno.test("label-fraction sweep rows get a finetune variant with that fraction", () => {
  const s = study();
  const labels = s.sweeps.find((w) => w.kind === "labels")!;
  const base = planStudy(s, 1)[0];
  for (const v of labels.values) {
    const variant = base.variants.find((x) =>
      x.rows.some((r) => r.sweep?.knob === labels.knob && r.sweep.value === v)
    );
    assert.equal(variant?.labelFraction, v, `${labels.knob}=${v}`);
  }
});

Deno.test("a job trains each variant on its label fraction", async () => {
  const planned = planStudy(study(), 3)[0];
  const job: Job = {
    ...planned,
    method: "imaging-only",
    scenario: withOverrides(planned.scenario, {
      "internal.pretrain": 0,
      "internal.train": 60,
      "internal.val": 20,
      "internal.test": 40,
    }),
    experiment: {
      model: { width: 8, depth: 1, heads: 2 },
      finetune: { steps: 4, batchSize: 64, readEvery: 2 },
    },
    variants: [0.2, 1].map((f) => ({
      labelFraction: f,
      rows: [{
        study: "t",
        sweep: { knob: "labelFraction", value: f },
        cohorts: { internal: "internal" },
      }],
    })),
  };
  job.scenario = {
    ...job.scenario,
    externals: job.scenario.externals.slice(0, 1).map((e) => ({
      ...e,
      size: 10,
    })),
  };
  const rows = await runJob(job, { name: "cpu", detail: "test" } as never);
  assert.equal(rows.length, 2);
  const fractions = rows.map((r) =>
    (r.config.experiment as { finetune: { labelFraction: number } }).finetune
      .labelFraction
  );
  assert.deepEqual(fractions, [0.2, 1]);
  assert.notDeepEqual(
    rows[0].predictions.internal.scores,
    rows[1].predictions.internal.scores,
  );
  // The job's seed reaches the generated data: another seed, other labels.
  const other = await runJob(
    { ...job, seed: job.seed + 1, variants: job.variants.slice(1) },
    { name: "cpu", detail: "test" } as never,
  );
  assert.notDeepEqual(
    other[0].predictions.internal.labels,
    rows[1].predictions.internal.labels,
  );
});
