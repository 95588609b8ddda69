/**
 * Web Worker entry: each worker has its own TensorFlow.js and runs jobs one
 * at a time. wasm threads do not start under Deno, so parallel workers are
 * how a study uses more than one core.
 *
 * @module
 */
import { type BackendChoice, initBackend } from "../kernels/backend.ts";
import { runJob } from "./job.ts";
import type { WorkerReply, WorkerRequest } from "./pool.ts";

const post = (m: WorkerReply) => self.postMessage(m);
let backend: Awaited<ReturnType<typeof initBackend>> | null = null;
let thread = "worker";

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const msg = e.data;
  try {
    if (msg.type === "init") {
      backend = await initBackend(msg.backend as BackendChoice);
      thread = `worker ${msg.worker}`;
      post({ type: "ready", backend });
      return;
    }
    if (!backend) throw new Error("worker used before init");
    const rows = await runJob(
      msg.job,
      backend,
      (phase) => post({ type: "progress", index: msg.job.index, phase }),
      thread,
    );
    post({ type: "done", index: msg.job.index, rows });
  } catch (err) {
    const error = err as Error;
    post({
      type: "error",
      index: msg.type === "job" ? msg.job.index : -1,
      name: error.name,
      message: error.message,
      stack: error.stack ?? "",
    });
  }
};
