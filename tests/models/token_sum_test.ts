// tokenSum (the encoder's tokens, masked once) against the sum of
// tokenize's masked parts: the same values and parameter gradients to the
// bit, with the mask from the host or from tf ops.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { RngStreams } from "../../core/rng.ts";
import { Encoder } from "../../models/encoder.ts";
import { ParamSet } from "../../models/params.ts";
import { toInputs, tokenize, tokenSum } from "../../models/tokenizers.ts";
import { easyBatch } from "./fixtures.ts";

async function tokensAndGrads(
  backend: "cpu" | "wasm",
  fused: boolean,
  host: boolean,
): Promise<Float32Array[]> {
  await initBackend(backend);
  const { h, L, m } = easyBatch(23, {
    pretrain: 40,
    train: 10,
    val: 5,
    test: 5,
  });
  // Some absent tokens for certain: patient 2 without its EHR side.
  for (let k = L.nImage; k < L.nTokens; k++) h.present[2 * L.nTokens + k] = 0;
  const enc = new Encoder(L, m);
  const params = ParamSet.create(enc.specs(), new RngStreams(6).get("init"));
  const out = tf.tidy(() => {
    const x = toInputs(h, L, m);
    if (!host) delete x.presentHost;
    const f = () => {
      if (fused) return tokenSum(params.dict, x, L, m.width, enc.consts);
      const { content, pos } = tokenize(params.dict, x, L, m.width, enc.consts);
      return content.add(pos);
    };
    const wts = tf.randomNormal([h.n, L.nTokens, m.width], 0, 1, "float32", 3);
    const { value, grads } = tf.variableGrads(
      () => f().mul(wts).sum() as tf.Scalar,
      params.vars,
    );
    const used = params.vars.filter((v) => grads[v.name]);
    assert.ok(used.length >= 6, `${used.length} tokenizer gradients`);
    return [f(), value, ...used.map((v) => grads[v.name])];
  });
  const vals = out.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(out);
  params.dispose();
  enc.dispose();
  return vals;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`tokenSum on ${backend} = tokenize's content + pos, values and gradients to the bit (host or tf mask)`, async () => {
    const want = await tokensAndGrads(backend, false, false);
    for (const host of [false, true]) {
      const got = await tokensAndGrads(backend, true, host);
      assert.equal(got.length, want.length);
      got.forEach((g, i) => {
        assert.equal(g.length, want[i].length, `tensor ${i} size`);
        // Absent tokens are 0 both ways, the sign of zero aside.
        const at = g.findIndex((v, j) => v !== want[i][j]);
        assert.equal(at, -1, `tensor ${i}[${at}]: ${g[at]} vs ${want[i][at]}`);
      });
      assert.ok(want[0].some((v) => v !== 0) && want[0].some((v) => v === 0));
    }
  });
}
