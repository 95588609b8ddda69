import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../kernels/backend.ts";
import { RngStreams } from "../../../core/rng.ts";
import {
  DENSE,
  DENSE_GRAD,
  DENSE_PARAM_GRAD,
  hasKernel,
  NORMALIZE,
  NORMALIZE_GRAD,
  setCustomKernels,
  SOFTMAX_GRAD,
} from "../../../kernels/mod.ts";
import {
  AdamW,
  emaUpdateFrom,
  ParamSet,
  pretrain,
  resolveExperimentConfig,
  variableFrom,
} from "../../../models/mod.ts";
import { layerNorm, linear } from "../../../models/transformer.ts";
import { easySet } from "../../models/fixtures.ts";

/** Seeded normal values. */
function normals(n: number, seed: number): Float32Array {
  return Float32Array.from(new RngStreams(seed).get("x").normals(n));
}

/** Runs f on a backend with tensors built from `inputs`; returns the outputs' values. */
async function on(
  backend: "cpu" | "wasm",
  inputs: { values: Float32Array; shape: number[] }[],
  f: (...xs: tf.Tensor[]) => tf.Tensor[],
): Promise<Float32Array[]> {
  await initBackend(backend);
  // Kernels allocate heap buffers outside the engine (scratch copies):
  // all of them must be freed again.
  const heapBefore = tf.engine().backend.numDataIds();
  const xs = inputs.map((i) => tf.tensor(i.values, i.shape));
  const outs = f(...xs);
  const vals = await Promise.all(
    outs.map((o) => o.data() as Promise<Float32Array>),
  );
  tf.dispose([...xs, ...outs]);
  assert.equal(tf.engine().backend.numDataIds(), heapBefore, "heap buffers");
  return vals;
}

function assertClose(got: Float32Array, want: Float32Array, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = Math.max(1, ...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Number.isFinite(got[i]) && Math.abs(got[i] - want[i]) <= 2e-5 * scale,
      `${what}[${i}]: wasm ${got[i]} vs cpu ${want[i]}`,
    );
  }
}

/** Runs f with tfjs's stock kernels, then switches mmjepa's back on. */
async function withStockKernels<T>(f: () => Promise<T>): Promise<T> {
  setCustomKernels(false);
  try {
    return await f();
  } finally {
    setCustomKernels(true);
  }
}

/** A small synthetic cohort set for the training-level tests. */
const smallSet = easySet({
  sizes: { pretrain: 80, train: 40, val: 20, test: 20 },
  external: 0,
});

const input = (shape: number[], seed: number) => ({
  values: normals(shape.reduce((a, b) => a * b, 1), seed),
  shape,
});

Deno.test("wasm batched products match cpu for every transpose case and odd sizes", async () => {
  // [batch..., m, k] x [batch..., k, n], both layouts of each operand.
  const cases: [number[], number, number, number][] = [
    [[256], 12, 16, 12],
    [[128, 2], 12, 8, 12],
    [[4], 20, 16, 32],
    [[3], 5, 7, 12],
    [[3], 5, 8, 6],
    [[2, 3], 5, 4, 8],
    [[2], 9, 12, 9],
    [[2], 3, 5, 7],
    [[2], 21, 20, 16],
    [[2], 23, 16, 20],
    [[2], 9, 300, 8],
    [[2], 40, 16, 37],
    [[2], 5, 8, 3],
  ];
  for (const [lead, m, k, n] of cases) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const a = input([...lead, ...(tA ? [k, m] : [m, k])], 1);
        const b = input([...lead, ...(tB ? [n, k] : [k, n])], 2);
        const f = (x: tf.Tensor, y: tf.Tensor) => [tf.matMul(x, y, tA, tB)];
        const [want] = await on("cpu", [a, b], f);
        const [got] = await on("wasm", [a, b], f);
        assertClose(got, want, `${lead} ${m}x${k}x${n} tA=${tA} tB=${tB}`);
      }
    }
  }
});

Deno.test("wasm fused normalize and its gradient match the cpu composite", async () => {
  for (const shape of [[64, 12, 32], [7, 6], [3, 5, 16], [2, 1]]) {
    const x = input(shape, 3), dy = input(shape, 4);
    const f = (t: tf.Tensor, g: tf.Tensor) => {
      const [y, dx] = tf.tidy(() => {
        const { grads } = tf.valueAndGrads((u: tf.Tensor) =>
          layerNorm(u, null, null).mul(g).sum()
        )([t]);
        return [layerNorm(t, null, null), grads[0]];
      });
      return [y, dx];
    };
    await initBackend("wasm");
    assert.ok(hasKernel(NORMALIZE) && hasKernel(NORMALIZE_GRAD));
    const want = await on("cpu", [x, dy], f);
    const got = await on("wasm", [x, dy], f);
    assertClose(got[0], want[0], `normalize ${shape}`);
    assertClose(got[1], want[1], `normalize gradient ${shape}`);
  }
});

