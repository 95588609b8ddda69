/**
 * DICOM pixel data to stored values, per transfer syntax. Compressed
 * frames go through maintained decoders: OpenJPEG (JPEG 2000), OpenJPH
 * (High-Throughput JPEG 2000), CharLS (JPEG-LS) and libjpeg-turbo (8-bit JPEG), as the WebAssembly builds the
 * Cornerstone project publishes (`@cornerstonejs/codec-*`), and
 * jpeg-lossless-decoder-js (JPEG lossless, process 14); RLE and the
 * uncompressed syntaxes are read here. Whatever the codec says about
 * signedness, the stored bit pattern is masked to BitsStored and sign
 * extended when PixelRepresentation is 1, as PS3.5 defines the stored
 * value. 12-bit lossy JPEG goes through DCMTK's IJG decoder as built by
 * dcmjs-codecs. Any other transfer syntax is refused with a message naming
 * the file and the syntax.
 *
 * @module
 */
import OpenJPEG from "@cornerstonejs/codec-openjpeg/decodewasmjs";
import CharLS from "@cornerstonejs/codec-charls/decodewasmjs";
import LibJpegTurbo from "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs";
import OpenJPH from "@cornerstonejs/codec-openjph/wasmjs";
import { Decoder as LosslessJpegUntyped } from "jpeg-lossless-decoder-js";
import dicomParser from "dicom-parser";
import type { DataSet, Element } from "dicom-parser";
import { UserError } from "../core/errors.ts";

/** How a transfer syntax's pixel data is stored. */
type Codec =
  | "native"
  | "rle"
  | "jpeg"
  | "jpeg-lossless"
  | "jpeg-ls"
  | "j2k"
  | "htj2k";

interface SyntaxInfo {
  name: string;
  codec: Codec | null;
  lossless: boolean;
}

/**
 * Transfer syntaxes this reader knows by name; those with a codec are
 * decoded, the others refused.
 */
export const TRANSFER_SYNTAXES: Record<string, SyntaxInfo> = {
  "1.2.840.10008.1.2": {
    name: "Implicit VR Little Endian",
    codec: "native",
    lossless: true,
  },
  "1.2.840.10008.1.2.1": {
    name: "Explicit VR Little Endian",
    codec: "native",
    lossless: true,
  },
  "1.2.840.10008.1.2.1.99": {
    name: "Deflated Explicit VR Little Endian",
    codec: "native",
    lossless: true,
  },
  "1.2.840.10008.1.2.2": {
    name: "Explicit VR Big Endian",
    codec: "native",
    lossless: true,
  },
  "1.2.840.10008.1.2.5": { name: "RLE Lossless", codec: "rle", lossless: true },
  "1.2.840.10008.1.2.4.50": {
    name: "JPEG Baseline (Process 1)",
    codec: "jpeg",
    lossless: false,
  },
  "1.2.840.10008.1.2.4.51": {
    name: "JPEG Extended (Process 2 & 4)",
    codec: "jpeg",
    lossless: false,
  },
  "1.2.840.10008.1.2.4.57": {
    name: "JPEG Lossless, Non-Hierarchical (Process 14)",
    codec: "jpeg-lossless",
    lossless: true,
  },
  "1.2.840.10008.1.2.4.70": {
    name: "JPEG Lossless, First-Order Prediction (Process 14, SV1)",
    codec: "jpeg-lossless",
    lossless: true,
  },
  "1.2.840.10008.1.2.4.80": {
    name: "JPEG-LS Lossless",
    codec: "jpeg-ls",
    lossless: true,
  },
  "1.2.840.10008.1.2.4.81": {
    name: "JPEG-LS Lossy (Near-Lossless)",
    codec: "jpeg-ls",
    lossless: false,
  },
  "1.2.840.10008.1.2.4.90": {
    name: "JPEG 2000 Image Compression (Lossless Only)",
    codec: "j2k",
    lossless: true,
  },
  "1.2.840.10008.1.2.4.91": {
    name: "JPEG 2000 Image Compression",
    codec: "j2k",
    lossless: false,
  },
  "1.2.840.10008.1.2.1.98": {
    name: "Encapsulated Uncompressed Explicit VR Little Endian",
    codec: null,
    lossless: true,
  },
  "1.2.840.10008.1.2.4.53": {
    name: "JPEG Spectral Selection, Non-Hierarchical (retired)",
    codec: null,
    lossless: false,
  },
  "1.2.840.10008.1.2.4.55": {
    name: "JPEG Full Progression, Non-Hierarchical (retired)",
    codec: null,
    lossless: false,
  },
  "1.2.840.10008.1.2.4.92": {
    name: "JPEG 2000 Part 2 Multi-component (Lossless Only)",
    codec: null,
    lossless: true,
  },
  "1.2.840.10008.1.2.4.93": {
    name: "JPEG 2000 Part 2 Multi-component",
    codec: null,
    lossless: false,
  },
  "1.2.840.10008.1.2.4.94": {
    name: "JPIP Referenced",
    codec: null,
    lossless: false,
  },
  "1.2.840.10008.1.2.4.201": {
    name: "High-Throughput JPEG 2000 (Lossless Only)",
    codec: "htj2k",
    lossless: true,
  },
  "1.2.840.10008.1.2.4.202": {
    name: "High-Throughput JPEG 2000 with RPCL (Lossless Only)",
    codec: "htj2k",
    lossless: true,
  },
  "1.2.840.10008.1.2.4.203": {
    name: "High-Throughput JPEG 2000",
    codec: "htj2k",
    lossless: false,
  },
  "1.2.840.10008.1.2.4.100": {
    name: "MPEG2 Main Profile",
    codec: null,
    lossless: false,
  },
  "1.2.840.10008.1.2.4.102": {
    name: "MPEG-4 AVC/H.264",
    codec: null,
    lossless: false,
  },
  "1.2.840.10008.1.2.4.107": {
    name: "HEVC/H.265",
    codec: null,
    lossless: false,
  },
  "1.2.840.10008.1.2.4.110": {
    name: "JPEG XL Lossless",
    codec: null,
    lossless: true,
  },
  "1.2.840.10008.1.2.4.112": { name: "JPEG XL", codec: null, lossless: false },
};

