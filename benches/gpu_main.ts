/**
 * The GPU bundle's entry point (benches/gpu_bundle.sh packs it into
 * `.gpu/app.js` for a machine without registry access). Each call runs one
 * section and writes `$OUT/<section>.json`, so a script can give every
 * section its own time limit and partial results survive a hang:
 *
 * - `env`: adapter, limits, features; the cost of one tfjs-webgpu dispatch
 *   (a chain of adds, one readback at the end) and of one readback.
 * - `steps <features|volume|roi>`: a JEPA pretraining step with mmjepa's
 *   kernels and with tfjs's stock ones (wall ms from runs of k1 and k2
 *   steps, the loss read once per run, never per step), dispatches per
 *   step and the top kernels by GPU time (tf.profile, timestamp queries).
 *   Without timestamp queries the GPU time is estimated as dispatches x the
 *   measured dispatch cost, and the output says so.
 * - `torch <mode>`: the same step in PyTorch on CUDA, fp32 with TF32 off,
 *   and one line with TF32 on (benches/torch_steps.py beside the bundle).
 * - `curve`: 30 JEPA steps (features) on webgpu with mmjepa's kernels and
 *   on the cpu backend, loss per step, and the largest difference.
 * - `diag <mode>`: wall time vs the JS thread's issue time and JS time
 *   inside kernel calls, per step (found the slow upload on the H200).
 * - `report`: `$OUT/RESULTS.md` from whatever JSON files exist.
 *
 * Modes: features (batch 128), volume 32^3 (201 tokens, batch 32), roi
 * 64^3 with one scan (521 tokens, batch 32). MMJEPA_GPU_TINY=1 shrinks
 * batches and step counts so the whole bundle can be tried on lavapipe.
 *
 * @example
 * ```sh
 * OUT=/tmp/g deno run -A benches/gpu_main.ts steps features
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, probeWebGpu } from "../kernels/backend.ts";
import { hasKernel, NORMALIZE, setCustomKernels } from "../kernels/mod.ts";
import {
  type ExperimentConfig,
  makeLayout,
  pretrain,
  resolveExperimentConfig,
} from "../models/mod.ts";
import { easySet } from "../tests/models/fixtures.ts";
import { runTorch, torchHasCuda, torchPython } from "./models_bench.ts";
import { profileStep, type StepProfile } from "./webgpu_bench.ts";

const OUT = Deno.env.get("OUT") ?? ".";
const TINY = Deno.env.get("MMJEPA_GPU_TINY") === "1";

/** The three step shapes issue 19 asks for. */
export const MODES = ["features", "volume", "roi"] as const;
/** One of {@link MODES}. */
export type Mode = typeof MODES[number];

type Run = (steps: number) => Promise<void>;

function write(name: string, value: unknown): void {
  Deno.writeTextFileSync(
    `${OUT}/${name}.json`,
    JSON.stringify(value, null, 1),
  );
}

function read<T>(name: string): T | null {
  try {
    return JSON.parse(Deno.readTextFileSync(`${OUT}/${name}.json`)) as T;
  } catch {
    return null;
  }
}

/**
 * The data and config of one mode.
 *
 * @example
 * ```ts
 * const { set, cfg, batch } = modeSetup("volume");
 * ```
 */
export function modeSetup(mode: Mode): {
  set: ReturnType<typeof easySet>;
  base: ExperimentConfig;
  batch: number;
  cfg: (steps: number) => ExperimentConfig;
} {
  const batch = TINY
    ? (mode === "features" ? 16 : 2)
    : (mode === "features" ? 128 : 32);
  const set = easySet({
    mode: mode === "features" ? "features" : "volume",
    volumeEdge: mode === "volume" ? 32 : mode === "roi" ? 64 : undefined,
    sizes: {
      pretrain: Math.max(2 * batch, mode === "roi" ? 64 : 300),
      train: 20,
      val: 10,
      test: 10,
    },
    external: 0,
  });
  const base = resolveExperimentConfig({
    // A real-data ROI is one 64^3 crop per patient: 512 patches.
    model: mode === "roi" ? { maxScans: 1 } : {},
    pretrain: { batchSize: batch },
  });
  const cfg = (steps: number): ExperimentConfig => ({
    ...base,
    pretrain: { ...base.pretrain, steps, readEvery: steps },
  });
  return { set, base, batch, cfg };
}

