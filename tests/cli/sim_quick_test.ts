import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// The CI smoke run of the main job: `task sim --quick`, end to end.
Deno.test("sim --quick writes results, a report with figures, and says where", async () => {
  const out = Deno.makeTempDirSync();
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    // The V8 flag `deno task sim` passes (deno.json).
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      main,
      "sim",
      "--quick",
      "--out",
      out,
      "--seed",
      "3",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(r.stdout);
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.at(-1), `report:  ${join(out, "report.md")}`);
  assert.match(stdout, /paper analog, mean AUC over 2 seed\(s\)/);
  if (Deno.build.os === "linux") {
    assert.match(
      stdout,
      /^Peak resident memory: \d+ MiB for the whole process/m,
    );
  }
  assert.match(stderr, /backend: (wasm|cpu|webgpu)/);
  assert.ok(!stderr.includes("tfjs-node"), "tfjs banner leaked");
  const rows = readFileSync(join(out, "results.jsonl"), "utf8").trim()
    .split("\n").map((l) => JSON.parse(l));
  const studies = new Set(rows.map((x) => x.study));
  // Every job records its worker's memory, and ran after a collection
  // freed the previous job's data.
  for (const x of rows) {
    assert.match(x.extra.memory.thread, /^(main|worker \d+)$/);
    assert.ok(x.extra.memory.isolatePeakMiB > 0);
    assert.equal(x.extra.memory.collectedBefore, true, x.method);
  }
  for (
    const s of [
      "paper",
      "sweep/codingHabit",
      "sweep/conceptShift",
      "sweep/acquisitionShift",
      "sweep/labelFraction",
    ]
  ) assert.ok(studies.has(s), `no rows for ${s}`);
  const md = readFileSync(join(out, "report.md"), "utf8");
  assert.match(md, /## Summary/);
  assert.match(md, /## The paper analog with and without the coding habit/);
  // What the built-in study leaves to --full is said up front.
  assert.match(
    md,
    /Not run here: the sweeps over crossModalCorrelation and missingEhrPretrain, .*`task sim --full` runs them/,
  );
  assert.match(md, /: pretraining\n/);
  assert.match(md, /\| jepa +\| random-init /);
  assert.match(md, /Study wall time: \d+\.\d s/);
  const figs = readdirSync(join(out, "figures"));
  assert.ok(figs.length >= 5, figs.join(", "));
  const appendix = readFileSync(join(out, "appendix.md"), "utf8");
  // Every number the report states (above its provenance) is in report.json.
  const json = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
  const known = new Set<string>();
  const walk = (x: unknown): void => {
    if (typeof x === "number") {
      for (const d of [0, 1, 2, 3, 4]) {
        known.add(x.toFixed(d));
        known.add(Math.abs(x).toFixed(d));
      }
    } else if (typeof x === "string") {
      for (const t of x.match(/\d+\.\d+/g) ?? []) known.add(t);
    } else if (x && typeof x === "object") Object.values(x).forEach(walk);
  };
  walk(json);
  const stated = md.slice(0, md.indexOf("## Provenance")).replaceAll(
    "t(0.975",
    "",
  );
  const missing = (stated.match(/\d+\.\d+/g) ?? []).filter((t) =>
    !known.has(t)
  );
  assert.deepEqual(missing, [], "numbers missing from report.json");
  assert.ok(Object.keys(json.tables).length >= 5);
  for (const name of Object.keys(json.tables)) {
    assert.ok(existsSync(join(out, "tables", `${name}.csv`)), name);
    assert.ok(existsSync(join(out, "tables", `${name}.tex`)), name);
  }
  assert.match(md, /## Headline/);
  for (const f of figs) {
    assert.ok(
      md.includes(`figures/${f}`) || appendix.includes(`figures/${f}`),
      `${f} not linked`,
    );
    assert.ok(existsSync(join(out, "figures", f)));
    // Legends and labels whole: vega marks truncated text with an ellipsis.
    const svg = readFileSync(join(out, "figures", f), "utf8");
    const cut = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)]
      .map((m) => m[1]).filter((t) => t.includes("\u2026"));
    assert.deepEqual(cut, [], `${f}: truncated text`);
  }
});

Deno.test("task report on a study's results reproduces its per-seed statistics", async () => {
  const out = Deno.makeTempDirSync();
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const study = join(out, "study");
  const r = await run([
    "sim",
    "--quick",
    "--methods",
    "imaging-only,logreg-both",
    "--out",
    study,
    "-q",
  ]);
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const again = join(out, "again");
  const q = await run(["report", join(study, "results.jsonl"), "-o", again]);
  assert.equal(q.code, 0, new TextDecoder().decode(q.stderr));
  // The bootstrap resample count travels in the rows: same intervals.
  const a = readFileSync(join(study, "appendix.md"), "utf8");
  assert.match(a, /bootstrap 95% CI \(200\)/);
  const body = (t: string) => t.slice(t.indexOf("\n")); // titles differ
  assert.equal(body(readFileSync(join(again, "appendix.md"), "utf8")), body(a));
});
