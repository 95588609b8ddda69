/**
 * BatchMatMul for tfjs-webgpu, and the WGSL generator the fused dense
 * kernels share: each invocation computes a 4 x 4 block of one output
 * matrix in sixteen registers (four vec4 rows), walking k four at a time
 * with vec4 loads wherever an operand's contiguous axis is a multiple of
 * four, and no workgroup memory or barriers.
 *
 * mmjepa's products are small ([1536, 32] x [32, 96], 256 x [12, 16] x
 * [16, 12], the weight gradients [1536, 32]^T x [1536, 96]); tfjs picks
 * 32 x 32 shared-memory tiles or one workgroup per few outputs for these,
 * which on lavapipe spend most of their time in barriers and idle lanes
 * (1.3 to 15 times slower than this kernel there, per shape).
 * All four transpose combinations are handled in the shader (the gradients
 * of a matmul use them) and any batch shape where both sides have the same
 * leading dims or one side has none.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  flatIndex,
  type GpuBackend,
  type KernelFunc,
  runShader,
  sizeOf,
  uniformDecl,
} from "./runner.ts";

/** A buffer as the shader declares it: name, and read as vec4 or f32. */
export interface Buf {
  /** WGSL variable. */
  name: string;
  /** Declared array<vec4<f32>> (its length is a multiple of 4). */
  vec: boolean;
}

/** An operand of a product: a buffer and whether it is stored transposed. */
export interface Operand extends Buf {
  /** A stored [K, M] (B stored [N, K]) instead of [M, K] ([K, N]). */
  t: boolean;
}

/**
 * One batched product C = A @ B (+ bias) inside a shader. Sizes are WGSL
 * expressions (uniforms or constants).
 */
export interface Product {
  /** Left operand (logical [M, K]). */
  a: Operand;
  /** Right operand (logical [K, N]). */
  b: Operand;
  /** Output, [batch, M, N] row-major. */
  c: Buf;
  /** Optional bias [N] added to every row. */
  bias?: Buf;
  /** Rows of C. */
  M: string;
  /** Columns of C. */
  N: string;
  /** Inner size. */
  K: string;
  /** Elements between batches of A (0 when A is shared). */
  aStride: string;
  /** Elements between batches of B (0 when B is shared). */
  bStride: string;
  /**
   * Split-K: batch `b` covers k in [b * K, min((b + 1) * K, kRows)) of one
   * product whose inner size is `kRows`, so the batches hold partial sums
   * of the same output. Only for A stored transposed and B not (x^T @ dy),
   * where K is a loop bound and never a stride.
   */
  kRows?: string;
}

/**
 * WGSL array declaration for a buffer at a binding.
 *
 * @example
 * ```ts
 * declare({ name: "A", vec: true }, 1, false); // "@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;"
 * ```
 */
export function declare(b: Buf, binding: number, write: boolean): string {
  return `@group(0) @binding(${binding}) var<storage, ${
    write ? "read_write" : "read"
  }> ${b.name}: array<${b.vec ? "vec4<f32>" : "f32"}>;`;
}

/**
 * A scalar read of element `idx` (a WGSL expression) of a buffer.
 *
 * @example
 * ```ts
 * at({ name: "A", vec: true }, "i"); // "A[(i) / 4][(i) % 4]"
 * ```
 */
export function at(b: Buf, idx: string): string {
  return b.vec ? `${b.name}[(${idx}) / 4][(${idx}) % 4]` : `${b.name}[${idx}]`;
}

// Four consecutive elements from idx (a multiple of 4 when b.vec).
function at4(b: Buf, idx: string): string {
  return b.vec
    ? `${b.name}[(${idx}) / 4]`
    : `vec4<f32>(${
      [0, 1, 2, 3].map((q) => `${b.name}[${idx} + ${q}]`).join(", ")
    })`;
}

/**
 * Number of invocations a product needs: one per 4 x 4 output block.
 *
 * @example
 * ```ts
 * blocks(2, 12, 16); // 2 * 3 * 4 = 24
 * ```
 */
export function blocks(batch: number, M: number, N: number): number {
  return batch * Math.ceil(M / 4) * Math.ceil(N / 4);
}

