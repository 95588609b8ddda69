import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import {
  collectGarbage,
  JobMeter,
  type MemorySample,
  parseVmHwmKiB,
  peakRssMiB,
  sampleMemory,
  threadPeaks,
} from "../../study/memory.ts";

// A /proc/PID/status as Linux writes it (trimmed).
const STATUS = [
  "Name:\tdeno",
  "State:\tS (sleeping)",
  "VmPeak:\t 9876543 kB",
  "VmSize:\t 9000000 kB",
  "VmLck:\t       0 kB",
  "VmHWM:\t  1538048 kB",
  "VmRSS:\t  1200000 kB",
  "Threads:\t12",
  "",
].join("\n");

Deno.test("parseVmHwmKiB reads the VmHWM line of /proc status, not VmPeak or VmRSS", () => {
  assert.equal(parseVmHwmKiB(STATUS), 1538048);
  assert.equal(parseVmHwmKiB(STATUS.replace(/^VmHWM.*\n/m, "")), null);
  assert.equal(parseVmHwmKiB("VmHWM:\t  12 MB\n"), null);
  assert.equal(parseVmHwmKiB("VmHWM:\t  0 kB\n"), null);
  assert.equal(parseVmHwmKiB(""), null);
  if (Deno.build.os === "linux") {
    const own = peakRssMiB();
    assert.ok(own !== null && own > 10, `${own}`);
    // Another process's file reads the same way.
    assert.ok((peakRssMiB(Deno.pid) ?? 0) >= own);
  }
  assert.equal(peakRssMiB(2 ** 31 - 1), null);
});

Deno.test("JobMeter: the footprint sums heap, ArrayBuffers and wasm; peaks only grow; a leaked tensor shows", async () => {
  await initBackend("cpu");
  const s = sampleMemory();
  assert.equal(s.wasmMiB, 0, "no wasm memory on the cpu backend");
  assert.ok(
    Math.abs(s.footprintMiB - (s.heapMiB + s.externalMiB + s.wasmMiB)) < 0.2,
    JSON.stringify(s),
  );
  const meter = new JobMeter();
  const kept: Float32Array[] = [];
  // 64 MiB of ArrayBuffers held through the job raise its peak.
  kept.push(new Float32Array(16 * 2 ** 20).fill(1));
  meter.sample();
  const leak = tf.ones([1000]);
  const m = meter.finish("worker 3");
  assert.equal(m.thread, "worker 3");
  assert.ok(m.jobPeakMiB >= s.footprintMiB + 60, JSON.stringify(m));
  assert.ok(m.isolatePeakMiB >= m.jobPeakMiB);
  assert.equal(m.samples, 3);
  assert.equal(m.tensorsAfter, m.tensorsBefore + 1, "the leaked tensor");
  leak.dispose();
  kept.length = 0;
  // A later, smaller job keeps the isolate's peak.
  const next = new JobMeter().finish();
  assert.ok(next.isolatePeakMiB >= m.jobPeakMiB, JSON.stringify(next));
  assert.equal(next.tensorsAfter, next.tensorsBefore);
});

Deno.test("JobMeter keeps the job's largest sample and the isolate's peak across jobs", () => {
  const at = (footprintMiB: number, tensors = 0): MemorySample => ({
    heapMiB: footprintMiB - 20,
    externalMiB: 4,
    wasmMiB: 16,
    footprintMiB,
    tensors,
    tensorMiB: 0,
  });
  const feed = (xs: MemorySample[]) => () => xs.shift()!;
  const first = new JobMeter(feed([at(100, 2), at(300, 40), at(200, 9)]));
  first.sample();
  const a = first.finish("worker 1");
  assert.equal(a.jobPeakMiB, 300);
  assert.deepEqual(a.atPeak, at(300, 40));
  assert.ok(a.isolatePeakMiB >= 300);
  assert.equal(a.tensorsBefore, 2);
  assert.equal(a.tensorsAfter, 9);
  assert.equal(a.samples, 3);
  const b = new JobMeter(feed([at(50), at(60)])).finish();
  assert.equal(b.jobPeakMiB, 60);
  assert.equal(b.isolatePeakMiB, a.isolatePeakMiB, "the isolate peak stays");
});

Deno.test("threadPeaks: each thread's largest isolate peak, main first, workers by number", () => {
  const row = (thread: string, isolatePeakMiB: number) => ({
    extra: { memory: { thread, isolatePeakMiB } },
  });
  assert.deepEqual(
    threadPeaks([
      row("worker 10", 5),
      row("worker 2", 300),
      row("worker 2", 700),
      row("worker 2", 650),
      row("main", 90),
      { extra: {} },
      {},
    ]),
    [["main", 90], ["worker 2", 700], ["worker 10", 5]],
  );
});

Deno.test("collectGarbage runs only where V8 exposes gc (deno task sim passes --expose-gc)", async () => {
  // This test process has no --expose-gc.
  assert.equal(
    collectGarbage(),
    typeof (globalThis as { gc?: unknown }).gc === "function",
  );
  const mod = new URL("../../study/memory.ts", import.meta.url).href;
  const code = `const { collectGarbage } = await import(${
    JSON.stringify(mod)
  }); console.log(collectGarbage());`;
  const run = async (flags: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["eval", ...flags, code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(r.success, new TextDecoder().decode(r.stderr));
    return new TextDecoder().decode(r.stdout).trim();
  };
  assert.equal(await run(["--v8-flags=--expose-gc"]), "true");
  assert.equal(await run([]), "false");
});
