import assert from "node:assert/strict";
import { defaultStudy, type StudyConfig } from "../../study/config.ts";
import {
  acquisitionAtStrength,
  jobCost,
  longestFirst,
  planStudy,
  sweepCohortName,
  workerSequences,
} from "../../study/plan.ts";

function small(): StudyConfig {
  return {
    ...defaultStudy("quick"),
    methods: ["imaging-only", "jepa"],
    seeds: 2,
  };
}

Deno.test("the plan shares work across sweeps where the data allow", () => {
  const study = small();
  const jobs = planStudy(study, 7);
  const scenarioSweeps = study.sweeps.filter((s) => s.kind === "scenario");
  // The habit sweep's 0.9 is the paper preset itself: no retraining there.
  const retrained = scenarioSweeps.reduce((n, s) => n + s.values.length, 0) -
    1;
  // One base job per method and seed, plus one per retrained sweep value.
  assert.equal(jobs.length, 2 * 2 * (1 + retrained));
  const base = jobs[0];
  const external = study.sweeps.filter((s) => s.kind === "external");
  for (const s of external) {
    for (const v of s.values) {
      assert.ok(
        base.scenario.externals.some((e) =>
          e.name === sweepCohortName(s.knob, v)
        ),
        `missing external ${s.knob}=${v}`,
      );
    }
  }
  // Label-fraction values become finetune variants of the base job.
  const labels = study.sweeps.find((s) => s.kind === "labels")!;
  assert.deepEqual(
    base.variants.map((v) => v.labelFraction).sort(),
    [...new Set([1, ...labels.values])].sort(),
  );
  // Every (study, sweep value) row of one method and seed appears once.
  const keys = base.variants.flatMap((v) =>
    v.rows.map((r) => `${r.study}:${r.sweep?.value ?? ""}`)
  );
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(jobs.map((j) => j.index), jobs.map((_, i) => i));
});

Deno.test("retrained sweep jobs carry their value in the scenario", () => {
  const study = small();
  const jobs = planStudy(study, 7);
  const habit = jobs.filter((j) =>
    j.variants[0].rows[0].study === "sweep/codingHabit"
  );
  assert.deepEqual(
    [...new Set(habit.map((j) => j.scenario.ehr.codingHabit))],
    [0],
  );
  // The base value rides on the base jobs, with the base scenario's habit.
  const base = jobs.filter((j) =>
    j.variants[0].rows.some((r) =>
      r.study === "sweep/codingHabit" && r.sweep?.value === 0.9
    )
  );
  assert.equal(base.length, 2 * 2);
  assert.ok(base.every((j) => j.scenario.ehr.codingHabit === 0.9));
  const corr = planStudy({
    ...study,
    sweeps: [{
      knob: "crossModalCorrelation",
      kind: "scenario",
      path: "crossModalCorrelation",
      values: [0.1, 0.9],
    }],
  }, 7).filter((j) =>
    j.variants[0].rows[0].study === "sweep/crossModalCorrelation"
  );
  assert.deepEqual(
    [...new Set(corr.map((j) => j.scenario.crossModalCorrelation))],
    [0.1, 0.9],
  );
});

Deno.test("acquisition strength 0 is the home scanner", () => {
  const home = { noiseHu: 20, blur: 0.7, spacingMm: 1, offsetHu: 0 };
  assert.deepEqual(acquisitionAtStrength(home, 0), {
    noiseHu: 20,
    blur: 0.7,
    spacingMm: null,
    offsetHu: 0,
  });
  const far = acquisitionAtStrength(home, 1);
  assert.equal(far.noiseHu, 60);
  assert.equal(far.offsetHu, 40);
});

Deno.test("workers take the costliest jobs first (pretraining before plain finetuning), ties in plan order", () => {
  const study = {
    ...small(),
    methods: ["imaging-only", "jepa", "logreg-both", "jepa+contrastive"],
  };
  const jobs = planStudy(study, 7);
  const order = longestFirst(jobs);
  assert.deepEqual(
    [...order].map((j) => j.index).sort((a, b) => a - b),
    jobs.map((j) => j.index).sort((a, b) => a - b),
  );
  const costs = order.map(jobCost);
  for (let i = 1; i < costs.length; i++) {
    assert.ok(costs[i - 1] >= costs[i], `position ${i}: ${costs}`);
    if (costs[i - 1] === costs[i]) {
      assert.ok(order[i - 1].index < order[i].index, "ties keep plan order");
    }
  }
  const of = (m: string) => jobCost(jobs.find((j) => j.method === m)!);
  assert.ok(of("jepa+contrastive") > of("jepa"));
  assert.ok(of("jepa") > of("imaging-only"));
  assert.ok(of("imaging-only") > of("logreg-both"));
  assert.equal(order[0].method, "jepa+contrastive");
  assert.match(order.at(-1)!.method, /^logreg/);
  // Two workers taking jobs in this order (each the next job when free)
  // finish no later than in plan order.
  const makespan = (js: typeof jobs) => {
    const free = [0, 0];
    for (const j of js) {
      const w = free[0] <= free[1] ? 0 : 1;
      free[w] += jobCost(j);
    }
    return Math.max(...free);
  };
  assert.ok(makespan(order) <= makespan(jobs));
});

Deno.test("a label fraction in the study's experiment applies to the main and retrained rows", () => {
  const study: StudyConfig = {
    ...small(),
    experiment: { finetune: { labelFraction: 0.3 } },
  };
  const jobs = planStudy(study, 7);
  for (const j of jobs) {
    const main = j.variants.find((v) =>
      v.rows.some((r) => !r.study.startsWith("sweep/labelFraction"))
    )!;
    assert.equal(main.labelFraction, 0.3, `${j.method}/${j.seed}`);
  }
  // Without it, the main rows see every label.
  assert.equal(planStudy(small(), 7)[0].variants[0].labelFraction, 1);
});

Deno.test("workerSequences: each job once, the costliest to worker 1, each next job to the worker free first", () => {
  const study = {
    ...small(),
    methods: ["imaging-only", "jepa", "logreg-both", "jepa+contrastive"],
  };
  const jobs = planStudy(study, 7);
  const seqs = workerSequences(jobs, 2);
  assert.equal(seqs.length, 2);
  assert.deepEqual(
    seqs.flat().map((j) => j.index).sort((a, b) => a - b),
    jobs.map((j) => j.index).sort((a, b) => a - b),
  );
  const order = longestFirst(jobs);
  assert.equal(seqs[0][0], order[0]);
  assert.equal(seqs[1][0], order[1]);
  // Replaying the shares reproduces the pool's greedy loads: no worker
  // starts a job later than the other worker's current finish.
  const load = seqs.map((s) => s.reduce((n, j) => n + jobCost(j), 0));
  const biggest = Math.max(...jobs.map(jobCost));
  assert.ok(Math.abs(load[0] - load[1]) <= biggest, `${load}`);
  // Hand-made costs: 5 to worker 1; 4 then 3 to worker 2 (free at 4 < 5);
  // then 2 to worker 1 (free at 5 < 7).
  const fake = [3, 5, 2, 4].map((c, i) => ({ ...jobs[0], index: i, c }));
  const byCost = (j: typeof fake[number]) => j.c;
  const s2 = workerSequences(fake, 2, byCost as (j: unknown) => number);
  assert.deepEqual(s2.map((s) => s.map((j) => j.index)), [[1, 2], [3, 0]]);
  // More workers than jobs: one share per job.
  assert.equal(workerSequences(fake.slice(0, 1), 4).length, 1);
});
