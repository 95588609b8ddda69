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

for (const cmd of ["sim", "train", "report", "bench"]) {
  Deno.test(`${cmd} --help explains its options with an example`, async () => {
    const r = await cli([cmd, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Usage: mmjepa ${cmd}`));
    assert.match(r.stdout, /Examples:\n {2}npx -y deno@2\.9\.6 task /);
  });
}

Deno.test("top-level help lists the subcommands and global options", async () => {
  const r = await cli(["--help"]);
  assert.equal(r.code, 0);
  for (
    const s of [
      "sim",
      "train",
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
];
for (const [args, message] of bad) {
  Deno.test(`bad input ${args.join(" ")} gives a one-line error`, async () => {
    const r = await cli(args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
    assert.ok(!/\n\s+at /.test(r.stderr), `stack trace printed:\n${r.stderr}`);
  });
}
