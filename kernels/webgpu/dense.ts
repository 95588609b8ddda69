/**
 * DENSE and DENSE_GRAD (contracts in kernels/names.ts) for tfjs-webgpu,
 * one dispatch each.
 *
 * Stock tfjs runs a dense layer as a product plus a broadcast add, and its
 * gradient as two transposed products plus a bias sum that first
 * transposes dy: five dispatches per layer and step, each paying the
 * per-dispatch cost that dominates small models on a GPU. Here the
 * forward adds the bias while storing the product, and the backward gives
 * dx = dy @ w^T, dw = x^T @ dy and db = column sums of dy to disjoint
 * ranges of invocations of one shader.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { DENSE, DENSE_GRAD, DENSE_PARAM_GRAD } from "../names.ts";
import {
  at,
  blocks,
  type Buf,
  declare,
  type Product,
  productBlock,
} from "./matmul.ts";
import {
  flatIndex,
  type GpuBackend,
  type KernelArgs,
  runShader,
  uniformDecl,
} from "./runner.ts";

function check(
  name: string,
  r: number,
  inn: number,
  out: number,
  ts: tf.TensorInfo[],
): void {
  for (const t of ts) {
    if (t.dtype !== "float32") {
      throw new Error(`${name}: expected float32, got ${t.dtype}`);
    }
  }
  if (r === 0 || inn === 0 || out === 0) {
    throw new Error(
      `${name}: empty shapes are not supported (rows ${r}, in ${inn}, out ${out})`,
    );
  }
}

/**
 * DENSE's kernel function for tfjs-webgpu.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE, backendName: "webgpu", kernelFunc: denseWebGpu });
 * ```
 */
export function denseWebGpu(
  args: KernelArgs,
): tf.TensorInfo {
  const { x, w, b } = args.inputs;
  const [r, inn] = x.shape, out = w.shape[1];
  if (x.shape.length !== 2 || w.shape.length !== 2 || w.shape[0] !== inn) {
    throw new Error(
      `${DENSE}: x [r, in] and w [in, out] expected, got ${x.shape} and ${w.shape}`,
    );
  }
  check(DENSE, r, inn, out, b ? [x, w, b] : [x, w]);
  const p: Product = {
    a: { name: "X", vec: inn % 4 === 0, t: false },
    b: { name: "W", vec: out % 4 === 0, t: false },
    c: { name: "Y", vec: out % 4 === 0 },
    bias: b ? { name: "Bias", vec: out % 4 === 0 } : undefined,
    M: "u.u1",
    N: "u.u2",
    K: "u.u3",
    aStride: "0",
    bStride: "0",
  };
  const flags = [p.a.vec, p.b.vec, Boolean(b)].map(Number).join("");
  return runShader(args.backend as GpuBackend, {
    name: DENSE,
    key: `${DENSE}/${flags}`,
    code: () =>
      [
        declare(p.c, 0, true),
        declare(p.a, 1, false),
        declare(p.b, 2, false),
        ...(p.bias ? [declare(p.bias, 3, false)] : []),
        uniformDecl(4, p.bias ? 4 : 3),
        flatIndex(),
        `  if (gi >= u.u0) { return; }`,
        productBlock(p, "gi"),
        "}",
      ].join("\n"),
    inputs: b ? [x, w, b] : [x, w],
    outputs: [[r, out]],
    uniforms: [blocks(1, r, out), r, out, inn],
    threads: blocks(1, r, out),
  })[0];
}

/**
 * Rows per chunk when the weight and bias gradients of a dense layer split
 * their sum over rows, or 0 when they do not.
 *
 * dw = x^T @ dy and db = column sums of dy reduce over every row of the
 * batch (32 x 201 tokens = 6,432 rows for a volume step) into few outputs
 * (32 x 32 weights = 64 invocations of 4 x 4 blocks), so one invocation
 * per output leaves a GPU almost idle: on the H200 DENSE_GRAD was 51-70% of
 * a step's GPU time and the bias sums most of the rest. Split, each chunk
 * of rows writes partial sums and a second dispatch adds the partials, at
 * the cost of one more dispatch (about 50 us there); short row counts stay
 * in one dispatch.
 *
 * @example
 * ```ts
 * splitRows(6432); // 128: 51 chunks
 * splitRows(300); // 0: one dispatch
 * ```
 */
