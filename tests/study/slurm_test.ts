import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../core/errors.ts";
import {
  shellQuote,
  simArgv,
  slurmScripts,
  type SlurmSpec,
  splitArgs,
  submitSlurm,
  writeSlurm,
} from "../../study/slurm.ts";

const main = new URL("../../main.ts", import.meta.url).pathname;

function spec(extra: Partial<SlurmSpec> = {}): SlurmSpec {
  return {
    outDir: "/shared/my study",
    shards: 3,
    sim: {
      seed: 7,
      backend: "wasm",
      quiet: true,
      quick: true,
      full: false,
      methods: ["imaging-only", "jepa"],
    },
    sbatchArgs: ["--time=01:00:00", "--comment", "a b"],
    deno: "/opt/deno/bin/deno",
    mainTs: "/repo/main.ts",
    workDir: "/repo",
    ...extra,
  };
}

async function bash(
  script: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command("bash", {
    args: ["-c", script],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
}

Deno.test("splitArgs splits like a shell (quotes, backslashes), and refuses an open quote", () => {
  assert.deepEqual(splitArgs(""), []);
  assert.deepEqual(
    splitArgs(`  --time=1:00:00 --comment 'a b' -J "x \\"y\\"" c\\ d ''`),
    ["--time=1:00:00", "--comment", "a b", "-J", 'x "y"', "c d", ""],
  );
  assert.throws(
    () => splitArgs("--comment 'oops"),
    (e) => e instanceof UserError && /unterminated ' quote/.test(e.message),
  );
});

Deno.test("shellQuote round-trips through bash", async () => {
  const words = ["plain", "a b", "it's", "$HOME", 'q"uote', "", "*"];
  const r = await bash(
    `printf '%s\\n' ${words.map(shellQuote).join(" ")}`,
  );
  assert.equal(r.out, words.map((w) => w + "\n").join(""));
});

Deno.test("simArgv repeats the sim options, with an absolute --config", () => {
  const a = simArgv({
    seed: 3,
    backend: "cpu",
    quiet: false,
    quick: false,
    full: true,
    preset: "paper",
    config: "study.yaml",
    level: "volume",
    workers: 2,
  }, "/o");
  assert.deepEqual(a.slice(0, 7), [
    "--seed",
    "3",
    "--backend",
    "cpu",
    "--out",
    "/o",
    "sim",
  ]);
  assert.ok(a.includes("--full") && !a.includes("--quick"));
  assert.equal(a[a.indexOf("--config") + 1], join(Deno.cwd(), "study.yaml"));
  assert.equal(a[a.indexOf("--workers") + 1], "2");
  assert.equal(a[a.indexOf("--level") + 1], "volume");
});

Deno.test("the array script runs shard k+1 of N per task; the merge reports every shard", async () => {
  const s = slurmScripts(spec());
  assert.match(s.array, /^#SBATCH --array=0-2$/m);
  // --resume: a resubmitted task skips what its shard already saved.
  assert.match(s.array, /--shard "\$I\/3" --resume$/m);
  assert.match(s.array, /--workers "\$\{SLURM_CPUS_PER_TASK:-1\}"/);
  assert.match(s.array, /--methods imaging-only,jepa/);
  assert.match(s.array, /--out '\/shared\/my study' sim --quick/);
  for (const k of [1, 2, 3]) {
    assert.ok(
      s.merge.includes(`'/shared/my study/shard-${k}-of-3/results.jsonl'`),
      `merge lacks shard ${k}`,
    );
  }
  // --force: a second merge (after a rerun shard) replaces the report.
  assert.match(s.merge, / report --force '/);
  // Both jobs get the extra sbatch args; the merge waits for the array.
  assert.match(
    s.submit,
    /sbatch --parsable --time=01:00:00 --comment 'a b' '\/shared\/my study\/slurm\/shards.sbatch'/,
  );
  assert.match(
    s.submit,
    /--dependency=afterok:"\$A" --kill-on-invalid-dep=yes/,
  );
  for (const text of [s.array, s.merge, s.submit]) {
    const r = await bash(`bash -n <<'EOF'\n${text}\nEOF`);
    assert.equal(r.code, 0, r.err);
  }
  // An explicit --workers wins over the SLURM allocation.
  const w = slurmScripts(spec({ sim: { ...spec().sim, workers: 4 } }));
  assert.doesNotMatch(w.array, /SLURM_CPUS_PER_TASK/);
  assert.match(w.array, /--workers 4 --shard/);
});

Deno.test("submit.sh submits the array, then the merge with afterok on its id", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "slurm-submit" });
  // A fake sbatch on PATH records its arguments and answers like --parsable.
  const bin = join(dir, "bin");
  Deno.mkdirSync(bin);
  Deno.writeTextFileSync(
    join(bin, "sbatch"),
    `#!/bin/bash\necho "$*" >>${dir}/calls\nn=$(wc -l <${dir}/calls)\necho "$((n + 40));cluster"\n`,
  );
  Deno.chmodSync(join(bin, "sbatch"), 0o755);
  try {
    const files = writeSlurm(spec({ outDir: join(dir, "out") }));
    assert.ok(statSync(files.submit).mode & 0o100, "submit.sh is executable");
    const r = await bash(files.submit, {
      PATH: `${bin}:${Deno.env.get("PATH")}`,
    });
    assert.equal(r.code, 0, r.err);
    const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
    assert.equal(calls.length, 2);
    assert.match(calls[0], /shards\.sbatch$/);
    assert.match(calls[1], /--dependency=afterok:41 --kill-on-invalid-dep=yes/);
    assert.match(calls[1], /merge\.sbatch$/);
    assert.match(r.out, /array job 41 \(3 shards\) and merge job 42/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("--submit: array first, merge after it with afterok; a failing sbatch is a UserError", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "slurm-submit" });
  const bin = join(dir, "bin");
  Deno.mkdirSync(bin);
  Deno.writeTextFileSync(
    join(bin, "sbatch"),
    `#!/bin/bash
if [ -e ${dir}/fail ]; then echo "sbatch: error: invalid partition" >&2; exit 1; fi
echo "$*" >>${dir}/calls
n=$(wc -l <${dir}/calls)
echo "$((n + 6));cluster"
`,
  );
  Deno.chmodSync(join(bin, "sbatch"), 0o755);
  const path = Deno.env.get("PATH") ?? "";
  Deno.env.set("PATH", `${bin}:${path}`);
  try {
    const files = writeSlurm(spec({ outDir: join(dir, "out") }));
    const ids = await submitSlurm(files, ["--partition=x"]);
    assert.deepEqual(ids, { arrayId: "7", mergeId: "8" });
    const calls = readFileSync(join(dir, "calls"), "utf8").trim().split("\n");
    assert.equal(calls[0], `--parsable --partition=x ${files.array}`);
    assert.equal(
      calls[1],
      `--parsable --dependency=afterok:7 --kill-on-invalid-dep=yes --partition=x ${files.merge}`,
    );
    Deno.writeTextFileSync(join(dir, "fail"), "");
    await assert.rejects(
      () => submitSlurm(files, []),
      (e) => e instanceof UserError && /invalid partition/.test(e.message),
    );
  } finally {
    Deno.env.set("PATH", path);
    Deno.removeSync(dir, { recursive: true });
  }
});

async function cli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
  };
}

