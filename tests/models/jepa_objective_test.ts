// Properties of the JEPA objective on one small hand-built batch, and of the
// EMA target over short pretraining runs. These tests call `jepaLoss`
// directly; when its signature changes, adapt `lossWith` below and keep the
// properties.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { Rng } from "../../core/rng.ts";
import {
  fitNormalizer,
  type HostBatch,
  hostBatch,
  IMAGE,
  makeLayout,
} from "../../models/batch.ts";
import { resolveExperimentConfig } from "../../models/config.ts";
import { Encoder } from "../../models/encoder.ts";
import { pretrain } from "../../models/experiment.ts";
import { jepaLoss, predictorSpecs } from "../../models/jepa.ts";
import { type Params, ParamSet } from "../../models/params.ts";
import { type Inputs, toInputs } from "../../models/tokenizers.ts";
import { easySet } from "./fixtures.ts";

await initBackend("cpu");

const set = easySet({
  seed: 4,
  sizes: { pretrain: 0, train: 6, val: 0, test: 0 },
  external: 0,
});
const cfg = resolveExperimentConfig({
  model: { width: 8, depth: 1, heads: 2, predictorWidth: 8, maxEhr: 1 },
});
const m = cfg.model;
const L = makeLayout(set.internal, m);
const patients = set.internal.patients;
const norm = fitNormalizer(patients, L);
const both = { image: true, ehr: true };
const host = (): HostBatch =>
  hostBatch(patients, patients.map((_, i) => i), L, norm, both);

// The "modality" mask by hand: hide every image token, keep EHR and
// demographics as context. A patient without image tokens hides nothing.
function modalityMasks(h: HostBatch): { ctx: Float32Array; hid: Float32Array } {
  const N = L.nTokens;
  const ctx = new Float32Array(h.n * N), hid = new Float32Array(h.n * N);
  for (let b = 0; b < h.n; b++) {
    for (let t = 0; t < N; t++) {
      if (h.present[b * N + t] !== 1) continue;
      if (L.modality[t] === IMAGE) hid[b * N + t] = 1;
      else ctx[b * N + t] = 1;
    }
  }
  return { ctx, hid };
}

const enc = new Encoder(L, m);
const online = ParamSet.create(enc.specs(), new Rng("jepa-test/online"));
const pred = ParamSet.create(predictorSpecs(m), new Rng("jepa-test/pred"));
// A target encoder with weights of its own, as after some EMA steps.
const target = ParamSet.create(enc.specs(), new Rng("jepa-test/target"));
const base = host();
const { ctx, hid } = modalityMasks(base);
const N = L.nTokens;
const nHidden = hid.reduce((a, b) => a + b, 0);
assert.ok(nHidden > 0 && ctx.some((v) => v === 1), "the batch needs a mask");

/**
 * An encoder whose target-branch output (the call with the target weights)
 * goes through `edit`; everything else is the real encoder. `seen` records
 * the visibility mask the target branch was given.
 */
function wrapped(
  edit: (out: tf.Tensor) => tf.Tensor,
  seen: { visible?: Float32Array } = {},
): Encoder {
  const w = Object.create(enc) as Encoder;
  w.forward = (p, x, visible, sideOnly, emb) => {
    const out = enc.forward(p, x, visible, sideOnly, emb);
    if (p !== target.dict) return out;
    seen.visible = visible.dataSync() as Float32Array;
    return edit(out);
  };
  return w;
}

function lossWith(
  e: Encoder,
  h: HostBatch = base,
  on: Params = online.dict,
  pr: Params = pred.dict,
  kind: "l2" | "smooth-l1" = "l2",
): tf.Scalar {
  const x: Inputs = toInputs(h, L, m);
  return jepaLoss(
    e,
    on,
    pr,
    target.dict,
    x,
    tf.tensor2d(ctx, [h.n, N]),
    tf.tensor2d(hid, [h.n, N]),
    m,
    kind,
  );
}

function value(f: () => tf.Scalar): number {
  return tf.tidy(() => f().dataSync()[0]);
}

// [n, N, 1] indicator of the tokens picked by `pick`.
function where(pick: (b: number, t: number) => boolean): tf.Tensor {
  const out = new Float32Array(base.n * N);
  for (let b = 0; b < base.n; b++) {
    for (let t = 0; t < N; t++) out[b * N + t] = pick(b, t) ? 1 : 0;
  }
  return tf.tensor3d(out, [base.n, N, 1]);
}

