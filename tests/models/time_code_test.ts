import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { timeCode, toInputs } from "../../models/tokenizers.ts";
import { easyBatch } from "./fixtures.ts";

// The sinusoidal code as first written (before it was memoized): sin and
// cos of t / 1000^(k / half).
function reference(t: number, w: number): Float32Array {
  const out = new Float32Array(w), half = w / 2;
  for (let k = 0; k < half; k++) {
    const a = t / Math.pow(1000, k / half);
    out[2 * k] = Math.sin(a);
    out[2 * k + 1] = Math.cos(a);
  }
  return out;
}

Deno.test("timeCode equals sin / cos of t / 1000^(k / half) to the bit, on first and cached calls", () => {
  for (const w of [2, 6, 32]) {
    for (const t of [0, -0.5, 1, -13.25, 120, -4000.75]) {
      assert.deepEqual(timeCode(t, w), reference(t, w), `t ${t}, w ${w}`);
      assert.deepEqual(timeCode(t, w), reference(t, w), `cached t ${t}`);
    }
  }
  // Widths do not share entries.
  assert.equal(timeCode(5, 4).length, 4);
  assert.equal(timeCode(5, 8).length, 8);
});

Deno.test("toInputs' time tensor holds each present token's code and zeros elsewhere", async () => {
  await initBackend("cpu");
  const { h, L, m } = easyBatch(
    40,
    { pretrain: 40, train: 10, val: 5, test: 5 },
    { timeEncoding: "sinusoidal" },
  );
  const w = m.width;
  const enc = tf.tidy(() => toInputs(h, L, m).time!.dataSync());
  let present = 0;
  const distinct = new Set<number>();
  for (let i = 0; i < h.n * L.nTokens; i++) {
    const row = enc.subarray(i * w, (i + 1) * w);
    const want = h.present[i] === 1
      ? reference(h.times[i], w)
      : new Float32Array(w);
    assert.deepEqual(Float32Array.from(row), want, `token ${i}`);
    if (h.present[i] === 1) {
      present++;
      distinct.add(h.times[i]);
    }
  }
  assert.ok(
    present > 100 && distinct.size > 5,
    `${present} present tokens, ${distinct.size} times`,
  );
});
