import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./kernels/backend.ts";
import { ATTENTION } from "./kernels/mod.ts";
import { TT } from "./kernels/wasm/attention.ts";
await initBackend("wasm");
const n = 128, N = 12, h = 2, d = 16, w = h * d;
const qkv = tf.randomNormal([n * N, 3 * w]);
const bias = tf.zeros([n, 1, 1, N]);
let tot = 0;
for (let r = 0; r < 200; r++) {
  if (r === 50) {
    for (const k in TT) TT[k] = 0;
    tot = 0;
  }
  const t = performance.now();
  const [o, l] = tf.engine().runKernel(ATTENTION, { qkv, bias }, {
    n,
    heads: h,
    scale: 0.25,
  }) as tf.Tensor[];
  tot += performance.now() - t;
  tf.dispose([o, l]);
}
console.log(
  "total",
  (tot / 150).toFixed(3),
  Object.entries(TT).map(([k, v]) => `${k} ${(v / 150).toFixed(3)}`).join("  "),
);