Deno.test("JEPA loss: the target encoder counts only at hidden tokens", () => {
  const l0 = value(() => lossWith(wrapped((o) => o)));
  assert.ok(l0 > 0.01, `loss ${l0}`);
  const noise = (seed: number) =>
    tf.randomNormal([base.n, N, m.width], 0, 3, "float32", seed);
  // Anything the target says about visible (context) or absent tokens is ignored.
  const notHidden = value(() =>
    lossWith(
      wrapped((o) =>
        o.add(noise(1).mul(where((b, t) => hid[b * N + t] === 0)))
      ),
    )
  );
  assert.ok(Math.abs(notHidden - l0) < 1e-6 * l0, `${notHidden} vs ${l0}`);
  // What it says about hidden tokens is what the predictor must match.
  const atHidden = value(() =>
    lossWith(
      wrapped((o) =>
        o.add(noise(2).mul(where((b, t) => hid[b * N + t] === 1)))
      ),
    )
  );
  assert.ok(Math.abs(atHidden - l0) > 0.05 * l0, `${atHidden} vs ${l0}`);
});

Deno.test("JEPA loss: targets are layer-normalised per token", () => {
  const l0 = value(() => lossWith(wrapped((o) => o)));
  // A per-token affine change of the target output (scale > 0, shift) is
  // invisible after layer norm; a raw-embedding target would see it.
  const moved = value(() =>
    lossWith(
      wrapped((o) => {
        const scale = tf.randomUniform([base.n, N, 1], 2, 6, "float32", 3);
        const shift = tf.randomNormal([base.n, N, 1], 0, 5, "float32", 4);
        return o.mul(scale).add(shift);
      }),
    )
  );
  assert.ok(Math.abs(moved - l0) < 1e-3 * l0, `${moved} vs ${l0}`);
});

Deno.test("JEPA loss: the target branch sees every present token", () => {
  const seen: { visible?: Float32Array } = {};
  value(() => lossWith(wrapped((o) => o, seen)));
  assert.ok(seen.visible, "the target branch was not run");
  assert.deepEqual(Array.from(seen.visible), Array.from(base.present));
});

Deno.test("JEPA loss: hidden tokens' content never reaches the prediction", () => {
  // Fix the target output, so only the context/predictor branch can react.
  const fixed = tf.keep(
    tf.randomNormal([base.n, N, m.width], 0, 1, "float32", 5),
  );
  const constant = wrapped(() => fixed.clone());
  const l0 = value(() => lossWith(constant));
  // Change the content of every image token (the hidden ones).
  const h = host();
  for (let i = 0; i < h.image.length; i++) h.image[i] = 10 * Math.sin(i);
  const l1 = value(() => lossWith(constant, h));
  assert.ok(Math.abs(l1 - l0) < 1e-5 * l0, `${l1} vs ${l0}`);
  // Context content does matter (the test can see a change at all).
  const h2 = host();
  for (let i = 0; i < h2.ehr.length; i++) h2.ehr[i] = 10 * Math.sin(i);
  const l2 = value(() => lossWith(constant, h2));
  assert.ok(Math.abs(l2 - l0) > 1e-3 * l0, `${l2} vs ${l0}`);
  fixed.dispose();
});

Deno.test("JEPA loss: gradients reach the mask token, the predictor output and the context encoder", () => {
  const e = wrapped((o) => o);
  const vars = [...online.vars, ...pred.vars];
  const names = [...online.names, ...pred.names];
  const norms = tf.tidy(() => {
    const { value: v, grads } = tf.variableGrads(() => lossWith(e), vars);
    v.dispose();
    const sq = (g: tf.Tensor | undefined) =>
      g ? g.square().sum().dataSync()[0] : 0;
    const byName = (n: string) =>
      Math.sqrt(sq(grads[vars[names.indexOf(n)].name]));
    return {
      mask: byName("pred/mask"),
      out: byName("pred/out/w"),
      online: online.vars.reduce((s, v) => s + sq(grads[v.name]), 0),
    };
  });
  assert.ok(norms.mask > 1e-6, `mask token gradient ${norms.mask}`);
  assert.ok(norms.out > 1e-6, `predictor output gradient ${norms.out}`);
  assert.ok(norms.online > 1e-10, `context encoder gradient ${norms.online}`);
});