/** The transfer syntaxes decoded (the others are refused). */
export const DECODED_SYNTAXES: string[] = Object.keys(TRANSFER_SYNTAXES)
  .filter((uid) => TRANSFER_SYNTAXES[uid].codec !== null);

/** "1.2.840.10008.1.2.4.51 (JPEG Extended ...)" for messages. */
export function syntaxLabel(uid: string): string {
  const s = TRANSFER_SYNTAXES[uid];
  return s ? `${uid} (${s.name})` : `${uid} (unknown transfer syntax)`;
}

// The codecs are Emscripten modules that instantiate asynchronously and
// are loaded on first use (about 15 ms for the four; dcmjs-codecs, only for
// 12-bit JPEG, about 270 ms with its dcmjs dependency).
interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): FrameInfo;
  decode(): void;
  delete(): void;
}
type DecoderCtor = new () => WasmDecoder;
interface CodecModule {
  getExceptionMessage?: (e: unknown) => string[];
}
interface Jpeg12 {
  NativeCodecs: {
    initializeAsync(o: { webAssemblyModulePathOrUrl: string }): Promise<void>;
    decodeJpeg(ctx: unknown): { getDecodedBuffer(): Uint8Array | undefined };
  };
  Context: new (attrs: Record<string, unknown>) => unknown;
}

/** Loaded codecs, passed to {@link decodeFrame}. */
export interface Codecs {
  openjpeg: { J2KDecoder: DecoderCtor } & CodecModule;
  charls: { JpegLSDecoder: DecoderCtor } & CodecModule;
  turbo: { JPEGDecoder: DecoderCtor } & CodecModule;
  openjph: { HTJ2KDecoder: DecoderCtor } & CodecModule;
  /** DCMTK's IJG 12-bit decoder (dcmjs-codecs), when asked for. */
  jpeg12: Jpeg12 | null;
}

let wasmCodecs: Promise<Omit<Codecs, "jpeg12">> | null = null;
let jpeg12: Promise<Jpeg12> | null = null;

