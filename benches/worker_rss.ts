/**
 * One study worker's share of a study, replayed alone in this process, so
 * its peak resident memory (Linux VmHWM) is a per-worker figure. In
 * `task sim` the workers are threads of one process and its VmHWM covers
 * all of them; here the process holds the Deno runtime, one TensorFlow.js
 * and the jobs {@link workerSequences} gives that worker (the main thread
 * runs them, as `--workers 1` does), so the figure is what one worker
 * would need on its own, runtime included.
 *
 * `deno run -A benches/worker_rss.ts [--size quick|default] [--preset P]
 * [--worker K] [--workers N] [--seed S] [--jobs M]` prints one JSON line.
 *
 * @module
 */
import { UserError } from "../core/errors.ts";
import { PRESET_NAMES } from "../sim/mod.ts";
import { defaultStudy, type StudySize } from "../study/config.ts";
import { planStudy, workerSequences } from "../study/plan.ts";
import { runJobs } from "../study/pool.ts";
import { validateJobs } from "../study/run.ts";
import { peakRssMiB, threadPeaks } from "../study/memory.ts";
import type { ResultRow } from "../core/results.ts";

/** Which worker's share of which study to replay. */
export interface WorkerRssArgs {
  /** Built-in study size. */
  size: StudySize;
  /** Run only the paper analog on this preset (as `sim --preset`). */
  preset?: string;
  /** The worker (1-based). */
  worker: number;
  /** Workers the study is split across. */
  workers: number;
  /** Study seed (`task sim`'s default is 42). */
  seed: number;
  /** Only the first M jobs of the worker's share (its costliest). */
  jobs?: number;
}

/** What a replay measured. */
export interface WorkerRssResult {
  /** The arguments it ran with. */
  args: WorkerRssArgs;
  /** Peak resident memory of the process (VmHWM), MiB; null off Linux. */
  peakRssMiB: number | null;
  /** Largest isolate footprint sampled (heap + ArrayBuffers + wasm), MiB. */
  isolatePeakMiB: number | null;
  /** Jobs run, and the worker's whole share. */
  jobsRun: number;
  /** Jobs in the worker's share. */
  jobsInShare: number;
  /** Wall time, seconds. */
  seconds: number;
}

/**
 * Parses the command line of this script; bad values are a UserError
 * naming the flag.
 *
 * @example
 * ```ts
 * parseWorkerRssArgs(["--size", "quick", "--worker", "2"]).worker; // 2
 * ```
 */
export function parseWorkerRssArgs(argv: string[]): WorkerRssArgs {
  const a: WorkerRssArgs = { size: "default", worker: 1, workers: 2, seed: 42 };
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new UserError(
        `worker_rss: ${flag} is ${
          JSON.stringify(v ?? null)
        }; expected an integer >= ${min}`,
      );
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[++i];
    if (flag === "--size") {
      if (v !== "quick" && v !== "default" && v !== "full") {
        throw new UserError(
          `worker_rss: --size is ${
            JSON.stringify(v ?? null)
          }; expected quick, default or full`,
        );
      }
      a.size = v;
    } else if (flag === "--preset") {
      if (!v || !PRESET_NAMES.includes(v)) {
        throw new UserError(
          `worker_rss: --preset is ${
            JSON.stringify(v ?? null)
          }; expected one of ${PRESET_NAMES.join(", ")}`,
        );
      }
      a.preset = v;
    } else if (flag === "--worker") a.worker = int(flag, v, 1);
    else if (flag === "--workers") a.workers = int(flag, v, 1);
    else if (flag === "--seed") a.seed = int(flag, v, 0);
    else if (flag === "--jobs") a.jobs = int(flag, v, 1);
    else {
      throw new UserError(
        `worker_rss: unknown flag ${
          JSON.stringify(flag)
        }; expected --size, --preset, --worker, --workers, --seed or --jobs`,
      );
    }
  }
  if (a.worker > a.workers) {
    throw new UserError(
      `worker_rss: --worker is ${a.worker}; expected at most --workers (${a.workers})`,
    );
  }
  return a;
}

/**
 * Runs one worker's share of the study in this thread and measures it.
 *
 * @example
 * ```ts
 * const r = await replayWorker(parseWorkerRssArgs(["--size", "quick"]));
 * ```
 */
export async function replayWorker(a: WorkerRssArgs): Promise<WorkerRssResult> {
  const t0 = performance.now();
  let study = defaultStudy(a.size);
  // As `task sim --preset P`: the paper analog only, on that preset.
  if (a.preset) study = { ...study, scenario: a.preset, sweeps: [] };
  const jobs = planStudy(study, a.seed);
  validateJobs(jobs, study.title);
  const share = workerSequences(jobs, a.workers)[a.worker - 1] ?? [];
  const run = share.slice(0, a.jobs ?? share.length);
  const rows: ResultRow[] = [];
  await runJobs(run, 1, "auto", { onRows: (r) => rows.push(...r) });
  return {
    args: a,
    peakRssMiB: peakRssMiB(),
    isolatePeakMiB: threadPeaks(rows)[0]?.[1] ?? null,
    jobsRun: run.length,
    jobsInShare: share.length,
    seconds: (performance.now() - t0) / 1000,
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(
    await replayWorker(parseWorkerRssArgs(Deno.args)),
  ));
}
