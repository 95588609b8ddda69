import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { RngStreams } from "../../../core/rng.ts";
import { ADAMW, EMA, hasKernel } from "../../../kernels/mod.ts";
import { registerWebGpuKernels } from "../../../kernels/webgpu/mod.ts";
import { emaUpdateFrom } from "../../../models/jepa.ts";
import { AdamW } from "../../../models/optim.ts";
import { ParamSet, variableFrom } from "../../../models/params.ts";
import { assertClose, normals, skipWebGpu } from "./helpers.ts";

// More parameters than a pass binds on lavapipe (16 storage buffers), so
// both passes run in several groups; odd sizes, an empty one, and one
// longer than a workgroup's stride many times over.
const SPECS = Array.from({ length: 23 }, (_, i) => ({
  name: `p${i}`,
  shape: i === 5 ? [0] : i === 9 ? [301, 7] : [1 + (i * 7) % 13, 1 + i % 3],
  init: { std: 0.5 },
  decay: i % 4 !== 1,
}));

async function steps(clipNorm: number): Promise<Float32Array[]> {
  const set = ParamSet.create(SPECS, new RngStreams(3).get("init"));
  const target = variableFrom(set.flat(), false);
  const opt = new AdamW([set], { weightDecay: 0.05, clipNorm });
  const norms: number[] = [];
  for (let step = 0; step < 4; step++) {
    // Gradients large enough that clipping at 1 changes every update.
    const grads = set.vars.map((v, i) =>
      tf.tensor(normals(v.size, `g${step},${i}`), v.shape).mul(2)
    );
    const norm = tf.tidy(() => opt.apply(grads, 0.01 * (step + 1)));
    norms.push((await norm.data())[0]);
    tf.dispose([norm, ...grads]);
    emaUpdateFrom(target, set, 0.9);
  }
  const out = [
    ...(await set.values()),
    new Float32Array(await opt.m.data()),
    new Float32Array(await opt.v.data()),
    new Float32Array(await target.data()),
    Float32Array.from(norms),
  ];
  set.dispose();
  opt.dispose();
  target.dispose();
  return out;
}

Deno.test({
  name:
    "webgpu ADAMW and EMA match AdamW.apply and emaUpdate on cpu over 4 steps",
  ignore: skipWebGpu,
  fn: async () => {
    for (const clip of [1, 0]) {
      await tf.setBackend("cpu");
      const cpu = await steps(clip);
      assert.ok(await tf.setBackend("webgpu"));
      registerWebGpuKernels();
      assert.ok(hasKernel(ADAMW) && hasKernel(EMA), "kernels registered");
      // kernels/webgpu/device.ts raised the limit above WebGPU's 8; a cap
      // below the parameter count makes the update take several passes
      // whatever this adapter allows.
      const limit = (tf.backend() as unknown as { device: GPUDevice }).device
        .limits.maxStorageBuffersPerShaderStage;
      assert.ok(limit > 8, `limit ${limit}`);
      Deno.env.set("MMJEPA_WEBGPU_MAX_STORAGE_BUFFERS", "12");
      assert.ok(12 < SPECS.length);
      let gpu: Float32Array[] = [];
      const prof = await tf.profile(async () => {
        gpu = await steps(clip);
      });
      const names = prof.kernels.map((k) => k.name).join(",");
      assert.match(names, /MmjepaAdamW/);
      assert.match(names, /MmjepaEma/);
      // The tf-op path would concatenate and split every step; only the
      // target's initial flat() concatenates here.
      assert.doesNotMatch(names, /SplitV/);
      assert.equal(names.split(",").filter((n) => n === "Concat").length, 1);
      Deno.env.delete("MMJEPA_WEBGPU_MAX_STORAGE_BUFFERS");
      await tf.setBackend("cpu");
      const what = [
        ...SPECS.map((s) => s.name),
        "m",
        "v",
        "ema target",
        "norms",
      ];
      gpu.forEach((x, i) =>
        assertClose(x, cpu[i], 1e-4, `clip ${clip}: ${what[i]}`)
      );
    }
  },
});
