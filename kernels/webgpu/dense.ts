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
 * DENSE_GRAD's kernel function for tfjs-webgpu.
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE_GRAD, backendName: "webgpu", kernelFunc: denseGradWebGpu });
 * ```
 */
export function denseGradWebGpu(
  args: KernelArgs,
): tf.TensorInfo[] {
  const { dy, x, w } = args.inputs;
  const bias = Boolean(args.attrs?.bias);
  const [r, inn] = x.shape, out = w.shape[1];
  if (
    x.shape.length !== 2 || w.shape.length !== 2 || dy.shape.length !== 2 ||
    w.shape[0] !== inn || dy.shape[0] !== r || dy.shape[1] !== out
  ) {
    throw new Error(
      `${DENSE_GRAD}: dy [r, out], x [r, in], w [in, out] expected, got ${dy.shape}, ${x.shape}, ${w.shape}`,
    );
  }
  check(DENSE_GRAD, r, inn, out, [dy, x, w]);
  const vIn = inn % 4 === 0, vOut = out % 4 === 0;
  const DY: Buf = { name: "DY", vec: vOut };
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
    K: "u.u3",
    aStride: "0",
    bStride: "0",
  };
  const t1 = blocks(1, r, inn), t2 = blocks(1, inn, out);
  const t3 = bias ? out : 0;
  const outputs = [[r, inn], [inn, out], ...(bias ? [[out]] : [])];
  // Bindings: DX, DW, [DB], DY, X, W, uniforms.
  const nOut = outputs.length;
  const code = () =>
    [
      declare(dxP.c, 0, true),
      declare(dwP.c, 1, true),
      ...(bias ? [declare({ name: "DB", vec: false }, 2, true)] : []),
      declare(DY, nOut, false),
      declare(dwP.a, nOut + 1, false),
      declare(dxP.b, nOut + 2, false),
      uniformDecl(6, nOut + 3),
      flatIndex(),
      `  if (gi < u.u0) ${productBlock(dxP, "gi")}`,
      `  else if (gi < u.u1) ${productBlock(dwP, "gi - u.u0")}`,
      ...(bias
        ? [`  else if (gi < u.u2) {
    let j = gi - u.u1;
    var s = 0.0;
    for (var i = 0; i < u.u3; i++) { s += ${at(DY, "i * u.u5 + j")}; }
    DB[j] = s;
  }`]
        : []),
      "}",
    ].join("\n");
  return runShader(args.backend as GpuBackend, {
    name: DENSE_GRAD,
    key: `${DENSE_GRAD}/${Number(vIn)}${Number(vOut)}${Number(bias)}`,
    code,
    inputs: [dy, x, w],
    outputs,
    uniforms: [t1, t1 + t2, t1 + t2 + t3, r, inn, out],
    threads: t1 + t2 + t3,
  });
}

/**
 * DENSE_PARAM_GRAD's kernel function for tfjs-webgpu: dw = x^T @ dy and
 * (with `bias`) db = column sums of dy in one dispatch, for first layers
 * whose input is data (no dx, which for the 512-wide patch embedding is
 * half the layer's backward cost).
 *
 * @example
 * ```ts
 * tf.registerKernel({ kernelName: DENSE_PARAM_GRAD, backendName: "webgpu", kernelFunc: denseParamGradWebGpu });
 * ```
 */
export function denseParamGradWebGpu(
  args: KernelArgs,
): tf.TensorInfo[] {
  const { dy, x } = args.inputs;
  const bias = Boolean(args.attrs?.bias);
  const [r, inn] = x.shape, out = dy.shape[1];
  if (x.shape.length !== 2 || dy.shape.length !== 2 || dy.shape[0] !== r) {
    throw new Error(
      `${DENSE_PARAM_GRAD}: dy [r, out], x [r, in] expected, got ${dy.shape}, ${x.shape}`,
    );
  }
  check(DENSE_PARAM_GRAD, r, inn, out, [dy, x]);
  const vIn = inn % 4 === 0, vOut = out % 4 === 0;
  const DY: Buf = { name: "DY", vec: vOut };
  const dwP: Product = {
    a: { name: "X", vec: vIn, t: true },
    b: { ...DY, t: false },
    c: { name: "DW", vec: vOut },
    M: "u.u3",
    N: "u.u4",
    K: "u.u2",
    aStride: "0",
    bStride: "0",
  };
  const t1 = blocks(1, inn, out), t2 = bias ? out : 0;
  const outputs = [[inn, out], ...(bias ? [[out]] : [])];
  const nOut = outputs.length;
  // Bindings: DW, [DB], DY, X, uniforms.
  const code = () =>
    [
      declare(dwP.c, 0, true),
      ...(bias ? [declare({ name: "DB", vec: false }, 1, true)] : []),
      declare(DY, nOut, false),
      declare(dwP.a, nOut + 1, false),
      uniformDecl(5, nOut + 2),
      flatIndex(),
      `  if (gi < u.u0) ${productBlock(dwP, "gi")}`,
      ...(bias
        ? [`  else if (gi < u.u1) {
    let j = gi - u.u0;
    var s = 0.0;
    for (var i = 0; i < u.u2; i++) { s += ${at(DY, "i * u.u4 + j")}; }
    DB[j] = s;
  }`]
        : []),
      "}",
    ].join("\n");
  return runShader(args.backend as GpuBackend, {
    name: DENSE_PARAM_GRAD,
    key: `${DENSE_PARAM_GRAD}/${Number(vIn)}${Number(vOut)}${Number(bias)}`,
    code,
    inputs: [dy, x],
    outputs,
    uniforms: [t1, t1 + t2, r, inn, out],
    threads: t1 + t2,
  });
}
