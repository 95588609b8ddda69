import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../../kernels/backend.ts";
import { RngStreams } from "../../../core/rng.ts";
import {
  ATTENTION,
  ATTENTION_GRAD,
  DENSE,
  hasKernel,
  kernelsInUse,
  relaxedFma,
  setCustomKernels,
  setRelaxedFma,
} from "../../../kernels/mod.ts";
import { pretrain, resolveExperimentConfig } from "../../../models/mod.ts";
import { composite, stackLossAndGrads } from "../attention_reference.ts";
import { easySet } from "../../models/fixtures.ts";

function normals(n: number, seed: string): Float32Array {
  return Float32Array.from(new RngStreams(7).get(seed).normals(n));
}

// [n, N, heads, d, bias kind]: batch 1 and odd batches, odd token counts
// (201 = the volume 32^3 JEPA step, longer than one 128-row chunk of the
// products), one token, head sizes 1, 2, 3, 5, 7 and multiples of 4,
// key-padding, per-query and shared biases.
const CASES: [
  number,
  number,
  number,
  number,
  "key" | "full" | "shared" | "padded",
][] = [
  [4, 12, 2, 16, "key"],
  [3, 7, 2, 16, "full"],
  [2, 5, 3, 5, "key"],
  [1, 1, 1, 3, "key"],
  [1, 9, 2, 1, "full"],
  [3, 6, 2, 2, "key"],
  [2, 33, 2, 7, "shared"],
  [5, 13, 3, 4, "full"],
  [1, 201, 2, 16, "key"],
  [2, 9, 1, 64, "full"],
  // Whole key columns masked for every query (N = 10: column j % 5 = 3),
  // and trailing padding as the model makes it, one patient with every key
  // masked (tfjs then spreads the softmax over all keys).
  [2, 10, 2, 4, "full"],
  [3, 11, 2, 8, "padded"],
  [4, 201, 2, 16, "padded"],
  // Past SMALL_N (48 tokens: batched over patients below it, per patient
  // with kept keys gathered above it), odd sizes for the per-patient path.
  [2, 53, 3, 5, "full"],
  [3, 61, 2, 7, "shared"],
  [3, 50, 2, 16, "padded"],
  [1, 49, 1, 3, "key"],
  // N = 55: columns j % 5 = 3 masked for every query, per-query biases.
  [2, 55, 2, 8, "full"],
];

function inputs(c: typeof CASES[number]) {
  const [n, N, h, d, kind] = c;
  const w = h * d;
  const qkv = normals(n * N * 3 * w, `qkv${c}`);
  const shape = kind === "key" || kind === "padded"
    ? [n, 1, 1, N]
    : kind === "full"
    ? [n, 1, N, N]
    : [1, 1, N, N];
  const b = normals(shape.reduce((a, x) => a * x, 1), `bias${c}`);
  // Masked keys as the model makes them (-1e9), but never a whole row.
  for (let i = 0; i < b.length; i++) b[i] = i % 5 === 3 ? -1e9 : b[i];
  if (kind === "padded") {
    // Patient 0 all padding, patient p > 0 keeps its first N - p * N / 4.
    for (let p = 0; p < n; p++) {
      for (let j = 0; j < N; j++) {
        const pad = p === 0 || j >= N - Math.floor(p * N / 4);
        b[p * N + j] = pad ? -1e9 : 0;
      }
    }
  }
  if (N === 1) b.fill(0);
  const dy = normals(n * N * w, `dy${c}`);
  return { n, N, h, d, w, qkv, b, shape, dy, scale: 1 / Math.sqrt(d) };
}

function assertClose(
  got: Float32Array,
  want: Float32Array,
  tol: number,
  what: string,
) {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = Math.max(1, ...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Number.isFinite(got[i]) && Math.abs(got[i] - want[i]) <= tol * scale,
      `${what}[${i}]: wasm ${got[i]} vs cpu ${want[i]}`,
    );
  }
}

// Runs f on a backend; returns its outputs' values. Every heap buffer the
// kernels allocate (scratch) must be freed again.
async function on(
  backend: "cpu" | "wasm",
  f: () => tf.Tensor[],
): Promise<Float32Array[]> {
  await initBackend(backend);
  const before = tf.engine().backend.numDataIds();
  const outs = tf.tidy(f);
  const vals = await Promise.all(
    outs.map(async (o) => new Float32Array(await o.data())),
  );
  tf.dispose(outs);
  assert.equal(tf.engine().backend.numDataIds(), before, "heap buffers");
  return vals;
}

