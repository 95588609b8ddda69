import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../kernels/backend.ts";
import { untaped } from "../../models/untaped.ts";

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`untaped on ${backend}: same value, a constant to the gradient, nothing recorded, nothing leaked`, async () => {
    await initBackend(backend);
    const v = tf.variable(tf.tensor1d([1, -2, 3]));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => {
      const c = untaped(() => v.mul(2).add(1));
      assert.deepEqual(Array.from(c.dataSync()), [3, -3, 7]);
      // d/dv sum(v * c) with c constant is c (taped it would be 4v + 1).
      return v.mul(c).sum() as tf.Scalar;
    }, [v]);
    assert.equal(value.dataSync()[0], 3 + 6 + 21);
    assert.deepEqual(Array.from(grads[v.name].dataSync()), [3, -3, 7]);
    tf.dispose([value, grads[v.name]]);
    assert.equal(tf.memory().numTensors, before, "tensors left behind");
    // Outside a gradient scope it is just f.
    const c = untaped(() => v.square());
    assert.deepEqual(Array.from(c.dataSync()), [1, 4, 9]);
    c.dispose();
    v.dispose();
  });
}
