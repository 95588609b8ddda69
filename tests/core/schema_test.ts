import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  bool,
  defaults,
  didYouMean,
  type Infer,
  int,
  list,
  loadConfig,
  nullable,
  num,
  obj,
  oneOf,
  optional,
  parseYaml,
  record,
  resolveConfig,
  str,
  variants,
} from "../../core/schema.ts";

const MODES = ["fast", "exact"] as const;
const S = obj({
  name: str("run"),
  steps: int(1, 1000, 100),
  rate: num(0, 1, 0.5),
  mode: oneOf(MODES, "fast"),
  verbose: bool(false),
  limit: nullable(int(1, 10)),
  inner: obj({ a: num(-1, 1, 0), b: num(-1, 1, 1) }),
  items: list(obj({ id: str("x"), w: num(0, 9, 1) }), { def: [] }),
  tags: record(oneOf(["on", "off"] as const), {}),
  extra: optional(str()),
});
type Settings = Infer<typeof S>;

function throwsUser(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("defaults come from the schema; a partial input is deep-merged", () => {
  const d: Settings = defaults(S);
  assert.deepEqual(d, {
    name: "run",
    steps: 100,
    rate: 0.5,
    mode: "fast",
    verbose: false,
    limit: null,
    inner: { a: 0, b: 1 },
    items: [],
    tags: {},
  });
  const s = resolveConfig(
    S,
    { inner: { a: 0.5 }, items: [{ w: 3 }], limit: 4 },
    "t.yaml",
  );
  assert.equal(s.inner.a, 0.5);
  assert.equal(s.inner.b, 1, "sibling keeps its default");
  assert.deepEqual(s.items, [{ id: "x", w: 3 }], "list items get defaults");
  assert.equal(s.limit, 4);
  assert.equal(resolveConfig(S, null, "empty.yaml").steps, 100);
  // Onto a base: absent keys keep the base's values, not the defaults.
  const base = { ...d, steps: 7, inner: { a: -1, b: -1 } };
  const t = resolveConfig(S, { inner: { b: 0 } }, "t", base);
  assert.equal(t.steps, 7);
  assert.deepEqual(t.inner, { a: -1, b: 0 });
  assert.equal(base.inner.b, -1, "base untouched");
});

Deno.test("errors name the file, the dotted field, the expectation and the value", () => {
  throwsUser(
    () => resolveConfig(S, { inner: { a: 2 } }, "t.yaml"),
    /^t\.yaml: inner\.a: expected a number in \[-1, 1\], got 2$/,
  );
  throwsUser(
    () => resolveConfig(S, { steps: 2.5 }, "t.yaml"),
    /^t\.yaml: steps: expected an integer in \[1, 1000\], got 2\.5$/,
  );
  throwsUser(
    () => resolveConfig(S, { rate: "0.5" }, "t.yaml"),
    /rate: expected a number in \[0, 1\], got "0\.5"/,
  );
  throwsUser(
    () => resolveConfig(S, { rate: NaN }, "t.yaml"),
    /rate: expected a number/,
  );
  throwsUser(
    () => resolveConfig(S, { items: [{ w: 1 }, { w: 10 }] }, "t.yaml"),
    /^t\.yaml: items\[1\]\.w: expected a number in \[0, 9\], got 10$/,
  );
  throwsUser(
    () => resolveConfig(S, { mode: "exakt" }, "t.yaml"),
    /^t\.yaml: mode: expected one of fast, exact, got "exakt"; did you mean "exact"\?$/,
  );
  throwsUser(
    () => resolveConfig(S, { tags: { x: "maybe" } }, "t.yaml"),
    /t\.yaml: tags\.x: expected one of on, off, got "maybe"/,
  );
  throwsUser(
    () => resolveConfig(S, { limit: 0 }, "t.yaml"),
    /limit: expected an integer in \[1, 10\], got 0/,
  );
  throwsUser(
    () => resolveConfig(S, { verbose: "yes" }, "t.yaml"),
    /verbose: expected true or false, got "yes"/,
  );
  throwsUser(
    () => resolveConfig(S, [1, 2], "t.yaml"),
    /^t\.yaml: \(top level\): expected a mapping, got \[1,2\]$/,
  );
});

Deno.test("unknown keys list the allowed ones and suggest a near miss", () => {
  throwsUser(
    () => resolveConfig(S, { inner: { aa: 1 } }, "t.yaml"),
    /^t\.yaml: unknown key "inner\.aa" \(allowed: a, b\); did you mean "a"\?$/,
  );
  throwsUser(
    () => resolveConfig(S, { stpes: 3 }, "t.yaml"),
    /unknown key "stpes" \(allowed: name, steps, .*\); did you mean "steps"\?$/,
  );
  throwsUser(
    () => resolveConfig(S, { zzzzzz: 3 }, "t.yaml"),
    /unknown key "zzzzzz" \(allowed: [^)]*\)$/,
  );
  assert.equal(didYouMean("widht", ["width", "depth"]), "width");
  assert.equal(didYouMean("Label", ["label"]), "label");
  assert.equal(didYouMean("xyz", ["width", "depth"]), undefined);
});