Deno.test("wasm fused dense layer: value and all three gradients match cpu", async () => {
  for (
    const [r, nIn, nOut] of [
      [96, 32, 96],
      [37, 6, 32],
      [5, 7, 3],
      [8, 16, 12],
      // Wide inputs: dx through w^T and the row loops.
      [13, 68, 7],
      [21, 128, 32],
    ]
  ) {
    for (const bias of [true, false]) {
      const x = input([r, nIn], 5), w = input([nIn, nOut], 6);
      const b = input([nOut], 7), dy = input([r, nOut], 8);
      const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor, g: tf.Tensor) =>
        tf.tidy(() => {
          const fn = (u: tf.Tensor, v: tf.Tensor, c?: tf.Tensor) =>
            linear(u as tf.Tensor2D, v as tf.Tensor2D, c ?? null)
              .mul(g).sum() as tf.Scalar;
          const grads = tf.grads(fn)(bias ? [xt, wt, bt] : [xt, wt]);
          return [
            linear(xt as tf.Tensor2D, wt as tf.Tensor2D, bias ? bt : null),
            ...grads,
          ];
        });
      await initBackend("wasm");
      assert.ok(hasKernel(DENSE) && hasKernel(DENSE_GRAD));
      const want = await on("cpu", [x, w, b, dy], f);
      const got = await on("wasm", [x, w, b, dy], f);
      assert.equal(got.length, bias ? 4 : 3);
      ["y", "dx", "dw", "db"].slice(0, got.length).forEach((what, i) =>
        assertClose(
          got[i],
          want[i],
          `dense ${r}x${nIn}x${nOut} bias=${bias} ${what}`,
        )
      );
    }
  }
});

Deno.test("wasm dense layer on data: w and b gradients match cpu", async () => {
  for (const [r, nIn, nOut] of [[64, 512, 32], [9, 5, 6]]) {
    const x = input([r, nIn], 9), w = input([nIn, nOut], 10);
    const b = input([nOut], 11), dy = input([r, nOut], 12);
    const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor, g: tf.Tensor) =>
      tf.tidy(() =>
        tf.grads((v: tf.Tensor, c: tf.Tensor) =>
          linear(xt as tf.Tensor2D, v as tf.Tensor2D, c, { inputGrad: false })
            .mul(g).sum() as tf.Scalar
        )([wt, bt])
      );
    await initBackend("wasm");
    assert.ok(hasKernel(DENSE_PARAM_GRAD));
    const want = await on("cpu", [x, w, b, dy], f);
    const got = await on("wasm", [x, w, b, dy], f);
    assertClose(got[0], want[0], `dense on data ${r}x${nIn}x${nOut} dw`);
    assertClose(got[1], want[1], `dense on data ${r}x${nIn}x${nOut} db`);
  }
});

Deno.test("wasm softmax gradient kernel matches cpu for row widths with and without a tail", async () => {
  for (const shape of [[4, 2, 12, 12], [2, 3, 201], [5, 3], [3, 1], [2, 8]]) {
    const x = input(shape, 13), dy = input(shape, 14);
    const f = (t: tf.Tensor, g: tf.Tensor) =>
      tf.tidy(() => {
        const y = tf.softmax(t);
        return [tf.engine().runKernel(SOFTMAX_GRAD, { dy: g, y }) as tf.Tensor];
      });
    const composite = (t: tf.Tensor, g: tf.Tensor) =>
      tf.tidy(() =>
        tf.grads((u: tf.Tensor) => tf.softmax(u).mul(g).sum() as tf.Scalar)([
          t,
        ])
      );
    await initBackend("wasm");
    assert.ok(hasKernel(SOFTMAX_GRAD));
    const want = await on("cpu", [x, dy], composite);
    const got = await on("wasm", [x, dy], f);
    assertClose(got[0], want[0], `softmax gradient ${shape}`);
  }
});

