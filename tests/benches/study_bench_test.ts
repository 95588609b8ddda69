import assert from "node:assert/strict";
import { UserError } from "../../core/errors.ts";
import {
  WORKER_RSS_TARGET_MIB,
  workerRss,
  workerRssLine,
  workerRssText,
} from "../../benches/study_bench.ts";
import {
  parseWorkerRssArgs,
  type WorkerRssResult,
} from "../../benches/worker_rss.ts";
import { benchTable } from "../../benches/run.ts";

function result(
  worker: number,
  peakRssMiB: number | null,
): WorkerRssResult {
  return {
    args: { size: "default", worker, workers: 2, seed: 42 },
    peakRssMiB,
    isolatePeakMiB: 300,
    jobsRun: 12,
    jobsInShare: 12,
    seconds: 60,
  };
}

Deno.test("the per-worker RSS target line: the largest worker against 1024 MiB, met / not met / not measured", () => {
  assert.equal(WORKER_RSS_TARGET_MIB, 1024);
  const met = workerRssLine("default study", [
    result(1, 700.4),
    result(2, 1024),
  ]);
  assert.equal(met.value, 1024);
  assert.equal(met.met, true);
  assert.equal(met.target, "<= 1024 MiB");
  assert.equal(
    workerRssText(met),
    "peak RSS per study worker: 1024 MiB (target <= 1024 MiB): met (default study)",
  );
  assert.match(met.note!, /worker 1 of 2: 700 MiB RSS, isolate peak 300 MiB/);
  const over = workerRssLine("paper-volume", [
    result(1, 1024.6),
    result(2, 800),
  ]);
  assert.equal(over.met, false);
  assert.equal(
    workerRssText(over),
    "peak RSS per study worker: 1025 MiB (target <= 1024 MiB): not met (paper-volume)",
  );
  assert.match(benchTable([met, over]), /\| met \|\n.*\| not met \|$/);
  // Off Linux: no figure, and no claim either way.
  const none = workerRssLine("quick study", [result(1, null), result(2, 500)]);
  assert.equal(none.met, undefined);
  assert.match(workerRssText(none), /: n\/a MiB .*: not measured/);
  assert.match(benchTable([none]), /\| not measured \|$/);
});

Deno.test("worker_rss.ts: flags are checked and name what was expected", () => {
  assert.deepEqual(parseWorkerRssArgs([]), {
    size: "default",
    worker: 1,
    workers: 2,
    seed: 42,
  });
  assert.deepEqual(
    parseWorkerRssArgs([
      "--preset",
      "paper-volume",
      "--worker",
      "2",
      "--jobs",
      "3",
    ]),
    {
      size: "default",
      preset: "paper-volume",
      worker: 2,
      workers: 2,
      seed: 42,
      jobs: 3,
    },
  );
  assert.throws(
    () => parseWorkerRssArgs(["--worker", "3"]),
    (e) =>
      e instanceof UserError &&
      /--worker is 3; expected at most/.test(e.message),
  );
  assert.throws(
    () => parseWorkerRssArgs(["--jobs", "0"]),
    /--jobs is "0"; expected an integer >= 1/,
  );
  assert.throws(() => parseWorkerRssArgs(["--size", "huge"]), /--size/);
  assert.throws(() => parseWorkerRssArgs(["--preset", "papr"]), /--preset/);
  assert.throws(() => parseWorkerRssArgs(["--fast"]), /unknown flag "--fast"/);
});

Deno.test("worker_rss.ts replays a worker's first job in its own process and reads its VmHWM", async () => {
  const r = await workerRss([
    "--size",
    "quick",
    "--worker",
    "2",
    "--jobs",
    "1",
  ]);
  assert.equal(r.jobsRun, 1);
  assert.ok(r.jobsInShare > 1);
  assert.equal(r.args.worker, 2);
  assert.ok(r.isolatePeakMiB !== null && r.isolatePeakMiB > 16);
  if (Deno.build.os === "linux") {
    // The process holds the isolate and the Deno runtime besides.
    assert.ok(r.peakRssMiB! > r.isolatePeakMiB!, JSON.stringify(r));
  }
});
