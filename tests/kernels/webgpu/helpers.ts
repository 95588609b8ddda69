/**
 * Shared setup of the WebGPU kernel tests: the adapter check, seeded
 * inputs, running one computation on the cpu backend and on webgpu with
 * mmjepa's kernels, and the comparison.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { probeWebGpu } from "../../../kernels/backend.ts";
import { Rng } from "../../../core/rng.ts";
import { registerWebGpuKernels } from "../../../kernels/webgpu/mod.ts";

const hasAdapter = (await probeWebGpu()) !== null;

/** MMJEPA_SKIP_WEBGPU=1: the webgpu tests are reported as ignored. */
export const skipWebGpu = Deno.env.get("MMJEPA_SKIP_WEBGPU") === "1";

if (!hasAdapter && !skipWebGpu) {
  throw new Error(
    "no WebGPU adapter: install mesa-vulkan-drivers (lavapipe) or set MMJEPA_SKIP_WEBGPU=1 to skip the webgpu kernel tests explicitly",
  );
}

/**
 * Seeded standard normals.
 *
 * @example
 * ```ts
 * const a = normals(12, "a");
 * ```
 */
export function normals(n: number, seed: string): Float32Array {
  return new Rng(`webgpu-kernels/${seed}`).normals(n);
}

/** What a computation returns: one tensor or several. */
export type Outs = tf.Tensor | tf.Tensor[];

async function read(f: () => Outs): Promise<Float32Array[]> {
  const outs = f();
  const list = Array.isArray(outs) ? outs : [outs];
  const data = await Promise.all(
    list.map(async (t) => new Float32Array(await t.data())),
  );
  tf.dispose(list);
  return data;
}

/**
 * Runs `ref` on the cpu backend, then `f` (by default the same) on webgpu
 * with mmjepa's kernels registered, under tf.profile; returns both results
 * and the names of the GPU programs webgpu ran (mmjepa's shaders are named
 * Mmjepa*).
 *
 * @example
 * ```ts
 * const r = await cpuAndGpu(() => tf.matMul(tf.tensor2d(a, [2, 3]), tf.tensor2d(b, [3, 2])));
 * ```
 */
export async function cpuAndGpu(
  ref: () => Outs,
  f: () => Outs = ref,
): Promise<{ cpu: Float32Array[]; gpu: Float32Array[]; programs: string }> {
  await tf.setBackend("cpu");
  const cpu = await read(ref);
  assert.ok(await tf.setBackend("webgpu"), "tfjs could not start webgpu");
  registerWebGpuKernels();
  let gpu: Float32Array[] = [];
  const prof = await tf.profile(async () => {
    gpu = await read(f);
  });
  const names = await Promise.all(prof.kernels.map((k) => k.extraInfo));
  await tf.setBackend("cpu");
  return { cpu, gpu, programs: names.join(", ") };
}

/**
 * Asserts |got - want| <= rtol * max(1, max |want|) elementwise, and equal
 * lengths: relative to the result's scale, since sums over a long inner
 * axis may cancel to values near zero.
 *
 * @example
 * ```ts
 * assertClose(r.gpu[0], r.cpu[0], 1e-4, "matmul [2, 3] x [3, 2]");
 * ```
 */
export function assertClose(
  got: Float32Array,
  want: Float32Array,
  rtol: number,
  what: string,
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= rtol * scale)) {
      assert.fail(
        `${what}: element ${i} is ${got[i]}, cpu ${want[i]} (tolerance ${
          rtol * scale
        })`,
      );
    }
  }
}
