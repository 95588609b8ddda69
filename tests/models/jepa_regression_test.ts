import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { RngStreams } from "../../core/rng.ts";
import { jepaRegression } from "../../models/jepa.ts";

function normals(n: number, seed: string): Float32Array {
  return Float32Array.from(new RngStreams(9).get(seed).normals(n));
}

// The l2 loss as the plain autodiffed ops it replaced.
function composite(p: tf.Tensor, t: tf.Tensor, hidden: tf.Tensor): tf.Scalar {
  const width = t.shape[t.shape.length - 1];
  const count = tf.maximum(hidden.sum().mul(width), 1);
  return p.sub(t).square().mul(hidden.expandDims(2)).sum().div(
    count,
  ) as tf.Scalar;
}

for (const backend of ["cpu", "wasm"] as const) {
  for (const [n, N, w] of [[5, 7, 3], [128, 12, 32], [2, 3, 4]]) {
    Deno.test(`JEPA l2 regression on ${backend}, [${n}, ${N}, ${w}]: value and gradient equal autodiff of the plain ops to the bit; none when nothing is hidden`, async () => {
      await initBackend(backend);
      const p = tf.tensor3d(normals(n * N * w, `p${n}`), [n, N, w]);
      const t = tf.tensor3d(normals(n * N * w, `t${n}`), [n, N, w]);
      const h = tf.tensor2d(
        normals(n * N, `h${n}`).map((v) => v > 0.3 ? 1 : 0),
        [n, N],
      );
      const none = tf.zeros([n, N]);
      const before = tf.memory().numTensors;
      for (const hidden of [h, none]) {
        const a = tf.valueAndGrad((x: tf.Tensor) =>
          jepaRegression(x, t, hidden, "l2")
        )(p);
        const b = tf.valueAndGrad((x: tf.Tensor) => composite(x, t, hidden))(
          p,
        );
        const [va, ga, vb, gb] = [a.value, a.grad, b.value, b.grad].map((x) =>
          Float32Array.from(x.dataSync())
        );
        assert.ok(Object.is(va[0], vb[0]), `loss ${va[0]} vs ${vb[0]}`);
        const at = ga.findIndex((v, i) => !Object.is(v, gb[i]));
        assert.equal(at, -1, `grad[${at}]: ${ga[at]} vs ${gb[at]}`);
        if (hidden === h) {
          assert.ok(va[0] > 0.1 && ga.some((v) => v !== 0), "a loss to test");
        } else {
          assert.equal(va[0], 0);
          assert.ok(ga.every((v) => v === 0));
        }
        tf.dispose([a.value, a.grad, b.value, b.grad]);
      }
      assert.equal(tf.memory().numTensors, before, "tensors left behind");
      tf.dispose([p, t, h, none]);
    });
  }
}