/**
 * WGSL statements computing the 4 x 4 block number `t` (a WGSL i32
 * expression below {@link blocks}) of a product. Rows or columns past the
 * edge are clamped on load: they only feed outputs that are never written,
 * while k past K is never read (leftovers of K mod 4 go one k at a time).
 * A vec operand needs its contiguous axis to be a multiple of 4.
 *
 * @example
 * ```ts
 * const body = productBlock(p, "gi");
 * ```
 */
export function productBlock(p: Product, t: string): string {
  const { a, b, c, M, N, K } = p;
  if (p.kRows && (!a.t || b.t)) {
    throw new Error("productBlock: kRows needs A transposed and B not");
  }
  const aIdx = (m: string, k: string) =>
    a.t ? `aOff + (${k}) * M + (${m})` : `aOff + (${m}) * K + (${k})`;
  const bIdx = (k: string, n: string) =>
    b.t ? `bOff + (${n}) * K + (${k})` : `bOff + (${k}) * N + (${n})`;
  const L: string[] = [];
  if (a.t) {
    // ac{kk}: column k0+kk over m0..m0+3.
    for (let kk = 0; kk < 4; kk++) {
      L.push(
        a.vec
          ? `let ac${kk} = ${at4(a, aIdx("m0", `k0 + ${kk}`))};`
          : `let ac${kk} = vec4<f32>(${
            [0, 1, 2, 3].map((i) => at(a, aIdx(`mc${i}`, `k0 + ${kk}`)))
              .join(", ")
          });`,
      );
    }
  } else {
    // ar{i}: row m0+i over k0..k0+3.
    for (let i = 0; i < 4; i++) {
      L.push(`let ar${i} = ${at4(a, aIdx(`mc${i}`, "k0"))};`);
    }
  }
  if (b.t) {
    for (let j = 0; j < 4; j++) {
      L.push(`let bc${j} = ${at4(b, bIdx("k0", `nc${j}`))};`);
    }
    for (let kk = 0; kk < 4; kk++) {
      L.push(
        `let br${kk} = vec4<f32>(bc0[${kk}], bc1[${kk}], bc2[${kk}], bc3[${kk}]);`,
      );
    }
  } else {
    // br{kk}: row k0+kk over n0..n0+3.
    for (let kk = 0; kk < 4; kk++) {
      L.push(
        b.vec
          ? `let br${kk} = ${at4(b, bIdx(`k0 + ${kk}`, "n0"))};`
          : `let br${kk} = vec4<f32>(${
            [0, 1, 2, 3].map((j) => at(b, bIdx(`k0 + ${kk}`, `nc${j}`)))
              .join(", ")
          });`,
      );
    }
  }
  for (let i = 0; i < 4; i++) {
    for (let kk = 0; kk < 4; kk++) {
      const av = a.t ? `ac${kk}[${i}]` : `ar${i}[${kk}]`;
      L.push(`acc${i} = fma(vec4<f32>(${av}), br${kk}, acc${i});`);
    }
  }
  const tail = [
    `let bt = vec4<f32>(${
      [0, 1, 2, 3].map((j) => at(b, bIdx("k", `nc${j}`))).join(", ")
    });`,
    ...[0, 1, 2, 3].map((i) =>
      `acc${i} = fma(vec4<f32>(${at(a, aIdx(`mc${i}`, "k"))}), bt, acc${i});`
    ),
  ];
  const store: string[] = [];
  if (p.bias) {
    store.push(
      `let bias = vec4<f32>(${
        [0, 1, 2, 3].map((j) => at(p.bias!, `nc${j}`)).join(", ")
      });`,
    );
  }
  const plus = p.bias ? " + bias" : "";
  for (let i = 0; i < 4; i++) {
    store.push(`if (m0 + ${i} < M) {`);
    if (c.vec) {
      store.push(
        `  ${c.name}[(cOff + (m0 + ${i}) * N + n0) / 4] = acc${i}${plus};`,
      );
    } else {
      for (let j = 0; j < 4; j++) {
        store.push(
          `  if (n0 + ${j} < N) { ${c.name}[cOff + (m0 + ${i}) * N + n0 + ${j}] = acc${i}[${j}]${
            p.bias ? ` + bias[${j}]` : ""
          }; }`,
        );
      }
    }
    store.push(`}`);
  }
  return `{
  let M = ${M};
  let N = ${N};
  let K = ${K};
  let nb = (N + 3) / 4;
  let perBatch = ((M + 3) / 4) * nb;
  let batch = (${t}) / perBatch;
  let r = (${t}) % perBatch;
  let m0 = (r / nb) * 4;
  let n0 = (r % nb) * 4;
  let aOff = batch * (${p.aStride});
  let bOff = batch * (${p.bStride});
  let cOff = batch * M * N;
  let KL = ${p.kRows ? `min(K, (${p.kRows}) - batch * K)` : "K"};
  let mc0 = m0;
  let mc1 = min(m0 + 1, M - 1);
  let mc2 = min(m0 + 2, M - 1);
  let mc3 = min(m0 + 3, M - 1);
  let nc0 = n0;
  let nc1 = min(n0 + 1, N - 1);
  let nc2 = min(n0 + 2, N - 1);
  let nc3 = min(n0 + 3, N - 1);
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let K4 = KL - KL % 4;
  for (var k0 = 0; k0 < K4; k0 += 4) {
    ${L.join("\n    ")}
  }
  for (var k = K4; k < KL; k++) {
    ${tail.join("\n    ")}
  }
  ${store.join("\n  ")}
}`;
}

