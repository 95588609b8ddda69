import assert from "node:assert/strict";
import {
  ensureWritableDir,
  parseBackend,
  parseMethods,
  parsePositiveInt,
  parseSeed,
} from "../../cli/parse.ts";

Deno.test("seeds must be non-negative integers", () => {
  assert.equal(parseSeed("0"), 0);
  assert.equal(parseSeed("123"), 123);
  assert.throws(
    () => parseSeed("abc"),
    /expected a non-negative integer, got "abc"/,
  );
  assert.throws(() => parseSeed("-1"), /non-negative integer/);
  assert.throws(() => parseSeed("1.5"), /non-negative integer/);
});

Deno.test("backends are checked against the known names", () => {
  assert.equal(parseBackend("cpu"), "cpu");
  assert.throws(
    () => parseBackend("tpu"),
    /expected one of auto, webgpu, wasm, cpu, got "tpu"/,
  );
});

Deno.test("positive ints reject zero", () => {
  assert.equal(parsePositiveInt("3"), 3);
  assert.throws(() => parsePositiveInt("0"), /positive integer/);
});

Deno.test("an unwritable --out is refused with the reason", () => {
  const dir = Deno.makeTempDirSync();
  assert.equal(ensureWritableDir(`${dir}/a/b`), `${dir}/a/b`);
  const file = `${dir}/plain-file`;
  Deno.writeTextFileSync(file, "");
  assert.throws(
    () => ensureWritableDir(`${file}/sub`),
    /cannot write to ".*plain-file\/sub"/,
  );
});

Deno.test("--methods takes registry names only and lists them on a typo", () => {
  assert.deepEqual(parseMethods("imaging-only, jepa"), [
    "imaging-only",
    "jepa",
  ]);
  assert.throws(
    () => parseMethods("jepa,foo"),
    /unknown method "foo" \(one of: imaging-only, .*logreg-both\)/,
  );
  assert.throws(() => parseMethods(" , "), /comma-separated list of methods/);
});
