import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  assertRegularFile,
  readRegularFile,
  readRegularText,
} from "../../core/files.ts";

const dir = Deno.makeTempDirSync();
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);

Deno.test("regular files are read; BOM dropped", () => {
  const f = join(dir, "a.csv");
  Deno.writeTextFileSync(f, "\ufeffa,b\n");
  assert.equal(assertRegularFile(f, "table"), 7);
  assert.equal(readRegularText(f, "table"), "a,b\n");
  assert.equal(readRegularFile(f, "table").length, 7);
});

Deno.test("folders, FIFOs, devices and missing files are refused by name, without blocking", () => {
  const fifo = join(dir, "p");
  const made = new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  const cases: [string, RegExp][] = [
    [dir, /: a directory; expected the table as a regular file/],
    [join(dir, "none"), /none: cannot read table \(no such file\)/],
    ["/dev/null", /\/dev\/null: a character device; expected the table/],
    ["", /table: empty path; expected a file name/],
  ];
  if (made.success) cases.push([fifo, /p: a FIFO \(named pipe\)/]);
  for (const [path, re] of cases) {
    assert.throws(() => readRegularText(path, "table"), (e: Error) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, re);
      return true;
    });
  }
});
