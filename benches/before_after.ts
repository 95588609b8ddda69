/**
 * Before / after in one run: alternating rounds of PyTorch (the baseline),
 * an older checkout (`--rev`) and this working tree, timing the models
 * bench's six wasm steps (JEPA, contrastive and finetuning; features and
 * volume 32^3). Each round measures all three back to back (the two
 * mmjepa trees in alternating order), so drift on a shared machine hits
 * both alike; the table gives per-round ratios to PyTorch, their medians,
 * and after / before.
 *
 * Usage:
 *
 * ```sh
 * deno run -A benches/before_after.ts --rev cb18e6d --rounds 3 [--modes features,volume] [-o out/before-after.md]
 * ```
 *
 * The older checkout is `git archive`d into a temporary folder and gets a
 * copy of benches/step_timer.ts (which only uses APIs older trees have).
 *
 * @module
 */
import {
  cpSync,
  existsSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { median } from "./harness.ts";
import {
  bestTorch,
  type Phase,
  runTorch,
  setup,
  torchPython,
  torchSpec,
} from "./models_bench.ts";
import { STEP_PHASES } from "./step_timer.ts";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

async function sh(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<string> {
  const r = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${cwd}) failed: ${dec.decode(r.stderr)}`,
    );
  }
  return dec.decode(r.stdout);
}

// Steps timed in a checkout by its copy of step_timer.ts: "mode/phase" -> ms.
async function timeTree(
  dir: string,
  modes: string[],
): Promise<Record<string, number>> {
  const out = await sh(Deno.execPath(), [
    "run",
    "-A",
    "benches/step_timer.ts",
    modes.join(","),
  ], dir);
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

function parseArgs(args: string[]) {
  let rev = "";
  let rounds = 3;
  let modes = ["features", "volume"];
  let out = "";
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--rev") rev = args[++i];
    else if (a === "--rounds") rounds = Number(args[++i]);
    else if (a === "--modes") modes = args[++i].split(",");
    else if (a === "-o" || a === "--out") out = args[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!rev) throw new Error("--rev REV: the older commit to compare with");
  if (!(Number.isInteger(rounds) && rounds >= 1)) {
    throw new Error(`--rounds: expected an integer >= 1, got ${rounds}`);
  }
  return { rev, rounds, modes, out };
}

if (import.meta.main) {
  const { rev, rounds, modes, out } = parseArgs(Deno.args);
  const python = await torchPython();
  if (!python) {
    throw new Error(
      "PyTorch not found: apt-get install python3-torch libopenblas0-pthread",
    );
  }
  const before = mkdtempSync(join(tmpdir(), "mmjepa-before-"));
  const load = () => loadavg().map((v) => v.toFixed(2)).join(", ");
  const loadStart = load();
  try {
    const tar = await new Deno.Command("sh", {
      args: ["-c", `git -C '${ROOT}' archive '${rev}' | tar -x -C '${before}'`],
    }).output();
    if (!tar.success) throw new Error(`git archive ${rev} failed`);
    cpSync(
      join(ROOT, "benches/step_timer.ts"),
      join(before, "benches/step_timer.ts"),
    );
    // deno.json says nodeModulesDir "manual": the older tree uses this
    // tree's installed packages (same pins) instead of installing its own.
    const modules = join(ROOT, "node_modules");
    if (existsSync(modules)) {
      symlinkSync(realpathSync(modules), join(before, "node_modules"));
    }
    const keys = modes.flatMap((m) => STEP_PHASES.map((p) => `${m}/${p}`));
    const rows: Record<string, [number, number, number][]> = {};
    for (const k of keys) rows[k] = [];
    for (let r = 0; r < rounds; r++) {
      const torch: Record<string, number> = {};
      for (const mode of modes as ("features" | "volume")[]) {
        console.error(`round ${r + 1}: PyTorch, ${mode}`);
        const s = setup(mode);
        const t = await runTorch(python, {
          ...torchSpec(mode, s.set, s.base, s.batchOf),
          reps: 10,
        });
        for (const p of STEP_PHASES) {
          torch[`${mode}/${p}`] = bestTorch(t, p as Phase)[1];
        }
      }
      // Alternate which tree goes first, so neither always runs warmer.
      const order = r % 2 === 0 ? ["before", "after"] : ["after", "before"];
      const ms: Record<string, Record<string, number>> = {};
      for (const which of order) {
        console.error(`round ${r + 1}: ${which}`);
        ms[which] = await timeTree(which === "before" ? before : ROOT, modes);
      }
      for (const k of keys) {
        rows[k].push([torch[k], ms.before[k], ms.after[k]]);
      }
    }
    const f = (v: number) => v >= 100 ? v.toFixed(0) : v.toPrecision(3);
    const lines = [
      `Before (${rev}) / after (this tree) on wasm with mmjepa kernels, ${rounds} alternating round(s) of PyTorch ${python} then both trees; medians of per-round values. Load average (1, 5, 15 min) ${loadStart} at the start, ${load()} at the end (other processes share this CPU).`,
      "",
      "| step | PyTorch ms | before ms | after ms | before / PyTorch | after / PyTorch | after / before | rounds (PyTorch / before / after ms) |",
      "|---|---:|---:|---:|---:|---:|---:|---|",
    ];
    for (const k of keys) {
      const rs = rows[k];
      lines.push(
        `| ${k} | ${f(median(rs.map((x) => x[0])))} | ${
          f(median(rs.map((x) => x[1])))
        } | ${f(median(rs.map((x) => x[2])))} | ${
          median(rs.map((x) => x[1] / x[0])).toFixed(2)
        } | ${median(rs.map((x) => x[2] / x[0])).toFixed(2)} | ${
          median(rs.map((x) => x[2] / x[1])).toFixed(2)
        } | ${rs.map((x) => x.map(f).join(" / ")).join("; ")} |`,
      );
    }
    const md = lines.join("\n");
    console.log(md);
    if (out) writeFileSync(out, md + "\n");
  } finally {
    // The link first, on its own, so nothing can follow it into this
    // tree's packages.
    const link = join(before, "node_modules");
    if (existsSync(link)) Deno.removeSync(link);
    rmSync(before, { recursive: true, force: true });
  }
}
