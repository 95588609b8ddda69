import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  claimOutDir,
  interruptedLines,
  writeStaged,
} from "../../core/outdir.ts";
import { RESULTS_SCHEMA } from "../../core/results.ts";

const root = Deno.makeTempDirSync();
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(root, { recursive: true }),
);
const row = (id: string) =>
  JSON.stringify({
    schema: RESULTS_SCHEMA,
    runId: id,
    study: "s",
    scenario: "s",
    method: "jepa",
    seed: 1,
    metrics: {},
    predictions: {},
  }) + "\n";

function used(name: string): string {
  const d = join(root, name);
  mkdirSync(join(d, "figures"), { recursive: true });
  writeFileSync(join(d, "results.jsonl"), row("a") + row("b"));
  writeFileSync(join(d, "report.md"), "# r\n");
  writeFileSync(join(d, "notes.txt"), "mine\n");
  return d;
}

const sim = { resume: false, force: false, command: "sim" };

Deno.test("a new or unrelated folder is accepted and left untouched", () => {
  const fresh = join(root, "fresh");
  assert.equal(claimOutDir(fresh, sim).doneIds.size, 0);
  assert.ok(!existsSync(fresh), "claim must not create the folder");
  const other = join(root, "other");
  mkdirSync(other);
  writeFileSync(join(other, "notes.txt"), "x");
  assert.equal(claimOutDir(other, sim).doneIds.size, 0);
});

Deno.test("an earlier run is refused, resumed or deleted as asked", () => {
  const d = used("u1");
  assert.throws(
    () => claimOutDir(d, sim),
    /already holds results\.jsonl \(2 run\(s\)\) from an earlier run; pass --resume .*--force/,
  );
  assert.deepEqual(
    [...claimOutDir(d, { ...sim, resume: true }).doneIds],
    ["a", "b"],
  );
  assert.throws(
    () => claimOutDir(d, { ...sim, resume: true, force: true }),
    /cannot be combined/,
  );
  claimOutDir(d, { ...sim, force: true });
  assert.ok(!existsSync(join(d, "results.jsonl")));
  assert.ok(!existsSync(join(d, "figures")));
  assert.ok(
    existsSync(join(d, "notes.txt")),
    "--force deletes only run outputs",
  );
});

Deno.test("report refuses an old report.md, and --force never deletes results", () => {
  const d = used("u2");
  const report = { resume: false, force: false, command: "report" };
  assert.throws(() => claimOutDir(d, report), /already holds report\.md/);
  claimOutDir(d, { ...report, force: true });
  assert.ok(!existsSync(join(d, "report.md")));
  assert.ok(existsSync(join(d, "results.jsonl")));
});

Deno.test("the interruption notice counts saved runs and adds --resume", () => {
  const [saved, how] = interruptedLines(
    ["sim", "--quick", "--force", "-o", "out/my run"],
    "out/my run",
    3,
    10,
  );
  assert.equal(
    saved,
    "3 of 10 run(s) are saved in out/my run/results.jsonl; no report was written.",
  );
  assert.equal(
    how,
    "resume with: npx -y deno@2.9.6 task sim --quick -o 'out/my run' --resume",
  );
  const [, noOut] = interruptedLines(["sim"], "out/sim-1", 0, 4);
  assert.match(noOut, /task sim --out out\/sim-1 --resume$/);
});

Deno.test("staged writes land whole or not at all", async () => {
  const d = used("u3");
  await assert.rejects(() =>
    writeStaged(d, (tmp) => {
      writeFileSync(join(tmp, "report.md"), "# half\n");
      throw new Error("figure failed");
    })
  );
  assert.equal(Deno.readTextFileSync(join(d, "report.md")), "# r\n");
  assert.deepEqual(
    [...Deno.readDirSync(d)].map((e) => e.name).sort(),
    ["figures", "notes.txt", "report.md", "results.jsonl"],
  );
  await writeStaged(d, (tmp) => {
    mkdirSync(join(tmp, "figures"));
    writeFileSync(join(tmp, "figures", "a.svg"), "<svg/>");
    writeFileSync(join(tmp, "report.md"), "# new\n");
    return Promise.resolve();
  });
  assert.equal(Deno.readTextFileSync(join(d, "report.md")), "# new\n");
  assert.deepEqual([...Deno.readDirSync(join(d, "figures"))].length, 1);
  assert.ok(![...Deno.readDirSync(d)].some((e) => e.name.startsWith(".")));
});
