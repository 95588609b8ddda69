/**
 * `deno task bench`: runs the bench files, prints one table, and writes
 * benches/RESULTS.md with the date, backend and machine.
 *
 * @module
 */
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
    description: "wall time of `sim` (default and quick, 1 vs all workers)",
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
      } | ${l.met === undefined ? "" : l.met ? "yes" : "no"} |`,
    );
  }
  return out.join("\n");
}

/**
 * Runs the selected benchmarks and writes benches/RESULTS.md.
 *
 * @example
 * ```ts
 * await runBenches({ quick: true, only: ["sim"] });
 * ```
 */
export async function runBenches(
  opts: { quick: boolean; only?: string[]; quiet?: boolean; out?: string },
): Promise<BenchLine[]> {
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
  const lines: BenchLine[] = [];
  // Other processes skew every figure on a small machine: record how busy it was.
  const load = (): string => loadavg().map((v) => v.toFixed(2)).join(", ");
  const loadBefore = load();
  for (const b of chosen) {
    log(`bench ${b.name}: ${b.description}`);
    lines.push(...await b.run({ quick: opts.quick, log }));
  }
  const table = benchTable(lines);
  console.log(table);
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const v = versions();
  const md = [
    "# Benchmark results",
    "",
    `Measured ${
      new Date().toISOString().slice(0, 10)
    } on ${cpus().length} x ${cpu}, Deno ${v.deno}, tfjs ${v.tfjs}${
      opts.quick ? " (quick sizes)" : ""
    }. Regenerate with \`npx -y deno@2.9.6 task bench\`. Ratios compare with a baseline measured in the same run; absolute times vary 30-100% between runs on shared 2-core machines. Load average (1, 5, 15 min) ${loadBefore} at the start, ${load()} at the end.`,
    "",
    table,
    "",
    ...lines.filter((l) => l.note).map((l) => `- ${l.name}: ${l.note}`),
    "",
  ].join("\n");
  const here = new URL(".", import.meta.url).pathname;
  const path = opts.out ?? join(here, "RESULTS.md");
  // The GPU section comes from another machine (benches/gpu_bundle.sh):
  // kept in its own file and carried into every RESULTS.md written here.
  let gpu = "";
  try {
    if (!opts.out) gpu = Deno.readTextFileSync(join(here, "RESULTS_GPU.md"));
  } catch {
    // No GPU results recorded.
  }
  writeAtomic(path, gpu ? `${md}\n${gpu}` : md);
  log(`wrote ${path}`);
  return lines;
}
