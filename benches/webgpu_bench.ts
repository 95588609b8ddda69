/**
 * Where one JEPA pretraining step's time goes on WebGPU, and what mmjepa's
 * WebGPU kernels (kernels/webgpu/) gain over tfjs-webgpu's stock ones.
 *
 * The step is the one benches/models_bench.ts times (features mode,
 * default model and batch). Per-kernel GPU times come from tf.profile:
 * tfjs-webgpu times each dispatch with timestamp queries when the adapter
 * offers 'timestamp-query' (Deno's lavapipe and NVIDIA adapters do), at
 * the price of one submit per dispatch, so profiled steps are slower than
 * real ones and only their split matters. Dispatches per step count the
 * GPU programs the profile saw. Step times (wall clock, unprofiled) use
 * the difference of runs of k1 and k2 steps, with stock and mmjepa kernels
 * swapped in one process (kernels/mod.ts `setCustomKernels`) and
 * alternated, so both see the same machine load.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, probeWebGpu } from "../kernels/backend.ts";
import { hasKernel, NORMALIZE, setCustomKernels } from "../kernels/mod.ts";
import {
  type ExperimentConfig,
  pretrain,
  resolveExperimentConfig,
} from "../models/mod.ts";
import { easySet } from "../tests/models/fixtures.ts";
import { type BenchLine, type BenchOptions, runStandalone } from "./harness.ts";

/** One kernel's share of a profiled step. */
export interface KernelShare {
  /** tfjs kernel name (BatchMatMul, MmjepaNormalize, ...). */
  name: string;
  /** GPU milliseconds per step. */
  ms: number;
  /** Calls per step. */
  calls: number;
}

/** A profiled step. */
export interface StepProfile {
  /** Kernels by GPU time, largest first. */
  kernels: KernelShare[];
  /** GPU programs dispatched per step. */
  dispatches: number;
  /** Sum of the kernels' GPU time per step. */
  gpuMs: number;
}

type Run = (steps: number) => Promise<void>;

async function profileRun(run: Run, steps: number) {
  const prof = await tf.profile(() => run(steps));
  const by = new Map<string, { ms: number; calls: number }>();
  let dispatches = 0;
  for (const k of prof.kernels) {
    const ms = await k.kernelTimeMs;
    const info = await k.extraInfo;
    // extraInfo lists "program: ms" for every dispatch the kernel made.
    if (info) dispatches += info.split(", ").length;
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof ms === "number" ? ms : 0;
    e.calls++;
    by.set(k.name, e);
  }
  return { by, dispatches };
}

/**
 * Profiles runs of k1 and k2 steps and returns the per-step difference,
 * so setup and the final readback cancel out.
 *
 * @example
 * ```ts
 * const p = await profileStep((k) => runSteps(k), 1, 3);
 * console.log(p.kernels[0].name, p.dispatches);
 * ```
 */
export async function profileStep(
  run: Run,
  k1: number,
  k2: number,
): Promise<StepProfile> {
  const a = await profileRun(run, k1), b = await profileRun(run, k2);
  const d = k2 - k1;
  const kernels = [...b.by].map(([name, v]) => ({
    name,
    ms: (v.ms - (a.by.get(name)?.ms ?? 0)) / d,
    calls: (v.calls - (a.by.get(name)?.calls ?? 0)) / d,
  })).filter((k) => k.calls > 0).sort((p, q) => q.ms - p.ms);
  return {
    kernels,
    dispatches: (b.dispatches - a.dispatches) / d,
    gpuMs: kernels.reduce((s, k) => s + k.ms, 0),
  };
}

async function stepMs(run: Run, k1: number, k2: number): Promise<number> {
  const t0 = performance.now();
  await run(k1);
  const t1 = performance.now();
  await run(k2);
  const t2 = performance.now();
  return Math.max(1e-3, ((t2 - t1) - (t1 - t0)) / (k2 - k1));
}