export function splitRows(rows: number): number {
  if (rows < SPLIT_MIN_ROWS) return 0;
  return Math.max(128, Math.ceil(rows / MAX_CHUNKS));
}

/** Fewest rows whose weight gradient is split (see {@link splitRows}). */
export const SPLIT_MIN_ROWS = 512;
const MAX_CHUNKS = 64;

// The shared backward of DENSE_GRAD (withDx) and DENSE_PARAM_GRAD. Bindings
// of the first dispatch: outputs ([DX], DW or its partials, [DB or its
// partials]), then DY, X, [W], then the uniforms.
function denseBackward(
  args: KernelArgs,
  name: string,
  withDx: boolean,
): tf.TensorInfo[] {
  const { dy, x, w } = args.inputs;
  const bias = Boolean(args.attrs?.bias);
  const [r, inn] = x.shape, out = dy.shape[1];
  const shapesOk = x.shape.length === 2 && dy.shape.length === 2 &&
    dy.shape[0] === r &&
    (!withDx || (w.shape.length === 2 && w.shape[0] === inn &&
      w.shape[1] === out));
  if (!shapesOk) {
    throw new Error(
      withDx
        ? `${name}: dy [r, out], x [r, in], w [in, out] expected, got ${dy.shape}, ${x.shape}, ${w?.shape}`
        : `${name}: dy [r, out], x [r, in] expected, got ${dy.shape}, ${x.shape}`,
    );
  }
  check(name, r, inn, out, withDx ? [dy, x, w] : [dy, x]);
  const chunk = splitRows(r);
  const parts = chunk ? Math.ceil(r / chunk) : 1;
  const vIn = inn % 4 === 0, vOut = out % 4 === 0;
  const DY: Buf = { name: "DY", vec: vOut };
  // Uniforms: u0..u2 the ends of the dx, dw and db invocation ranges, then
  // rows, in, out and the rows per chunk.
  const dxP: Product = {
    a: { ...DY, t: false },
    b: { name: "W", vec: vOut, t: true },
    c: { name: "DX", vec: vIn },
    M: "u.u3",
    N: "u.u4",
    K: "u.u5",
    aStride: "0",
    bStride: "0",
  };
  const dwP: Product = {
    a: { name: "X", vec: vIn, t: true },
    b: { ...DY, t: false },
    c: { name: "DW", vec: vOut },
    M: "u.u4",
    N: "u.u5",
    K: chunk ? "u.u6" : "u.u3",
    aStride: chunk ? "u.u6 * u.u4" : "0",
    bStride: chunk ? "u.u6 * u.u5" : "0",
    ...(chunk ? { kRows: "u.u3" } : {}),
  };
  const t1 = withDx ? blocks(1, r, inn) : 0;
  const t2 = blocks(parts, inn, out), t3 = bias ? parts * out : 0;
  const outputs = [
    ...(withDx ? [[r, inn]] : []),
    chunk ? [parts, inn, out] : [inn, out],
    ...(bias ? [chunk ? [parts, out] : [out]] : []),
  ];
  const nOut = outputs.length;
  const db = nOut - 1;
  const code = () =>
    [
      ...(withDx ? [declare(dxP.c, 0, true)] : []),
      declare(dwP.c, withDx ? 1 : 0, true),
      ...(bias ? [declare({ name: "DB", vec: false }, db, true)] : []),
      declare(DY, nOut, false),
      declare(dwP.a, nOut + 1, false),
      ...(withDx ? [declare(dxP.b, nOut + 2, false)] : []),
      uniformDecl(7, nOut + (withDx ? 3 : 2)),
      flatIndex(),
      ...(withDx ? [`  if (gi < u.u0) ${productBlock(dxP, "gi")}`] : []),
      `  ${withDx ? "else " : ""}if (gi >= u.u0 && gi < u.u1) ${
        productBlock(dwP, "gi - u.u0")
      }`,
      ...(bias
        ? [`  else if (gi >= u.u1 && gi < u.u2) {
    let j = gi - u.u1;
    let c = j / u.u5;
    let col = j % u.u5;
    let lo = c * u.u6;
    let hi = min(lo + u.u6, u.u3);
    var s = 0.0;
    for (var i = lo; i < hi; i++) { s += ${at(DY, "i * u.u5 + col")}; }
    DB[j] = s;
  }`]
        : []),
      "}",
    ].join("\n");
  const be = args.backend as GpuBackend;
  const first = runShader(be, {
    name,
    key: `${name}/${Number(vIn)}${Number(vOut)}${Number(bias)}${
      Number(chunk > 0)
    }`,
    code,
    inputs: withDx ? [dy, x, w] : [dy, x],
    outputs,
    uniforms: [t1, t1 + t2, t1 + t2 + t3, r, inn, out, chunk || r],
    threads: t1 + t2 + t3,
  });
  if (!chunk) return first;
  const partials = first.slice(withDx ? 1 : 0);
  const summed = addPartials(be, name, partials, parts, [inn, out], bias);
  for (const t of partials) be.disposeData(t.dataId);
  return [...(withDx ? [first[0]] : []), ...summed];
}

