/**
 * Access to the tfjs-wasm heap for mmjepa's kernels: tensor addresses, the
 * compiled SIMD loops, and strided matrix products that pick the widest
 * SIMD loop a shape allows (scalar code otherwise).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { NORM_EPS } from "../names.ts";
import { compileSimdKernels, type SimdKernels } from "./simd.ts";

/** What a tfjs kernelFunc receives. */
export interface KernelArgs {
  /** Named inputs. */
  inputs: Record<string, tf.TensorInfo>;
  /** The backend object. */
  backend: unknown;
  /** Attributes. */
  attrs?: Record<string, unknown>;
}

/** The parts of tfjs-backend-wasm's backend object the kernels use. */
export interface WasmBackendLike {
  /** The Emscripten module; its exported memory is the heap. */
  wasm: { asm: { memory: WebAssembly.Memory } };
  /** Where each tensor lives. */
  dataIdMap: { get(id: object): { memoryOffset: number } };
  /** Allocates an output tensor. */
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
  /** A view of a tensor's bytes (invalidated when the heap grows). */
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  /** Frees a tensor's memory. */
  disposeData(id: object): boolean;
}

// Row x column-quad blocks, fastest first (measured on [1536, 32] @ [32, 96]
// and the other products of a JEPA step): 2x4 and 4x2 were up to twice
// 1x1's speed and at or above tfjs-wasm's XNNPACK path.
const BLOCKS: [number, number][] = [
  [2, 4],
  [4, 2],
  [2, 2],
  [4, 1],
  [1, 4],
  [2, 1],
  [1, 2],
  [1, 1],
];

// Rows of B per pass: 128 rows of a 64-wide B are 32 KiB, an L1 cache.
const K_CHUNK = 128;

// Per backend: the kernels without and with relaxed-SIMD FMA.
const compiled = new WeakMap<object, [SimdKernels?, SimdKernels?]>();
let fmaOn = envFma();

function envFma(): boolean {
  try {
    return Deno.env.get("MMJEPA_RELAXED_FMA") === "1";
  } catch {
    return false;
  }
}

/**
 * Switches the products to relaxed-SIMD fused multiply-adds (off by
 * default, or MMJEPA_RELAXED_FMA=1): faster where the CPU has FMA, but
 * the last bits of every result change, so runs record it (see
 * kernels/mod.ts kernelsInUse).
 *
 * @example
 * ```ts
 * setRelaxedFma(true);
 * ```
 */
export function setRelaxedFma(on: boolean): void {
  fmaOn = on;
}

/**
 * Whether the products use relaxed-SIMD FMA ({@link setRelaxedFma}).
 *
 * @example
 * ```ts
 * relaxedFma(); // false unless switched on
 * ```
 */
export function relaxedFma(): boolean {
  return fmaOn;
}

/**
 * The SIMD kernels compiled against this backend's heap (compiled once
 * per FMA setting).
 *
 * @example
 * ```ts
 * simdOf(backend).colsum(addr(backend, x), addr(backend, out), rows, cols / 4);
 * ```
 */
export function simdOf(backend: WasmBackendLike): SimdKernels {
  let pair = compiled.get(backend);
  if (!pair) compiled.set(backend, pair = [undefined, undefined]);
  const i = fmaOn ? 1 : 0;
  return pair[i] ??= compileSimdKernels(
    backend.wasm.asm.memory,
    NORM_EPS,
    fmaOn,
  );
}

/**
 * Byte address of a tensor on the heap.
 *
 * @example
 * ```ts
 * const p = addr(backend, x);
 * ```
 */
