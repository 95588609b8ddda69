import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  buildCohortSet,
  decodeNiftiFile,
  loadCohortConfig,
  readDicomSeries,
  readTable,
} from "../../real/mod.ts";
import { encodeNifti } from "../../sim/nifti.ts";
import { defaultStudy, loadStudy } from "../../study/config.ts";
import { exportTinyCohort, writeConfig } from "../real/fixtures.ts";
import { writeSeries } from "./corpus.ts";

// Seeded mutations of valid inputs: every outcome must be a clean result
// or a UserError (one line, naming the input), never another exception.
// Iterations are fixed so CI time is bounded; MMJEPA_FUZZ_SCALE multiplies
// them for a longer local run.
const SCALE = Number(Deno.env.get("MMJEPA_FUZZ_SCALE") ?? "1");
const dir = Deno.makeTempDirSync({ prefix: "mmjepa_fuzz_" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);

function rng(seed: number): () => number {
  // mulberry32: small, seeded, good enough to pick mutations.
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = "ok" | "named";

/** Bit flips, extreme bytes, truncation or a swap of two 4-byte words. */
function mutateBytes(
  src: Uint8Array,
  r: () => number,
  region: number,
): Uint8Array {
  const b = src.slice();
  const at = () => Math.floor(r() * Math.min(region, b.length));
  const kind = Math.floor(r() * 4);
  if (kind === 0) {
    for (let k = 0; k < 1 + Math.floor(r() * 4); k++) {
      b[at()] ^= 1 << Math.floor(r() * 8);
    }
  } else if (kind === 1) {
    const v = [0, 0xff, 0x7f, 0x80][Math.floor(r() * 4)];
    for (let k = 0; k < 1 + Math.floor(r() * 3); k++) b[at()] = v;
  } else if (kind === 2) {
    return b.slice(0, Math.floor(r() * b.length));
  } else {
    const i = at() & ~3, j = at() & ~3;
    for (let k = 0; k < 4 && i + k < b.length && j + k < b.length; k++) {
      [b[i + k], b[j + k]] = [b[j + k], b[i + k]];
    }
  }
  return b;
}

function mutateText(src: string, r: () => number): string {
  const lines = src.split("\n");
  const kind = Math.floor(r() * 5);
  const pos = Math.floor(r() * src.length);
  const pieces = [
    ",",
    '"',
    "\n",
    "\r",
    ";",
    "\t",
    "\0",
    "1e39",
    "NaN",
    ":",
    "-",
    "[",
    "{",
    " ",
  ];
  if (kind === 0) {
    return src.slice(0, pos) + pieces[Math.floor(r() * pieces.length)] +
      src.slice(pos);
  }
  if (kind === 1) return src.slice(0, pos) + src.slice(pos + 1);
  if (kind === 2) return src.slice(0, pos);
  if (kind === 3) {
    const i = Math.floor(r() * lines.length);
    lines.splice(i, 0, lines[Math.floor(r() * lines.length)]);
    return lines.join("\n");
  }
  const i = Math.floor(r() * lines.length), j = Math.floor(r() * lines.length);
  [lines[i], lines[j]] = [lines[j], lines[i]];
  return lines.join("\n");
}

async function classify(
  what: string,
  f: () => unknown | Promise<unknown>,
): Promise<Outcome> {
  try {
    await f();
    return "ok";
  } catch (e) {
    if (e instanceof UserError) {
      assert.ok(!e.message.includes("\n"), `${what}: multi-line message`);
      return "named";
    }
    throw new Error(`${what}: not a named error: ${(e as Error).stack ?? e}`);
  }
}

function tally(name: string, outcomes: Outcome[]): void {
  const ok = outcomes.filter((o) => o === "ok").length;
  console.log(
    `fuzz ${name}: ${outcomes.length} iterations, ${ok} clean results, ${
      outcomes.length - ok
    } named errors, 0 crashes`,
  );
}

const N = 16;
const nii = encodeNifti({
  dims: [N, N, N],
  spacing: [0.8, 0.8, 1.5],
  origin: [-6, -6, -12],
  data: Float32Array.from({ length: N ** 3 }, (_, i) => (i % 97) - 1000),
}, false);

Deno.test("fuzz: mutated NIfTI headers decode or fail by name", async () => {
  const r = rng(15);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < 400 * SCALE; i++) {
    let bytes = mutateBytes(nii, r, 352);
    if (r() < 0.2) bytes = gzipSync(bytes);
    outcomes.push(
      await classify(`nifti #${i}`, () => {
        const v = decodeNiftiFile(bytes, `fuzz-${i}.nii`);
        assert.equal(v.data.length, v.dims[0] * v.dims[1] * v.dims[2]);
        assert.ok(v.spacing.every((s) => Number.isFinite(s) && s > 0));
      }),
    );
  }
  tally("NIfTI", outcomes);
  assert.ok(outcomes.includes("named") && outcomes.includes("ok"));
});

Deno.test("fuzz: mutated DICOM slices read or fail by name", async () => {
  const base = join(dir, "dicom-base");
  writeSeries(base);
  const slice = Deno.readFileSync(join(base, "s1.dcm"));
  const r = rng(16);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < 150 * SCALE; i++) {
    const series = join(dir, `dicom-${i}`);
    writeSeries(series);
    Deno.writeFileSync(join(series, "s1.dcm"), mutateBytes(slice, r, 1 << 20));
    outcomes.push(
      await classify(`dicom #${i}`, async () => {
        const v = await readDicomSeries(series);
        assert.equal(v.data.length, v.dims[0] * v.dims[1] * v.dims[2]);
      }),
    );
    Deno.removeSync(series, { recursive: true });
  }
  tally("DICOM", outcomes);
  assert.ok(outcomes.includes("named"));
});

