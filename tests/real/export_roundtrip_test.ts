import assert from "node:assert/strict";
import { join } from "node:path";
import { buildCohortSet, loadCohortConfig } from "../../real/mod.ts";
import {
  exportCohorts,
  generateCohorts,
  preset,
  resolveScenario,
} from "../../sim/mod.ts";
import { writeConfig } from "./fixtures.ts";

// The exporter never writes what the reader rejects: over many seeds,
// with many EHR cross-sections per patient (so that two records often
// fall on one day), a strict read (no --skip-bad) of the export succeeds.
Deno.test("sim exports read back strictly over many seeds", async () => {
  const base = preset("paper-volume");
  const s = resolveScenario({
    ...base,
    imaging: { ...base.imaging, volumeSize: 16, scansPerPatient: 1 },
    ehr: { ...base.ehr, crossSections: 8 },
    internal: { pretrain: 4, train: 10, val: 4, test: 8 },
    externals: [{ ...base.externals[0], size: 4 }],
  }, "roundtrip");
  for (let seed = 1; seed <= 12; seed++) {
    const dir = Deno.makeTempDirSync({ prefix: "mmjepa_rt_" });
    try {
      exportCohorts(generateCohorts(s, seed), dir, { scenario: s, seed });
      const cfg = await loadCohortConfig(
        writeConfig(dir, "preprocess: { roiSize: 8 }"),
      );
      const { skipped, set } = await buildCohortSet(cfg, {
        skipBad: false,
        seed,
      });
      assert.equal(skipped.length, 0);
      assert.equal(set.internal.patients.length, 26, `seed ${seed}`);
      const days = Deno.readTextFileSync(join(dir, "ehr.csv")).trim()
        .split("\n").slice(1).map((l) => l.split(",").slice(0, 3).join());
      assert.equal(new Set(days).size, days.length, "same-day EHR rows");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  }
});