/**
 * Loads the codecs once per process; `withJpeg12` adds dcmjs-codecs'
 * 12-bit JPEG decoder.
 *
 * @example
 * ```ts
 * const codecs = await loadCodecs(false);
 * ```
 */
export async function loadCodecs(withJpeg12: boolean): Promise<Codecs> {
  // OpenJPEG logs every header it reads; keep the codecs quiet. Each
  // factory gets its own object: Emscripten turns it into the module.
  const quiet = () => ({ print: () => {}, printErr: () => {} });
  wasmCodecs ??= Promise.all([
    OpenJPEG(quiet()),
    CharLS(quiet()),
    LibJpegTurbo(quiet()),
    OpenJPH(quiet()),
  ]).then(([openjpeg, charls, turbo, openjph]) => ({
    openjpeg,
    charls,
    turbo,
    openjph,
  }));
  if (withJpeg12) {
    jpeg12 ??= (async () => {
      const mod = (await import("dcmjs-codecs")).default as unknown as Jpeg12;
      // The WebAssembly file sits next to the package's main script.
      const main = new URL(import.meta.resolve("dcmjs-codecs"));
      const wasm = new URL("dcmjs-native-codecs.wasm", main);
      await mod.NativeCodecs.initializeAsync({
        webAssemblyModulePathOrUrl: decodeURIComponent(wasm.pathname),
      });
      return mod;
    })();
  }
  return {
    ...await wasmCodecs,
    jpeg12: withJpeg12 ? await jpeg12! : null,
  };
}

/** What is needed to turn one frame's bytes into stored values. */
export interface PixelFormat {
  rows: number;
  cols: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** PixelRepresentation 1: two's complement stored values. */
  signed: boolean;
}

/**
 * Reads the pixel format fields of a data set, refusing colour, palette
 * and bit depths this reader does not handle. `file` names errors.
 *
 * @example
 * ```ts
 * const fmt = pixelFormat(ds, "a.dcm");
 * ```
 */
export function pixelFormat(ds: DataSet, file: string): PixelFormat {
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  if (!(rows > 0 && cols > 0)) {
    throw new UserError(
      `${file}: Rows (0028,0010) / Columns (0028,0011) missing or zero`,
    );
  }
  const samples = ds.uint16("x00280002") ?? 1;
  const photometric = (ds.string("x00280004") ?? "MONOCHROME2").trim();
  if (
    samples !== 1 ||
    (photometric !== "MONOCHROME1" && photometric !== "MONOCHROME2")
  ) {
    throw new UserError(
      `${file}: PhotometricInterpretation ${photometric} with ${samples} sample(s) per pixel; expected a greyscale (MONOCHROME1/2) image`,
    );
  }
  const bitsAllocated = ds.uint16("x00280100") ?? 0;
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new UserError(
      `${file}: BitsAllocated (0028,0100) is ${bitsAllocated}; expected 8, 16 or 32`,
    );
  }
  const bitsStored = ds.uint16("x00280101") ?? bitsAllocated;
  const highBit = ds.uint16("x00280102") ?? bitsStored - 1;
  if (
    bitsStored < 1 || bitsStored > bitsAllocated ||
    highBit < bitsStored - 1 || highBit >= bitsAllocated
  ) {
    throw new UserError(
      `${file}: BitsStored ${bitsStored} / HighBit ${highBit} do not fit BitsAllocated ${bitsAllocated}`,
    );
  }
  return {
    rows,
    cols,
    bitsAllocated,
    bitsStored,
    highBit,
    signed: (ds.uint16("x00280103") ?? 0) === 1,
  };
}

// Raw pattern -> stored value: keep BitsStored bits ending at `shift`
// (HighBit - BitsStored + 1 for native data, 0 for codec output) and sign
// extend them when the data is signed.
function toStored(
  raw: ArrayLike<number>,
  fmt: PixelFormat,
  shift: number,
): Int32Array {
  const n = raw.length;
  const out = new Int32Array(n);
  const bits = fmt.bitsStored;
  const mask = bits >= 32 ? 0xffffffff : (2 ** bits) - 1;
  const sign = 2 ** (bits - 1);
  for (let i = 0; i < n; i++) {
    let v = Math.floor((raw[i] >>> 0) / 2 ** shift);
    v = bits >= 32 ? v : v % (mask + 1);
    if (fmt.signed && v >= sign) v -= 2 * sign;
    out[i] = v;
  }
  return out;
}