function runner(mode: Mode): Run {
  const { set, cfg } = modeSetup(mode);
  return async (steps) => {
    (await pretrain(set, "jepa", cfg(steps), 1))?.dispose();
  };
}

async function wallMs(run: Run, k1: number, k2: number): Promise<number> {
  for (let tries = 0; tries < 3; tries++, k2 *= 2) {
    const t0 = performance.now();
    await run(k1);
    const t1 = performance.now();
    await run(k2);
    const t2 = performance.now();
    const per = ((t2 - t1) - (t1 - t0)) / (k2 - k1);
    if (per > 0) return per;
  }
  throw new Error("step time not measurable (longer run no slower)");
}

async function adapterInfo() {
  const gpu = (navigator as unknown as { gpu: GPU }).gpu;
  const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!a) throw new Error("no WebGPU adapter");
  const info = (a as unknown as { info?: GPUAdapterInfo }).info;
  return {
    description: info?.description ?? "",
    vendor: info?.vendor ?? "",
    architecture: info?.architecture ?? "",
    features: [...a.features].sort(),
    maxStorageBuffersPerShaderStage: a.limits.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: a.limits.maxComputeWorkgroupStorageSize,
  };
}

/** Section `env`. */
async function env(): Promise<void> {
  const adapter = await adapterInfo();
  await initBackend("webgpu");
  // One dispatch per add; the chain's readback is paid once.
  const chain = async (n: number) => {
    let x = tf.zeros([64]);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const y = tf.add(x, 1);
      x.dispose();
      x = y;
    }
    await x.data();
    x.dispose();
    return performance.now() - t0;
  };
  await chain(50);
  const n = TINY ? 200 : 2000;
  const one = Math.min(await chain(1), await chain(1), await chain(1));
  const many = Math.min(await chain(n), await chain(n));
  write("env", {
    adapter,
    backend: tf.getBackend(),
    kernels: hasKernel(NORMALIZE) ? "mmjepa" : "stock",
    dispatchUs: 1000 * (many - one) / (n - 1),
    readbackMs: one,
    deviceStorageLimit: (tf.backend() as unknown as { device: GPUDevice })
      .device.limits.maxStorageBuffersPerShaderStage,
  });
}

/** What `steps <mode>` writes. */
export interface StepsResult {
  /** The mode. */
  mode: Mode;
  /** Batch size. */
  batch: number;
  /** Tokens per patient. */
  tokens: number;
  /** Whether per-kernel GPU times come from timestamp queries. */
  timestamps: boolean;
  /** Per kernel set. */
  runs: Partial<
    Record<"custom" | "stock", { ms: number; profile: StepProfile | null }>
  >;
}

/** Section `steps <mode>`: custom first, so a timeout keeps it. */
async function steps(mode: Mode): Promise<void> {
  const { set, base, batch } = modeSetup(mode);
  const tokens = makeLayout(set.internal, base.model).nTokens;
  const adapter = await adapterInfo();
  await initBackend("webgpu");
  const run = runner(mode);
  const res: StepsResult = {
    mode,
    batch,
    tokens,
    timestamps: adapter.features.includes("timestamp-query"),
    runs: {},
  };
  for (const which of ["custom", "stock"] as const) {
    setCustomKernels(which === "custom");
    await run(1); // compiles this variant's pipelines, fills buffer pools
    const profile = await profileStep(run, 1, 2);
    res.runs[which] = { ms: NaN, profile };
    write(`steps_${mode}`, res);
    // Stock kernels on big steps take seconds a step: fewer steps.
    const [k1, k2] = TINY || (mode !== "features" && which === "stock")
      ? [1, 2]
      : mode === "features"
      ? [3, 13]
      : [2, 7];
    const ms = await wallMs(run, k1, k2);
    res.runs[which] = { ms, profile };
    write(`steps_${mode}`, res);
    console.error(`steps ${mode} ${which}: ${ms.toFixed(1)} ms/step`);
  }
  setCustomKernels(true);
}