// The second dispatch of a split backward: dw[j] = sum over chunks of the
// partial dw[c, j], db likewise; adjacent invocations read adjacent words.
function addPartials(
  be: GpuBackend,
  name: string,
  partials: tf.TensorInfo[],
  parts: number,
  dwShape: number[],
  bias: boolean,
): tf.TensorInfo[] {
  const nw = dwShape[0] * dwShape[1], nb = bias ? dwShape[1] : 0;
  return runShader(be, {
    name: `${name}Sum`,
    key: `${name}Sum/${Number(bias)}`,
    code: () =>
      [
        declare({ name: "DW", vec: false }, 0, true),
        ...(bias ? [declare({ name: "DB", vec: false }, 1, true)] : []),
        declare({ name: "PW", vec: false }, bias ? 2 : 1, false),
        ...(bias ? [declare({ name: "PB", vec: false }, 3, false)] : []),
        uniformDecl(3, bias ? 4 : 2),
        flatIndex(),
        `  if (gi < u.u0) {
    var s = 0.0;
    for (var c = 0; c < u.u2; c++) { s += PW[c * u.u0 + gi]; }
    DW[gi] = s;
  }`,
        ...(bias
          ? [`  else if (gi < u.u0 + u.u1) {
    let j = gi - u.u0;
    var s = 0.0;
    for (var c = 0; c < u.u2; c++) { s += PB[c * u.u1 + j]; }
    DB[j] = s;
  }`]
          : []),
        "}",
      ].join("\n"),
    inputs: partials,
    outputs: bias ? [dwShape, [nb]] : [dwShape],
    uniforms: [nw, nb, parts],
    threads: nw + nb,
  });
}

/**
 * DENSE_GRAD's kernel function for tfjs-webgpu: dx, dw and (with `bias`)
 * db in one dispatch, or two when {@link splitRows} splits the row sums.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE_GRAD, backendName: "webgpu", kernelFunc: denseGradWebGpu });
 * ```
 */
export function denseGradWebGpu(
  args: KernelArgs,
): tf.TensorInfo[] {
  return denseBackward(args, DENSE_GRAD, true);
}

/**
 * DENSE_PARAM_GRAD's kernel function for tfjs-webgpu: dw = x^T @ dy and
 * (with `bias`) db = column sums of dy, for first layers whose input is
 * data (no dx, which for the 512-wide patch embedding is half the layer's
 * backward cost); one dispatch, or two when {@link splitRows} splits.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE_PARAM_GRAD, backendName: "webgpu", kernelFunc: denseParamGradWebGpu });
 * ```
 */
export function denseParamGradWebGpu(
  args: KernelArgs,
): tf.TensorInfo[] {
  return denseBackward(args, DENSE_PARAM_GRAD, false);
}
