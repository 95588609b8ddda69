import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { join } from "node:path";
import { readResults } from "../../core/results.ts";
import { runPredict, runTrainOnConfig } from "../../real/mod.ts";
import { exportTinyCohort, readPredictions, writeConfig } from "./fixtures.ts";

const dir = await Deno.makeTempDir({ prefix: "real_train_" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(dir, { recursive: true }),
);
exportTinyCohort(dir);
// One bad row, so --skip-bad has something to list.
const manifest = Deno.readTextFileSync(join(dir, "manifest.csv")).trimEnd();
Deno.writeTextFileSync(
  join(dir, "manifest.csv"),
  `${manifest}\nghost,ghost-s0,2020-01-01,images/none.nii.gz,1,internal,train,,,,\n`,
);
const cfgPath = writeConfig(
  dir,
  `preprocess: { roiSize: 16, spacingMm: 1, huWindow: [-1000, 400] }
methods: [imaging-only, jepa]
experiment:
  model: { width: 16, depth: 1, heads: 2, predictorWidth: 16, patchSize: 8 }
  pretrain: { steps: 3, batchSize: 8, readEvery: 1 }
  finetune: { steps: 4, batchSize: 8, readEvery: 2 }`,
);

Deno.test("train --config: preprocess -> pretrain -> finetune -> internal + external -> report", async () => {
  const out = join(dir, "run");
  const lines: string[] = [];
  await runTrainOnConfig({
    configPath: cfgPath,
    seed: 1,
    backend: "cpu",
    outDir: out,
    workers: 1,
    quiet: true,
    skipBad: true,
    print: (l) => lines.push(l),
  });
  const { rows, problems } = readResults([join(out, "results.jsonl")]);
  assert.deepEqual(problems, []);
  assert.deepEqual(rows.map((r) => r.method), ["imaging-only", "jepa"]);
  for (const r of rows) {
    assert.equal(r.study, "train");
    assert.equal(r.scenario, "cohort.yaml");
    assert.deepEqual(Object.keys(r.metrics).sort(), ["external", "internal"]);
    // The tiny cohort: 8 external patients, and the internal test split.
    assert.equal(r.metrics.external.n, 8);
    assert.ok(r.metrics.internal.n >= 3, `internal n ${r.metrics.internal.n}`);
    assert.ok(r.predictions.internal.scores.every((s) => s > 0 && s < 1));
  }
  const jepa = rows[1].extra as { steps: { pretrain: number } };
  assert.ok(jepa.steps.pretrain > 0, JSON.stringify(rows[1].extra?.steps));
  assert.ok(existsSync(join(out, "report.md")));
  const skipped = Deno.readTextFileSync(join(out, "skipped.csv"));
  assert.match(skipped, /manifest\.csv,\d+,ghost,path,missing file/);
  assert.ok(lines.some((l) => l.startsWith("report:")));
  // predictions.csv: every (run, cohort, patient) of results.jsonl, with
  // the same label and the exact same score.
  const csv = parse(Deno.readTextFileSync(join(out, "predictions.csv")), {
    columns: true,
  }) as Record<string, string>[];
  const expected = rows.flatMap((r) =>
    Object.entries(r.predictions).flatMap(([cohort, p]) =>
      p.ids.map((id, i) => ({
        r,
        cohort,
        id,
        label: p.labels[i],
        s: p.scores[i],
      }))
    )
  );
  assert.equal(csv.length, expected.length);
  csv.forEach((line, i) => {
    const e = expected[i];
    assert.deepEqual(
      [line.method, line.seed, line.run_id, line.cohort, line.patient_id],
      [e.r.method, String(e.r.seed), e.r.runId, e.cohort, e.id],
    );
    assert.equal(Number(line.label), e.label);
    assert.equal(Number(line.score), e.s);
  });
  assert.ok(csv.some((l) => l.cohort === "external"));

  // The saved models score the same cohort exactly as the run did.
  for (const r of rows) {
    const modelDir = join(out, "models", `${r.method}-seed1`);
    const predDir = join(dir, `pred-${r.method}`);
    await runPredict({
      modelDir,
      configPath: cfgPath,
      outDir: predDir,
      embeddings: true,
      skipBad: true,
      backend: "cpu",
      print: () => {},
    });
    const lookup = readPredictions(predDir);
    let compared = 0;
    for (const cohort of ["internal", "external"]) {
      const p = r.predictions[cohort];
      p.ids.forEach((id, i) => {
        const line = lookup(cohort, id);
        assert.ok(line, `${cohort}/${id} not in predict output`);
        assert.equal(line.split, "test");
        assert.equal(Number(line.label), p.labels[i]);
        assert.equal(Number(line.score), p.scores[i], `${r.method} ${id}`);
        compared++;
      });
    }
    assert.ok(compared >= 11, `${compared}`);
    const emb = Deno.readTextFileSync(join(predDir, "embeddings.csv"))
      .trim().split("\n");
    assert.equal(
      emb.length,
      Deno.readTextFileSync(join(predDir, "predictions.csv")).trim().split("\n")
        .length,
    );
    assert.equal(emb[0].split(",").length, 3 + 16);
  }
});

Deno.test("k-fold on 2 workers: one row per fold, each fold's test patients disjoint", async () => {
  const yaml = writeConfig(
    dir,
    `preprocess: { roiSize: 16, spacingMm: 1 }
splits: { kfold: 2 }
methods: [imaging-only]
experiment:
  model: { width: 16, depth: 1, heads: 2, predictorWidth: 16, patchSize: 8 }
  finetune: { steps: 4, batchSize: 8, readEvery: 2 }`,
    "kfold.yaml",
  );
  const out = join(dir, "kfold");
  await runTrainOnConfig({
    configPath: yaml,
    seed: 2,
    backend: "cpu",
    outDir: out,
    workers: 2,
    quiet: true,
    skipBad: true,
    print: () => {},
  });
  const { rows } = readResults([join(out, "results.jsonl")]);
  assert.deepEqual(rows.map((r) => r.study), ["train/fold-0", "train/fold-1"]);
  const ids = rows.map((r) => new Set(r.predictions.internal.ids));
  assert.ok(ids[0].size > 0 && ids[1].size > 0);
  assert.ok([...ids[0]].every((id) => !ids[1].has(id)));
  // Each fold's model, saved from its worker.
  for (const fold of [0, 1]) {
    const m = join(out, "models", `imaging-only-seed2-fold${fold}`);
    assert.ok(existsSync(join(m, "model.safetensors")), m);
    const meta = JSON.parse(Deno.readTextFileSync(join(m, "model.json")));
    assert.equal(meta.fold, fold);
  }
});
