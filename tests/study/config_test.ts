import assert from "node:assert/strict";
import { join } from "node:path";
import { planStudy } from "../../study/plan.ts";
import { UserError } from "../../core/errors.ts";
import {
  defaultStudy,
  FULL_ONLY_SWEEPS,
  loadStudy,
  resolveStudy,
} from "../../study/config.ts";

Deno.test("built-in studies meet the issues' minimums", () => {
  const d = defaultStudy();
  assert.ok(d.seeds >= 3);
  for (const s of d.sweeps) {
    assert.ok(s.values.length >= (s.knob === "codingHabit" ? 4 : 5), s.knob);
  }
  assert.deepEqual(
    d.sweeps.map((s) => s.knob).sort(),
    ["acquisitionShift", "codingHabit", "conceptShift", "labelFraction"],
  );
  // The habit sweep holds the paper analog (0.9) and its ablation (0).
  const habit = d.sweeps.find((s) => s.knob === "codingHabit")!;
  assert.ok(habit.values.includes(0) && habit.values.includes(0.9));
  for (const m of ["jepa", "imaging-only", "logreg-image", "logreg-both"]) {
    assert.ok(d.methods.includes(m), m);
  }
  const full = defaultStudy("full");
  assert.deepEqual(
    full.sweeps.map((s) => s.knob).filter((k) => FULL_ONLY_SWEEPS.includes(k)),
    [...FULL_ONLY_SWEEPS],
  );
});

Deno.test("a mistyped method is refused with the valid names", () => {
  assert.throws(
    () => resolveStudy({ methods: ["jepa", "foo"] }, defaultStudy(), "s.yaml"),
    /s\.yaml: methods\[1\]: expected one of .*jepa.*, got "foo"/,
  );
});

Deno.test("a study file overrides fields and names bad keys", () => {
  const dir = Deno.makeTempDirSync();
  const f = join(dir, "s.yaml");
  Deno.writeTextFileSync(f, "seeds: 5\ntitle: mine\n");
  const s = loadStudy(f, defaultStudy());
  assert.equal(s.seeds, 5);
  assert.equal(s.title, "mine");
  Deno.writeTextFileSync(f, "seed: 5\n");
  assert.throws(
    () => loadStudy(f, defaultStudy()),
    (e: Error) =>
      e instanceof UserError &&
      /s\.yaml: unknown study key "seed" \(allowed: title, scenario.*did you mean "seeds"\?/
        .test(
          e.message,
        ),
  );
  Deno.writeTextFileSync(f, "seeds: [1\n");
  assert.throws(() => loadStudy(f, defaultStudy()), /s\.yaml: not valid YAML/);
});

Deno.test("sweeps are validated field by field", () => {
  const base = defaultStudy();
  assert.throws(
    () =>
      resolveStudy(
        { sweeps: [{ knob: "x", kind: "retrain", path: "a", values: [1, 2] }] },
        base,
        "f.yaml",
      ),
    /f\.yaml: sweeps\[0\]\.kind: expected one of scenario, external, labels, got "retrain"/,
  );
  assert.throws(
    () =>
      resolveStudy(
        { sweeps: [{ knob: "x", kind: "labels", path: "a", values: [1] }] },
        base,
        "f.yaml",
      ),
    /f\.yaml: sweeps\[0\]\.values: expected a list of at least 2 items \(each a number\), got \[1\]/,
  );
  assert.throws(
    () => resolveStudy({ seeds: 0 }, base, "f.yaml"),
    /f\.yaml: seeds: expected an integer in \[1, 100\], got 0/,
  );
});

Deno.test("the README's scenario YAML works as --config and as a study's scenario", () => {
  const readme = Deno.readTextFileSync(
    new URL("../../README.md", import.meta.url),
  );
  const block = readme.match(/```yaml\n(name: my-scenario[\s\S]*?)```/);
  assert.ok(block, "README scenario example not found");
  const dir = Deno.makeTempDirSync();
  const f = join(dir, "my-scenario.yaml");
  Deno.writeTextFileSync(f, block[1]);
  const s = loadStudy(f, defaultStudy("quick"));
  assert.equal(s.scenario, f);
  const jobs = planStudy(s, 1);
  assert.equal(jobs[0].scenario.name, "my-scenario");
  assert.equal(jobs[0].scenario.crossModalCorrelation, 0.6);
  assert.ok(jobs[0].scenario.externals.some((e) => e.name === "external-B"));
  // A typo in a scenario file is named as such, not as a study key.
  Deno.writeTextFileSync(f, "name: x\ncrossModalCorelation: 0.6\n");
  assert.throws(() => loadStudy(f, defaultStudy()), /unknown study key/);
  Deno.writeTextFileSync(f, "name: x\nlabel: { prevalance: 0.2 }\n");
  assert.throws(() => loadStudy(f, defaultStudy()), /prevalance/);
});
