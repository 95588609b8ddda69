/**
 * Faster copies for the wasm backend. GatherV2 on its common case: whole rows
 * (axis 0, no batch dimensions) of a float32 tensor picked by int32
 * indices, one `copyWithin` per row. tfjs-wasm's own kernel took about
 * 3 ms for 4,160 rows of 32 floats, a tenth of a volume step's attention;
 * every other case goes to it. SplitV of float32 tensors, by one copy per
 * part and outer index.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { addr, type KernelArgs, type WasmBackendLike } from "./heap.ts";

/**
 * GatherV2 on rows: `{ x, indices }`, attrs `{ axis: 0, batchDims: 0 }`
 * -> x[indices] (shape indices.shape ++ x.shape[1:]); null for other
 * cases (the caller runs the stock kernel). An index outside [0, rows)
 * throws, as the stock kernel does.
 *
 * @example
 * ```ts
 * const out = gatherRowsWasm(args) ?? stock.kernelFunc(args);
 * ```
 */
export function gatherRowsWasm(args: KernelArgs): tf.TensorInfo | null {
  const { x, indices } = args.inputs;
  const axis = Number(args.attrs?.axis ?? 0);
  const batchDims = Number(args.attrs?.batchDims ?? 0);
  if (
    (axis !== 0 && axis !== -x.shape.length) || batchDims !== 0 ||
    x.dtype !== "float32" || indices.dtype !== "int32" || x.shape.length < 1
  ) {
    return null;
  }
  const be = args.backend as WasmBackendLike;
  const rows = x.shape[0];
  const size = x.shape.slice(1).reduce((p, q) => p * q, 1);
  const out = be.makeOutput([...indices.shape, ...x.shape.slice(1)], "float32");
  const idx = new Int32Array(
    (be as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm
      .asm.memory.buffer,
    addr(be, indices),
    indices.shape.reduce((p, q) => p * q, 1),
  );
  for (let i = 0; i < idx.length; i++) {
    if (!(idx[i] >= 0 && idx[i] < rows)) {
      be.disposeData(out.dataId);
      throw new Error(
        `GatherV2: the index value ${idx[i]} is not in [0, ${rows - 1}]`,
      );
    }
  }
  if (size === 0 || idx.length === 0) return out;
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const src = addr(be, x) >> 2, dst = addr(be, out) >> 2;
  for (let i = 0; i < idx.length; i++) {
    const from = src + idx[i] * size;
    heap.copyWithin(dst + i * size, from, from + size);
  }
  return out;
}

/**
 * SplitV of a float32 tensor along any axis by block copies (tfjs-wasm
 * slices each part element by element: about 1.5 ms for the [32, 201, 32]
 * token gradient of a volume step, the backward pass of the tokenizer's
 * concat). Attrs `{ numOrSizeSplits, axis }` as tfjs's; null for other
 * dtypes (the caller runs the stock kernel).
 *
 * @example
 * ```ts
 * const parts = splitWasm(args) ?? stock.kernelFunc(args);
 * ```
 */
export function splitWasm(args: KernelArgs): tf.TensorInfo[] | null {
  const { x } = args.inputs;
  if (x.dtype !== "float32") return null;
  const rank = x.shape.length;
  const axis0 = Number(args.attrs?.axis ?? 0);
  const axis = axis0 < 0 ? axis0 + rank : axis0;
  const dim = x.shape[axis];
  const spec = args.attrs?.numOrSizeSplits as number | number[];
  let sizes: number[];
  if (typeof spec === "number") {
    if (!(spec > 0 && dim % spec === 0)) return null;
    sizes = new Array(spec).fill(dim / spec);
  } else {
    sizes = [...spec];
    const free = sizes.indexOf(-1);
    if (free >= 0) {
      sizes[free] = dim - sizes.reduce((a, b) => a + (b === -1 ? 0 : b), 0);
    }
    if (sizes.reduce((a, b) => a + b, 0) !== dim || sizes.some((s) => s < 0)) {
      return null;
    }
  }
  const be = args.backend as WasmBackendLike;
  const outer = x.shape.slice(0, axis).reduce((p, q) => p * q, 1);
  const inner = x.shape.slice(axis + 1).reduce((p, q) => p * q, 1);
  const outs = sizes.map((s) => {
    const shape = x.shape.slice();
    shape[axis] = s;
    return be.makeOutput(shape, "float32");
  });
  const heap = new Float32Array(be.wasm.asm.memory.buffer);
  const src = addr(be, x) >> 2, row = dim * inner;
  let off = 0;
  outs.forEach((o, i) => {
    const len = sizes[i] * inner, dst = addr(be, o) >> 2;
    if (len > 0) {
      for (let b = 0; b < outer; b++) {
        const from = src + b * row + off;
        heap.copyWithin(dst + b * len, from, from + len);
      }
    }
    off += len;
  });
  return outs;
}