/**
 * Section `diag <mode>`: where a step's wall time goes. Per step (runs of
 * k1 and k2 steps, differenced): the wall time, the time until the loss
 * readback is requested (the training loop issues every step without
 * awaiting, so this is the JS thread's issue time), and the JS time spent
 * inside tfjs kernel calls (op bookkeeping plus encoding dispatches), by
 * kernel.
 */
async function diag(mode: Mode): Promise<void> {
  await initBackend("webgpu");
  const run = runner(mode);
  // deno-lint-ignore no-explicit-any
  const proto = tf.Tensor.prototype as any;
  const origData = proto.data;
  let firstRead = 0;
  proto.data = function (...a: unknown[]) {
    if (!firstRead) firstRead = performance.now();
    return origData.apply(this, a);
  };
  // deno-lint-ignore no-explicit-any
  const eng = tf.engine() as any;
  const origRun = eng.runKernelFunc.bind(eng);
  let depth = 0;
  let byKernel = new Map<string, number>();
  eng.runKernelFunc = (k: { kernelName?: string }) => {
    if (depth++ > 0) {
      try {
        return origRun(k);
      } finally {
        depth--;
      }
    }
    const t0 = performance.now();
    try {
      return origRun(k);
    } finally {
      depth--;
      const name = k.kernelName ?? "(custom op)";
      byKernel.set(name, (byKernel.get(name) ?? 0) + performance.now() - t0);
    }
  };
  const once = async (steps: number) => {
    firstRead = 0;
    byKernel = new Map();
    const t0 = performance.now();
    await run(steps);
    const t1 = performance.now();
    return { wall: t1 - t0, issue: firstRead - t0, kernels: byKernel };
  };
  const out: Record<string, unknown> = { mode };
  for (const which of ["custom", "stock"] as const) {
    setCustomKernels(which === "custom");
    await run(1);
    const [k1, k2] = TINY ? [1, 2] : [1, 4];
    const a = await once(k1), b = await once(k2);
    const d = k2 - k1;
    const kern = [...b.kernels].map(([n, ms]) =>
      [n, (ms - (a.kernels.get(n) ?? 0)) / d] as [string, number]
    ).sort((x, y) => y[1] - x[1]);
    out[which] = {
      wallMs: (b.wall - a.wall) / d,
      issueMs: (b.issue - a.issue) / d,
      kernelJsMs: kern.reduce((t, [, ms]) => t + ms, 0),
      topKernelJs: kern.slice(0, 12),
    };
    write(`diag_${mode}`, out);
  }
  setCustomKernels(true);
}

/** Section `torch <mode>`. */
async function torch(mode: Mode): Promise<void> {
  const python = await torchPython();
  if (!python) {
    write(`torch_${mode}`, { error: "no python3 with torch" });
    return;
  }
  // MMJEPA_TORCH_DEVICE=cpu tries this section without a GPU.
  const device = Deno.env.get("MMJEPA_TORCH_DEVICE") ?? "cuda";
  if (device === "cuda" && !await torchHasCuda(python)) {
    write(`torch_${mode}`, { error: `${python}: torch sees no CUDA device` });
    return;
  }
  const { set, base } = modeSetup(mode);
  const L = makeLayout(set.internal, base.model);
  const spec = {
    mode: mode === "features" ? "features" : "volume",
    nImage: L.nImage,
    imageDim: L.imageDim,
    patchesPerScan: L.patchesPerScan,
    ehrGroups: L.ehrGroups,
    groupSize: L.groupSize,
    maxEhr: L.maxEhr,
    model: base.model,
    pretrain: { ...base.pretrain },
    finetune: { ...base.finetune },
    warmup: 5,
    reps: TINY ? 3 : 30,
    phases: ["jepa pretraining"],
    device,
  };
  const out: Record<string, unknown> = { python };
  for (const tf32 of [false, true]) {
    const r = await runTorch(python, { ...spec, tf32 });
    if (r.tokens !== L.nTokens) {
      throw new Error(
        `torch_steps.py built ${r.tokens} tokens, mmjepa ${L.nTokens}`,
      );
    }
    out.torch = r.torch;
    out[tf32 ? "tf32Ms" : "fp32Ms"] =
      Object.values(r.msPerStep)[0]["jepa pretraining"];
    write(`torch_${mode}`, out);
  }
}