const cohort = join(dir, "cohort");
Deno.mkdirSync(cohort);
exportTinyCohort(cohort);
const manifestText = Deno.readTextFileSync(join(cohort, "manifest.csv"));

Deno.test("fuzz: mutated CSV tables parse or fail by name", async () => {
  const r = rng(17);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < 400 * SCALE; i++) {
    const f = join(dir, `t-${i % 4}.csv`);
    Deno.writeTextFileSync(f, mutateText(manifestText, r));
    outcomes.push(
      await classify(`csv #${i}`, () => readTable(f, ["patient_id", "path"])),
    );
  }
  tally("CSV", outcomes);
  assert.ok(outcomes.includes("named") && outcomes.includes("ok"));
});

Deno.test("fuzz: mutated manifests build a cohort or fail by name", async () => {
  const r = rng(18);
  const outcomes: Outcome[] = [];
  const yaml = writeConfig(
    cohort,
    "preprocess: { roiSize: 8 }\nmanifest: fuzz.csv",
    "fuzz.yaml",
  );
  // writeConfig's own manifest line comes first; the later one wins in
  // no YAML parser, so write the config by hand.
  Deno.writeTextFileSync(
    yaml,
    "manifest: fuzz.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\npreprocess: { roiSize: 8 }\n",
  );
  for (let i = 0; i < 40 * SCALE; i++) {
    Deno.writeTextFileSync(
      join(cohort, "fuzz.csv"),
      mutateText(manifestText, r),
    );
    outcomes.push(
      await classify(
        `manifest #${i}`,
        async () =>
          await buildCohortSet(await loadCohortConfig(yaml), {
            skipBad: r() < 0.5,
            seed: 1,
            requireAuc: true,
          }),
      ),
    );
  }
  tally("manifest build", outcomes);
});

Deno.test("fuzz: mutated cohort and study YAML load or fail by name", async () => {
  const r = rng(19);
  const cohortYaml =
    "manifest: manifest.csv\nehr: { format: wide, path: ehr.csv }\ncacheDir: cache\npreprocess: { roiSize: 8, centre: nodule }\nsplits: { train: 0.6, val: 0.2, test: 0.2 }\nmethods: [imaging-only, jepa]\n";
  const studyYaml =
    "title: t\nseeds: 2\nmethods: [imaging-only, jepa]\nsweeps:\n  - { knob: k, kind: labels, path: labelFraction, values: [0.2, 0.5] }\n";
  const outcomes: Outcome[] = [];
  for (let i = 0; i < 300 * SCALE; i++) {
    const f = join(cohort, `y-${i % 4}.yaml`);
    const isStudy = i % 2 === 1;
    Deno.writeTextFileSync(f, mutateText(isStudy ? studyYaml : cohortYaml, r));
    outcomes.push(
      await classify(
        `yaml #${i}`,
        () =>
          isStudy ? loadStudy(f, defaultStudy("quick")) : loadCohortConfig(f),
      ),
    );
  }
  tally("YAML", outcomes);
  assert.ok(outcomes.includes("named") && outcomes.includes("ok"));
});