export function addr(backend: WasmBackendLike, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** A strided matrix operand: element [i, j] sits at `at + i * row + j * col` bytes. */
export interface Strided {
  /** Byte address of element [0, 0]. */
  at: number;
  /** Bytes between rows. */
  row: number;
  /** Bytes between columns. */
  col: number;
}

interface Product {
  backend: WasmBackendLike;
  a: Strided;
  b: Strided;
  c: number;
  m: number;
  k: number;
  n: number;
  bias: number;
  batch: number;
  aBatch: number;
  bBatch: number;
  cRow: number;
  cBatch: number;
}

// Columns [j0, j0 + nc) of C (nc a multiple of 4) through the rows kernels.
function simdColumns(p: Product, j0: number, nc: number): void {
  const { a, b, m, k, bias } = p;
  const [r, v] = BLOCKS.find(([r, v]) => m % r === 0 && nc % (4 * v) === 0)!;
  // Odd row counts: the rows that fill blocks of two or four, then the rest.
  const [rb, vb] = r > 1
    ? [r, v]
    : BLOCKS.find(([r, v]) => m >= r && nc % (4 * v) === 0)!;
  const main = m - (m % rb);
  const rows = simdOf(p.backend).rows;
  const parts: [number, number, number, number][] = [[0, main, rb, vb]];
  if (main < m) parts.push([main, m - main, 1, v]);
  for (const [i0, mi, ri, vi] of parts) {
    // Long sums run in chunks of K_CHUNK, each adding into C, so that a
    // chunk of B stays in cache while every row block of A passes over it.
    for (let k0 = 0; k0 < k; k0 += K_CHUNK) {
      const kind = k0 > 0 ? "Acc" : bias ? "Bias" : "";
      rows[`rows${kind}${ri}x${vi}`](
        a.at + k0 * a.col + i0 * a.row,
        b.at + k0 * b.row + 4 * j0,
        bias ? bias + 4 * j0 : 0,
        p.c + i0 * p.cRow + 4 * j0,
        p.batch,
        mi / ri,
        Math.min(K_CHUNK, k - k0),
        nc / (4 * vi),
        p.aBatch,
        a.row,
        a.col,
        p.bBatch,
        b.row,
        p.cRow,
        p.cBatch,
      );
    }
  }
}

/**
 * C [m, n] (row-major, contiguous) = A [m, k] @ B [k, n] (+ bias [n]), for
 * `batch` consecutive problems `aBatch` / `bBatch` bytes apart. SIMD loops
 * when B's columns are contiguous and n >= 4, scalar code otherwise. C's
 * rows may be `cRow` bytes apart and its problems `cBatch` bytes (default
 * contiguous), e.g. one head's columns of a wider matrix.
 *
 * @example
 * ```ts
 * matMulInto(be, { at: px, row: 4 * kDim, col: 4 }, { at: pw, row: 4 * n, col: 4 }, pout, m, kDim, n);
 * ```
 */
export function matMulInto(
  backend: WasmBackendLike,
  a: Strided,
  b: Strided,
  c: number,
  m: number,
  k: number,
  n: number,
  bias = 0,
  batch = 1,
  aBatch = 0,
  bBatch = 0,
  cRow = 4 * n,
  cBatch = 4 * m * n,
): void {
  if (b.col === 4 && n >= 4) {
    const p = {
      backend,
      a,
      b,
      c,
      m,
      k,
      n,
      bias,
      batch,
      aBatch,
      bBatch,
      cRow,
      cBatch,
    };
    const n4 = n - (n % 4);
    simdColumns(p, 0, n4);
    // The last n % 4 columns: recompute the last four in full. They overlap
    // columns already written, with the same sums, so the result is exact;
    // this runs after the main part, whose k-chunks it would otherwise
    // double-count.
    if (n4 < n) simdColumns(p, n - 4, 4);
    return;
  }
  const heap = new Float32Array(backend.wasm.asm.memory.buffer);
  for (let t = 0; t < batch; t++) {
    const ab = (a.at + t * aBatch) >> 2, bb = (b.at + t * bBatch) >> 2;
    const cb = (c + t * cBatch) >> 2, cr = cRow >> 2;
    const [ar, ac, br, bc] = [a.row >> 2, a.col >> 2, b.row >> 2, b.col >> 2];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = bias ? heap[(bias >> 2) + j] : 0;
        for (let q = 0; q < k; q++) {
          s += heap[ab + i * ar + q * ac] * heap[bb + q * br + j * bc];
        }
        heap[cb + i * cr + j] = s;
      }
    }
  }
}
