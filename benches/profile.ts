/**
 * `task bench --profile`: which kernels a training step spends its time in.
 *
 * tf.profile times every kernel call (on wasm and cpu with the host clock
 * around the call). Profiling a run of k1 steps and one of k2 steps and
 * taking the difference per kernel leaves what one step costs, without the
 * setup (parameter initialisation, first batch) both runs share.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** One kernel's cost per step. */
export interface KernelShare {
  /** tfjs kernel name, e.g. "BatchMatMul" or "MmjepaAttention". */
  name: string;
  /** Milliseconds per step inside this kernel. */
  msPerStep: number;
  /** Calls per step. */
  callsPerStep: number;
  /** Fraction of all kernel time per step (0..1). */
  share: number;
}

/** What a profiled step costs. */
export interface StepProfile {
  /** Kernels, most time first. */
  kernels: KernelShare[];
  /** Kernel time per step, all kernels (ms). */
  kernelMs: number;
  /** Wall time per step of the profiled runs (ms), profiling overhead included. */
  wallMs: number;
}

async function perKernel(
  run: () => Promise<unknown>,
): Promise<{ byName: Map<string, [number, number]>; wall: number }> {
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await run();
  });
  const wall = performance.now() - t0;
  const byName = new Map<string, [number, number]>();
  const backend = tf.getBackend();
  for (const k of info.kernels) {
    // tf.customGrad records its whole forward function as one entry
    // ("forward") around the kernels it runs: count kernels only.
    if (!tf.getKernel(k.name, backend)) continue;
    const ms = await k.kernelTimeMs;
    const [t, c] = byName.get(k.name) ?? [0, 0];
    byName.set(k.name, [t + (typeof ms === "number" ? ms : 0), c + 1]);
  }
  return { byName, wall };
}

/**
 * Profiles `run(k1)` and `run(k2)` and returns the per-step difference.
 *
 * @example
 * ```ts
 * const p = await profileSteps((s) => pretrain(set, "jepa", cfg(s), 1), 1, 3);
 * console.log(formatProfile("jepa step", p));
 * ```
 */
export async function profileSteps(
  run: (steps: number) => Promise<unknown>,
  k1: number,
  k2: number,
): Promise<StepProfile> {
  if (!(k2 > k1 && k1 >= 0)) {
    throw new Error(`profileSteps: expected 0 <= k1 < k2, got ${k1}, ${k2}`);
  }
  const a = await perKernel(() => run(k1));
  const b = await perKernel(() => run(k2));
  const steps = k2 - k1;
  const kernels: KernelShare[] = [];
  for (const [name, [tb, cb]] of b.byName) {
    const [ta, ca] = a.byName.get(name) ?? [0, 0];
    const calls = (cb - ca) / steps;
    if (calls <= 0) continue;
    kernels.push({
      name,
      msPerStep: Math.max(0, (tb - ta) / steps),
      callsPerStep: calls,
      share: 0,
    });
  }
  const kernelMs = kernels.reduce((s, k) => s + k.msPerStep, 0);
  for (const k of kernels) k.share = kernelMs > 0 ? k.msPerStep / kernelMs : 0;
  kernels.sort((x, y) => y.msPerStep - x.msPerStep);
  return { kernels, kernelMs, wallMs: Math.max(0, (b.wall - a.wall) / steps) };
}

/**
 * A markdown table of the top kernels of one step.
 *
 * @example
 * ```ts
 * console.log(formatProfile("jepa step, wasm", profile, 10));
 * ```
 */
export function formatProfile(
  title: string,
  p: StepProfile,
  top = 10,
): string {
  const rows = p.kernels.slice(0, top).map((k) =>
    `| ${k.name} | ${k.msPerStep.toFixed(2)} | ${
      (100 * k.share).toFixed(1)
    }% | ${
      Number.isInteger(k.callsPerStep)
        ? k.callsPerStep
        : k.callsPerStep.toFixed(1)
    } |`
  );
  return [
    `profile: ${title}: kernels ${p.kernelMs.toFixed(1)} ms of ${
      p.wallMs.toFixed(1)
    } ms wall per step (profiled; the rest is JavaScript outside kernels)`,
    "| kernel | ms/step | share | calls/step |",
    "|---|---:|---:|---:|",
    ...rows,
  ].join("\n");
}

/**
 * The top kernels in one line, for a RESULTS.md note.
 *
 * @example
 * ```ts
 * profileNote(p); // "BatchMatMul 12.1 ms (40x, 35%), ..."
 * ```
 */
export function profileNote(p: StepProfile, top = 6): string {
  return p.kernels.slice(0, top).map((k) =>
    `${k.name} ${k.msPerStep.toFixed(1)} ms (${Math.round(k.callsPerStep)}x, ${
      (100 * k.share).toFixed(0)
    }%)`
  ).join(", ");
}
