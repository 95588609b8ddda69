/**
 * Runs jobs serially in this thread or across Web Workers, and always
 * hands results back in job order, so the results file is the same however
 * many workers ran it.
 *
 * @module
 */
import {
  type BackendChoice,
  type BackendInfo,
  initBackend,
} from "../kernels/backend.ts";
import { DivergenceError, UserError } from "../core/errors.ts";
import type { ResultRow } from "../core/results.ts";
import { type Job, runJob } from "./job.ts";
import { longestFirst } from "./plan.ts";

/** Messages to a worker. */
export type WorkerRequest =
  | { type: "init"; backend: string; worker: number }
  | { type: "job"; job: Job };

/** Messages from a worker. */
export type WorkerReply =
  | { type: "ready"; backend: BackendInfo }
  | { type: "progress"; index: number; phase: "pretrain" | "finetune" }
  | { type: "done"; index: number; rows: ResultRow[] }
  | {
    type: "error";
    index: number;
    name: string;
    message: string;
    stack: string;
  };

/** Callbacks while jobs run. */
export interface PoolHooks {
  /** A phase of a job finished. */
  onPhase?: (index: number, phase: "pretrain" | "finetune") => void;
  /** A job finished; called in job order (a prefix at a time). */
  onRows?: (rows: ResultRow[], job: Job) => void;
}

/**
 * Rebuilds an error a worker reported, keeping its kind, so the CLI prints
 * user and divergence errors as one line and anything else with its stack.
 *
 * @example
 * ```ts
 * throw errorFromWorker({ name: "UserError", message: "bad key", stack: "" });
 * ```
 */
export function errorFromWorker(
  m: { name: string; message: string; stack: string },
): Error {
  if (m.name === "UserError") return new UserError(m.message);
  if (m.name === "DivergenceError") {
    const step = Number(/at step (\d+)/.exec(m.message)?.[1] ?? NaN);
    const last = Number(/last finite loss ([-\d.e+]+)/.exec(m.message)?.[1]);
    const e = new DivergenceError(
      "training",
      step,
      Number.isFinite(last) ? last : null,
    );
    e.message = m.message;
    return e;
  }
  const e = new Error(m.message);
  e.stack = m.stack;
  return e;
}

/**
 * Runs `jobs` with `workers` workers (1 = in this thread) on `backend`.
 * Returns the backend the jobs ran on.
 *
 * @example
 * ```ts
 * const info = await runJobs(jobs, 2, "auto", { onRows: (r) => save(r) });
 * ```
 */
export async function runJobs(
  jobs: Job[],
  workers: number,
  backend: BackendChoice,
  hooks: PoolHooks = {},
): Promise<BackendInfo> {
  const done = new Map<number, ResultRow[]>();
  let next = 0;
  const flush = () => {
    while (next < jobs.length && done.has(jobs[next].index)) {
      hooks.onRows?.(done.get(jobs[next].index)!, jobs[next]);
      done.delete(jobs[next].index);
      next++;
    }
  };

  if (workers <= 1 || jobs.length <= 1) {
    const info = await initBackend(backend);
    for (const job of jobs) {
      const rows = await runJob(
        job,
        info,
        (p) => hooks.onPhase?.(job.index, p),
      );
      done.set(job.index, rows);
      flush();
      // A macrotask turn between jobs, so Ctrl-C (a signal listener) and
      // timers run even when every job computes in this thread.
      await new Promise((r) => setTimeout(r, 0));
    }
    return info;
  }

  const n = Math.min(workers, jobs.length);
  const pool: Worker[] = [];
  let info: BackendInfo | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      let queued = 0;
      let finished = 0;
      // Costliest first, so the workers finish together (results still
      // flush in plan order).
      const queue = longestFirst(jobs);
      const give = (w: Worker) => {
        if (queued < queue.length) {
          w.postMessage({ type: "job", job: queue[queued++] } as WorkerRequest);
        }
      };
      for (let i = 0; i < n; i++) {
        const w = new Worker(new URL("./worker.ts", import.meta.url).href, {
          type: "module",
        });
        pool.push(w);
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`worker ${i} crashed: ${e.message}`));
        };
        w.onmessage = (e: MessageEvent<WorkerReply>) => {
          const m = e.data;
          try {
            if (m.type === "ready") {
              info ??= m.backend;
              give(w);
            } else if (m.type === "progress") {
              hooks.onPhase?.(m.index, m.phase);
            } else if (m.type === "done") {
              done.set(m.index, m.rows);
              flush();
              finished++;
              if (finished === jobs.length) resolve();
              else give(w);
            } else {
              throw errorFromWorker(m);
            }
          } catch (err) {
            reject(err);
          }
        };
        w.postMessage(
          { type: "init", backend, worker: i + 1 } as WorkerRequest,
        );
      }
    });
  } finally {
    for (const w of pool) w.terminate();
  }
  return info!;
}
