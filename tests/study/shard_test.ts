import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import { canonicalOrder, type ResultRow } from "../../core/results.ts";
import { writeReport } from "../../reports/mod.ts";
import { defaultStudy, type StudyConfig } from "../../study/config.ts";
import {
  parseShard,
  planStudy,
  shardDirName,
  shardJobs,
} from "../../study/plan.ts";
import { runStudy } from "../../study/run.ts";
import { jobRunIds } from "../../study/job.ts";

Deno.test("--shard I/N parses 1 <= I <= N and names the bad value", () => {
  assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
  assert.deepEqual(parseShard(" 1 / 1 "), { index: 1, count: 1 });
  for (const bad of ["0/2", "3/2", "1/0", "1", "a/b", "1/2/3", "-1/2", ""]) {
    assert.throws(
      () => parseShard(bad),
      (e) =>
        e instanceof UserError && e.message.includes(`"${bad}"`) &&
        e.message.includes("I/N"),
      bad,
    );
  }
});

Deno.test("shard folders sort in shard order", () => {
  assert.equal(shardDirName({ index: 3, count: 12 }), "shard-03-of-12");
  assert.equal(shardDirName({ index: 1, count: 2 }), "shard-1-of-2");
});

Deno.test("shards partition the plan: every job once, plan order, same on every call", () => {
  const study: StudyConfig = {
    ...defaultStudy("default"),
    seeds: 3,
  };
  const jobs = planStudy(study, 42);
  assert.ok(jobs.length > 20, `plan has ${jobs.length} jobs`);
  const cost = (j: { method: string; variants: unknown[] }) =>
    j.variants.length + (j.method.startsWith("logreg") ? 0 : 3);
  for (const n of [1, 2, 3, 7, jobs.length]) {
    const seen = new Map<number, number>();
    const loads: number[] = [];
    for (let i = 1; i <= n; i++) {
      const mine = shardJobs(jobs, { index: i, count: n }, cost);
      // Deterministic: a second call (another machine) gets the same jobs.
      assert.deepEqual(
        shardJobs(planStudy(study, 42), { index: i, count: n }, cost).map((
          j,
        ) => j.index),
        mine.map((j) => j.index),
      );
      const idx = mine.map((j) => j.index);
      assert.deepEqual(idx, [...idx].sort((a, b) => a - b), "plan order");
      assert.ok(mine.length > 0, `shard ${i}/${n} is empty`);
      for (const j of mine) seen.set(j.index, (seen.get(j.index) ?? 0) + 1);
      loads.push(mine.reduce((s, j) => s + cost(j), 0));
    }
    assert.equal(seen.size, jobs.length, `n=${n}: every job in some shard`);
    assert.ok([...seen.values()].every((c) => c === 1), `n=${n}: once each`);
    // Greedy LPT: no shard exceeds another by more than the costliest job.
    const maxCost = Math.max(...jobs.map(cost));
    assert.ok(
      Math.max(...loads) - Math.min(...loads) <= maxCost,
      `n=${n}: loads ${loads.join(", ")}`,
    );
  }
  assert.throws(
    () => shardJobs(jobs, { index: 1, count: jobs.length + 1 }),
    (e) =>
      e instanceof UserError &&
      e.message.includes(`only ${jobs.length} job(s)`),
  );
});

Deno.test("shards balance cost, not just count", () => {
  const jobs = planStudy(
    { ...defaultStudy("quick"), methods: ["jepa", "logreg-both"], sweeps: [] },
    1,
  );
  // jepa, logreg, jepa, logreg: a round-robin deal would give one shard both
  // jepa jobs.
  const cost = (j: { method: string }) => j.method === "jepa" ? 10 : 1;
  const a = shardJobs(jobs, { index: 1, count: 2 }, cost);
  const b = shardJobs(jobs, { index: 2, count: 2 }, cost);
  assert.deepEqual(a.map((j) => j.method).sort(), ["jepa", "logreg-both"]);
  assert.deepEqual(b.map((j) => j.method).sort(), ["jepa", "logreg-both"]);
  // One slow job and three fast ones: the slow one is a shard on its own
  // (a split by count would add a fast job to it).
  const mixed = planStudy({
    ...defaultStudy("quick"),
    methods: ["jepa", "logreg-both", "logreg-image", "logreg-ehr"],
    seeds: 1,
    sweeps: [],
  }, 1);
  assert.deepEqual(
    shardJobs(mixed, { index: 1, count: 2 }, cost).map((j) => j.method),
    ["jepa"],
  );
  assert.equal(shardJobs(mixed, { index: 2, count: 2 }, cost).length, 3);
});

Deno.test("canonicalOrder sorts by plan position and keeps legacy rows as given", () => {
  const row = (runId: string, job?: number, r = 0) =>
    ({
      runId,
      ...(job === undefined ? {} : { plan: { job, row: r } }),
    }) as unknown as ResultRow;
  const ids = (rows: ResultRow[]) => rows.map((r) => r.runId);
  assert.deepEqual(
    ids(canonicalOrder([row("c", 1, 0), row("b", 0, 1), row("a", 0, 0)])),
    ["a", "b", "c"],
  );
  // Two studies with the same plan positions: tie broken by run id.
  assert.deepEqual(
    ids(canonicalOrder([row("y", 0, 0), row("x", 0, 0)])),
    ["x", "y"],
  );
  assert.deepEqual(ids(canonicalOrder([row("b"), row("a", 0)])), ["b", "a"]);
});

