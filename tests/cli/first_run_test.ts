import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { join, relative } from "node:path";

// A fresh clone's first task prints nothing but mmjepa's own lines (after
// deno's one `Task ...` header). Here the clone is a copy without
// node_modules, so `deno task` has to set node_modules up from Deno's cache:
// without the quiet install this prints one "Initialize" line per package
// and a core-js build-script warning (also denied in deno.json, for a plain
// `deno install`). The "Download" lines of an empty cache need the network:
// that run is done by hand (see the README's first section).
Deno.test("first task in a copy without node_modules prints only mmjepa's lines", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const dir = Deno.makeTempDirSync({ prefix: "mmjepa-first-run-" });
  const skip = new Set([".git", "node_modules", "out", ".gpu", "cache"]);
  try {
    cpSync(root, dir, {
      recursive: true,
      filter: (src) =>
        !relative(root, src).split("/").some((part) => skip.has(part)),
    });
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "sim", "--help"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const plain = (b: Uint8Array) =>
      // deno-lint-ignore no-control-regex
      new TextDecoder().decode(b).replace(/\x1b\[[0-9;]*m/g, "");
    const out = plain(r.stdout), err = plain(r.stderr);
    assert.equal(r.code, 0, err);
    assert.match(out, /^Usage: mmjepa sim/m);
    const foreign = err.split("\n").filter((l) =>
      l.trim() !== "" && !/^Task sim deno install -q && deno run/.test(l)
    );
    assert.deepEqual(foreign, [], `deno printed:\n${err}`);
    assert.ok(
      Deno.statSync(join(dir, "node_modules")).isDirectory,
      "the task installed node_modules",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
