/**
 * `logreg-volume` on a real-format cohort: NIfTI scans through the real
 * path (ROI resampling, HU window), measured by core/radiomics.ts.
 */
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readResults } from "../../core/results.ts";
import { runTrainOnConfig } from "../../real/mod.ts";

const EXAMPLE = new URL("../../examples/cohort/", import.meta.url).pathname;

Deno.test("logreg-volume trains and scores on the example NIfTI cohort", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "logreg_volume_real_" });
  try {
    cpSync(EXAMPLE, join(dir, "cohort"), { recursive: true });
    const cfg = join(dir, "cohort", "cohort.yaml");
    const yaml = readFileSync(cfg, "utf8");
    assert.match(yaml, /^methods: .*$/m);
    writeFileSync(
      cfg,
      yaml.replace(/^methods: .*$/m, "methods: [logreg-volume]"),
    );
    const out = join(dir, "run");
    await runTrainOnConfig({
      configPath: cfg,
      seed: 1,
      backend: "cpu",
      outDir: out,
      workers: 1,
      quiet: true,
      skipBad: false,
      print: () => {},
    });
    const { rows, problems } = readResults([join(out, "results.jsonl")]);
    assert.deepEqual(problems, []);
    assert.deepEqual(rows.map((r) => r.method), ["logreg-volume"]);
    for (const cohort of ["internal", "external"]) {
      const s = rows[0].predictions[cohort].scores;
      assert.equal(s.length, 12);
      assert.ok(s.every((x) => x > 0 && x < 1), `${cohort}: ${s}`);
      assert.ok(new Set(s).size > 6, `${cohort}: scores vary`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
