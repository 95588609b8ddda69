/**
 * `deno task bench`: runs the bench files, prints one table, and writes
 * RESULTS.md (date, machine, load averages) into the output folder
 * (default a fresh out/bench-<time>/); only `--write-results` replaces the
 * committed benches/RESULTS.md.
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { writeAtomic } from "../core/results.ts";
import { versions } from "../core/provenance.ts";
import type { BenchLine, BenchOptions } from "./harness.ts";

/** A registered benchmark. */
export interface Bench {
  /** Name used by `--only`. */
  name: string;
  /** What it measures. */
  description: string;
  /** Loads and runs it. */
  run: (o: BenchOptions) => Promise<BenchLine[]>;
}

/** Every benchmark, in the order they run. */
export const BENCHES: Bench[] = [
  {
    name: "sim",
    description: "synthetic cohort generation rate",
    run: async (o) => (await import("./sim_bench.ts")).run(o),
  },
  {
    name: "real",
    description: "real-data preprocessing rate (decode + resample + crop)",
    run: async (o) => (await import("./real_bench.ts")).run(o),
  },
  {
    name: "models",
    description:
      "JEPA, contrastive and finetune step time per backend, against PyTorch in the same run",
    run: async (o) => (await import("./models_bench.ts")).run(o),
  },
  {
    name: "webgpu",
    description:
      "per-kernel GPU time of a JEPA step on WebGPU; stock vs mmjepa kernels in the same run",
    run: async (o) => (await import("./webgpu_bench.ts")).run(o),
  },
  {
    name: "study",
    description:
      "wall time of `sim` (default and quick, 1 vs all workers) and peak RSS per study worker",
    run: async (o) => (await import("./study_bench.ts")).run(o),
  },
];

/**
 * Formats bench lines as a markdown table.
 *
 * @example
 * ```ts
 * console.log(benchTable([{ name: "x", value: 1, unit: "ms" }]));
 * ```
 */
export function benchTable(lines: BenchLine[]): string {
  const fmt = (v: number) =>
    Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
  const out = [
    "| benchmark | value | unit | baseline (same run) | ratio | target | met |",
    "|---|---:|---|---|---:|---|---|",
  ];
  for (const l of lines) {
    out.push(
      `| ${l.name} | ${fmt(l.value)} | ${l.unit} | ${
        l.baseline ? `${l.baseline.name}: ${fmt(l.baseline.value)}` : ""
      } | ${l.baseline ? l.baseline.ratio.toFixed(2) : ""} | ${
        l.target ?? ""
      } | ${metCell(l)} |`,
    );
  }
  return out.join("\n");
}

// "met" / "not met" on every line that has a target; a target whose
// baseline could not be measured (no PyTorch) says so instead of guessing.
function metCell(l: BenchLine): string {
  if (l.met !== undefined) return l.met ? "met" : "not met";
  return l.target ? "not measured" : "";
}

/** Options of {@link runBenches}. */
export interface RunBenchOptions {
  /** Smaller sizes, for smoke tests. */
  quick: boolean;
  /** Bench names to run (default all). */
  only?: string[];
  /** No progress messages. */
  quiet?: boolean;
  /** Folder RESULTS.md goes to (created); default out/bench-<time>/. */
  out?: string;
  /** Also replace the committed results file (benches/RESULTS.md). */
  writeResults?: boolean;
  /** The committed results file; a test points it elsewhere. */
  resultsPath?: string;
  /** Print the top kernels of each timed step (models bench). */
  profile?: boolean;
}

/**
 * Runs the selected benchmarks, prints one table and writes RESULTS.md into
 * `out` (and benches/RESULTS.md only with `writeResults`). Returns the lines.
 *
 * @example
 * ```ts
 * await runBenches({ quick: true, only: ["sim"], out: "out/b" });
 * ```
 */
export async function runBenches(opts: RunBenchOptions): Promise<BenchLine[]> {
  const unknown = (opts.only ?? []).filter((n) =>
    !BENCHES.some((b) => b.name === n)
  );
  if (unknown.length > 0) {
    const { UserError } = await import("../core/errors.ts");
    throw new UserError(
      `unknown bench "${unknown[0]}"; expected one of ${
        BENCHES.map((b) => b.name).join(", ")
      }`,
    );
  }
  const chosen = BENCHES.filter((b) =>
    !opts.only || opts.only.includes(b.name)
  );
  const log = opts.quiet ? () => {} : (m: string) => console.error(m);
  const notices: string[] = [];
  // Things the reader must not miss (e.g. "no PyTorch: ratios skipped"):
  // printed even with --quiet, and kept in RESULTS.md.
  const notice = (m: string) => {
    if (!notices.includes(m)) {
      notices.push(m);
      console.log(m);
    }
  };
  const lines: BenchLine[] = [];
  // Other processes skew every figure on a small machine: record how busy it was.
  const load = (): string => loadavg().map((v) => v.toFixed(2)).join(", ");
  const loadBefore = load();
  for (const b of chosen) {
    log(`bench ${b.name}: ${b.description}`);
    lines.push(
      ...await b.run({
        quick: opts.quick,
        log,
        notice,
        profile: opts.profile ?? false,
      }),
    );
  }
  const table = benchTable(lines);
  console.log(table);
  const loads =
    `load average (1, 5, 15 min): ${loadBefore} at the start, ${load()} at the end`;
  console.log(loads);
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const v = versions();
  const md = [
    "# Benchmark results",
    "",
    `Measured ${
      new Date().toISOString().slice(0, 10)
    } on ${cpus().length} x ${cpu}, Deno ${v.deno}, tfjs ${v.tfjs}${
      opts.quick ? " (quick sizes)" : ""
    }. Regenerate with \`npx -y deno@2.9.6 task bench --write-results\` (other agents or jobs may share the CPU: see the load averages). Ratios compare with a baseline measured in the same run; absolute times vary 30-100% between runs on shared 2-core machines. Load ${
      loads.slice(5)
    }.`,
    "",
    ...notices.flatMap((m) => [m, ""]),
    table,
    "",
    ...lines.filter((l) => l.note).map((l) => `- ${l.name}: ${l.note}`),
    "",
  ].join("\n");
  const here = new URL(".", import.meta.url).pathname;
  const outDir = opts.out ?? join("out", `bench-${timestamp()}`);
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, "RESULTS.md");
  writeAtomic(path, md);
  log(`wrote ${path}`);
  if (opts.writeResults) {
    const committed = opts.resultsPath ?? join(here, "RESULTS.md");
    // Sections measured apart from this bench (the GPU bundle on another
    // machine, before/after runs of benches/before_after.ts) live in their
    // own benches/RESULTS_*.md files and are carried into RESULTS.md.
    const carried = [...Deno.readDirSync(here)]
      .map((e) => e.name)
      .filter((n) => /^RESULTS_.+\.md$/.test(n))
      .sort()
      .map((n) => Deno.readTextFileSync(join(here, n)));
    writeAtomic(committed, [md, ...carried].join("\n"));
    log(`wrote ${committed}`);
  }
  return lines;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
}