function nativeFrame(
  ds: DataSet,
  el: Element,
  fmt: PixelFormat,
  frame: number,
  bigEndian: boolean,
  file: string,
): Int32Array {
  const n = fmt.rows * fmt.cols;
  const bytes = fmt.bitsAllocated / 8;
  const start = el.dataOffset + frame * n * bytes;
  if (el.length < (frame + 1) * n * bytes) {
    throw new UserError(
      `${file}: PixelData (7FE0,0010) holds ${el.length} bytes, frame ${
        frame + 1
      } needs ${(frame + 1) * n * bytes} (truncated?)`,
    );
  }
  const arr = ds.byteArray;
  const view = new DataView(arr.buffer, arr.byteOffset + start, n * bytes);
  const raw = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    raw[i] = bytes === 1
      ? view.getUint8(i)
      : bytes === 2
      ? view.getUint16(2 * i, !bigEndian)
      : view.getUint32(4 * i, !bigEndian);
  }
  return toStored(raw, fmt, fmt.highBit - fmt.bitsStored + 1);
}

// PS3.5 Annex G: a 64-byte header of segment offsets, each segment a
// PackBits stream of one byte plane, most significant plane first.
function rleFrame(
  data: Uint8Array,
  fmt: PixelFormat,
  file: string,
): Int32Array {
  const n = fmt.rows * fmt.cols;
  const bytes = fmt.bitsAllocated / 8;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 64) {
    throw new UserError(`${file}: RLE frame shorter than its 64-byte header`);
  }
  const segments = view.getUint32(0, true);
  if (segments !== bytes) {
    throw new UserError(
      `${file}: RLE frame has ${segments} segments; expected ${bytes} for BitsAllocated ${fmt.bitsAllocated}, 1 sample`,
    );
  }
  const raw = new Uint32Array(n);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments
      ? view.getUint32(8 + 4 * s, true)
      : data.byteLength;
    const plane = new Uint8Array(n);
    let i = start, o = 0;
    while (i < end && o < n) {
      const h = (data[i++] << 24) >> 24;
      if (h >= 0) {
        for (let k = 0; k <= h && o < n; k++) plane[o++] = data[i++];
      } else if (h !== -128) {
        const v = data[i++];
        for (let k = 0; k < 1 - h && o < n; k++) plane[o++] = v;
      }
    }
    if (o < n) {
      throw new UserError(
        `${file}: RLE segment ${
          s + 1
        } decodes to ${o} bytes, expected ${n} (truncated?)`,
      );
    }
    const weight = 2 ** (8 * (bytes - 1 - s));
    for (let p = 0; p < n; p++) raw[p] += plane[p] * weight;
  }
  return toStored(raw, fmt, fmt.highBit - fmt.bitsStored + 1);
}

function wasmDecode(
  module: CodecModule,
  Ctor: DecoderCtor,
  data: Uint8Array,
): { info: FrameInfo; decoded: Uint8Array } {
  const d = new Ctor();
  try {
    d.getEncodedBuffer(data.length).set(data);
    d.decode();
    const info = d.getFrameInfo();
    return { info, decoded: d.getDecodedBuffer().slice() };
  } catch (e) {
    // Emscripten C++ exceptions arrive as pointers; ask for the text.
    const text = module.getExceptionMessage && typeof e === "number"
      ? module.getExceptionMessage(e).join(": ")
      : (e as Error).message ?? String(e);
    throw new Error(text);
  } finally {
    d.delete();
  }
}

function fromCodec(
  info: FrameInfo,
  decoded: Uint8Array,
  fmt: PixelFormat,
): Int32Array {
  if (
    info.width !== fmt.cols || info.height !== fmt.rows ||
    info.componentCount !== 1
  ) {
    throw new Error(
      `codestream is ${info.width}x${info.height} with ${info.componentCount} component(s), the header says ${fmt.cols}x${fmt.rows} with 1`,
    );
  }
  const raw = info.bitsPerSample > 8
    ? new Uint16Array(decoded.buffer, decoded.byteOffset, fmt.rows * fmt.cols)
    : decoded.subarray(0, fmt.rows * fmt.cols);
  return toStored(raw, fmt, 0);
}

