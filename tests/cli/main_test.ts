import assert from "node:assert/strict";

const main = new URL("../../main.ts", import.meta.url).pathname;

async function cli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

for (const cmd of ["sim", "train", "predict", "report", "bench"]) {
  Deno.test(`${cmd} --help explains its options with an example`, async () => {
    const r = await cli([cmd, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Usage: mmjepa ${cmd}`));
    assert.match(r.stdout, /Examples:\n {2}npx -y deno@2\.9\.6 task /);
    assert.match(r.stdout, /Global Options:\n {2}--seed <int>/);
    assert.match(r.stdout, / {2}-o, --out <dir>/);
  });
}

Deno.test("top-level help lists the subcommands and global options", async () => {
  const r = await cli(["--help"]);
  assert.equal(r.code, 0);
  for (
    const s of [
      "sim",
      "train",
      "predict",
      "report",
      "bench",
      "--seed",
      "--backend",
      "--out",
      "--quiet",
    ]
  ) {
    assert.ok(r.stdout.includes(s), `help lacks ${s}`);
  }
});

const bad: [string[], RegExp][] = [
  [
    ["--seed", "abc", "sim"],
    /option '--seed <int>' argument 'abc' is invalid\. expected a non-negative integer, got "abc"/,
  ],
  [
    ["--backend", "tpu", "sim"],
    /argument 'tpu' is invalid\. Allowed choices are auto, webgpu, wasm, cpu/,
  ],
  [["simulate"], /unknown command 'simulate'/],
  [["sim", "--fast"], /unknown option '--fast'/],
  [
    ["--out", "/proc/mmjepa-no", "sim", "--quick"],
    /error: --out: cannot write to "\/proc\/mmjepa-no"/,
  ],
  [["sim", "--quick", "--full"], /--quick and --full cannot be combined/],
  [["predict", "--config", "c.yaml"], /required option '--model <dir>'/],
  [
    ["predict", "--model", "/nonexistent", "--config", "c.yaml"],
    /error: --model \/nonexistent: \/nonexistent\/model\.safetensors is missing/,
  ],
];
for (const [args, message] of bad) {
  Deno.test(`bad input ${args.join(" ")} gives a one-line error`, async () => {
    const r = await cli(args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
    assert.ok(!/\n\s+at /.test(r.stderr), `stack trace printed:\n${r.stderr}`);
  });
}

Deno.test("report merges files, names bad lines, and prints the table's AUC", async () => {
  const dir = Deno.makeTempDirSync();
  const labels = [0, 0, 0, 1, 1, 1, 0, 1];
  const row = (method: string, scores: number[], seed: number) =>
    JSON.stringify({
      schema: 1,
      runId: `${method}-${seed}`,
      study: "paper",
      scenario: "unit",
      method,
      seed,
      backend: { name: "cpu", detail: "js" },
      versions: {},
      gitCommit: null,
      startedAt: "2026-01-01T00:00:00.000Z",
      wallSeconds: 1,
      config: {},
      metrics: {},
      predictions: {
        internal: { ids: labels.map((_, i) => `p${i}`), labels, scores },
      },
    });
  Deno.writeTextFileSync(
    `${dir}/a.jsonl`,
    row("imaging-only", [0.1, 0.4, 0.35, 0.8, 0.7, 0.3, 0.2, 0.9], 1) +
      "\n{broken\n",
  );
  Deno.writeTextFileSync(
    `${dir}/b.jsonl`,
    row("jepa", [0.2, 0.1, 0.3, 0.9, 0.8, 0.7, 0.4, 0.6], 1) + "\n",
  );
  const r = await cli([
    "report",
    `${dir}/a.jsonl`,
    `${dir}/b.jsonl`,
    "-o",
    `${dir}/rep`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /a\.jsonl:2: not valid JSON/);
  const md = Deno.readTextFileSync(`${dir}/rep/report.md`);
  // jepa ranks every positive above every negative: AUC 1 (14/16 for imaging-only).
  assert.match(md, /\| jepa +\| 1\.000 /);
  assert.match(md, /\| imaging-only +\| 0\.875 /);
  assert.ok(Deno.statSync(`${dir}/rep/report.html`).isFile);
});

Deno.test("bench -o writes its RESULTS.md there and leaves benches/RESULTS.md alone", async () => {
  const committed = new URL("../../benches/RESULTS.md", import.meta.url);
  const before = Deno.readTextFileSync(committed);
  const dir = Deno.makeTempDirSync();
  try {
    const r = await cli(["bench", "--only", "sim", "--quick", "-q", "-o", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      Deno.readTextFileSync(`${dir}/RESULTS.md`),
      /sim: features generation/,
    );
    assert.equal(Deno.readTextFileSync(committed), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("--set overrides study, experiment and scenario keys; --print-config shows them; --list-presets; --version", async () => {
  const r = await cli([
    "sim",
    "--quick",
    "--set",
    "seeds=3",
    "--set",
    "experiment.pretrain.steps=100",
    "--set",
    "crossModalCorrelation=0.6",
    "--print-config",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^seeds: 3$/m);
  assert.match(r.stdout, /^ {4}steps: 100$/m);
  assert.match(r.stdout, /^ {2}crossModalCorrelation: 0\.6$/m);
  const typo = await cli([
    "sim",
    "--set",
    "crossModalCorelation=0.6",
    "--print-config",
  ]);
  assert.notEqual(typo.code, 0);
  assert.match(typo.stderr, /unknown key "crossModalCorelation"/);
  const exp = await cli([
    "sim",
    "--set",
    "experiment.pretrain.stepz=1",
    "--print-config",
  ]);
  assert.notEqual(exp.code, 0);
  assert.match(exp.stderr, /stepz/);
  const bad = await cli(["sim", "--set", "seeds", "--check"]);
  assert.match(bad.stderr, /expected key\.path=value/);
  const list = await cli(["sim", "--list-presets"]);
  assert.equal(list.code, 0);
  assert.equal(list.stdout.trim().split("\n").length, 5);
  assert.match(list.stdout, /^paper +Li et al\. 2025 analog/m);
  const v = await cli(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^mmjepa \d+\.\d+\.\d+ \(deno /);
});
