import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend, probeWebGpu } from "../../kernels/backend.ts";
import { RngStreams } from "../../core/rng.ts";

/**
 * Trains y = tanh(x W1) W2 for a few SGD steps from seeded data and weights;
 * returns the loss at each step. Weights come from the seeded stream, so the
 * starting point is the same on every backend.
 */
async function trainLosses(): Promise<number[]> {
  const s = new RngStreams(11);
  const data = s.get("data"), init = s.get("init");
  const n = 64, d = 16, h = 32;
  const x = tf.tensor2d(data.normals(n * d), [n, d]);
  const y = tf.tensor2d(data.normals(n), [n, 1]);
  const w1 = tf.variable(tf.tensor2d(init.normals(d * h, 0, 0.25), [d, h]));
  const w2 = tf.variable(tf.tensor2d(init.normals(h, 0, 0.25), [h, 1]));
  const losses: tf.Scalar[] = [];
  for (let step = 0; step < 8; step++) {
    const { value, grads } = tf.variableGrads(() =>
      tf.losses.meanSquaredError(y, tf.matMul(tf.tanh(tf.matMul(x, w1)), w2))
    );
    tf.tidy(() => {
      w1.assign(w1.sub(grads[w1.name].mul(0.1)));
      w2.assign(w2.sub(grads[w2.name].mul(0.1)));
    });
    tf.dispose(grads);
    losses.push(value);
  }
  const out = await Promise.all(losses.map(async (l) => (await l.data())[0]));
  tf.dispose([x, y, w1, w2, ...losses]);
  return out;
}

const hasAdapter = (await probeWebGpu()) !== null;
const skipWebGpu = Deno.env.get("MMJEPA_SKIP_WEBGPU") === "1";
if (!hasAdapter && !skipWebGpu) {
  throw new Error(
    "no WebGPU adapter: install mesa-vulkan-drivers (lavapipe) or set MMJEPA_SKIP_WEBGPU=1 to skip the webgpu parity check explicitly",
  );
}

Deno.test("cpu and wasm train to the same losses", async () => {
  await initBackend("cpu");
  const cpu = await trainLosses();
  await initBackend("wasm");
  const wasm = await trainLosses();
  assert.ok(cpu[7] < cpu[0] * 0.9, `loss should fall: ${cpu}`);
  for (let i = 0; i < cpu.length; i++) {
    assert.ok(
      Math.abs(cpu[i] - wasm[i]) <= 1e-5 * Math.max(1, Math.abs(cpu[i])),
      `step ${i}: cpu ${cpu[i]} vs wasm ${wasm[i]}`,
    );
  }
});

Deno.test({
  name: "webgpu (lavapipe in CI) trains to the cpu losses",
  ignore: skipWebGpu,
  fn: async () => {
    await initBackend("cpu");
    const cpu = await trainLosses();
    const info = await initBackend("webgpu");
    assert.equal(info.name, "webgpu");
    const gpu = await trainLosses();
    for (let i = 0; i < cpu.length; i++) {
      assert.ok(
        Math.abs(cpu[i] - gpu[i]) <= 1e-4 * Math.max(1, Math.abs(cpu[i])),
        `step ${i}: cpu ${cpu[i]} vs webgpu ${gpu[i]}`,
      );
    }
    await initBackend("cpu");
  },
});

Deno.test("auto never picks a software WebGPU adapter", async () => {
  const probe = await probeWebGpu();
  const info = await initBackend("auto");
  if (probe === null || probe.software) assert.notEqual(info.name, "webgpu");
  else assert.equal(info.name, "webgpu");
  await initBackend("cpu");
});

Deno.test("unknown backend is rejected with the accepted names", async () => {
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => initBackend("tpu" as any),
    /unknown backend "tpu"; expected one of auto, webgpu, wasm, cpu/,
  );
});