/** The SOF marker and sample precision of a JPEG stream. */
function jpegFrameHeader(
  data: Uint8Array,
): { marker: number; precision: number } | null {
  let i = 2;
  while (i + 4 < data.length) {
    if (data[i] !== 0xff) return null;
    const marker = data[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (
      marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc
    ) {
      return { marker, precision: data[i + 4] };
    }
    i += 2 + ((data[i + 2] << 8) | data[i + 3]);
  }
  return null;
}

function jpegFrame(
  data: Uint8Array,
  fmt: PixelFormat,
  uid: string,
  file: string,
  codecs: Codecs,
): Int32Array {
  const sof = jpegFrameHeader(data);
  if (!sof) throw new Error("no JPEG frame header (SOF) found");
  if (sof.marker === 0xc3) return losslessFrame(data, fmt);
  if ((sof.marker === 0xc0 || sof.marker === 0xc1) && sof.precision === 8) {
    const { info, decoded } = wasmDecode(
      codecs.turbo,
      codecs.turbo.JPEGDecoder,
      data,
    );
    return fromCodec(info, decoded, fmt);
  }
  if (sof.marker === 0xc1 && sof.precision === 12 && codecs.jpeg12) {
    const { NativeCodecs, Context } = codecs.jpeg12;
    const out = NativeCodecs.decodeJpeg(
      new Context({
        width: fmt.cols,
        height: fmt.rows,
        bitsAllocated: 16,
        bitsStored: fmt.bitsStored,
        samplesPerPixel: 1,
        pixelRepresentation: fmt.signed ? 1 : 0,
        photometricInterpretation: "MONOCHROME2",
        encodedBuffer: data,
      }),
    ).getDecodedBuffer();
    if (!out || out.length !== 2 * fmt.rows * fmt.cols) {
      throw new Error(
        `12-bit JPEG decoded to ${out?.length ?? 0} bytes, expected ${
          2 * fmt.rows * fmt.cols
        }`,
      );
    }
    return toStored(
      new Uint16Array(out.slice().buffer, 0, fmt.rows * fmt.cols),
      fmt,
      0,
    );
  }
  throw new UserError(
    `${file}: transfer syntax ${
      syntaxLabel(uid)
    } holds a ${sof.precision}-bit JPEG (SOF marker 0xFF${
      sof.marker.toString(16).toUpperCase()
    }); decoded are 8-bit baseline/extended JPEG and 12-bit extended JPEG under ${
      syntaxLabel("1.2.840.10008.1.2.4.51")
    }. Decompress the series first, e.g. \`dcmdjpeg in.dcm out.dcm\` (DCMTK) or \`gdcmconv --raw in.dcm out.dcm\``,
  );
}

// The package's declared types file is missing from its tarball, so its JS
// is inferred (differently for its ESM and CJS builds): the API used, typed.
const LosslessJpeg = LosslessJpegUntyped as unknown as new () => {
  decode(
    buffer: ArrayBuffer,
    offset: number,
    length: number,
    numBytes: number,
  ): unknown;
};

function losslessFrame(data: Uint8Array, fmt: PixelFormat): Int32Array {
  const dec = new LosslessJpeg();
  // jpeg-lossless-decoder-js 2.x returns 0 for the last sample when its
  // Huffman code ends in the byte before the EOI marker (its look-ahead
  // meets the marker first; seen on DCMTK and GDCM output). Padding bits
  // before EOI give it bytes to look ahead into; they are past the last
  // sample, so the decoded image is unchanged.
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  const eoi = end >= 2 && data[end - 2] === 0xff && data[end - 1] === 0xd9
    ? end - 2
    : end;
  const copy = new Uint8Array(eoi + 4 + 2);
  copy.set(data.subarray(0, eoi));
  copy.set([0, 0, 0, 0, 0xff, 0xd9], eoi);
  const out = dec.decode(
    copy.buffer,
    0,
    copy.byteLength,
    fmt.bitsAllocated > 8 ? 2 : 1,
  ) as Uint8Array | Uint16Array;
  if (out.length !== fmt.rows * fmt.cols) {
    throw new Error(
      `decoded ${out.length} samples, the header says ${fmt.cols}x${fmt.rows}`,
    );
  }
  return toStored(out, fmt, 0);
}

/** One frame's encapsulated bytes (all its fragments concatenated). */
function encapsulatedFrame(
  ds: DataSet,
  el: Element,
  frame: number,
  frames: number,
  file: string,
): Uint8Array {
  const fragments = el.fragments ?? [];
  if (fragments.length === 0) {
    throw new UserError(`${file}: encapsulated PixelData has no fragments`);
  }
  if (frames === 1) {
    return dicomParser.readEncapsulatedPixelDataFromFragments(
      ds,
      el,
      0,
      fragments.length,
    );
  }
  if ((el.basicOffsetTable ?? []).length === frames) {
    return dicomParser.readEncapsulatedImageFrame(ds, el, frame);
  }
  if (fragments.length === frames) {
    return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, frame, 1);
  }
  throw new UserError(
    `${file}: ${frames} frames in ${fragments.length} fragments without a Basic Offset Table; frames cannot be told apart`,
  );
}

