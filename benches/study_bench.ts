/**
 * Wall time of the `sim` study, as a user runs it: a fresh `deno run -A
 * main.ts sim` process, timed from spawn to exit, against the issue's
 * target of 5 minutes for the default study on 2 cores. The speedup from
 * parallel workers is the quick study on 1 worker against the default
 * worker count, measured in the same run.
 *
 * @module
 */
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import type { BenchLine, BenchOptions } from "./harness.ts";

/**
 * Runs `main.ts sim` with `args` in a new Deno process; returns seconds.
 *
 * @throws Error with the process's stderr when it fails
 *
 * @example
 * ```ts
 * const s = await simSeconds(["--quick", "--workers", "1"]);
 * ```
 */
export async function simSeconds(args: string[]): Promise<number> {
  const main = fileURLToPath(new URL("../main.ts", import.meta.url));
  const out = await Deno.makeTempDir({ prefix: "mmjepa-study-bench-" });
  try {
    const t0 = performance.now();
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "--quiet", "--out", out, "sim", ...args],
      stdout: "null",
      stderr: "piped",
    }).output();
    const seconds = (performance.now() - t0) / 1000;
    if (!r.success) {
      throw new Error(
        `main.ts sim ${args.join(" ")} failed: ${
          new TextDecoder().decode(r.stderr).slice(-2000)
        }`,
      );
    }
    return seconds;
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

/**
 * Runs the study benchmark: the default study (the quick one with
 * `--quick`) against 5 minutes, and the quick study on 1 worker against
 * the default worker count.
 *
 * @example
 * ```ts
 * const lines = await run({ quick: true, log: console.error });
 * ```
 */
export async function run(o: BenchOptions): Promise<BenchLine[]> {
  const cores = cpus().length;
  const lines: BenchLine[] = [];
  o.log(`study: sim --quick, ${cores} workers`);
  const quickMany = await simSeconds(["--quick"]);
  o.log(`study: sim --quick, 1 worker`);
  const quickOne = await simSeconds(["--quick", "--workers", "1"]);
  lines.push({
    name: `study: sim --quick wall time, ${cores} workers`,
    value: Number(quickMany.toFixed(1)),
    unit: "s",
    baseline: {
      name: "sim --quick, 1 worker",
      value: Number(quickOne.toFixed(1)),
      ratio: Number((quickMany / quickOne).toFixed(2)),
    },
    note:
      `fresh process per run, including Deno start-up and the report; speedup ${
        (quickOne / quickMany).toFixed(2)
      }x from ${cores} workers`,
  });
  if (!o.quick) {
    o.log(`study: default sim, ${cores} workers (minutes)`);
    const full = await simSeconds([]);
    lines.push({
      name: `study: default sim wall time, ${cores} workers`,
      value: Number(full.toFixed(0)),
      unit: "s",
      target: "<= 300 s on 2 cores",
      met: full <= 300,
      note:
        `\`deno task sim\` with default settings, fresh process, ${cores} cores`,
    });
  }
  return lines;
}
