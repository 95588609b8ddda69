/**
 * What a convolutional stem would cost on wasm (issue 20): the first two
 * 3x3x3 blocks of benches/torch_volume_cnn.py's CNN (1 -> 8 channels at
 * 32^3, then 8 -> 16 at 16^3), forward plus the gradients a training step
 * needs (weights for both, input for the second), on a batch of 64 scans
 * (32 patients with two scans each, a volume batch of the models bench).
 * Each convolution runs as im2col (built on the host) and one matrix
 * product on mmjepa's wasm kernels, the fastest route tfjs offers here
 * (its wasm Conv3D took 2.7 s for the forward pass of three such layers).
 * The input gradient is left as columns (no col2im scatter) and the ReLU
 * and pooling gradients are skipped, so the mmjepa figure is a lower
 * bound. PyTorch's conv3d with its full backward pass (all cores,
 * then one thread) is timed in the same run as the baseline.
 *
 * Run: `npx -y deno@2.9.6 run -A benches/conv_stem_cost.ts [scans]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../kernels/backend.ts";
import { setCustomKernels } from "../kernels/mod.ts";
import { median } from "./harness.ts";

const scans = Number(Deno.args[0] ?? 64);

// [n, e, e, e, c] -> [n * e^3, 27 * c]: every voxel's 3x3x3 neighbourhood
// (zero padding), channels fastest. Built on the host in one pass: tfjs's
// wasm Slice of 5D tensors took over 6 s for the 27 views of 16 scans.
async function im2col(x: tf.Tensor5D): Promise<tf.Tensor2D> {
  const [n, e, , , c] = x.shape;
  const src = await x.data(), cols = new Float32Array(n * e * e * e * 27 * c);
  let o = 0;
  for (let s = 0; s < n; s++) {
    for (let z = 0; z < e; z++) {
      for (let y = 0; y < e; y++) {
        for (let xx = 0; xx < e; xx++) {
          for (let dz = -1; dz <= 1; dz++) {
            for (let dy = -1; dy <= 1; dy++) {
              for (let dx = -1; dx <= 1; dx++) {
                const zz = z + dz, yy = y + dy, xs = xx + dx;
                const inside = zz >= 0 && zz < e && yy >= 0 && yy < e &&
                  xs >= 0 && xs < e;
                const at = (((s * e + zz) * e + yy) * e + xs) * c;
                for (let k = 0; k < c; k++, o++) {
                  cols[o] = inside ? src[at + k] : 0;
                }
              }
            }
          }
        }
      }
    }
  }
  return tf.tensor2d(cols, [n * e * e * e, 27 * c]);
}

// One training step's share of the two blocks: forward, then dW1, dW2 and
// dX2 (the second block's input gradient, which reaches the first block).
async function blocks(
  x: tf.Tensor5D,
  w1: tf.Tensor2D,
  w2: tf.Tensor2D,
): Promise<void> {
  // A scope rather than tf.tidy: the host im2col awaits its input.
  tf.engine().startScope();
  const [n, e] = x.shape;
  const c1 = await im2col(x);
  const y1 = tf.relu(tf.matMul(c1, w1)).reshape([n, e, e, e, 8]);
  // 2x max pooling, then the second block at half the edge.
  const pooled = tf.maxPool3d(y1 as tf.Tensor5D, 2, 2, "valid");
  const c2 = await im2col(pooled as tf.Tensor5D);
  const y2 = tf.relu(tf.matMul(c2, w2));
  const dy2 = tf.onesLike(y2);
  const dw2 = tf.matMul(c2, dy2, true, false);
  const dc2 = tf.matMul(dy2, w2, false, true);
  const dy1 = tf.onesLike(c1.slice([0, 0], [-1, 8]));
  const dw1 = tf.matMul(c1, dy1, true, false);
  // Read back one number of each so every kernel has run.
  await tf.stack([dw1.sum(), dw2.sum(), dc2.sum()]).data();
  tf.engine().endScope();
}

await initBackend("wasm");
setCustomKernels(true);
const x = tf.randomNormal([scans, 32, 32, 32, 1]) as tf.Tensor5D;
const w1 = tf.randomNormal([27, 8]) as tf.Tensor2D;
const w2 = tf.randomNormal([27 * 8, 16]) as tf.Tensor2D;
await blocks(x, w1, w2);
const times: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  await blocks(x, w1, w2);
  times.push(performance.now() - t0);
}
const ms = median(times);

const torchScript = `
import os, time, torch, torch.nn.functional as F
scans = ${scans}
out = {}
for threads in sorted({os.cpu_count() or 1, 1}, reverse=True):
    torch.set_num_threads(threads)
    x = torch.randn(scans, 1, 32, 32, 32)
    w1 = torch.randn(8, 1, 3, 3, 3, requires_grad=True)
    w2 = torch.randn(16, 8, 3, 3, 3, requires_grad=True)
    def step():
        y1 = F.max_pool3d(F.relu(F.conv3d(x, w1, padding=1)), 2)
        y2 = F.relu(F.conv3d(y1, w2, padding=1))
        y2.sum().backward()
    step()
    ts = []
    for _ in range(5):
        t0 = time.perf_counter(); step(); ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    out[threads] = ts[2]
print(" ".join(f"{k}:{v:.1f}" for k, v in out.items()))
`;
const r = await new Deno.Command("/usr/bin/python3", {
  args: ["-c", torchScript],
  stdout: "piped",
  stderr: "piped",
}).output();
const torch = r.success
  ? new TextDecoder().decode(r.stdout).trim()
  : `PyTorch failed: ${new TextDecoder().decode(r.stderr).slice(0, 200)}`;
console.log(
  `two 3x3x3 conv blocks, ${scans} scans of 32^3, forward + weight and input gradients: mmjepa wasm (im2col + mmjepa products, a lower bound) ${
    ms.toFixed(0)
  } ms (median of 5: ${
    times.map((t) => t.toFixed(0)).join(", ")
  }); PyTorch conv3d ms by threads ${torch}`,
);
