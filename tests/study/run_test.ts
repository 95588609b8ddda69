import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DivergenceError, UserError } from "../../core/errors.ts";
import { errorFromWorker } from "../../study/pool.ts";
import type { ResultRow } from "../../core/results.ts";
import type { JobMemory } from "../../study/memory.ts";
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

// Timing and memory fields are the only ones allowed to differ between
// reruns.
function stable(rows: ResultRow[]): unknown[] {
  return rows.map((r) => {
    const { startedAt: _s, wallSeconds: _w, gitCommit: _g, ...rest } = r;
    const extra = { ...(r.extra ?? {}) };
    delete extra.seconds;
    delete extra.memory;
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
  // Who ran each job: this thread with 1 worker, the workers with 2.
  for (const r of ra) assert.equal(memoryOf(r).thread, "main");
  assert.deepEqual(
    [...new Set(read(join(c, "results.jsonl")).map((r) => memoryOf(r).thread))]
      .sort(),
    ["worker 1", "worker 2"],
  );
  assert.ok(
    lines.some((l) => /^ {2}jepa +internal \d\.\d{3} +external/.test(l)),
  );
});

function memoryOf(r: ResultRow): JobMemory {
  return r.extra!.memory as JobMemory;
}

Deno.test("each worker records its own memory next to the metrics; the study prints per-worker and process peaks", async () => {
  const lines: string[] = [];
  const out = Deno.makeTempDirSync();
  await runStudy(tiny({ sweeps: [] }), {
    seed: 5,
    backend: "wasm",
    outDir: out,
    workers: 2,
    quiet: true,
    print: (l) => lines.push(l),
  });
  const rows = read(join(out, "results.jsonl"));
  assert.equal(rows.length, 2);
  const peaks = new Map<string, number>();
  for (const r of rows) {
    const m = memoryOf(r);
    assert.match(m.thread, /^worker [12]$/);
    const p = m.atPeak;
    // The wasm backend's memory is counted (tfjs starts it at 16 MiB).
    assert.ok(p.wasmMiB >= 16, JSON.stringify(m));
    assert.ok(p.heapMiB > 0 && p.externalMiB >= 0);
    assert.ok(
      Math.abs(p.footprintMiB - (p.heapMiB + p.externalMiB + p.wasmMiB)) <
        0.2,
    );
    assert.equal(m.jobPeakMiB, p.footprintMiB);
    assert.ok(m.isolatePeakMiB >= m.jobPeakMiB);
    assert.ok(m.samples > 2, "sampled during training, not only at the ends");
    // Nothing a job created outlives it (the pretrained model included).
    assert.equal(m.tensorsAfter, m.tensorsBefore, `${r.method} leaked`);
    peaks.set(m.thread, Math.max(peaks.get(m.thread) ?? 0, m.isolatePeakMiB));
  }
  const line = lines.find((l) => l.startsWith("Peak memory per worker"));
  assert.ok(line, lines.join("\n"));
  for (const [t, mib] of peaks) {
    assert.ok(line.includes(`${t} ${mib.toFixed(0)} MiB`), line);
  }
  const md = readFileSync(join(out, "report.md"), "utf8");
  assert.ok(md.includes(line), "the report's provenance states it too");
  if (Deno.build.os === "linux") {
    const rss = lines.find((l) => l.startsWith("Peak resident memory:"));
    assert.match(
      rss ?? "",
      /^Peak resident memory: \d+ MiB for the whole process \(2 worker thread\(s\) and the main thread; Linux VmHWM\)$/,
    );
    // The process holds both workers.
    assert.ok(
      Number(/(\d+) MiB/.exec(rss!)![1]) >= Math.max(...peaks.values()),
    );
  }
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
