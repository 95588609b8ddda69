/**
 * Sum and Mean for tfjs-webgpu when the reduced axes are the innermost
 * ones (per-token means, softmax-gradient sums) or the outermost ones
 * (bias gradients: a sum over the batch of [1536, 32]).
 *
 * One invocation reduces one output element serially, except that a long
 * outermost reduction (layer-norm and bias gradients over every token of a
 * batch) is split into chunks of rows like the dense weight gradients
 * ({@link splitRows}): partial sums, then a second dispatch adds them, so a
 * GPU is not left with one busy invocation per column. tfjs's ReduceProgram
 * gives every output element a workgroup of up to 256 threads with
 * barriers, and first transposes when the axes are outer, so a mean of
 * [128, 12, 32] over the last axis took about 4 ms on lavapipe. Long
 * reductions (more than {@link MAX_INNER} or {@link MAX_OUTER} terms per
 * output), int or bool inputs and middle axes go to the stock kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { splitRows } from "./dense.ts";
import {
  flatIndex,
  type GpuBackend,
  type KernelFunc,
  runShader,
  sizeOf,
  uniformDecl,
} from "./runner.ts";

/** Most terms per output of an innermost-axes reduction taken here. */
export const MAX_INNER = 1024;
/** Most terms per output of an outermost-axes reduction taken here. */
export const MAX_OUTER = 16384;

// Innermost: output i sums x[i*red .. i*red+red). Outermost: output i
// sums x[i + j*cols] over j, adjacent invocations reading adjacent words.
// `divisor`: the mean's count when `red` sums partials, not elements.
function reduceCode(
  inner: boolean,
  red: number,
  mean: boolean,
  divisor: number = red,
): string {
  const at = inner ? `gi * ${red} + j` : `gi + j * u.u0`;
  return `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${uniformDecl(1, 2)}
${flatIndex()}
  if (gi >= u.u0) { return; }
  var s = 0.0;
  for (var j = 0; j < ${red}; j++) { s += x[${at}]; }
  y[gi] = s${mean ? ` / ${divisor}.0` : ""};
}`;
}

/**
 * Builds a Sum or Mean kernel function around the stock one.
 *
 * @example
 * ```ts
 * const stock = tf.getKernel("Mean", "webgpu")!.kernelFunc;
 * tf.registerKernel({ kernelName: "Mean", backendName: "webgpu", kernelFunc: reduceWebGpu("mean", stock) });
 * ```
 */
export function reduceWebGpu(
  op: "sum" | "mean",
  stock: KernelFunc,
): KernelFunc {
  return (args) => {
    const x = args.inputs.x;
    const r = x.shape.length;
    const axes = [
      ...new Set(
        tf.util.parseAxisParam(
          args.attrs?.axis as number | number[],
          x.shape,
        ),
      ),
    ].sort((p, q) => p - q);
    const k = axes.length;
    const inner = k > 0 && axes.every((a, i) => a === r - k + i);
    const outer = k > 0 && k < r && axes.every((a, i) => a === i);
    const red = sizeOf(axes.map((a) => x.shape[a]));
    const ok = x.dtype === "float32" && red > 0 &&
      (inner ? red <= MAX_INNER : outer && red <= MAX_OUTER);
    if (!ok) return stock(args);
    const kept = x.shape.filter((_, i) => !axes.includes(i));
    const outShape = args.attrs?.keepDims
      ? tf.backend_util.expandShapeToKeepDim(kept, axes)
      : kept;
    const n = sizeOf(kept);
    const be = args.backend as GpuBackend;
    const name = op === "sum" ? "MmjepaSum" : "MmjepaMean";
    const chunk = inner ? 0 : splitRows(red);
    if (chunk) {
      const parts = Math.ceil(red / chunk);
      const [partial] = runShader(be, {
        name: `${name}Part`,
        key: "mmjepa/reduce/outer-part",
        code: partCode,
        inputs: [x],
        outputs: [[parts, n]],
        uniforms: [n, red, chunk],
        threads: parts * n,
      });
      const [y] = runShader(be, {
        name,
        key: `mmjepa/${op}/outer/${parts}`,
        code: () => reduceCode(false, parts, op === "mean", red),
        inputs: [partial],
        outputs: [outShape],
        uniforms: [n],
        threads: n,
      });
      be.disposeData(partial.dataId);
      return y;
    }
    return runShader(be, {
      name,
      key: `mmjepa/${op}/${inner ? "inner" : "outer"}/${red}`,
      code: () => reduceCode(inner, red, op === "mean"),
      inputs: [x],
      outputs: [outShape],
      uniforms: [n],
      threads: n,
    })[0];
  };
}

// Partial sums of an outermost reduction: invocation (c, i) sums rows
// [c * chunk, min((c + 1) * chunk, red)) of column i.
function partCode(): string {
  return `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${uniformDecl(3, 2)}
${flatIndex()}
  if (gi >= u.u0 * ((u.u1 + u.u2 - 1) / u.u2)) { return; }
  let c = gi / u.u0;
  let i = gi % u.u0;
  let hi = min((c + 1) * u.u2, u.u1);
  var s = 0.0;
  for (var j = c * u.u2; j < hi; j++) { s += x[i + j * u.u0]; }
  y[gi] = s;
}`;
}
