import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ResultRow } from "../../core/results.ts";
import { cliInProcess } from "../bad_inputs/cli_in_process.ts";

// A study small enough to run several times: two cheap methods, three
// seeds, no sweeps, tiny cohorts and few steps.
const dir = Deno.makeTempDirSync({ prefix: "mmjepa_resume_" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);
const studyYaml = join(dir, "tiny.yaml");
writeFileSync(
  studyYaml,
  `title: tiny resume study
scenario: paper
scenarioOverrides:
  internal.pretrain: 60
  internal.train: 60
  internal.val: 30
  internal.test: 60
  externals.0.size: 40
methods: [imaging-only, logreg-image]
seeds: 3
experiment:
  finetune: { steps: 4, batchSize: 32, readEvery: 2 }
sweeps: []
bootstrapResamples: 10
`,
);
const base = ["-q", "--backend", "cpu", "--seed", "7"];
const sim = (out: string, ...more: string[]) => [
  ...base,
  "-o",
  out,
  "sim",
  "--config",
  studyYaml,
  "--workers",
  "1",
  ...more,
];

function lines(path: string): ResultRow[] {
  return readFileSync(path, "utf8").trim().split("\n").map((l) =>
    JSON.parse(l)
  );
}

// What a report shows: everything but timing.
function numbers(rows: ResultRow[]): unknown[] {
  return rows.map((r) => [r.runId, r.metrics, r.predictions])
    .sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1);
}

const full = join(dir, "full");

Deno.test("a rerun into a used --out is refused; --resume runs only the missing jobs", async () => {
  const first = await cliInProcess(sim(full));
  assert.equal(first.code, 0, first.stderr.join("\n"));
  const all = lines(join(full, "results.jsonl"));
  assert.equal(all.length, 6);

  // Interrupted after two jobs: only their rows and no report.
  const cut = join(dir, "cut");
  Deno.mkdirSync(cut);
  writeFileSync(
    join(cut, "results.jsonl"),
    all.slice(0, 2).map((r) => JSON.stringify(r) + "\n").join(""),
  );
  const again = await cliInProcess(sim(cut));
  assert.equal(again.code, 2);
  assert.match(
    again.stderr.join("\n"),
    /already holds results\.jsonl \(2 run\(s\)\) from an earlier run; pass --resume/,
  );
  assert.equal(lines(join(cut, "results.jsonl")).length, 2, "rows changed");

  const resumed = await cliInProcess(sim(cut, "--resume"));
  assert.equal(resumed.code, 0, resumed.stderr.join("\n"));
  assert.match(
    resumed.stderr.join("\n"),
    /resume: 2 of 6 job\(s\) already in .*results\.jsonl; running the other 4/,
  );
  const after = lines(join(cut, "results.jsonl"));
  assert.equal(after.length, 6, "each run once");
  assert.deepEqual(numbers(after), numbers(all));
  assert.ok(existsSync(join(cut, "report.md")));

  // --force starts over: the same six runs, once each.
  const forced = await cliInProcess(sim(cut, "--force"));
  assert.equal(forced.code, 0, forced.stderr.join("\n"));
  assert.equal(lines(join(cut, "results.jsonl")).length, 6);
});

Deno.test("report of a file with itself counts each run once, with a warning", async () => {
  const f = join(full, "results.jsonl");
  if (!existsSync(f)) {
    const r = await cliInProcess(sim(full));
    assert.equal(r.code, 0, r.stderr.join("\n"));
  }
  const out = join(dir, "twice");
  const r = await cliInProcess(["-q", "-o", out, "report", f, f]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.match(r.stdout.join("\n"), /\(6 runs, /);
  const dups = r.stderr.filter((l) => /duplicate of runId/.test(l));
  assert.equal(dups.length, 6, r.stderr.join("\n"));
  // Rendering again into the same folder needs --force.
  const again = await cliInProcess(["-q", "-o", out, "report", f]);
  assert.equal(again.code, 2);
  assert.match(again.stderr.join("\n"), /already holds report\.md/);
  const forced = await cliInProcess(["-q", "-o", out, "report", f, "--force"]);
  assert.equal(forced.code, 0, forced.stderr.join("\n"));
  assert.ok(
    existsSync(join(full, "results.jsonl")),
    "report --force kept results",
  );
});

Deno.test("Ctrl-C says what was saved and how to resume, and leaves whole lines", async () => {
  const out = join(dir, "sigint");
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...sim(out).filter((a) => a !== "-q")],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const results = join(out, "results.jsonl");
  const t0 = Date.now();
  while (!existsSync(results) && Date.now() - t0 < 120_000) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(existsSync(results), "no run finished within 2 minutes");
  child.kill("SIGINT");
  const r = await child.output();
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 130, stderr);
  assert.match(
    stderr,
    /interrupted\.\n\d of 6 run\(s\) are saved in .*results\.jsonl; no report was written\./,
  );
  assert.match(
    stderr,
    /resume with: npx -y deno@2\.9\.6 task --backend cpu --seed 7 -o \S+ sim --config \S+ --workers 1 --resume/,
  );
  assert.ok(!existsSync(join(out, "report.md")));
  const saved = lines(results);
  assert.ok(saved.length >= 1 && saved.length < 6);
});
