/**
 * Memory figures of one study worker, and of the whole process.
 *
 * Study workers are Web Workers of one Deno process, so the process's
 * resident set (Linux VmHWM) cannot be split between them. What each
 * isolate can count on its own is its V8 heap, the ArrayBuffers it holds
 * (cohort voxels, tensor readbacks: V8's "external" memory), and the
 * tfjs wasm backend's WebAssembly.Memory, which V8 counts in neither and
 * which never shrinks. Their sum is a worker's footprint; the figures here
 * sample it (module state is per isolate, so each worker has its own peak).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

const MIB = 2 ** 20;

/** One isolate's memory at one moment, in MiB (tensors: a count). */
export interface MemorySample {
  /** V8 heap committed by this isolate (heapTotal). */
  heapMiB: number;
  /** ArrayBuffers and other memory V8 counts outside the heap. */
  externalMiB: number;
  /** The tfjs wasm backend's WebAssembly.Memory (0 on other backends). */
  wasmMiB: number;
  /** heap + external + wasm. */
  footprintMiB: number;
  /** Live tensors (tf.memory().numTensors). */
  tensors: number;
  /** Bytes those tensors hold, in MiB (tf.memory().numBytes). */
  tensorMiB: number;
}

/** What a results row records about the memory of the job it came from. */
export interface JobMemory {
  /** Which thread ran the job: "main", or "worker N" (1-based). */
  thread: string;
  /** Largest footprint sampled during this job (at each loss readback). */
  jobPeakMiB: number;
  /** Largest footprint of this isolate since it started (so far). */
  isolatePeakMiB: number;
  /** The components at the moment of the job's peak. */
  atPeak: MemorySample;
  /** Live tensors before the job and after it (a leak shows as growth). */
  tensorsBefore: number;
  /** Live tensors after the job, once its pretrained model is disposed. */
  tensorsAfter: number;
  /** Samples taken during the job. */
  samples: number;
  /**
   * Whether garbage was collected before the job (V8 started with
   * `--expose-gc`, as `deno task sim` does; see {@link collectGarbage}).
   */
  collectedBefore: boolean;
}

// The wasm backend's linear memory, when wasm is the active backend.
function wasmBytes(): number {
  if (tf.getBackend() !== "wasm") return 0;
  const be = tf.backend() as unknown as {
    wasm?: { asm?: { memory?: WebAssembly.Memory } };
  };
  return be.wasm?.asm?.memory?.buffer.byteLength ?? 0;
}

const round = (x: number) => Math.round(x * 10) / 10;

/**
 * This isolate's memory now.
 *
 * @example
 * ```ts
 * const m = sampleMemory();
 * console.log(`${m.footprintMiB} MiB (${m.wasmMiB} MiB wasm)`);
 * ```
 */
export function sampleMemory(): MemorySample {
  const u = Deno.memoryUsage();
  const wasm = wasmBytes();
  const t = tf.memory();
  return {
    heapMiB: round(u.heapTotal / MIB),
    externalMiB: round(u.external / MIB),
    wasmMiB: round(wasm / MIB),
    footprintMiB: round((u.heapTotal + u.external + wasm) / MIB),
    tensors: t.numTensors,
    tensorMiB: round(t.numBytes / MIB),
  };
}

// Per isolate: each Web Worker loads its own copy of this module.
let isolatePeak = 0;

/**
 * Samples this isolate's memory through one job: call `sample()` whenever
 * convenient (each training readback) and `finish()` at its end. `read`
 * takes one sample (a test passes its own).
 *
 * @example
 * ```ts
 * const meter = new JobMeter();
 * await pretrain(set, method, cfg, seed, { onProgress: () => meter.sample() });
 * const mem = meter.finish();
 * ```
 */
export class JobMeter {
  private peak: MemorySample;
  private readonly before: number;
  private count = 1;
  private readonly read: () => MemorySample;

  /** Whether garbage was collected just before the job began. */
  collectedBefore = false;

  /** Starts metering with a first sample. */
  constructor(read: () => MemorySample = sampleMemory) {
    this.read = read;
    this.peak = read();
    this.before = this.peak.tensors;
    isolatePeak = Math.max(isolatePeak, this.peak.footprintMiB);
  }

  /** Takes one sample; returns it. */
  sample(): MemorySample {
    const s = this.read();
    this.count++;
    if (s.footprintMiB > this.peak.footprintMiB) this.peak = s;
    isolatePeak = Math.max(isolatePeak, s.footprintMiB);
    return s;
  }

  /** Takes a last sample and returns the job's figures. */
  finish(thread = "main"): JobMemory {
    const end = this.sample();
    return {
      thread,
      jobPeakMiB: this.peak.footprintMiB,
      isolatePeakMiB: isolatePeak,
      atPeak: this.peak,
      tensorsBefore: this.before,
      tensorsAfter: end.tensors,
      samples: this.count,
      collectedBefore: this.collectedBefore,
    };
  }
}

/**
 * Runs a full garbage collection when V8 exposes one (`--v8-flags=--expose-gc`,
 * which `deno task sim` and `deno task train` pass); returns whether it ran.
 * Between jobs it frees the previous job's cohorts (200 MiB of voxels on
 * paper-volume) before the next job generates its own: V8 collects
 * ArrayBuffers lazily, and without it two jobs' cohorts were resident at
 * once, which put one worker of paper-volume over 1 GiB.
 *
 * @example
 * ```ts
 * if (!collectGarbage()) console.error("run with --v8-flags=--expose-gc");
 * ```
 */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return false;
  gc();
  return true;
}

/**
 * The peak resident set ("VmHWM") in KiB from the text of a Linux
 * /proc/PID/status file; null when the line is missing or malformed.
 *
 * @example
 * ```ts
 * parseVmHwmKiB("VmPeak:\t 900 kB\nVmHWM:\t  512000 kB\n"); // 512000
 * ```
 */
export function parseVmHwmKiB(status: string): number | null {
  const m = /^VmHWM:\s+(\d+) kB\s*$/m.exec(status);
  if (!m) return null;
  const kib = Number(m[1]);
  return Number.isSafeInteger(kib) && kib > 0 ? kib : null;
}

/**
 * Peak resident memory of a process (default this one) in MiB, from
 * /proc/PID/status; null where /proc lacks it (not Linux).
 *
 * @example
 * ```ts
 * const mib = peakRssMiB(); // e.g. 1503.2, or null on macOS
 * ```
 */
export function peakRssMiB(pid: number | "self" = "self"): number | null {
  try {
    const kib = parseVmHwmKiB(Deno.readTextFileSync(`/proc/${pid}/status`));
    return kib === null ? null : round(kib / 1024);
  } catch {
    return null;
  }
}

/**
 * Each thread's largest isolate footprint over the rows of one run, from
 * the `extra.memory` each row records, in thread order ("main" first).
 *
 * @example
 * ```ts
 * threadPeaks(rows); // [["worker 1", 612.3], ["worker 2", 598.1]]
 * ```
 */
export function threadPeaks(
  rows: { extra?: Record<string, unknown> }[],
): [string, number][] {
  const peaks = new Map<string, number>();
  for (const r of rows) {
    const m = r.extra?.memory as Partial<JobMemory> | undefined;
    if (typeof m?.thread !== "string" || typeof m.isolatePeakMiB !== "number") {
      continue;
    }
    peaks.set(m.thread, Math.max(peaks.get(m.thread) ?? 0, m.isolatePeakMiB));
  }
  const key = (t: string) => t === "main" ? 0 : Number(t.split(" ")[1]);
  return [...peaks].sort((a, b) => key(a[0]) - key(b[0]));
}
