import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { splitRows } from "../../../kernels/webgpu/dense.ts";
import { assertClose, cpuAndGpu, normals, skipWebGpu } from "./helpers.ts";

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

Deno.test({
  name:
    "webgpu softmax matches cpu, masked keys included; long rows go to stock",
  ignore: skipWebGpu,
  fn: async () => {
    const cases: [number[], boolean][] = [
      [[128, 2, 12, 12], true],
      [[4, 2, 50, 50], true],
      [[3, 5], true],
      [[2, 7, 1], true],
      [[3, 1500], false],
    ];
    for (const [s, ours] of cases) {
      // Scaled logits and a -1e9 key-padding bias on every third key.
      const x = normals(size(s), `s${s}`).map((v, i) =>
        4 * v + (i % s[s.length - 1] % 3 === 2 ? -1e9 : 0)
      );
      const r = await cpuAndGpu(() => tf.softmax(tf.tensor(x, s)));
      assertClose(r.gpu[0], r.cpu[0], 1e-4, `softmax [${s}]`);
      assert.equal(/MmjepaSoftmax/.test(r.programs), ours, r.programs);
    }
  },
});

Deno.test({
  name: "webgpu softmax gradient matches cpu",
  ignore: skipWebGpu,
  fn: async () => {
    const s = [8, 2, 12, 12];
    const x = normals(size(s), "gs"), w = normals(size(s), "gw");
    const r = await cpuAndGpu(() =>
      tf.grad((t: tf.Tensor) => tf.softmax(t).mul(tf.tensor(w, s)).sum())(
        tf.tensor(x, s),
      )
    );
    assertClose(r.gpu[0], r.cpu[0], 1e-4, "d softmax");
    assert.match(r.programs, /MmjepaSoftmax/);
    assert.match(r.programs, /MmjepaSum/);
  },
});

Deno.test({
  name:
    "webgpu sum and mean over inner or outer axes match cpu; other axes go to stock",
  ignore: skipWebGpu,
  fn: async () => {
    const cases: [number[], number | number[] | undefined, boolean][] = [
      [[128, 12, 32], -1, true],
      [[128, 2, 12, 12], 3, true],
      [[7, 5, 3], [1, 2], true],
      [[1536, 32], 0, true],
      [[1537, 5], 0, true],
      [[32, 201, 33], [0, 1], true],
      [[511, 3], 0, true],
      [[5, 7, 3], [0, 1], true],
      [[9, 13], undefined, true],
      [[5, 7, 3], 1, false],
      [[3, 5000], -1, false],
    ];
    for (const [s, axis, ours] of cases) {
      const x = normals(size(s), `r${s}`).map((v, i) => v + (i % 5));
      for (const keepDims of [false, true]) {
        for (const op of ["sum", "mean"] as const) {
          const what = `${op} [${s}] axis ${axis} keepDims ${keepDims}`;
          const r = await cpuAndGpu(() =>
            tf[op](tf.tensor(x, s), axis, keepDims)
          );
          assertClose(r.gpu[0], r.cpu[0], 1e-4, what);
          assert.equal(/MmjepaSum|MmjepaMean/.test(r.programs), ours, what);
          const outer = axis === 0 ||
            (Array.isArray(axis) && axis[0] === 0 && axis.length < s.length);
          const red = outer
            ? size(s.slice(0, Array.isArray(axis) ? axis.length : 1))
            : 0;
          assert.equal(
            /MmjepaSumPart|MmjepaMeanPart/.test(r.programs),
            ours && splitRows(red) > 0,
            `${what}: split in two dispatches iff a long outer sum`,
          );
        }
      }
    }
    const ints = await cpuAndGpu(() =>
      tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32"), -1)
    );
    assertClose(ints.gpu[0], ints.cpu[0], 0, "int32 sum");
    assert.doesNotMatch(ints.programs, /Mmjepa/);
  },
});
