// Symmetric InfoNCE against its closed form, on hand-built pooled
// embeddings: the encoder is replaced by one that returns a fixed output,
// so the test controls exactly which image and EHR vectors are paired.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { hasKernel, INFONCE } from "../../kernels/mod.ts";
import { contrastiveLoss } from "../../models/contrastive.ts";
import { Encoder } from "../../models/encoder.ts";
import type { Params } from "../../models/params.ts";
import type { Inputs } from "../../models/tokenizers.ts";

await initBackend("cpu");

const W = 4;
// Tokens: 0, 1 image; 2, 3 EHR.
const MODALITY = [1, 1, 0, 0];

/** An encoder stand-in whose output is `out` [n, 4, W]. */
function fakeEncoder(out: number[][][]): Encoder {
  const n = out.length;
  return {
    forward: () => tf.tensor3d(out.flat(2), [n, 4, W]),
    pool: Encoder.prototype.pool,
    imageTokens: tf.tensor2d([MODALITY], [1, 4]),
    ehrTokens: tf.tensor2d([MODALITY.map((v) => 1 - v)], [1, 4]),
  } as unknown as Encoder;
}

function inputs(present: number[][]): Inputs {
  return {
    n: present.length,
    present: tf.tensor2d(present),
  } as unknown as Inputs;
}

// Identity projections, temperature 1/scale.
function params(scale: number): Params {
  return {
    "con/image/w": tf.eye(W),
    "con/ehr/w": tf.eye(W),
    "con/logitScale": tf.scalar(Math.log(scale)),
  };
}

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** The closed form: mean over valid patients of the two cross-entropies. */
function closedForm(
  img: number[][],
  ehr: number[][],
  valid: boolean[],
  scale: number,
): number {
  const zi = img.map(unit), ze = ehr.map(unit);
  const dot = (a: number[], b: number[]) =>
    a.reduce((s, x, k) => s + x * b[k], 0);
  const n = img.length;
  const cols = [...Array(n).keys()].filter((j) => valid[j]);
  let total = 0, count = 0;
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    const row = cols.map((j) => scale * dot(zi[i], ze[j]));
    const col = cols.map((j) => scale * dot(zi[j], ze[i]));
    const lse = (xs: number[]) => {
      const mx = Math.max(...xs);
      return mx + Math.log(xs.reduce((s, x) => s + Math.exp(x - mx), 0));
    };
    const self = scale * dot(zi[i], ze[i]);
    total += 0.5 * ((lse(row) - self) + (lse(col) - self));
    count++;
  }
  return total / count;
}

/** Encoder output giving each patient the pooled image `img[i]` and EHR `ehr[i]`. */
function outputFor(img: number[][], ehr: number[][]): number[][][] {
  // Two tokens per side whose mean is the wanted vector.
  return img.map((v, i) => [
    v.map((x) => x + 0.5),
    v.map((x) => x - 0.5),
    ehr[i].map((x) => x - 0.25),
    ehr[i].map((x) => x + 0.25),
  ]);
}

const IMG = [
  [1, 0.2, -0.3, 0.1],
  [-0.4, 1, 0.3, 0.2],
  [0.1, -0.2, 1, -0.5],
  [0.3, 0.4, -0.1, 1],
  [0.7, -0.6, 0.2, -0.3],
];
const NOISE = [
  [0.1, -0.05, 0.08, 0],
  [0.02, 0.1, -0.1, 0.05],
  [-0.08, 0.03, 0.06, 0.1],
  [0.05, 0.07, -0.02, -0.09],
  [-0.03, -0.1, 0.04, 0.02],
];
const ALIGNED = IMG.map((v, i) => v.map((x, k) => x + NOISE[i][k]));
const ALL = IMG.map(() => [1, 1, 1, 1]);

function loss(
  img: number[][],
  ehr: number[][],
  present: number[][],
  scale: number,
): number {
  return tf.tidy(() =>
    contrastiveLoss(
      fakeEncoder(outputFor(img, ehr)),
      params(scale),
      inputs(present),
    ).dataSync()[0]
  );
}

Deno.test("InfoNCE matches its closed form", () => {
  for (const scale of [1 / 0.07, 3]) {
    const got = loss(IMG, ALIGNED, ALL, scale);
    const want = closedForm(IMG, ALIGNED, IMG.map(() => true), scale);
    assert.ok(
      Math.abs(got - want) < 1e-4 * Math.max(1, want),
      `${got} vs ${want}`,
    );
  }
});

Deno.test("InfoNCE is low for aligned pairs and high for shuffled ones", () => {
  const scale = 1 / 0.07;
  const aligned = loss(IMG, ALIGNED, ALL, scale);
  // Each patient's EHR vector moved to the next patient.
  const shifted = ALIGNED.map((_, i) => ALIGNED[(i + 1) % ALIGNED.length]);
  const shuffled = loss(IMG, shifted, ALL, scale);
  assert.ok(aligned < 0.5, `aligned loss ${aligned}`);
  assert.ok(shuffled > 5, `shuffled loss ${shuffled}`);
  const want = closedForm(IMG, shifted, IMG.map(() => true), scale);
  assert.ok(Math.abs(shuffled - want) < 1e-3 * want, `${shuffled} vs ${want}`);
});

Deno.test("InfoNCE leaves out patients without both modalities, as rows and as negatives", () => {
  const scale = 5;
  const present = ALL.map((r, i) => (i === 1 ? [1, 1, 0, 0] : r));
  const got = loss(IMG, ALIGNED, present, scale);
  const want = closedForm(IMG, ALIGNED, IMG.map((_, i) => i !== 1), scale);
  assert.ok(
    Math.abs(got - want) < 1e-4 * Math.max(1, want),
    `${got} vs ${want}`,
  );
});

Deno.test("InfoNCE caps the logit scale at 100", () => {
  // On mismatched pairs the loss grows with the scale, so a missing cap shows.
  const shifted = ALIGNED.map((_, i) => ALIGNED[(i + 2) % ALIGNED.length]);
  const got = loss(IMG, shifted, ALL, 1e4);
  const want = closedForm(IMG, shifted, IMG.map(() => true), 100);
  assert.ok(want > 20, `closed form ${want}`);
  assert.ok(Math.abs(got - want) < 1e-3 * want, `${got} vs ${want}`);
});

Deno.test("on wasm (fused InfoNCE kernel) the loss matches the same closed forms", async () => {
  await initBackend("wasm");
  try {
    assert.ok(hasKernel(INFONCE), "wasm registers the fused InfoNCE");
    const shifted = ALIGNED.map((_, i) => ALIGNED[(i + 2) % ALIGNED.length]);
    const present = ALL.map((r, i) => (i === 1 ? [1, 1, 0, 0] : r));
    for (
      const [got, want] of [
        [
          loss(IMG, ALIGNED, ALL, 1 / 0.07),
          closedForm(IMG, ALIGNED, IMG.map(() => true), 1 / 0.07),
        ],
        [
          loss(IMG, ALIGNED, present, 5),
          closedForm(IMG, ALIGNED, IMG.map((_, i) => i !== 1), 5),
        ],
        [
          loss(IMG, shifted, ALL, 1e4),
          closedForm(IMG, shifted, IMG.map(() => true), 100),
        ],
      ]
    ) {
      assert.ok(
        Math.abs(got - want) < 1e-4 * Math.max(1, want),
        `${got} vs ${want}`,
      );
    }
  } finally {
    await initBackend("cpu");
  }
});
