import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DivergenceError, UserError } from "../../core/errors.ts";
import { errorFromWorker } from "../../study/pool.ts";
import type { ResultRow } from "../../core/results.ts";
import type { StudyConfig } from "../../study/config.ts";
import { runStudy } from "../../study/run.ts";

function tiny(extra: Partial<StudyConfig> = {}): StudyConfig {
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
    methods: ["imaging-only", "jepa"],
    seeds: 1,
    referenceMethod: "imaging-only",
    experiment: {
      pretrain: { steps: 4, batchSize: 32, readEvery: 2 },
      finetune: { steps: 6, batchSize: 32, readEvery: 3 },
    },
    sweeps: [{
      knob: "conceptShift",
      kind: "external",
      path: "shift.concept",
      values: [0, 1],
    }],
    bootstrapResamples: 20,
    ...extra,
  };
}

// Timing fields are the only ones allowed to differ between reruns.
function stable(rows: ResultRow[]): unknown[] {
  return rows.map((r) => {
    const { startedAt: _s, wallSeconds: _w, gitCommit: _g, ...rest } = r;
    const extra = { ...(r.extra ?? {}) };
    delete extra.seconds;
    return { ...rest, extra };
  });
}

function read(path: string): ResultRow[] {
  return readFileSync(path, "utf8").trim().split("\n").map((l) =>
    JSON.parse(l)
  );
}

Deno.test("same seed, same results file; two workers equal one", async () => {
  const lines: string[] = [];
  const opts = {
    seed: 5,
    backend: "cpu" as const,
    quiet: true,
    print: (l: string) => lines.push(l),
  };
  const a = Deno.makeTempDirSync(),
    b = Deno.makeTempDirSync(),
    c = Deno.makeTempDirSync();
  await runStudy(tiny(), { ...opts, outDir: a, workers: 1 });
  await runStudy(tiny(), { ...opts, outDir: b, workers: 1 });
  await runStudy(tiny(), { ...opts, outDir: c, workers: 2 });
  const ra = read(join(a, "results.jsonl"));
  // 2 methods x (paper + 2 concept values) rows.
  assert.equal(ra.length, 6);
  assert.deepEqual(stable(read(join(b, "results.jsonl"))), stable(ra));
  assert.deepEqual(stable(read(join(c, "results.jsonl"))), stable(ra));
  for (const r of ra) {
    assert.equal(r.backend.name, "cpu");
    assert.equal(r.seed, 5);
    assert.ok(r.versions.tfjs && r.versions.deno);
    assert.ok(r.config.scenario && r.config.experiment);
    assert.ok(typeof r.metrics.internal.auc === "number");
    assert.ok(r.metrics.internal.bayesAuc!.full > 0.5);
  }
  assert.ok(existsSync(join(a, "report.md")));
  assert.ok(lines.some((l) => l.startsWith("report:")));
  assert.ok(
    lines.some((l) => /^ {2}jepa +internal \d\.\d{3} +external/.test(l)),
  );
});

Deno.test("a worker's divergence reaches the CLI as a DivergenceError", () => {
  const msg =
    "pretraining diverged: loss is not finite at step 12 (last finite loss 0.52000)";
  const e = errorFromWorker({
    name: "DivergenceError",
    message: msg,
    stack: "",
  });
  assert.ok(e instanceof DivergenceError);
  assert.equal(e.message, msg);
  assert.equal(e.step, 12);
  const u = errorFromWorker({
    name: "UserError",
    message: "bad key",
    stack: "",
  });
  assert.ok(u instanceof UserError);
  const other = errorFromWorker({
    name: "TypeError",
    message: "x",
    stack: "s",
  });
  assert.equal(other.constructor, Error);
});
