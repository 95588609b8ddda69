import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { benchTable, runBenches } from "../../benches/run.ts";

const main = new URL("../../main.ts", import.meta.url).pathname;
const config = new URL("../../deno.json", import.meta.url).pathname;
const committed = new URL("../../benches/RESULTS.md", import.meta.url)
  .pathname;

Deno.test("benchTable prints met / not met on target lines, and not measured without a baseline", () => {
  const t = benchTable([
    { name: "a", value: 1, unit: "ms", target: "<= 1x", met: true },
    { name: "b", value: 2, unit: "ms", target: "<= 1x", met: false },
    { name: "c", value: 3, unit: "ms", target: "<= 1x" },
    { name: "d", value: 4, unit: "ms" },
  ]);
  const row = (n: string) => t.split("\n").find((l) => l.startsWith(`| ${n} `));
  assert.match(row("a")!, /\| met \|$/);
  assert.match(row("b")!, /\| not met \|$/);
  assert.match(row("c")!, /\| not measured \|$/);
  assert.match(row("d")!, /\| {2}\|$/);
});

Deno.test("bench writes RESULTS.md to a fresh out/bench-<time>/ by default and replaces the committed file only with --write-results", async () => {
  const before = Deno.readTextFileSync(committed);
  const dir = Deno.makeTempDirSync();
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dir);
    await runBenches({ quick: true, only: ["sim"], quiet: true });
    const made = readdirSync(join(dir, "out"));
    assert.equal(made.length, 1);
    assert.match(made[0], /^bench-\d{4}-\d\d-\d\dT/);
    const md = Deno.readTextFileSync(join(dir, "out", made[0], "RESULTS.md"));
    assert.match(md, /sim: features generation/);
    assert.match(
      md,
      /Load average \(1, 5, 15 min\): [\d.]+, [\d.]+, [\d.]+ at the start/,
    );
    assert.equal(Deno.readTextFileSync(committed), before);

    // --write-results: the committed file (here a stand-in) gets the same
    // table plus the sections kept in benches/RESULTS_*.md (GPU bundle,
    // before/after runs), in file-name order.
    const standIn = join(dir, "committed.md");
    await runBenches({
      quick: true,
      only: ["sim"],
      quiet: true,
      out: join(dir, "o2"),
      writeResults: true,
      resultsPath: standIn,
    });
    assert.ok(existsSync(join(dir, "o2", "RESULTS.md")));
    const written = Deno.readTextFileSync(standIn);
    assert.match(written, /sim: features generation/);
    assert.match(written, /## Before \/ after:[^]*## GPU: NVIDIA H200/);
    assert.equal(Deno.readTextFileSync(committed), before);
  } finally {
    Deno.chdir(cwd);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bench without PyTorch: one line says the ratios are skipped and how to install it; every mmjepa figure and the --profile tables still print", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        config,
        main,
        "-q",
        "-o",
        dir,
        "bench",
        "--only",
        "models",
        "--quick",
        "--profile",
      ],
      env: {
        MMJEPA_TORCH_PYTHON: join(dir, "no-such-python3"),
        MMJEPA_BENCH_BACKENDS: "wasm",
        MMJEPA_BENCH_MODES: "features",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    const skipped = out.split("\n").filter((l) =>
      /PyTorch/.test(l) && /skipped/.test(l)
    );
    assert.equal(skipped.length, 1, out);
    assert.match(skipped[0], /apt-get install python3-torch/);
    for (
      const phase of [
        "jepa pretraining",
        "contrastive pretraining",
        "finetuning",
      ]
    ) {
      for (
        const suffix of ["", " (stock tfjs kernels)", " (relaxed-SIMD FMA)"]
      ) {
        const name = `models: ${phase} step, features, wasm${suffix}`;
        const row = out.split("\n").find((l) => l.startsWith(`| ${name} |`));
        assert.ok(row, `no row for ${name}:\n${out}`);
        assert.match(row!, /\| [\d.]+ \| ms\/step \|/);
      }
    }
    // The targets stay on their lines, marked as not measured.
    const jepa = out.split("\n").find((l) =>
      l.startsWith("| models: jepa pretraining step, features, wasm |")
    )!;
    assert.match(jepa, /<= 1\.0x PyTorch \| not measured \|$/);
    // One profile table per timed step (3 phases x 3 variants), each with
    // kernel rows.
    const tables = out.split("profile: ").slice(1);
    assert.equal(tables.length, 9, out);
    for (const t of tables) {
      assert.match(t, /\| kernel \| ms\/step \| share \| calls\/step \|/);
      assert.match(t, /\n\| \w+ \| [\d.]+ \| [\d.]+% \| [\d.]+ \|/);
    }
    assert.match(tables[0], /MmjepaDense/);
    assert.match(
      Deno.readTextFileSync(join(dir, "RESULTS.md")),
      /ratios to PyTorch skipped/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