function tiny(): StudyConfig {
  return {
    title: "tiny",
    scenario: "paper",
    scenarioOverrides: {
      "internal.pretrain": 80,
      "internal.train": 60,
      "internal.val": 30,
      "internal.test": 60,
      "externals.0.size": 60,
    },
    methods: ["imaging-only", "logreg-both"],
    seeds: 2,
    referenceMethod: "imaging-only",
    experiment: {
      pretrain: { steps: 4, batchSize: 32, readEvery: 2 },
      finetune: { steps: 6, batchSize: 32, readEvery: 3 },
    },
    sweeps: [{
      knob: "codingHabit",
      kind: "scenario",
      path: "ehr.codingHabit",
      values: [0, 0.9],
    }, {
      knob: "conceptShift",
      kind: "external",
      path: "shift.concept",
      values: [0, 1],
    }],
    bootstrapResamples: 20,
  };
}

// Timing and provenance lines are the only ones that may differ.
function untimed(md: string): string {
  return md.split("\n").filter((l) =>
    !/wall time|Run started|Git commit|^\| (imaging-only|logreg-both) \| \d+ \| [\d.]+ \|$/
      .test(l)
  ).join("\n");
}

function read(path: string): ResultRow[] {
  return readFileSync(path, "utf8").trim().split("\n").map((l) =>
    JSON.parse(l)
  );
}

Deno.test("--shard 1/2 + --shard 2/2 merged equals the unsharded study, in either file order", async () => {
  const opts = {
    seed: 9,
    backend: "cpu" as const,
    quiet: true,
    workers: 1,
    print: () => {},
  };
  const root = Deno.makeTempDirSync({ prefix: "shard" });
  try {
    const whole = await runStudy(tiny(), {
      ...opts,
      outDir: join(root, "all"),
    });
    const parts: ResultRow[][] = [];
    for (const index of [1, 2]) {
      const r = await runStudy(tiny(), {
        ...opts,
        outDir: join(root, `s${index}`),
        shard: { index, count: 2 },
      });
      parts.push(read(r.resultsPath));
    }
    const all = read(whole.resultsPath);
    assert.ok(parts[0].length > 0 && parts[1].length > 0);
    assert.equal(parts[0].length + parts[1].length, all.length);
    // Same run ids, each once, with the same metrics.
    const byId = new Map(all.map((r) => [r.runId, r]));
    const merged = [...parts[1], ...parts[0]];
    assert.equal(new Set(merged.map((r) => r.runId)).size, all.length);
    for (const r of merged) {
      assert.deepEqual(r.metrics, byId.get(r.runId)?.metrics, r.runId);
      assert.deepEqual(r.predictions, byId.get(r.runId)?.predictions);
      assert.deepEqual(r.plan, byId.get(r.runId)?.plan);
    }
    // The report of the merge (shard 2's file first) is the unsharded one.
    const reportOf = async (rows: ResultRow[], dir: string) => {
      await writeReport(rows, join(root, dir), { title: "tiny" });
      return untimed(readFileSync(join(root, dir, "report.md"), "utf8"));
    };
    const want = await reportOf(all, "r-all");
    assert.match(want, /AUC/);
    assert.equal(await reportOf(merged, "r-21"), want);
    assert.equal(await reportOf([...parts[0], ...parts[1]], "r-12"), want);
    assert.equal(
      readFileSync(join(root, "r-21", "appendix.md"), "utf8"),
      readFileSync(join(root, "r-all", "appendix.md"), "utf8"),
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a resumed shard runs only its missing jobs, whose rows keep their plan positions", async () => {
  const opts = {
    seed: 9,
    backend: "cpu" as const,
    quiet: true,
    workers: 1,
    print: () => {},
  };
  const shard = { index: 2, count: 2 };
  const root = Deno.makeTempDirSync({ prefix: "shard" });
  try {
    const first = await runStudy(tiny(), {
      ...opts,
      outDir: join(root, "a"),
      shard,
    });
    const rows = read(first.resultsPath);
    const mine = shardJobs(planStudy(tiny(), 9), shard);
    assert.ok(mine.length >= 2);
    // As if the shard was killed after its first job.
    const done = new Set(jobRunIds(mine[0]));
    const resumed = await runStudy(tiny(), {
      ...opts,
      outDir: join(root, "b"),
      shard,
      doneIds: done,
    });
    const again = read(resumed.resultsPath);
    assert.equal(again.length, rows.length - done.size);
    const byId = new Map(rows.map((r) => [r.runId, r]));
    for (const r of again) {
      assert.ok(!done.has(r.runId));
      assert.deepEqual(r.plan, byId.get(r.runId)?.plan, r.runId);
      assert.deepEqual(r.metrics, byId.get(r.runId)?.metrics, r.runId);
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
