import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import {
  DEFAULT_SCENARIO,
  loadScenario,
  preset,
  PRESET_NAMES,
  resolveScenario,
  withOverrides,
} from "../../sim/mod.ts";
import { UserError } from "../../core/errors.ts";

function throwsUser(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

Deno.test("resolveScenario deep-merges onto the defaults", () => {
  const s = resolveScenario(
    { label: { prevalence: 0.2 }, internal: { acquisition: { noiseHu: 40 } } },
    "t",
  );
  assert.equal(s.label.prevalence, 0.2);
  assert.equal(s.label.strength, DEFAULT_SCENARIO.label.strength);
  assert.equal(s.internal.acquisition.noiseHu, 40);
  assert.equal(s.internal.acquisition.spacingMm, 1);
  assert.equal(DEFAULT_SCENARIO.label.prevalence, 0.3, "defaults untouched");
});

Deno.test("unknown keys and out-of-range values name the key and the range", () => {
  throwsUser(
    () => resolveScenario({ labl: {} }, "scenario.yaml"),
    /scenario\.yaml: unknown key "labl" \(allowed: name, latent, crossModalCorrelation, label,.*did you mean "label"\?/,
  );
  throwsUser(
    () => resolveScenario({ crossModalCorrelation: 1.4 }, "scenario.yaml"),
    /scenario\.yaml: crossModalCorrelation: expected a number in \[0, 1\], got 1\.4/,
  );
  throwsUser(
    () => resolveScenario({ imaging: { volumeSize: 65 } }, "s"),
    /s: imaging\.volumeSize: expected an integer in \[8, 64\], got 65/,
  );
  throwsUser(
    () => resolveScenario({ imaging: { volumeSize: 31.5 } }, "s"),
    /imaging\.volumeSize: expected an integer in \[8, 64\], got 31\.5/,
  );
  throwsUser(
    () => resolveScenario({ label: { mechanism: "both" } }, "s"),
    /label\.mechanism: expected one of shared-cause, independent-causes, custom, got "both"/,
  );
  throwsUser(
    () => resolveScenario({ externals: [{ shift: { concpt: 1 } }] }, "s"),
    /unknown key "externals\[0\]\.shift\.concpt"/,
  );
  throwsUser(
    () =>
      resolveScenario(
        { missingness: { labeled: { noEhr: 0.7, noScan: 0.5 } } },
        "s",
      ),
    /missingness\.labeled\.noEhr \+ noScan: expected at most 1 .*, got 1\.2/,
  );
});

Deno.test("external shift nulls mean 'as internal'", () => {
  const s = resolveScenario({
    externals: [{ name: "B", shift: { concept: 0.5 } }],
  }, "t");
  assert.equal(s.externals.length, 1);
  assert.equal(s.externals[0].name, "B");
  assert.equal(s.externals[0].shift.concept, 0.5);
  assert.equal(s.externals[0].shift.prevalence, null);
  assert.equal(s.externals[0].shift.covariate.scale, 1);
});

Deno.test("loadScenario reads YAML and reports the file in errors", () => {
  const dir = Deno.makeTempDirSync();
  const good = join(dir, "good.yaml");
  writeFileSync(
    good,
    "crossModalCorrelation: 0.8\nlabel:\n  mechanism: independent-causes\nexternals:\n  - name: site-B\n    size: 50\n    shift:\n      prevalence: 0.5\n",
  );
  const s = loadScenario(good);
  assert.equal(s.crossModalCorrelation, 0.8);
  assert.equal(s.label.mechanism, "independent-causes");
  assert.equal(s.externals[0].shift.prevalence, 0.5);
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "label:\n  prevalence: 2\n");
  throwsUser(
    () => loadScenario(bad),
    /bad\.yaml: label\.prevalence: expected a number in \[0\.001, 0\.999\], got 2/,
  );
  throwsUser(
    () => loadScenario(join(dir, "none.yaml")),
    /cannot read scenario/,
  );
});

Deno.test("withOverrides sets dotted paths and validates them", () => {
  const s = withOverrides(preset("paper"), {
    "label.prevalence": 0.2,
    "externals.0.shift.concept": 0.25,
  });
  assert.equal(s.label.prevalence, 0.2);
  assert.equal(s.externals[0].shift.concept, 0.25);
  throwsUser(
    () => withOverrides(s, { "label.prevalnce": 0.2 }),
    /unknown key "label\.prevalnce"/,
  );
  throwsUser(
    () => withOverrides(s, { "nope.x": 1 }),
    /"nope" is not a section/,
  );
});

Deno.test("presets resolve and an unknown preset lists the valid ones", () => {
  for (
    const n of [
      "shared-cause",
      "independent-causes",
      "paper",
      "paper-volume",
      "missing-ehr",
    ]
  ) {
    assert.ok(PRESET_NAMES.includes(n));
    assert.equal(preset(n).name, n);
  }
  assert.equal(preset("missing-ehr").missingness.pretrain.noEhr, 0.5);
  throwsUser(
    () => preset("papr"),
    /unknown scenario preset "papr" \(one of: shared-cause, independent-causes, paper, paper-volume, missing-ehr\)/,
  );
});

Deno.test("every preset survives a YAML round trip unchanged", () => {
  const dir = Deno.makeTempDirSync();
  try {
    for (const n of PRESET_NAMES) {
      const path = join(dir, `${n}.yaml`);
      writeFileSync(path, stringify(preset(n)));
      assert.deepEqual(loadScenario(path), preset(n));
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