Deno.test("sim --slurm without --submit writes the scripts and prints what to submit", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "slurm-cli" });
  const r = await cli([
    "--out",
    dir,
    "sim",
    "--quick",
    "--methods",
    "imaging-only",
    "--slurm",
    "--shards",
    "2",
    "--sbatch-args",
    "--partition=cpu",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 array tasks over \d+ jobs/);
  assert.match(r.stdout, new RegExp(`bash ${dir}/slurm/submit\\.sh`));
  const array = readFileSync(join(dir, "slurm", "shards.sbatch"), "utf8");
  assert.match(array, /^#SBATCH --array=0-1$/m);
  assert.match(
    readFileSync(join(dir, "slurm", "submit.sh"), "utf8"),
    /--partition=cpu/,
  );
  Deno.removeSync(dir, { recursive: true });
});

const bad: [string[], RegExp][] = [
  [
    ["sim", "--quick", "--shard", "3/2"],
    /argument '3\/2' is invalid\. expected I\/N/,
  ],
  [["sim", "--quick", "--shard", "1/2"], /--shard needs --out DIR/],
  [["sim", "--quick", "--slurm"], /--slurm needs --out DIR/],
  [["sim", "--quick", "--shards", "2"], /--shards needs --slurm/],
  [["sim", "--quick", "--submit"], /--submit needs --slurm/],
  [
    ["-o", "/tmp", "sim", "--quick", "--slurm", "--force"],
    /--force and --slurm cannot be combined/,
  ],
  [
    ["-o", "/tmp", "sim", "--quick", "--slurm", "--shard", "1/2"],
    /--shard and --slurm cannot be combined/,
  ],
  [
    [
      "-o",
      "/tmp",
      "sim",
      "--quick",
      "--methods",
      "jepa",
      "--slurm",
      "--shards",
      "999",
    ],
    /--shards 999: the study has only \d+ job\(s\)/,
  ],
  [
    ["-o", "/tmp", "sim", "--quick", "--methods", "jepa", "--shard", "999/999"],
    /--shard 999\/999: the study has only \d+ job\(s\)/,
  ],
];
for (const [args, want] of bad) {
  Deno.test(`bad input ${args.join(" ")} is a one-line usage error`, async () => {
    const r = await cli(args);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, want);
    assert.ok(!/\n\s+at /.test(r.stderr), `stack trace:\n${r.stderr}`);
  });
}