/**
 * The transfer syntax UID of a parsed file (implicit little endian when
 * the meta header has none).
 *
 * @example
 * ```ts
 * if (transferSyntax(ds) === "1.2.840.10008.1.2.4.51") await loadCodecs(true);
 * ```
 */
export function transferSyntax(ds: DataSet): string {
  return (ds.string("x00020010") ?? "1.2.840.10008.1.2").replace(/\0/g, "")
    .trim();
}

/**
 * Decodes frame `frame` (0-based) of a parsed DICOM file into stored
 * values (before RescaleSlope/Intercept), refusing transfer syntaxes that
 * are not decoded exactly with a message naming `file` and the syntax.
 *
 * @example
 * ```ts
 * const stored = decodeFrame(ds, fmt, 0, 1, "a.dcm", await loadCodecs(false));
 * ```
 */
export function decodeFrame(
  ds: DataSet,
  fmt: PixelFormat,
  frame: number,
  frames: number,
  file: string,
  codecs: Codecs,
): Int32Array {
  const uid = transferSyntax(ds);
  const syntax = TRANSFER_SYNTAXES[uid];
  if (!syntax || syntax.codec === null) {
    throw new UserError(
      `${file}: transfer syntax ${
        syntaxLabel(uid)
      } is not supported; supported: ${
        DECODED_SYNTAXES.map(syntaxLabel).join(", ")
      }`,
    );
  }
  const el = ds.elements.x7fe00010;
  if (!el) throw new UserError(`${file}: no PixelData (7FE0,0010)`);
  try {
    if (syntax.codec === "native") {
      if (el.encapsulatedPixelData) {
        throw new UserError(
          `${file}: encapsulated PixelData under uncompressed transfer syntax ${
            syntaxLabel(uid)
          }`,
        );
      }
      return nativeFrame(
        ds,
        el,
        fmt,
        frame,
        uid === "1.2.840.10008.1.2.2",
        file,
      );
    }
    const data = encapsulatedFrame(ds, el, frame, frames, file);
    switch (syntax.codec) {
      case "rle":
        return rleFrame(data, fmt, file);
      case "jpeg":
        return jpegFrame(data, fmt, uid, file, codecs);
      case "jpeg-lossless":
        return losslessFrame(data, fmt);
      case "jpeg-ls": {
        const r = wasmDecode(codecs.charls, codecs.charls.JpegLSDecoder, data);
        return fromCodec(r.info, r.decoded, fmt);
      }
      case "j2k": {
        const r = wasmDecode(
          codecs.openjpeg,
          codecs.openjpeg.J2KDecoder,
          data,
        );
        return fromCodec(r.info, r.decoded, fmt);
      }
      case "htj2k": {
        const r = wasmDecode(
          codecs.openjph,
          codecs.openjph.HTJ2KDecoder,
          data,
        );
        return fromCodec(r.info, r.decoded, fmt);
      }
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(
      `${file}: pixel data in ${syntaxLabel(uid)} cannot be decoded (${
        (e as Error).message ?? e
      })`,
    );
  }
}
