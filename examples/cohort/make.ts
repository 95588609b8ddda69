/**
 * Regenerates this example cohort with the simulator's exporter: what a
 * real archive looks like to mmjepa (one NIfTI file per scan, a manifest,
 * a wide EHR table) plus the cohort YAML that reads it.
 *
 * ```sh
 * npx -y deno@2.9.6 run -A examples/cohort/make.ts [OUT_DIR]
 * ```
 *
 * @module
 */
import { join } from "node:path";
import {
  exportCohorts,
  generateCohorts,
  preset,
  resolveScenario,
} from "../../sim/mod.ts";

/** The cohort YAML written beside the data. */
export const COHORT_YAML =
  `# A cohort: a manifest of scans, an EHR table, and how to preprocess.
# Paths are relative to this file.
manifest: manifest.csv
ehr: { format: wide, path: ehr.csv }
cacheDir: cache
columns: { split: split }
preprocess: { roiSize: 16, spacingMm: 1, huWindow: [-1000, 400] }
methods: [imaging-only, logreg-both, jepa]
# Small and fast on purpose: this is a walkthrough, not a result.
experiment:
  model: { width: 16, depth: 1, heads: 2, predictorWidth: 16, patchSize: 8 }
  pretrain: { steps: 20, batchSize: 16, readEvery: 5 }
  finetune: { steps: 20, batchSize: 16, readEvery: 5 }
`;

/**
 * Writes the example cohort into `dir`.
 *
 * @example
 * ```ts
 * makeExampleCohort("/tmp/example-cohort");
 * ```
 */
export function makeExampleCohort(dir: string): void {
  const base = preset("paper-volume");
  const s = resolveScenario({
    ...base,
    name: "example-cohort",
    imaging: { ...base.imaging, volumeSize: 16, scansPerPatient: 1 },
    internal: { pretrain: 16, train: 20, val: 8, test: 12 },
    externals: [{ ...base.externals[0], size: 12 }],
  }, "examples/cohort/make.ts");
  exportCohorts(generateCohorts(s, 7), dir, { scenario: s, seed: 7 });
  Deno.writeTextFileSync(join(dir, "cohort.yaml"), COHORT_YAML);
}

if (import.meta.main) {
  makeExampleCohort(Deno.args[0] ?? new URL(".", import.meta.url).pathname);
}