Deno.test("wasm Identity shares memory safely: clones survive their source", async () => {
  await initBackend("wasm");
  const before = tf.memory().numTensors;
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), [1, 2, 3]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("wasm Cast: float32 to float32 shares memory safely, other casts still convert (as on cpu)", async () => {
  const vals = [1.5, -2.25, 3.75, 0, -0.5];
  const run = async (backend: "cpu" | "wasm") => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const x = tf.tensor1d(vals);
    const buffersBefore = tf.memory().numDataBuffers;
    const same = tf.cast(x, "float32");
    // Shared bytes: the cast adds no buffer on wasm.
    const extra = tf.memory().numDataBuffers - buffersBefore;
    // Gradients cast their saved inputs: the cast must live on alone.
    x.dispose();
    const kept = Array.from(await same.data());
    const toInt = tf.cast(same, "int32"), back = tf.cast(toInt, "float32");
    const out = {
      kept,
      extra,
      toInt: Array.from(await toInt.data()),
      back: Array.from(await back.data()),
      dtypes: [same.dtype, toInt.dtype, back.dtype],
    };
    tf.dispose([same, toInt, back]);
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors`);
    return out;
  };
  const want = await run("cpu");
  const got = await run("wasm");
  assert.deepEqual(got.kept, vals);
  assert.deepEqual(got.toInt, want.toInt);
  assert.deepEqual(got.back, want.back);
  assert.deepEqual(got.dtypes, ["float32", "int32", "float32"]);
  assert.equal(got.extra, 0, "float32 cast copied the bytes");
});

Deno.test("setCustomKernels swaps between mmjepa's and tfjs's kernels", async () => {
  await initBackend("wasm");
  const matMul = () => tf.getKernel("BatchMatMul", "wasm");
  assert.ok(hasKernel(NORMALIZE));
  const custom = matMul();
  await withStockKernels(async () => {
    assert.ok(!hasKernel(NORMALIZE));
    assert.notEqual(matMul(), custom);
    // The composite path still runs without the fused kernels.
    const y = layerNorm(tf.tensor2d([[1, 2, 3, 4]]), null, null);
    const v = await y.data();
    assert.ok(Math.abs(v[0] + 1.3416) < 1e-3, `normalized ${v}`);
    y.dispose();
  });
  assert.ok(hasKernel(NORMALIZE));
  assert.equal(matMul(), custom);
});

Deno.test("a JEPA + contrastive pretraining run on wasm follows the same loss curve with stock and mmjepa kernels", async () => {
  await initBackend("wasm");
  const cfg = resolveExperimentConfig({
    pretrain: { steps: 6, readEvery: 1, batchSize: 32 },
  });
  const curve = async () => {
    const pre = await pretrain(smallSet, "jepa+contrastive", cfg, 3);
    pre!.dispose();
    return pre!.curve;
  };
  const custom = await curve();
  const stock = await withStockKernels(curve);
  assert.equal(custom.length, 6);
  custom.forEach((v, i) =>
    assert.ok(
      Math.abs(v - stock[i]) <= 1e-4 * Math.abs(stock[i]),
      `step ${i}: mmjepa kernels ${v} vs stock ${stock[i]}`,
    )
  );
});

Deno.test("wasm with mmjepa kernels: no tensor or heap growth over 60 steps, and the same seed gives the same curve", async () => {
  await initBackend("wasm");
  const cfg = resolveExperimentConfig({
    pretrain: { steps: 60, readEvery: 10, batchSize: 32 },
  });
  const heap = () => tf.engine().backend.numDataIds();
  const start = [tf.memory().numTensors, heap()];
  const seen: number[][] = [];
  const run = () =>
    pretrain(smallSet, "jepa+contrastive", cfg, 5, {
      onProgress: () => seen.push([tf.memory().numTensors, heap()]),
    });
  const a = (await run())!;
  a.dispose();
  assert.equal(seen.length, 6);
  assert.ok(
    seen.every(([t, h]) => t === seen[0][0] && h === seen[0][1]),
    `tensors, heap buffers per readback: ${JSON.stringify(seen)}`,
  );
  assert.deepEqual([tf.memory().numTensors, heap()], start);
  const b = (await run())!;
  b.dispose();
  assert.deepEqual(b.curve, a.curve);
});

Deno.test("wasm fused AdamW and EMA match the tf-op versions", async () => {
  await initBackend("wasm");
  const specs = [
    { name: "w", shape: [6, 4], init: { std: 0.5 }, decay: true },
    { name: "b", shape: [4], init: { value: 0.1 }, decay: false },
    { name: "e", shape: [0], init: { value: 0 }, decay: true },
    { name: "s", shape: [3, 2, 5], init: { std: 1 }, decay: true },
  ];
  const run = async () => {
    const set = ParamSet.create(specs, new RngStreams(8).get("init"));
    const target = variableFrom(set.flat(), false);
    const opt = new AdamW([set], { weightDecay: 0.05, clipNorm: 1 });
    const norms: number[] = [];
    for (let step = 0; step < 4; step++) {
      const grads = set.vars.map((v, i) =>
        tf.tensor(normals(v.size, 20 + 10 * step + i), v.shape)
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
  };
  const stock = await withStockKernels(run);
  const fused = await run();
  const what = ["w", "b", "e", "s", "m", "v", "ema target", "norms"];
  fused.forEach((x, i) => assertClose(x, stock[i], what[i]));
});