Deno.test("required fields are reported missing; variants pick by tag", () => {
  const A = obj({ kind: oneOf(["a"] as const, "a"), x: num(0, 1, 0) });
  const B = obj({ kind: oneOf(["b"] as const, "b"), path: str() });
  type AB = Infer<typeof A> | Infer<typeof B>;
  const V = variants<AB>("kind", { a: A, b: B }, "a");
  const R = obj({ src: str(), v: nullable(V) });
  throwsUser(
    () => resolveConfig(R, {}, "r.yaml"),
    /^r\.yaml: src: missing; expected a non-empty string$/,
  );
  assert.deepEqual(resolveConfig(R, { src: "s", v: {} }, "r").v, {
    kind: "a",
    x: 0,
  });
  throwsUser(
    () => resolveConfig(R, { src: "s", v: { kind: "b" } }, "r.yaml"),
    /^r\.yaml: v\.path: missing; expected a non-empty string$/,
  );
  throwsUser(
    () => resolveConfig(R, { src: "s", v: { kind: "b", x: 1 } }, "r.yaml"),
    /unknown key "v\.x" \(allowed: kind, path\)/,
  );
  throwsUser(
    () => resolveConfig(R, { src: "s", v: { kind: "c" } }, "r.yaml"),
    /r\.yaml: v\.kind: expected one of a, b, got "c"/,
  );
});

Deno.test("YAML: one-line syntax errors and loadConfig naming the file", () => {
  throwsUser(
    () => parseYaml("a: [1\n", "x.yaml"),
    /^x\.yaml: not valid YAML: .*line \d+, column \d+$/,
  );
  assert.deepEqual(parseYaml("[0, 1]", "--set v"), [0, 1]);
  const dir = Deno.makeTempDirSync();
  try {
    const f = join(dir, "s.yaml");
    Deno.writeTextFileSync(f, "steps: 5\ninner: { b: 0.25 }\n");
    const s = loadConfig(S, f, "settings (YAML)");
    assert.equal(s.steps, 5);
    assert.equal(s.inner.b, 0.25);
    Deno.writeTextFileSync(f, "steps: 0\n");
    throwsUser(
      () => loadConfig(S, f, "settings (YAML)"),
      /s\.yaml: steps: expected an integer in \[1, 1000\], got 0/,
    );
    throwsUser(
      () => loadConfig(S, join(dir, "none.yaml"), "settings (YAML)"),
      /none\.yaml: cannot read settings \(YAML\) \(no such file\)/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the project has one YAML parser call site: core/schema.ts", () => {
  const root = new URL("../../", import.meta.url).pathname;
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) {
        if (
          ![".git", "node_modules", "tests", "out", ".gpu"].includes(e.name)
        ) {
          walk(p);
        }
      } else if (e.name.endsWith(".ts")) {
        const text = Deno.readTextFileSync(p);
        // Importing `parse` (not only `stringify`) from the yaml package.
        if (/import\s*\{[^}]*\bparse\b[^}]*\}\s*from\s*"yaml"/.test(text)) {
          found.push(relative(root, p));
        }
      }
    }
  };
  walk(root);
  assert.deepEqual(found, ["core/schema.ts"]);
});