/**
 * Whether {@link matMulWebGpu} computes this product itself: float32, rank
 * >= 2, and equal leading dims (or none on one side). Everything else goes
 * to the stock kernel, which also broadcasts mixed leading dims.
 *
 * @example
 * ```ts
 * handlesMatMul([256, 12, 16], [256, 16, 12]); // true
 * ```
 */
export function handlesMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  dtypes: readonly string[] = ["float32", "float32"],
): boolean {
  if (dtypes.some((d) => d !== "float32")) return false;
  if (aShape.length < 2 || bShape.length < 2) return false;
  const la = aShape.slice(0, -2), lb = bShape.slice(0, -2);
  const same = la.length === lb.length && la.every((d, i) => d === lb[i]);
  return same || sizeOf(la) === 1 || sizeOf(lb) === 1;
}

/**
 * Builds the BatchMatMul kernel function: mmjepa's shader where
 * {@link handlesMatMul} says so, `stock` otherwise.
 *
 * @example
 * ```ts
 * const stock = tf.getKernel("BatchMatMul", "webgpu")!.kernelFunc;
 * tf.registerKernel({ kernelName: "BatchMatMul", backendName: "webgpu", kernelFunc: matMulWebGpu(stock) });
 * ```
 */
export function matMulWebGpu(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs;
    const tA = Boolean(args.attrs?.transposeA);
    const tB = Boolean(args.attrs?.transposeB);
    if (!handlesMatMul(a.shape, b.shape, [a.dtype, b.dtype])) {
      return stock(args);
    }
    const ra = a.shape.length, rb = b.shape.length;
    const M = tA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = tA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kB = tB ? b.shape[rb - 1] : b.shape[rb - 2];
    const N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (K !== kB) {
      throw new Error(
        `Error in matMul: inner shapes (${K}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${tA} and transposeB=${tB} must match.`,
      );
    }
    const la = a.shape.slice(0, -2), lb = b.shape.slice(0, -2);
    const lead = tf.broadcast_util.assertAndGetBroadcastShape(la, lb);
    const batch = sizeOf(lead);
    const p: Product = {
      a: { name: "A", vec: (tA ? M : K) % 4 === 0, t: tA },
      b: { name: "B", vec: (tB ? K : N) % 4 === 0, t: tB },
      c: { name: "C", vec: N % 4 === 0 },
      M: "u.u1",
      N: "u.u2",
      K: "u.u3",
      aStride: "u.u4",
      bStride: "u.u5",
    };
    const flags = [tA, tB, p.a.vec, p.b.vec, p.c.vec].map(Number).join("");
    return runShader(args.backend as GpuBackend, {
      name: "MmjepaMatMul",
      key: `mmjepa/matmul/${flags}`,
      code: () =>
        [
          declare(p.c, 0, true),
          declare(p.a, 1, false),
          declare(p.b, 2, false),
          uniformDecl(6, 3),
          flatIndex(),
          `  if (gi >= u.u0) { return; }`,
          productBlock(p, "gi"),
          "}",
        ].join("\n"),
      inputs: [a, b],
      outputs: [[...lead, M, N]],
      uniforms: [
        blocks(batch, M, N),
        M,
        N,
        K,
        sizeOf(la) === 1 ? 0 : M * K,
        sizeOf(lb) === 1 ? 0 : K * N,
      ],
      threads: K === 0 ? 0 : blocks(batch, M, N),
    })[0];
  };
}
