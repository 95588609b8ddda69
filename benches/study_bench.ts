/**
 * Wall time of the `sim` study, as a user runs it: a fresh `deno run -A
 * main.ts sim` process, timed from spawn to exit, against the issue's
 * target of 5 minutes for the default study on 2 cores. The speedup from
 * parallel workers is the quick study on 1 worker against the default
 * worker count, measured in the same run. Peak resident memory per study
 * worker: each worker's share of the study replayed in a process of its
 * own (benches/worker_rss.ts), against 1 GiB.
 *
 * @module
 */
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import type { BenchLine, BenchOptions } from "./harness.ts";
import type { WorkerRssResult } from "./worker_rss.ts";

/** The issue's memory target per study worker, MiB. */
export const WORKER_RSS_TARGET_MIB = 1024;

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
      // As `deno task sim` runs it (deno.json).
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        main,
        "--quiet",
        "--out",
        out,
        "sim",
        ...args,
      ],
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
 * Replays one worker's share of a study in a new Deno process
 * (benches/worker_rss.ts with `args`) and returns what it measured.
 *
 * @throws Error with the process's stderr when it fails
 *
 * @example
 * ```ts
 * const r = await workerRss(["--size", "quick", "--worker", "1"]);
 * console.log(r.peakRssMiB);
 * ```
 */
export async function workerRss(args: string[]): Promise<WorkerRssResult> {
  const script = fileURLToPath(new URL("./worker_rss.ts", import.meta.url));
  const r = await new Deno.Command(Deno.execPath(), {
    // The flags of `deno task sim` (deno.json): garbage is collected
    // between jobs.
    args: ["run", "-A", "--v8-flags=--expose-gc", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout).trim().split("\n").at(-1);
  if (!r.success || !out?.startsWith("{")) {
    throw new Error(
      `worker_rss.ts ${args.join(" ")} failed: ${
        new TextDecoder().decode(r.stderr).slice(-2000)
      }`,
    );
  }
  return JSON.parse(out) as WorkerRssResult;
}

/**
 * The target line of the per-worker memory figure: the largest peak RSS
 * over the replayed workers, against {@link WORKER_RSS_TARGET_MIB}.
 * Without /proc (not Linux) it says so and has no `met`.
 *
 * @example
 * ```ts
 * const line = workerRssLine("default study", [r1, r2]);
 * console.log(workerRssText(line)); // "peak RSS per study worker: 612 MiB ..."
 * ```
 */
export function workerRssLine(
  what: string,
  results: WorkerRssResult[],
): BenchLine {
  const known = results.filter((r) => r.peakRssMiB !== null);
  const peak = known.length === results.length && known.length > 0
    ? Math.max(...known.map((r) => r.peakRssMiB!))
    : null;
  const each = results.map((r) =>
    `worker ${r.args.worker} of ${r.args.workers}: ${
      r.peakRssMiB === null ? "n/a" : `${r.peakRssMiB.toFixed(0)} MiB`
    } RSS, isolate peak ${
      r.isolatePeakMiB === null ? "n/a" : `${r.isolatePeakMiB.toFixed(0)} MiB`
    }, ${r.jobsRun}${
      r.jobsRun < r.jobsInShare ? ` of ${r.jobsInShare}` : ""
    } job(s), ${r.seconds.toFixed(0)} s`
  );
  return {
    name: `study: peak RSS per study worker, ${what}`,
    value: peak === null ? NaN : Math.round(peak),
    unit: "MiB",
    target: `<= ${WORKER_RSS_TARGET_MIB} MiB`,
    ...(peak === null ? {} : { met: peak <= WORKER_RSS_TARGET_MIB }),
    note:
      `each worker's share of the plan (longest first, by estimated cost) replayed alone in a fresh process; Linux VmHWM, Deno runtime included (${
        each.join("; ")
      })${peak === null ? "; not measured: no /proc/self/status" : ""}`,
  };
}

/**
 * The printed form of a {@link workerRssLine}:
 * `peak RSS per study worker: X MiB (target <= 1024 MiB): met`.
 *
 * @example
 * ```ts
 * console.log(workerRssText(workerRssLine("quick study", results)));
 * ```
 */
export function workerRssText(line: BenchLine): string {
  return `peak RSS per study worker: ${
    Number.isFinite(line.value) ? line.value : "n/a"
  } MiB (target ${line.target}): ${
    line.met === undefined ? "not measured" : line.met ? "met" : "not met"
  } (${line.name.replace(/^study: peak RSS per study worker, /, "")})`;
}

/**
 * Runs the study benchmark: the default study (the quick one with
 * `--quick`) against 5 minutes, the quick study on 1 worker against
 * the default worker count, and the peak RSS per worker of the default
 * study (quick) and of paper-volume (not with `--quick`).
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
  // Memory per worker: every worker's share, one process each, all at
  // once as a study runs them (VmHWM is per process, so running them
  // side by side changes no figure, only the wall time).
  const shares = async (what: string, args: string[]) => {
    const n = Math.max(2, cores);
    o.log(`study: peak RSS of each of ${n} workers' shares, ${what}`);
    const results = await Promise.all(
      Array.from(
        { length: n },
        (_, k) =>
          workerRss([...args, "--worker", `${k + 1}`, "--workers", `${n}`]),
      ),
    );
    const line = workerRssLine(what, results);
    // Printed even with --quiet, and kept in RESULTS.md above the table.
    (o.notice ?? o.log)(workerRssText(line));
    lines.push(line);
  };
  await shares(
    o.quick ? "quick study" : "default study",
    ["--size", o.quick ? "quick" : "default"],
  );
  if (!o.quick) {
    await shares("paper-volume", ["--preset", "paper-volume"]);
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
