/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header
 * length, a JSON header mapping each tensor name to its dtype, shape and
 * byte offsets (plus an optional "__metadata__" of strings), then the raw
 * little-endian data. Only F32 is written or read here.
 *
 * @module
 */
import { UserError } from "../core/errors.ts";

/** One named float32 tensor. */
export interface NamedTensor {
  /** Shape ([] for a scalar). */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

const LITTLE = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

/**
 * Serializes tensors (in key order) and string metadata.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors({ w: { shape: [2], data: new Float32Array([1, 2]) } });
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new Error(
        `${name}: shape [${t.shape}] needs ${n} values, got ${t.data.length}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: t.shape,
      data_offsets: [offset, offset + 4 * n],
    };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of Object.values(tensors)) {
    if (LITTLE) {
      out.set(
        new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        at,
      );
    } else {
      for (let i = 0; i < t.data.length; i++) {
        view.setFloat32(at + 4 * i, t.data[i], true);
      }
    }
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes.
 *
 * @param where named in error messages
 * @throws UserError when the layout is broken or a dtype is not F32
 *
 * @example
 * ```ts
 * const { tensors, metadata } = decodeSafetensors(Deno.readFileSync("w.safetensors"));
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  where = "safetensors",
): { tensors: Record<string, NamedTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new UserError(`${where}: shorter than 8 bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = Number(view.getBigUint64(0, true));
  if (8 + len > bytes.length) {
    throw new UserError(`${where}: header length ${len} exceeds the file`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  } catch {
    throw new UserError(`${where}: header is not JSON`);
  }
  const base = 8 + len;
  const tensors: Record<string, NamedTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    if (e.dtype !== "F32") {
      throw new UserError(
        `${where}: tensor ${name} has dtype ${e.dtype}; only F32 is supported`,
      );
    }
    const [b, end] = e.data_offsets;
    const n = e.shape.reduce((a, c) => a * c, 1);
    if (end - b !== 4 * n || base + end > bytes.length) {
      throw new UserError(
        `${where}: tensor ${name} offsets [${b}, ${end}] do not fit shape [${e.shape}]`,
      );
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      data[i] = view.getFloat32(base + b + 4 * i, true);
    }
    tensors[name] = { shape: e.shape, data };
  }
  return { tensors, metadata };
}
