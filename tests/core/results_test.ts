import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  appendResults,
  readResults,
  type ResultRow,
  RESULTS_SCHEMA,
  writeAtomic,
} from "../../core/results.ts";

function row(i: number, pad = 0): ResultRow {
  return {
    schema: RESULTS_SCHEMA,
    runId: `run-${i}`,
    study: "test",
    scenario: "unit",
    method: "jepa",
    seed: i,
    backend: { name: "cpu", detail: "js" },
    versions: {},
    gitCommit: null,
    startedAt: new Date(0).toISOString(),
    wallSeconds: 0,
    config: { pad: "x".repeat(pad) },
    metrics: {},
    predictions: {},
  };
}

Deno.test("append keeps old lines and adds new ones", () => {
  const dir = Deno.makeTempDirSync();
  const f = join(dir, "r.jsonl");
  appendResults(f, [row(1)]);
  appendResults(f, [row(2), row(3)]);
  const { rows, problems } = readResults([f]);
  assert.deepEqual(problems, []);
  assert.deepEqual(rows.map((r) => r.runId), ["run-1", "run-2", "run-3"]);
});

Deno.test("a killed writer never leaves a truncated line", async () => {
  const dir = Deno.makeTempDirSync();
  const f = join(dir, "r.jsonl");
  const script = join(dir, "writer.ts");
  const mod = new URL("../../core/results.ts", import.meta.url).href;
  // Each append rewrites several MB, so a kill lands mid-write most times.
  writeFileSync(
    script,
    `import { appendResults, RESULTS_SCHEMA } from "${mod}";
     const pad = "y".repeat(2_000_000);
     for (let i = 0; ; i++) appendResults(${
      JSON.stringify(f)
    }, [{ schema: RESULTS_SCHEMA,
       runId: "w" + i, study: "s", scenario: "s", method: "m", seed: i, metrics: {},
       predictions: {}, config: { pad } } as never]);`,
  );
  for (const delay of [150, 400, 900]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, delay));
    child.kill("SIGKILL");
    await child.status;
    let text = "";
    try {
      text = readFileSync(f, "utf8");
    } catch { /* the first append may not have finished yet */ }
    if (text === "") continue;
    assert.ok(text.endsWith("\n"), "file must end on a complete line");
    // Each writer restarts at w0, so later ones repeat earlier ids: those
    // are reported as duplicates, never as broken lines.
    const { problems } = readResults([f]);
    assert.deepEqual(
      problems.filter((p) => !/^duplicate of runId/.test(p.message)),
      [],
      `after kill at ${delay} ms`,
    );
  }
  const leftovers = [...Deno.readDirSync(dir)].filter((e) =>
    e.name.endsWith(".tmp")
  );
  // A killed writer may leave its temp file, but never a half results file.
  assert.ok(leftovers.length <= 3);
});

Deno.test("writeAtomic to a missing folder fails with the path and a fix", () => {
  assert.throws(
    () => writeAtomic("/nonexistent-dir-mmjepa/x.json", "{}"),
    /cannot write \/nonexistent-dir-mmjepa\/x\.json: .*check that the folder exists/,
  );
});

Deno.test("malformed lines are reported by file and line, good lines kept", () => {
  const dir = Deno.makeTempDirSync();
  const f = join(dir, "bad.jsonl");
  const good = JSON.stringify(row(1));
  const old = JSON.stringify({ ...row(2), schema: 99 });
  const missing = JSON.stringify({ schema: RESULTS_SCHEMA, runId: "x" });
  writeFileSync(f, [good, "{not json", old, missing, ""].join("\n"));
  const { rows, problems } = readResults([f]);
  assert.equal(rows.length, 1);
  assert.deepEqual(problems.map((p) => p.line), [2, 3, 4]);
  assert.match(problems[0].message, /not valid JSON/);
  assert.match(problems[1].message, /schema version 99 is not supported/);
  assert.match(problems[2].message, /missing field\(s\): study, scenario/);
  assert.ok(problems.every((p) => p.file === f));
});

Deno.test("a rerun that differs only in timings and memory figures is a duplicate, not a conflict", () => {
  const dir = Deno.makeTempDirSync();
  const a = join(dir, "a.jsonl");
  const b = join(dir, "b.jsonl");
  const with_ = (seconds: number, memory: number, auc: number): ResultRow => ({
    ...row(1),
    metrics: { internal: { n: 10, nPositive: 5, auc, brier: 0.2 } },
    extra: {
      seconds: { pretrain: seconds },
      memory: { thread: `worker ${memory}`, isolatePeakMiB: memory },
      steps: { pretrain: 40 },
    },
  });
  appendResults(a, [with_(1, 1, 0.7)]);
  appendResults(b, [with_(2, 2, 0.7)]);
  const { rows, duplicates } = readResults([a, b]);
  assert.equal(rows.length, 1);
  assert.equal(duplicates, 1);
  // A different number is still a conflict.
  appendResults(b, [with_(2, 2, 0.8)]);
  assert.throws(() => readResults([a, b]), /run-1/);
});