Deno.test("wasm ATTENTION matches the tf-op attention on cpu: output and log-sum-exp, odd sizes", async () => {
  for (const c of CASES) {
    const t = inputs(c);
    const mk = () => ({
      qkv: tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w]),
      bias: tf.tensor(t.b, t.shape),
    });
    const [want, wantLse] = await on("cpu", () => {
      const x = mk();
      // lse per (patient, head, query): log sum exp(scale q k + bias).
      const N = t.N, d = t.d;
      const [q, k] = tf.unstack(
        x.qkv.reshape([t.n, N, 3, t.w]).transpose([2, 0, 1, 3]),
      ).map((u) => u.reshape([t.n, N, t.h, d]).transpose([0, 2, 1, 3]));
      const logits = tf.matMul(q.mul(t.scale), k, false, true).add(x.bias);
      return [
        composite(x.qkv, x.bias, t.n, t.h, t.scale),
        tf.logSumExp(logits, -1).reshape([-1]),
      ];
    });
    const [got, gotLse] = await on("wasm", () => {
      assert.ok(hasKernel(ATTENTION));
      return tf.engine().runKernel(ATTENTION, mk(), {
        n: t.n,
        heads: t.h,
        scale: t.scale,
      }) as tf.Tensor[];
    });
    assertClose(got, want, 2e-5, `o, case ${c}`);
    assertClose(gotLse, wantLse, 2e-5, `lse, case ${c}`);
  }
});

// The fused kernels on one case: o, lse, and dqkv for t.dy with the
// forward pass's P handed over (what the model does) and without it
// (recomputed).
function fusedForwardAndGrads(
  t: ReturnType<typeof inputs>,
  attrs: Record<string, number>,
): tf.Tensor[] {
  const qkv = tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w]);
  const bias = tf.tensor(t.b, t.shape);
  const [o, lse, p] = tf.engine().runKernel(
    ATTENTION,
    { qkv, bias },
    attrs,
  ) as tf.Tensor[];
  const dy = tf.tensor2d(t.dy, [t.n * t.N, t.w]);
  const grad = (withP: boolean) =>
    tf.engine().runKernel(
      ATTENTION_GRAD,
      withP ? { dy, qkv, bias, o, lse, p } : { dy, qkv, bias, o, lse },
      attrs,
    ) as tf.Tensor;
  return [o, lse, grad(true), grad(false)];
}

Deno.test("wasm ATTENTION_GRAD matches autodiff of the tf-op attention on cpu, odd sizes", async () => {
  for (const c of CASES) {
    const t = inputs(c);
    const attrs = { n: t.n, heads: t.h, scale: t.scale };
    const [want] = await on("cpu", () => {
      const bias = tf.tensor(t.b, t.shape);
      const dy = tf.tensor2d(t.dy, [t.n * t.N, t.w]);
      return [
        tf.grad((x: tf.Tensor) =>
          composite(x as tf.Tensor2D, bias, t.n, t.h, t.scale).mul(dy).sum()
        )(tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w])),
      ];
    });
    const [, , got, recomputed] = await on(
      "wasm",
      () => fusedForwardAndGrads(t, attrs),
    );
    assertClose(got, want, 5e-5, `dqkv, case ${c}`);
    assertClose(recomputed, want, 5e-5, `dqkv without P, case ${c}`);
  }
});

Deno.test("wasm ATTENTION: one bias tensor read with two head counts gets each its own key plan (the plan is cached per bias)", async () => {
  // Width 32 as 2 heads of 16, then 4 heads of 8, on the same bias tensor.
  const t = inputs([3, 50, 2, 16, "padded"]);
  const qkv = (seed: string) => normals(t.n * t.N * 3 * t.w, seed);
  const want = await on("cpu", () => {
    const bias = tf.tensor(t.b, t.shape);
    return [2, 4].map((h) =>
      composite(
        tf.tensor2d(qkv(`h${h}`), [t.n * t.N, 3 * t.w]),
        bias,
        t.n,
        h,
        1 / Math.sqrt(t.w / h),
      )
    );
  });
  const got = await on("wasm", () => {
    const bias = tf.tensor(t.b, t.shape);
    return [2, 4].map((h) =>
      (tf.engine().runKernel(ATTENTION, {
        qkv: tf.tensor2d(qkv(`h${h}`), [t.n * t.N, 3 * t.w]),
        bias,
      }, { n: t.n, heads: h, scale: 1 / Math.sqrt(t.w / h) }) as tf.Tensor[])[
        0
      ]
    );
  });
  assertClose(got[0], want[0], 2e-5, "2 heads");
  assertClose(got[1], want[1], 2e-5, "4 heads, same bias tensor");
});

