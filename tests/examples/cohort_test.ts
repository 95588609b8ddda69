/**
 * The example cohort users copy (examples/cohort/): `task train` on it, then
 * `task predict` with the saved models, reproduces the run's test-set
 * scores exactly on the cpu backend; and make.ts still regenerates it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runPredict } from "../../real/mod.ts";
import { makeExampleCohort } from "../../examples/cohort/make.ts";
import { readPredictions, trainExampleCopy } from "../real/fixtures.ts";

const EXAMPLE = new URL("../../examples/cohort/", import.meta.url).pathname;

Deno.test("examples/cohort: make.ts regenerates the committed files", () => {
  const dir = Deno.makeTempDirSync({ prefix: "example_make_" });
  try {
    makeExampleCohort(dir);
    for (const f of ["manifest.csv", "ehr.csv", "cohort.yaml"]) {
      assert.equal(
        readFileSync(join(dir, f), "utf8"),
        readFileSync(join(EXAMPLE, f), "utf8"),
        f,
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("examples/cohort: train, then predict with the saved models, gives the same scores", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "example_run_" });
  try {
    const { cfg, out, rows } = await trainExampleCopy(dir);
    assert.deepEqual(rows.map((r) => r.method).sort(), [
      "imaging-only",
      "jepa",
      "logreg-both",
    ]);
    let compared = 0;
    for (const r of rows.filter((r) => r.method !== "logreg-both")) {
      const predDir = join(dir, `pred-${r.method}`);
      await runPredict({
        modelDir: join(out, "models", `${r.method}-seed1`),
        configPath: cfg,
        outDir: predDir,
        embeddings: false,
        skipBad: false,
        backend: "cpu",
        print: () => {},
      });
      const lookup = readPredictions(predDir);
      for (const cohort of ["internal", "external"]) {
        const p = r.predictions[cohort];
        p.ids.forEach((id, i) => {
          const line = lookup(cohort, id);
          assert.ok(line, `${cohort}/${id} missing from predict's output`);
          assert.equal(Number(line.score), p.scores[i], `${r.method} ${id}`);
          compared++;
        });
      }
    }
    assert.ok(compared >= 2 * (12 + 12), `${compared} scores compared`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