Deno.test("JEPA smooth-L1 loss is half the squared error on small errors, never more", () => {
  // A target output constant over the width layer-normalises to 0, so the
  // error is the prediction itself; a scaled-down output layer makes it small.
  const zero = wrapped((o) => tf.onesLike(o));
  const scaled = (f: number): Params => ({
    ...pred.dict,
    "pred/out/w": pred.dict["pred/out/w"].mul(f),
  });
  const l2 = value(() => lossWith(zero, base, online.dict, scaled(0.01)));
  const sl1 = value(() =>
    lossWith(zero, base, online.dict, scaled(0.01), "smooth-l1")
  );
  assert.ok(l2 > 0, `l2 ${l2}`);
  assert.ok(Math.abs(sl1 - 0.5 * l2) < 1e-4 * l2, `${sl1} vs ${0.5 * l2}`);
  // Large errors: linear growth keeps it below half the squared error.
  const bigL2 = value(() => lossWith(zero, base, online.dict, scaled(100)));
  const bigSl1 = value(() =>
    lossWith(zero, base, online.dict, scaled(100), "smooth-l1")
  );
  assert.ok(bigSl1 < 0.5 * bigL2 * 0.5, `${bigSl1} vs ${bigL2}`);
});

// EMA behaviour through pretraining with `downstream: "target"`, which
// returns the EMA target's weights instead of the context encoder's.
const tiny = easySet({
  seed: 5,
  sizes: { pretrain: 40, train: 10, val: 4, test: 4 },
  external: 0,
});

function preCfg(over: Record<string, unknown>) {
  return resolveExperimentConfig({
    model: { width: 8, depth: 1, heads: 2, predictorWidth: 8, maxEhr: 1 },
    pretrain: {
      steps: 3,
      batchSize: 16,
      readEvery: 3,
      warmupFraction: 0,
      lr: 1e-2,
      ...over,
    },
  });
}

async function weights(
  over: Record<string, unknown>,
  method: "jepa" | "jepa+contrastive" = "jepa",
): Promise<Float64Array> {
  const pre = (await pretrain(tiny, method, preCfg(over), 1))!;
  const v = await pre.encoder.values();
  pre.dispose();
  const out = new Float64Array(v.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of v) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function maxAbs(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

Deno.test("EMA target: no gradient reaches it, momentum 1 keeps it at init", async () => {
  // lr 0: the context encoder stays at its initial weights.
  const init = await weights({ lr: 0, downstream: "context" });
  const frozen = await weights({
    emaStart: 1,
    emaEnd: 1,
    downstream: "target",
  });
  assert.equal(maxAbs(frozen, init), 0);
});

Deno.test("EMA target: one step is mu * init + (1 - mu) * online", async () => {
  const mu = 0.75;
  const init = await weights({ lr: 0, downstream: "context", steps: 1 });
  const online = await weights({ downstream: "context", steps: 1 });
  const tgt = await weights({
    emaStart: mu,
    emaEnd: mu,
    downstream: "target",
    steps: 1,
  });
  assert.ok(maxAbs(online, init) > 1e-3, "the online encoder did not move");
  let worst = 0;
  for (let i = 0; i < init.length; i++) {
    const want = mu * init[i] + (1 - mu) * online[i];
    worst = Math.max(worst, Math.abs(tgt[i] - want));
  }
  assert.ok(worst < 1e-5, `EMA off by ${worst}`);
});

Deno.test("EMA target: moves over a run, and lags the context encoder", async () => {
  const init = await weights({ lr: 0, downstream: "context" });
  const ctxW = await weights({ downstream: "context" });
  const tgtW = await weights({
    emaStart: 0.5,
    emaEnd: 0.9,
    downstream: "target",
  });
  assert.ok(maxAbs(tgtW, init) > 1e-4, "the target never moved");
  // Momentum 0 would make the target a copy of the context encoder.
  assert.ok(maxAbs(tgtW, ctxW) > 1e-4, "the target equals the context encoder");
});

Deno.test("jepa+contrastive: contrastiveWeight 0 is plain JEPA", async () => {
  const jepa = await weights({});
  const off = await weights({ contrastiveWeight: 0 }, "jepa+contrastive");
  const on = await weights({ contrastiveWeight: 1 }, "jepa+contrastive");
  assert.ok(
    maxAbs(off, jepa) < 1e-6,
    `weight 0 differs by ${maxAbs(off, jepa)}`,
  );
  assert.ok(maxAbs(on, jepa) > 1e-4, "the contrastive term changed nothing");
});

Deno.test("pretraining passes its clip norm to the optimizer", async () => {
  // Adam undoes a constant gradient scale, not a per-step one: clipping
  // every step to a tiny norm changes the trajectory.
  const clipped = await weights({ clipNorm: 1e-6 });
  const free = await weights({ clipNorm: 0 });
  assert.ok(maxAbs(clipped, free) > 1e-5, `${maxAbs(clipped, free)}`);
});