// Per patient, which tokens are hidden (their key masked, -1e6 or less,
// for every query row), as keptKeys decides: none when some query row
// has no unmasked key.
function hiddenRows(t: ReturnType<typeof inputs>): boolean[] {
  const { n, N } = t, nb = t.shape[0], Nb = t.shape[2];
  const out: boolean[] = [];
  for (let p = 0; p < n; p++) {
    const b0 = (nb > 1 ? p : 0) * Nb * N;
    const keep = new Array<boolean>(N).fill(false);
    let rowWithout = false;
    for (let i = 0; i < Nb; i++) {
      let any = false;
      for (let j = 0; j < N; j++) {
        if (t.b[b0 + i * N + j] > -1e6) keep[j] = any = true;
      }
      rowWithout ||= !any;
    }
    for (let j = 0; j < N; j++) out.push(!rowWithout && !keep[j]);
  }
  return out;
}

Deno.test("wasm ATTENTION with skipHidden: visible rows and lse as without it, hidden rows 0; the gradient is autodiff's with dy 0 on hidden rows, odd sizes", async () => {
  let skipped = 0;
  for (const c of CASES) {
    const t = inputs(c);
    const hidden = hiddenRows(t);
    skipped += hidden.filter((h) => h).length;
    const dy0 = t.dy.map((v, i) => hidden[Math.floor(i / t.w)] ? 0 : v);
    const [want, wantLse, wantGrad] = await on("cpu", () => {
      const qkv = tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w]);
      const bias = tf.tensor(t.b, t.shape);
      const dy = tf.tensor2d(dy0, [t.n * t.N, t.w]);
      const N = t.N, d = t.d;
      const [q, k] = tf.unstack(
        qkv.reshape([t.n, N, 3, t.w]).transpose([2, 0, 1, 3]),
      ).map((u) => u.reshape([t.n, N, t.h, d]).transpose([0, 2, 1, 3]));
      const logits = tf.matMul(q.mul(t.scale), k, false, true).add(bias);
      return [
        composite(qkv, bias, t.n, t.h, t.scale),
        tf.logSumExp(logits, -1).reshape([-1]),
        tf.grad((x: tf.Tensor) =>
          composite(x as tf.Tensor2D, bias, t.n, t.h, t.scale).mul(dy).sum()
        )(qkv),
      ];
    });
    for (let r = 0; r < t.n * t.N; r++) {
      if (!hidden[r]) continue;
      want.fill(0, r * t.w, (r + 1) * t.w);
      const p = Math.floor(r / t.N), i = r % t.N;
      for (let h = 0; h < t.h; h++) wantLse[(p * t.h + h) * t.N + i] = 0;
    }
    const attrs = { n: t.n, heads: t.h, scale: t.scale, skipHidden: 1 };
    // t.dy keeps its hidden rows (not zeroed): the kernel must ignore them.
    const [got, gotLse, gotGrad, recomputed] = await on(
      "wasm",
      () => fusedForwardAndGrads(t, attrs),
    );
    assertClose(got, want, 2e-5, `o, case ${c}`);
    assertClose(gotLse, wantLse, 2e-5, `lse, case ${c}`);
    assertClose(gotGrad, wantGrad, 5e-5, `dqkv, case ${c}`);
    assertClose(recomputed, wantGrad, 5e-5, `dqkv without P, case ${c}`);
  }
  assert.ok(skipped > 100, `only ${skipped} hidden rows across the cases`);
});

Deno.test("wasm stack() with the fused attention: output and every parameter gradient match cpu; stock kernels skip it", async () => {
  const { run, names } = stackLossAndGrads(3);
  const kernels: string[] = [];
  const want = await on("cpu", run);
  const profiled = async () => {
    let vals: Float32Array[] = [];
    const info = await tf.profile(async () => {
      vals = await on("wasm", run);
    });
    kernels.splice(0, kernels.length, ...info.kernels.map((k) => k.name));
    return vals;
  };
  const got = await profiled();
  assert.ok(kernels.includes(ATTENTION) && kernels.includes(ATTENTION_GRAD));
  got.forEach((g, i) => assertClose(g, want[i], 5e-5, names[i]));
  setCustomKernels(false);
  try {
    const stock = await profiled();
    assert.ok(!kernels.includes(ATTENTION), "stock run used the fused kernel");
    assert.ok(kernels.includes("Softmax"));
    stock.forEach((g, i) => assertClose(g, want[i], 5e-5, `stock ${i}`));
  } finally {
    setCustomKernels(true);
  }
});

