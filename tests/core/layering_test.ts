import assert from "node:assert/strict";
import { join } from "node:path";

// core/ is the ground floor: it may import npm packages, node: modules and
// its own files, never another folder of the project.
Deno.test("core/ imports nothing from the rest of the project", () => {
  const core = new URL("../../core/", import.meta.url).pathname;
  const outside: string[] = [];
  for (const e of Deno.readDirSync(core)) {
    if (!e.name.endsWith(".ts")) continue;
    const text = Deno.readTextFileSync(join(core, e.name));
    for (const m of text.matchAll(/(?:from|import)\s*"([^"]+)"/g)) {
      if (m[1].startsWith("../") || m[1].startsWith("/")) {
        outside.push(`core/${e.name}: ${m[1]}`);
      }
    }
  }
  assert.deepEqual(outside, []);
});
