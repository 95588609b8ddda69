import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { RngStreams } from "../../core/rng.ts";
import { fitNormalizer, hostBatch, makeLayout } from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { Encoder } from "../../models/encoder.ts";
import { ParamSet } from "../../models/params.ts";
import { toInputs } from "../../models/tokenizers.ts";
import { easySet } from "./fixtures.ts";

// Token content and every encoder gradient of a volume batch, computed on
// the present scans' rows only (what toInputs gives) and on every slot.
function contentAndGrads(full: boolean, stemDepth: number): Float32Array[] {
  const set = easySet({
    mode: "volume",
    volumeEdge: 16,
    sizes: { pretrain: 24, train: 12, val: 6, test: 6 },
    external: 0,
  });
  const m = resolveExperimentConfig({ model: { stemDepth } }).model;
  const patients = set.internal.patients.slice(0, 24);
  const L = makeLayout(set.internal, m);
  const norm = fitNormalizer(patients, L);
  const h = hostBatch(
    patients,
    patients.map((_: unknown, i: number) => i),
    L,
    norm,
    {
      image: true,
      ehr: true,
    },
  );
  const enc = new Encoder(L, m);
  const params = ParamSet.create(enc.specs(), new RngStreams(3).get("init"));
  const out = tf.tidy(() => {
    const x = toInputs(h, L, m);
    assert.ok(x.imageRows, "no empty scan slot in the batch");
    const kept = x.imageRows.shape[0];
    assert.ok(kept < h.n * L.nImage && kept > 0, `${kept} rows kept`);
    assert.deepEqual(x.image.shape, [kept, L.imageDim]);
    if (full) {
      x.image = tf.tensor3d(h.image, [h.n, L.nImage, L.imageDim]);
      x.imageRows = x.imageSlots = null;
    }
    const { value, grads } = tf.variableGrads(() => {
      const { content } = enc.embed(params.dict, x);
      // Weights per token and width, so every row and column counts.
      const wts = tf.randomNormal(content.shape, 0, 1, "float32", 11);
      return content.mul(wts).sum() as tf.Scalar;
    }, params.vars);
    const { content } = enc.embed(params.dict, x);
    // The tokenizer's parameters (the stack's get none: embed does not
    // reach them).
    const stems = Array.from(
      { length: stemDepth },
      (_, k) => k === 0 ? "stem" : `stem${k + 1}`,
    );
    const names = [
      ...stems.flatMap((s) => [`${s}/w`, `${s}/b`]),
      "image/w",
      "image/b",
    ];
    const used = names.map((n) =>
      grads[(params.dict[`enc/${n}`] as tf.Variable).name]
    );
    assert.ok(used.every((g) => g), "a tokenizer parameter got no gradient");
    return [content, value, ...used];
  });
  const vals = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  params.dispose();
  enc.dispose();
  return vals;
}

for (
  const [backend, depth] of [["cpu", 1], ["wasm", 1], ["wasm", 2]] as const
) {
  Deno.test(`volume tokens on ${backend}, stem depth ${depth}: the stem and patch embedding on present scans only give the same content and gradients as on every slot`, async () => {
    await initBackend(backend);
    const got = contentAndGrads(false, depth),
      want = contentAndGrads(true, depth);
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      const scale = Math.max(1e-6, ...want[i].map(Math.abs));
      for (let j = 0; j < g.length; j++) {
        assert.ok(
          Math.abs(g[j] - want[i][j]) <= 2e-5 * scale,
          `output ${i}[${j}]: ${g[j]} vs ${want[i][j]}`,
        );
      }
    });
  });
}

Deno.test("compact volume batches (no rows for empty scan slots) give toInputs the same tensors as padded ones", async () => {
  await initBackend("cpu");
  const set = easySet({
    mode: "volume",
    volumeEdge: 16,
    sizes: { pretrain: 24, train: 12, val: 6, test: 6 },
    external: 0,
  });
  const m = resolveExperimentConfig({}).model;
  const patients = set.internal.patients;
  const L = makeLayout(set.internal, m);
  const norm = fitNormalizer(patients, L);
  const full = patients.filter((p) => p.scans.length >= L.maxScans);
  const short = patients.filter((p) => p.scans.length < L.maxScans);
  assert.ok(full.length >= 2 && short.length >= 2, "scan counts vary");
  const cases: [string, typeof patients, boolean][] = [
    ["mixed", patients.slice(0, 12), true],
    ["every slot filled", full.slice(0, 2), true],
    ["no image read", patients.slice(0, 4), false],
  ];
  for (const [name, ps, image] of cases) {
    const idx = ps.map((_, i) => i), use = { image, ehr: true };
    const padded = hostBatch(ps, idx, L, norm, use);
    const compact = hostBatch(ps, idx, L, norm, use, undefined, true);
    const filled = ps.reduce(
      (a, p) => a + (image ? Math.min(p.scans.length, L.maxScans) : 0),
      0,
    );
    assert.equal(
      compact.image.length,
      filled * L.patchesPerScan * L.imageDim,
      `${name}: compact rows`,
    );
    const a = toInputs(padded, L, m), b = toInputs(compact, L, m);
    for (const k of ["image", "imageRows", "imageSlots", "present"] as const) {
      const x = a[k] ?? null, y = b[k] ?? null;
      assert.equal(x === null, y === null, `${name}: ${k}`);
      if (x === null || y === null) continue;
      assert.deepEqual(y.shape, x.shape, `${name}: ${k} shape`);
      assert.deepEqual(
        Array.from(await y.data()),
        Array.from(await x.data()),
        `${name}: ${k} values`,
      );
    }
  }
});