// Edge 16: 33 tokens per patient (the batched small-N attention); edge 24:
// 90 (the per-patient path, hidden queries skipped).
for (const edge of [16, 24]) {
  Deno.test(`volume-mode JEPA on wasm, edge ${edge}: the same seed gives the same loss curve (1e-4) with stock and mmjepa kernels (fused attention included)`, async () => {
    await initBackend("wasm");
    const set = easySet({
      mode: "volume",
      volumeEdge: edge,
      sizes: { pretrain: 24, train: 12, val: 6, test: 6 },
      external: 0,
    });
    const cfg = resolveExperimentConfig({
      pretrain: { steps: 5, readEvery: 1, batchSize: 8 },
    });
    const curve = async () => {
      let names: string[] = [];
      let pre: Awaited<ReturnType<typeof pretrain>> = null;
      const info = await tf.profile(async () => {
        pre = await pretrain(set, "jepa", cfg, 2);
      });
      names = info.kernels.map((k) => k.name);
      pre!.dispose();
      return { curve: pre!.curve, names };
    };
    const custom = await curve();
    setCustomKernels(false);
    let stock: Awaited<ReturnType<typeof curve>>;
    try {
      stock = await curve();
    } finally {
      setCustomKernels(true);
    }
    assert.ok(
      custom.names.includes(ATTENTION_GRAD),
      "fused attention not used",
    );
    assert.ok(!stock.names.includes(ATTENTION));
    assert.equal(custom.curve.length, 5);
    custom.curve.forEach((v, i) =>
      assert.ok(
        Math.abs(v - stock.curve[i]) <= 1e-4 * Math.abs(stock.curve[i]),
        `step ${i}: mmjepa kernels ${v} vs stock ${stock.curve[i]}`,
      )
    );
  });
}

Deno.test("relaxed-SIMD FMA (off by default, a flag): products and attention gradients still match cpu, and the backend detail records it", async () => {
  await initBackend("wasm");
  assert.equal(relaxedFma(), false);
  assert.equal(kernelsInUse(), "mmjepa kernels");
  const t = inputs([3, 13, 2, 8, "key"]);
  const attrs = { n: t.n, heads: t.h, scale: t.scale };
  const x = normals(37 * 24, "fma-x"), w = normals(24 * 20, "fma-w");
  const [want, wantY] = await on("cpu", () => {
    const bias = tf.tensor(t.b, t.shape);
    const dy = tf.tensor2d(t.dy, [t.n * t.N, t.w]);
    return [
      tf.grad((q: tf.Tensor) =>
        composite(q as tf.Tensor2D, bias, t.n, t.h, t.scale).mul(dy).sum()
      )(tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w])),
      tf.matMul(tf.tensor2d(x, [37, 24]), tf.tensor2d(w, [24, 20])),
    ];
  });
  setRelaxedFma(true);
  try {
    await initBackend("wasm");
    assert.equal(kernelsInUse(), "mmjepa kernels, relaxed-SIMD FMA");
    const [got, y] = await on("wasm", () => {
      const qkv = tf.tensor2d(t.qkv, [t.n * t.N, 3 * t.w]);
      const bias = tf.tensor(t.b, t.shape);
      const [o, lse] = tf.engine().runKernel(
        ATTENTION,
        { qkv, bias },
        attrs,
      ) as tf.Tensor[];
      const dy = tf.tensor2d(t.dy, [t.n * t.N, t.w]);
      return [
        tf.engine().runKernel(
          ATTENTION_GRAD,
          { dy, qkv, bias, o, lse },
          attrs,
        ) as tf.Tensor,
        tf.engine().runKernel(DENSE, {
          x: tf.tensor2d(x, [37, 24]),
          w: tf.tensor2d(w, [24, 20]),
        }) as tf.Tensor,
      ];
    });
    assertClose(got, want, 5e-5, "dqkv with FMA");
    assertClose(y, wantY, 2e-5, "dense with FMA");
  } finally {
    setRelaxedFma(false);
  }
  await initBackend("wasm");
  assert.equal(kernelsInUse(), "mmjepa kernels");
});
