/**
 * `logreg-volume` on a real-format cohort: NIfTI scans through the real
 * path (ROI resampling, HU window), measured by core/radiomics.ts.
 */
import assert from "node:assert/strict";
import { trainExampleCopy } from "./fixtures.ts";

Deno.test("logreg-volume trains and scores on the example NIfTI cohort", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "logreg_volume_real_" });
  try {
    const { rows } = await trainExampleCopy(dir, ["logreg-volume"]);
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
