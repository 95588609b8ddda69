import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cliInProcess } from "./cli_in_process.ts";
import { type BadCase, buildCorpus } from "./corpus.ts";

const corpus = buildCorpus();
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(corpus.root, { recursive: true }),
);

const snapshot = (dir: string) =>
  ["results.jsonl", "report.md"].map((f) =>
    existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : null
  );

async function check(c: BadCase): Promise<void> {
  const out = join(corpus.root, "out", `${c.type}-${c.name}`);
  const args = c.ownOut ? ["-q", ...c.args] : ["-q", "-o", out, ...c.args];
  const owned = c.ownOut
    ? args.filter((_, i) => args[i - 1] === "-o" && args[i] !== "")
    : [];
  const before = owned.map(snapshot);
  const r = await cliInProcess(args);
  const lines = r.stderr.filter((l) => l.trim() !== "");
  const errors = lines.filter((l) => l.startsWith("error: "));
  assert.equal(
    errors.length,
    1,
    `one error line expected:\n${lines.join("\n")}`,
  );
  assert.ok(!/internal error/.test(errors[0]), errors[0]);
  assert.ok(!lines.some((l) => /^\s+at /.test(l)), "stack trace printed");
  // Only commander's usage hint may follow its error line.
  assert.ok(
    lines.every((l) => l === errors[0] || /run with --help/.test(l)),
    lines.join("\n"),
  );
  assert.match(errors[0], c.expect);
  assert.equal(r.code, c.code ?? 2, errors[0]);
  if (!c.ownOut) assert.ok(!existsSync(out), `${out} was written`);
  assert.deepEqual(owned.map(snapshot), before, "earlier results changed");
}

for (const c of corpus.cases) {
  Deno.test(`bad input (${c.type}): ${c.name}`, () => check(c));
}

Deno.test("the corpus covers every input type with at least 100 cases", () => {
  const counts: Record<string, number> = {};
  for (const c of corpus.cases) counts[c.type] = (counts[c.type] ?? 0) + 1;
  console.log(`corpus: ${corpus.cases.length} cases`, JSON.stringify(counts));
  assert.ok(corpus.cases.length >= 100, `${corpus.cases.length} cases`);
  for (
    const t of [
      "nifti",
      "dicom",
      "manifest",
      "ehr",
      "cohort-yaml",
      "study-yaml",
      "results",
      "cli",
    ]
  ) assert.ok((counts[t] ?? 0) >= 8, `${t}: ${counts[t] ?? 0} cases`);
});

Deno.test("the valid baseline passes --check and writes nothing", async () => {
  const out = join(corpus.root, "out", "good-check");
  const r = await cliInProcess([
    "-q",
    "-o",
    out,
    "train",
    "--config",
    corpus.goodConfig,
    "--check",
  ]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.match(
    r.stdout.join("\n"),
    /check: .* is valid \(\d+ internal patient/,
  );
  assert.ok(!existsSync(out));
});

Deno.test("sim --check validates every job and writes nothing", async () => {
  const out = join(corpus.root, "out", "sim-check");
  const r = await cliInProcess(["-q", "-o", out, "sim", "--quick", "--check"]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  assert.match(
    r.stdout.join("\n"),
    /check: study ".*" is valid: \d+ job\(s\) \(8 methods x 2 seeds, 4 sweeps\); nothing written/,
  );
  assert.ok(!existsSync(out));
});

Deno.test("--skip-bad records a folder or FIFO scan path in skipped.csv terms", async () => {
  const { buildCohortSet, loadCohortConfig } = await import(
    "../../real/mod.ts"
  );
  const cohort = join(corpus.root, "cohort");
  const lines = Deno.readTextFileSync(join(cohort, "manifest.csv")).trimEnd()
    .split("\n");
  const header = lines[0].split(",");
  const cells = lines[1].split(",");
  cells[header.indexOf("path")] = ".";
  lines[1] = cells.join(",");
  Deno.writeTextFileSync(join(cohort, "skip-m.csv"), lines.join("\n") + "\n");
  const yaml = join(cohort, "skip.yaml");
  Deno.writeTextFileSync(
    yaml,
    "manifest: skip-m.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\npreprocess: { roiSize: 8 }\n",
  );
  const { skipped } = await buildCohortSet(await loadCohortConfig(yaml), {
    skipBad: true,
    seed: 1,
  });
  assert.equal(skipped.length, 1);
  assert.equal(skipped[0].row, 2);
  assert.equal(skipped[0].field, "path");
  assert.match(
    skipped[0].reason,
    /a directory; expected the DICOM file|not a DICOM/,
  );
});
