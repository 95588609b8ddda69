import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildCorpus } from "./corpus.ts";

// A sample of the corpus through a real `deno run main.ts` process: the
// exit status, stderr and --out as a user sees them (the in-process runner
// in corpus_test.ts covers every case faster).
const corpus = buildCorpus();
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(corpus.root, { recursive: true }),
);
const main = new URL("../../main.ts", import.meta.url).pathname;
const sample = [
  "manifest is a FIFO",
  "huge dims all",
  "NumberOfFrames 1e9",
  "cacheDir is a file",
  "metrics is a string",
  "-o empty",
];

for (const name of sample) {
  const c = corpus.cases.find((x) => x.name === name);
  if (!c) continue; // a FIFO case is absent where mkfifo is missing
  Deno.test(`process: bad input (${c.type}) ${name}`, async () => {
    const out = join(corpus.root, "proc-out", name.replace(/\W+/g, "_"));
    const args = c.ownOut ? c.args : ["-o", out, ...c.args];
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "-q", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr).trim();
    assert.equal(r.code, c.code ?? 2, stderr);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(stderr, /^error: /);
    assert.match(stderr, c.expect);
    assert.ok(!existsSync(out));
  });
}
