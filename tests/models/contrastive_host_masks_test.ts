// contrastiveLoss builds its pooling masks, counts, validity and the
// attention bias on the host when the inputs carry `presentHost` (what
// toInputs gives): same values and gradients, to the bit, as from tf ops.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { RngStreams } from "../../core/rng.ts";
import { contrastiveLoss, contrastiveSpecs } from "../../models/contrastive.ts";
import { Encoder } from "../../models/encoder.ts";
import { ParamSet } from "../../models/params.ts";
import { toInputs } from "../../models/tokenizers.ts";
import { easyBatch } from "./fixtures.ts";

async function lossAndGrads(
  backend: "cpu" | "wasm",
  host: boolean,
): Promise<Float32Array[]> {
  await initBackend(backend);
  // 37 patients: odd, and some lack a modality (easySet drops scans and
  // records), so masks, counts and validity all vary.
  const { h, L, m } = easyBatch(37, {
    pretrain: 60,
    train: 10,
    val: 5,
    test: 5,
  });
  // Patient 3 without its EHR side, patient 5 without its image side.
  for (let k = L.nImage; k < L.nTokens; k++) h.present[3 * L.nTokens + k] = 0;
  for (let k = 0; k < L.nImage; k++) h.present[5 * L.nTokens + k] = 0;
  const enc = new Encoder(L, m);
  const streams = new RngStreams(4);
  const online = ParamSet.create(enc.specs(), streams.get("init/enc"));
  const con = ParamSet.create(contrastiveSpecs(m.width), streams.get("c"));
  const vars = [...online.vars, ...con.vars];
  const out = tf.tidy(() => {
    const x = toInputs(h, L, m);
    assert.ok(x.presentHost, "toInputs sets presentHost");
    if (!host) delete x.presentHost;
    const { value, grads } = tf.variableGrads(
      () => contrastiveLoss(enc, { ...online.dict, ...con.dict }, x),
      vars,
    );
    return [value, ...vars.map((v) => grads[v.name])];
  });
  const vals = out.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(out);
  online.dispose();
  con.dispose();
  enc.dispose();
  return vals;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`contrastive loss on ${backend}: host-built masks and bias give the tf-op values and gradients to the bit`, async () => {
    const viaTf = await lossAndGrads(backend, false);
    const viaHost = await lossAndGrads(backend, true);
    assert.ok(viaTf[0][0] > 0.1, `loss ${viaTf[0][0]}`);
    assert.equal(viaHost.length, viaTf.length);
    viaTf.forEach((want, i) => {
      assert.ok(want.every(Number.isFinite), `tensor ${i} finite`);
      assert.equal(viaHost[i].length, want.length, `tensor ${i} size`);
      const at = want.findIndex((v, j) => !Object.is(v, viaHost[i][j]));
      assert.equal(
        at,
        -1,
        `tensor ${i}[${at}]: host ${viaHost[i][at]} vs tf ${want[at]}`,
      );
    });
  });
}