/** Section `curve`. */
async function curve(): Promise<void> {
  const n = TINY ? 6 : 30;
  const { set, base } = modeSetup("features");
  const cfg: ExperimentConfig = {
    ...base,
    pretrain: { ...base.pretrain, steps: n, readEvery: 1 },
  };
  const losses: Record<string, number[]> = {};
  for (const backend of ["webgpu", "cpu"] as const) {
    await initBackend(backend);
    const r = await pretrain(set, "jepa", cfg, 7);
    losses[backend] = r?.curve ?? [];
    r?.dispose();
    write("curve", { steps: n, batch: base.pretrain.batchSize, losses });
  }
  const a = losses.webgpu, b = losses.cpu;
  const rel = a.map((x, i) =>
    Math.abs(x - b[i]) / Math.max(Math.abs(b[i]), 1e-12)
  );
  write("curve", {
    steps: n,
    batch: base.pretrain.batchSize,
    losses,
    maxRelDiff: Math.max(...rel),
    relDiffByStep: rel,
  });
}

function fmt(x: number | undefined, d = 1): string {
  return x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d);
}

const TARGET: Record<Mode, number> = { features: 5, volume: 3, roi: 3 };
const LABEL: Record<Mode, string> = {
  features: "JEPA step, features",
  volume: "JEPA step, volume 32^3",
  roi: "JEPA step, ROI 64^3 (1 scan)",
};

function topKernels(p: StepProfile | null | undefined, n = 8): string {
  if (!p) return "-";
  return p.kernels.slice(0, n).map((k) =>
    `${k.name} ${k.ms.toFixed(2)} ms (${k.calls}x, ${
      (100 * k.ms / Math.max(p.gpuMs, 1e-9)).toFixed(0)
    }%)`
  ).join(", ");
}