function describe(p: StepProfile, top: number): string {
  const shares = p.kernels.slice(0, top).map((k) =>
    `${k.name} ${k.ms.toFixed(1)} ms (${k.calls}x, ${
      (100 * k.ms / Math.max(p.gpuMs, 1e-9)).toFixed(0)
    }%)`
  ).join(", ");
  return `${p.dispatches.toFixed(0)} dispatches/step, GPU time ${
    p.gpuMs.toFixed(1)
  } ms/step; top kernels: ${shares}`;
}

/**
 * Runs the WebGPU benchmark.
 *
 * @example
 * ```ts
 * const lines = await run({ quick: true, log: console.error });
 * ```
 */
export async function run(o: BenchOptions): Promise<BenchLine[]> {
  const name = "webgpu: jepa pretraining step, features";
  const probe = await probeWebGpu();
  if (!probe) {
    return [{
      name,
      value: 0,
      unit: "-",
      note:
        "not measured: no WebGPU adapter (on Debian, mesa-vulkan-drivers gives a CPU one)",
    }];
  }
  await initBackend("webgpu");
  if (!hasKernel(NORMALIZE)) {
    return [{
      name,
      value: 0,
      unit: "-",
      note:
        "not measured: mmjepa's webgpu kernels are not registered (MMJEPA_STOCK_KERNELS=1?)",
    }];
  }
  const adapter = await (navigator as unknown as {
    gpu: { requestAdapter(): Promise<{ features: Set<string> } | null> };
  }).gpu.requestAdapter();
  const timestamps = adapter?.features.has("timestamp-query") ?? false;
  const set = easySet({
    mode: "features",
    sizes: { pretrain: 300, train: 150, val: 40, test: 20 },
    external: 0,
  });
  const base = resolveExperimentConfig({});
  const cfg = (steps: number): ExperimentConfig => ({
    model: base.model,
    pretrain: { ...base.pretrain, steps, readEvery: steps },
    finetune: { ...base.finetune, steps, readEvery: steps, patience: 1000 },
  });
  const runSteps: Run = async (steps) => {
    (await pretrain(set, "jepa", cfg(steps), 1))?.dispose();
  };
  const [k1, k2] = o.quick ? [1, 3] : [2, 6];
  const rounds = o.quick ? 1 : 2;
  const ms = { stock: [] as number[], custom: [] as number[] };
  const profiles: Partial<Record<"stock" | "custom", StepProfile>> = {};
  try {
    for (let r = 0; r < rounds; r++) {
      for (const which of ["stock", "custom"] as const) {
        setCustomKernels(which === "custom");
        // First use compiles this variant's pipelines: keep that out.
        if (r === 0) await runSteps(1);
        o.log(`webgpu: ${which} kernels, round ${r + 1}/${rounds}`);
        ms[which].push(await stepMs(runSteps, k1, k2));
        if (r === 0) profiles[which] = await profileStep(runSteps, 1, 2);
      }
    }
  } finally {
    setCustomKernels(true);
    await initBackend("cpu");
  }
  const best = (v: number[]) => Math.min(...v);
  const stock = best(ms.stock), custom = best(ms.custom);
  const split = (p: StepProfile | undefined) =>
    !p
      ? ""
      : timestamps
      ? describe(p, 8)
      : `${
        p.dispatches.toFixed(0)
      } dispatches/step; per-kernel GPU times unavailable: the adapter lacks timestamp-query`;
  const common = `${probe.description}; batch ${base.pretrain.batchSize}, ${
    k2 - k1
  } steps timed, best of ${rounds}`;
  o.log(
    `webgpu: stock ${stock.toFixed(0)} ms/step, mmjepa ${
      custom.toFixed(0)
    } ms/step`,
  );
  return [
    {
      name: `${name}, stock tfjs-webgpu kernels`,
      value: Number(stock.toFixed(1)),
      unit: "ms/step",
      note: `${common}; ${split(profiles.stock)}`,
    },
    {
      name: `${name}, mmjepa webgpu kernels`,
      value: Number(custom.toFixed(1)),
      unit: "ms/step",
      baseline: {
        name: "stock tfjs-webgpu kernels",
        value: Number(stock.toFixed(1)),
        ratio: Number((custom / stock).toFixed(3)),
      },
      note: `${common}; ${split(profiles.custom)}`,
    },
  ];
}

if (import.meta.main) await runStandalone(run);