/** Section `report`: RESULTS.md from the JSON files present. */
function report(): void {
  const e = read<{
    adapter: Awaited<ReturnType<typeof adapterInfo>>;
    dispatchUs: number;
    readbackMs: number;
    deviceStorageLimit: number;
  }>("env");
  const lines: string[] = ["# mmjepa on the GPU (benches/gpu_main.ts)", ""];
  try {
    lines.push(
      "```",
      Deno.readTextFileSync(`${OUT}/nvidia_smi.txt`).trim(),
      "```",
      "",
    );
  } catch {
    // No nvidia-smi output (lavapipe run).
  }
  if (e) {
    lines.push(
      `Adapter: ${e.adapter.description} (vendor ${e.adapter.vendor}, ${e.adapter.architecture}); timestamp-query: ${
        e.adapter.features.includes("timestamp-query") ? "yes" : "no"
      }; storage buffers per shader: adapter ${e.adapter.maxStorageBuffersPerShaderStage}, device ${e.deviceStorageLimit}.`,
      `One tfjs-webgpu dispatch (chain of adds, one submit per ${""}batch) costs ${
        fmt(e.dispatchUs)
      } us; one readback (await data) ${fmt(e.readbackMs, 2)} ms.`,
      "",
    );
  }
  lines.push(
    "| step | batch | tokens | webgpu stock ms | webgpu mmjepa ms | PyTorch fp32 ms | ratio (mmjepa / fp32) | target | met | PyTorch TF32 ms | dispatches stock -> mmjepa | GPU ms (mmjepa) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  const tops: string[] = [];
  for (const mode of MODES) {
    const s = read<StepsResult>(`steps_${mode}`);
    const t = read<
      { fp32Ms?: number; tf32Ms?: number; error?: string; torch?: string }
    >(
      `torch_${mode}`,
    );
    const c = s?.runs.custom, st = s?.runs.stock;
    const ratio = c?.ms && t?.fp32Ms ? c.ms / t.fp32Ms : undefined;
    const gpuMs = c?.profile
      ? s!.timestamps
        ? `${fmt(c.profile.gpuMs)}`
        : `~${
          fmt(c.profile.dispatches * (e?.dispatchUs ?? NaN) / 1000)
        } (dispatches x dispatch cost; no timestamp-query)`
      : "-";
    lines.push(
      `| ${LABEL[mode]} | ${s?.batch ?? "-"} | ${s?.tokens ?? "-"} | ${
        fmt(st?.ms)
      } | ${fmt(c?.ms)} | ${fmt(t?.fp32Ms, 2)} | ${fmt(ratio, 2)} | <= ${
        TARGET[mode]
      }x | ${
        ratio === undefined ? "-" : ratio <= TARGET[mode] ? "yes" : "no"
      } | ${fmt(t?.tf32Ms, 2)} | ${fmt(st?.profile?.dispatches, 0)} -> ${
        fmt(c?.profile?.dispatches, 0)
      } | ${gpuMs} |`,
    );
    if (t?.error) {
      tops.push(`- ${LABEL[mode]}: PyTorch not measured: ${t.error}`);
    }
    if (s) {
      tops.push(
        `- ${LABEL[mode]}, mmjepa kernels: ${topKernels(c?.profile)}`,
        `- ${LABEL[mode]}, stock kernels: ${topKernels(st?.profile)}`,
      );
    }
  }
  lines.push(
    "",
    "Top kernels by GPU time per step (tf.profile):",
    "",
    ...tops,
    "",
  );
  const cv = read<{
    steps: number;
    batch: number;
    losses: Record<string, number[]>;
    maxRelDiff?: number;
  }>("curve");
  if (cv) {
    lines.push(
      `Loss curve, ${cv.steps} JEPA steps (features, batch ${cv.batch}), webgpu with mmjepa kernels vs the cpu backend: largest relative difference ${
        cv.maxRelDiff?.toExponential(2) ?? "- (incomplete)"
      }.`,
      "",
      "| step | webgpu | cpu |",
      "|---|---|---|",
      ...(cv.losses.webgpu ?? []).map((x, i) =>
        `| ${i + 1} | ${x.toFixed(6)} | ${
          cv.losses.cpu?.[i]?.toFixed(6) ?? "-"
        } |`
      ),
      "",
    );
  }
  try {
    lines.push(
      "`sim --quick --backend webgpu`:",
      "",
      "```",
      Deno.readTextFileSync(`${OUT}/sim_summary.txt`).trim(),
      "```",
      "",
    );
  } catch {
    lines.push(
      "`sim --quick --backend webgpu`: no summary (not run or failed).",
      "",
    );
  }
  lines.push(
    "Step times are wall clock from runs of k1 and k2 steps (difference / (k2 - k1)); the loss is read once per run. PyTorch: torch_steps.py on CUDA, median of timed steps with torch.cuda.synchronize.",
  );
  Deno.writeTextFileSync(`${OUT}/RESULTS.md`, lines.join("\n") + "\n");
}

if (import.meta.main) {
  const [section, arg] = Deno.args;
  const mode = (arg ?? "features") as Mode;
  if (arg && !MODES.includes(mode)) {
    throw new Error(
      `gpu_main: mode must be one of ${MODES.join(", ")}, got ${arg}`,
    );
  }
  Deno.mkdirSync(OUT, { recursive: true });
  if (!["report", "torch"].includes(section) && !(await probeWebGpu())) {
    throw new Error("gpu_main: no WebGPU adapter");
  }
  if (section === "env") await env();
  else if (section === "steps") await steps(mode);
  else if (section === "torch") {
    await torch(mode).catch((e) => {
      write(`torch_${mode}`, { error: String(e).slice(0, 2000) });
      throw e;
    });
  } else if (section === "curve") await curve();
  else if (section === "diag") await diag(mode);
  else if (section === "report") report();
  else {
    throw new Error(
      `gpu_main: section must be env, steps <mode>, torch <mode>, curve or report; got ${section}`,
    );
  }
}
