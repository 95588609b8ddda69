/**
 * Tokens from a batch: image patches or scan features through one dense
 * layer (volume patches optionally through a strided 2^3 stem first), EHR
 * signature groups through a block-diagonal dense layer (one matrix product
 * for all groups), demographics as one token, plus learned modality
 * embeddings, positions (fixed 3D sine-cosine codes or learned embeddings
 * for volume patches, learned for EHR groups) and a sinusoidal encoding of
 * time.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { EHR, type HostBatch, IMAGE, type Layout } from "./batch.ts";
import type { ModelConfig } from "./config.ts";
import { denseSpecs, type Params, type ParamSpec } from "./params.ts";
import { linear, relu } from "./transformer.ts";

/** A batch as tensors. */
export interface Inputs {
  /** Patients. */
  n: number;
  /**
   * [n, nImage, imageDim]; or, when `imageRows` is set, only the present
   * image tokens' rows [nKept, imageDim], in token order.
   */
  image: tf.Tensor;
  /**
   * int32 [nKept]: which of the n * nImage image token rows `image` holds
   * (volume mode, when some scan slots are empty); null: all of them.
   */
  imageRows?: tf.Tensor | null;
  /**
   * int32 [n * nImage]: each image token's row of `image`, or nKept for an
   * empty slot (its embedding is 0); set together with `imageRows`.
   */
  imageSlots?: tf.Tensor | null;
  /** [n * maxEhr, ehrGroups * groupSize]. */
  ehr: tf.Tensor;
  /** [n, 6]. */
  demo: tf.Tensor;
  /** [n, nTokens]. */
  present: tf.Tensor;
  /**
   * `present`'s values on the host (toInputs sets it): masks and biases
   * derived from them are then built as constants, not recorded as ops.
   */
  presentHost?: Float32Array;
  /** [n, nTokens, width] sinusoidal time encoding, when used. */
  time: tf.Tensor | null;
  /** [n, 1, nTokens, nTokens] |t_i - t_j| in months, when decay is used. */
  dt: tf.Tensor | null;
  /** [n]. */
  labels: tf.Tensor;
}

/** Whether volume patch positions are fixed sine-cosine codes. */
function fixedPositions(L: Layout, positions: "sincos" | "learned"): boolean {
  return L.mode === "volume" && positions === "sincos";
}

/** Learned patch-position rows: none when they are fixed codes. */
function patchRows(L: Layout, positions: "sincos" | "learned"): number {
  return fixedPositions(L, positions) ? 0 : L.patchesPerScan;
}

/** Learned-embedding rows: 3 modalities, then patch positions, then EHR groups. */
function embeddingRows(L: Layout, positions: "sincos" | "learned"): number {
  return 3 + patchRows(L, positions) + L.ehrGroups;
}

/** Channels of each strided stem layer (empty: no stem). */
function stemLayers(
  L: Layout,
  m: Pick<ModelConfig, "stemChannels" | "stemDepth">,
): number[] {
  if (!hasStem(L, m)) return [];
  return Array.from(
    { length: m.stemDepth ?? 1 },
    (_, k) => m.stemChannels * (1 << k),
  );
}

/** Whether the strided 2^3 stem is used. */
function hasStem(L: Layout, m: Pick<ModelConfig, "stemChannels">): boolean {
  return L.mode === "volume" && m.stemChannels > 0;
}

/** Parameter prefix of stem layer k (0-based). */
function stemName(k: number): string {
  return k === 0 ? "enc/stem" : `enc/stem${k + 1}`;
}

/**
 * Fixed 3D sine-cosine codes of the patches of a g x g x g grid, [g^3, w]
 * (MAE's 2D codes extended to three axes): each axis gets 2 * floor(w / 6)
 * dimensions, sines and cosines of its patch coordinate at frequencies
 * 1 / 10000^(k / d) for k < d = floor(w / 6); leftover dimensions are 0.
 *
 * @example
 * ```ts
 * const codes = sinCos3d(4, 32); // 64 rows of 32
 * ```
 */
export function sinCos3d(g: number, w: number): Float32Array {
  const d = Math.floor(w / 6);
  const out = new Float32Array(g * g * g * w);
  for (let q = 0; q < g * g * g; q++) {
    const coord = [Math.floor(q / (g * g)), Math.floor(q / g) % g, q % g];
    for (let a = 0; a < 3; a++) {
      for (let k = 0; k < d; k++) {
        const angle = coord[a] / Math.pow(10000, k / d);
        out[q * w + a * 2 * d + k] = Math.sin(angle);
        out[q * w + a * 2 * d + d + k] = Math.cos(angle);
      }
    }
  }
  return out;
}

/**
 * Parameter specs of the tokenizers and embeddings.
 *
 * @example
 * ```ts
 * const specs = tokenizerSpecs(layout, cfg.model);
 * ```
 */
export function tokenizerSpecs(L: Layout, m: ModelConfig): ParamSpec[] {
  const layers = stemLayers(L, m);
  const stem: ParamSpec[] = [];
  let cin = 1, cells = L.imageDim;
  layers.forEach((c, k) => {
    // Layer 1 keeps the name of the one-layer stem (saved models load).
    stem.push(...denseSpecs(stemName(k), 8 * cin, c));
    cin = c;
    cells /= 8;
  });
  return [
    ...stem,
    ...denseSpecs("enc/image", cells * cin, m.width),
    ...denseSpecs("enc/ehr", L.ehrGroups * L.groupSize, L.ehrGroups * m.width),
    ...denseSpecs("enc/demo", 6, m.width),
    {
      name: "enc/embed",
      shape: [embeddingRows(L, m.positions), m.width],
      init: { std: 0.02 },
      decay: false,
    },
  ];
}

/**
 * Constant tensors a tokenizer needs: the one-hot map from token to its
 * embedding rows (a matrix product, because gather's gradient is missing
 * on wasm), the fixed patch codes when positions are not learned, and the
 * block-diagonal mask of the EHR group layer.
 *
 * @example
 * ```ts
 * const c = new TokenizerConstants(layout, 32, "sincos");
 * c.dispose();
 * ```
 */
export class TokenizerConstants {
  /** [nTokens, rows]: modality row + patch or group row. */
  readonly rows: tf.Tensor2D;
  /** [nTokens, width] fixed 3D codes on volume patch tokens, or null. */
  readonly fixed: tf.Tensor2D | null;
  /** [ehrGroups * groupSize, ehrGroups * width]. */
  readonly ehrMask: tf.Tensor2D;

  /** Builds them for a layout, width and kind of patch positions. */
  constructor(
    L: Layout,
    width: number,
    positions: "sincos" | "learned" = "learned",
  ) {
    const R = embeddingRows(L, positions);
    const P = patchRows(L, positions);
    const rows = new Float32Array(L.nTokens * R);
    for (let i = 0; i < L.nTokens; i++) {
      rows[i * R + L.modality[i]] = 1;
      if (L.modality[i] === IMAGE && P > 0) rows[i * R + 3 + L.within[i]] = 1;
      if (L.modality[i] === EHR) rows[i * R + 3 + P + L.within[i]] = 1;
    }
    this.rows = tf.tensor2d(rows, [L.nTokens, R]);
    this.fixed = null;
    if (fixedPositions(L, positions)) {
      const g = Math.round(Math.cbrt(L.patchesPerScan));
      const codes = sinCos3d(g, width);
      const fixed = new Float32Array(L.nTokens * width);
      for (let i = 0; i < L.nImage; i++) {
        fixed.set(
          codes.subarray(L.within[i] * width, (L.within[i] + 1) * width),
          i * width,
        );
      }
      this.fixed = tf.tensor2d(fixed, [L.nTokens, width]);
    }
    const G = L.ehrGroups, gs = L.groupSize;
    const mask = new Float32Array(G * gs * G * width);
    for (let g = 0; g < G; g++) {
      for (let r = g * gs; r < (g + 1) * gs; r++) {
        mask.fill(
          1,
          r * G * width + g * width,
          r * G * width + (g + 1) * width,
        );
      }
    }
    this.ehrMask = tf.tensor2d(mask, [G * gs, G * width]);
  }

  /** Frees the tensors. */
  dispose(): void {
    this.rows.dispose();
    this.fixed?.dispose();
    this.ehrMask.dispose();
  }
}

// Sinusoidal codes by width, then by time value. A batch repeats a few
// hundred distinct times (every token of a scan or an EHR record shares
// one, and the same patients come back every epoch), while computing a
// code costs width / 2 sines and cosines: a 128-patient features batch
// spent more time here than in its attention kernels. Cleared when it
// grows past CODE_CACHE_MAX entries, so memory stays bounded.
const codeCache = new Map<number, Map<number, Float32Array>>();
const divisors = new Map<number, Float64Array>();
const CODE_CACHE_MAX = 1 << 16;

/**
 * The sinusoidal time code of `t` months at width `w` (even): entries 2k
 * and 2k + 1 are sin and cos of t / 1000^(k / (w / 2)), periods from 2*pi
 * months to about 2*pi*1000 months (centuries). Memoized; treat the
 * returned array as read-only.
 *
 * @example
 * ```ts
 * timeCode(0, 4); // Float32Array [0, 1, 0, 1]
 * ```
 */
export function timeCode(t: number, w: number): Float32Array {
  let byTime = codeCache.get(w);
  if (!byTime) codeCache.set(w, byTime = new Map());
  let code = byTime.get(t);
  if (code) return code;
  const half = w / 2;
  let div = divisors.get(w);
  if (!div) {
    // The same divisor as Math.pow(1000, k / half) in the division below,
    // so codes keep their values to the bit.
    div = Float64Array.from(
      { length: half },
      (_, k) => Math.pow(1000, k / half),
    );
    divisors.set(w, div);
  }
  code = new Float32Array(w);
  for (let k = 0; k < half; k++) {
    const a = t / div[k];
    code[2 * k] = Math.sin(a);
    code[2 * k + 1] = Math.cos(a);
  }
  if (byTime.size >= CODE_CACHE_MAX) byTime.clear();
  byTime.set(t, code);
  return code;
}

/**
 * Host batch to tensors, computing time encodings on the host.
 *
 * @example
 * ```ts
 * const x = tf.tidy(() => toInputs(host, layout, cfg.model));
 * ```
 */
export function toInputs(h: HostBatch, L: Layout, m: ModelConfig): Inputs {
  const N = L.nTokens, n = h.n, w = m.width;
  let time: tf.Tensor | null = null;
  if (m.timeEncoding === "sinusoidal" || m.timeEncoding === "both") {
    const enc = new Float32Array(n * N * w);
    // Neighbouring tokens mostly share a time (a scan's patches, a
    // record's groups): reuse the last code then, without a lookup; plain
    // loops, as a set() of 32 numbers costs more than the copy.
    let last = NaN, code: Float32Array = new Float32Array(0);
    for (let i = 0; i < n * N; i++) {
      if (h.present[i] === 0) continue;
      const t = h.times[i];
      if (t !== last) {
        code = timeCode(t, w);
        last = t;
      }
      for (let k = 0, at = i * w; k < w; k++) enc[at + k] = code[k];
    }
    time = tf.tensor3d(enc, [n, N, w]);
  }
  let dt: tf.Tensor | null = null;
  if (m.timeEncoding === "decay" || m.timeEncoding === "both") {
    const d = new Float32Array(n * N * N);
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < N; i++) {
        const ti = h.times[b * N + i];
        for (let j = 0; j < N; j++) {
          d[(b * N + i) * N + j] = Math.abs(ti - h.times[b * N + j]);
        }
      }
    }
    dt = tf.tensor4d(d, [n, 1, N, N]);
  }
  const kept = keptImageRows(h, L);
  let image: tf.Tensor, imageRows = null, imageSlots = null;
  if (kept && h.imageRows) {
    image = tf.tensor2d(h.image, [kept.rows.length, L.imageDim]);
  } else if (kept) {
    const D = L.imageDim, rows = new Float32Array(kept.rows.length * D);
    // Kept rows come in runs (a scan's patches): one copy per run.
    for (let i = 0, n = kept.rows.length; i < n;) {
      let e = i + 1;
      while (e < n && kept.rows[e] === kept.rows[e - 1] + 1) e++;
      rows.set(
        h.image.subarray(kept.rows[i] * D, (kept.rows[e - 1] + 1) * D),
        i * D,
      );
      i = e;
    }
    image = tf.tensor2d(rows, [kept.rows.length, D]);
  } else if (h.imageRows?.length === 0) {
    image = tf.zeros([n, L.nImage, L.imageDim]);
  } else {
    // Compact or not, with every slot filled these are all the rows.
    image = tf.tensor3d(h.image, [n, L.nImage, L.imageDim]);
  }
  if (kept) {
    imageRows = tf.tensor1d(kept.rows, "int32");
    imageSlots = tf.tensor1d(kept.slots, "int32");
  }
  return {
    n,
    image,
    imageRows,
    imageSlots,
    ehr: tf.tensor2d(h.ehr, [n * L.maxEhr, L.ehrGroups * L.groupSize]),
    demo: tf.tensor2d(h.demo, [n, 6]),
    present: tf.tensor2d(h.present, [n, N]),
    presentHost: h.present,
    time,
    dt,
    labels: tf.tensor1d(h.labels),
  };
}

// Volume mode: the image token rows of present scans, and each token's
// row among them (rows.length for an empty slot). A third of a volume
// batch's image tokens are empty slots, and the stem and patch embedding
// are about a third of a volume step: they run on these rows only. Null
// when every slot is filled (or none is), or outside volume mode (there
// the image layer is too small for the gather to pay).
function keptImageRows(
  h: HostBatch,
  L: Layout,
): { rows: Int32Array; slots: Int32Array } | null {
  if (L.mode !== "volume") return null;
  if (h.imageRows) {
    const rows = h.imageRows, slots = new Int32Array(h.n * L.nImage);
    if (rows.length === 0 || rows.length === slots.length) return null;
    slots.fill(rows.length);
    rows.forEach((r, i) => slots[r] = i);
    return { rows, slots };
  }
  const slots = new Int32Array(h.n * L.nImage), rows: number[] = [];
  for (let b = 0; b < h.n; b++) {
    for (let i = 0; i < L.nImage; i++) {
      const r = b * L.nImage + i;
      if (h.present[b * L.nTokens + i] === 1) {
        slots[r] = rows.length;
        rows.push(r);
      } else slots[r] = -1;
    }
  }
  if (rows.length === 0 || rows.length === slots.length) return null;
  for (let r = 0; r < slots.length; r++) {
    if (slots[r] < 0) slots[r] = rows.length;
  }
  return { rows: Int32Array.from(rows), slots };
}

// Rows [nKept, w] back to every image token [n * nImage, w], zeros in
// empty slots: a gather from the rows plus a zero row; its gradient is the
// gather of dy at the kept rows (each is used once), so no scatter kernel
// is needed (wasm has none).
function scatterImageRows(
  rows: tf.Tensor2D,
  slots: tf.Tensor,
  kept: tf.Tensor,
): tf.Tensor2D {
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    ((r: tf.Tensor2D, save: tf.GradSaveFunc): any => {
      save([kept]);
      return {
        value: tf.gather(tf.concat([r, tf.zeros([1, r.shape[1]])]), slots),
        gradFunc: (dy: tf.Tensor2D, [k]: tf.Tensor[]) => tf.gather(dy, k),
      };
      // deno-lint-ignore no-explicit-any
    }) as any,
  ) as (r: tf.Tensor2D) => tf.Tensor2D;
  return f(rows);
}

/**
 * Token content [n, N, w] and position (embeddings plus time) [n, N, w].
 * Absent tokens are zeroed so that nothing leaks from padding.
 *
 * @example
 * ```ts
 * const { content, pos } = tokenize(params.dict, x, layout, 32, consts);
 * ```
 */
export function tokenize(
  p: Params,
  x: Inputs,
  L: Layout,
  width: number,
  c: TokenizerConstants,
): { content: tf.Tensor; pos: tf.Tensor } {
  const { content, pos, keep } = unmasked(p, x, L, width, c);
  return { content: content.mul(keep), pos: pos.mul(keep) };
}

/**
 * The encoder's input tokens, content plus position, [n, N, w]: the sum of
 * {@link tokenize}'s two parts, masked once (the same values; for a
 * present token both ways add the same two numbers, an absent one is 0).
 *
 * @example
 * ```ts
 * const tokens = tokenSum(params.dict, x, layout, 32, consts);
 * ```
 */
export function tokenSum(
  p: Params,
  x: Inputs,
  L: Layout,
  width: number,
  c: TokenizerConstants,
): tf.Tensor {
  const { content, pos, keep } = unmasked(p, x, L, width, c);
  return content.add(pos).mul(keep);
}

// Content [n, N, w] and position [n, N, w] (or [1, N, w] without time)
// before absent tokens are zeroed, and the mask keep [n, N, 1] (from the
// host when the inputs carry it: a constant, not a recorded op).
function unmasked(
  p: Params,
  x: Inputs,
  L: Layout,
  width: number,
  c: TokenizerConstants,
): { content: tf.Tensor; pos: tf.Tensor; keep: tf.Tensor } {
  const n = x.n;
  // Rows of image tokens: all n * nImage, or the present ones only.
  const rows = x.imageRows ? x.image.shape[0] : n * L.nImage;
  let img: tf.Tensor2D;
  if (p["enc/stem/w"]) {
    // Strided 2^3 stem layers: the voxels arrive in nested 2^3 subcubes
    // (voxelOrder, subcubeLevels), so each 2x2x2 convolution with stride
    // 2 is one product over rows of 8 cells, and its output rows are again
    // in nested order for the next layer.
    let h: tf.Tensor2D = x.image.reshape([-1, 8]) as tf.Tensor2D;
    let cells = L.imageDim, ch = 1;
    for (let k = 0; p[`${stemName(k)}/w`]; k++) {
      const w = p[`${stemName(k)}/w`] as tf.Tensor2D;
      if (k > 0) h = h.reshape([-1, 8 * ch]);
      h = relu(
        linear(h, w, p[`${stemName(k)}/b`], { inputGrad: k > 0 }),
      ) as tf.Tensor2D;
      ch = w.shape[1];
      cells /= 8;
    }
    img = linear(
      h.reshape([rows, cells * ch]) as tf.Tensor2D,
      p["enc/image/w"] as tf.Tensor2D,
      p["enc/image/b"],
    );
  } else {
    img = linear(
      x.image.reshape([rows, L.imageDim]) as tf.Tensor2D,
      p["enc/image/w"] as tf.Tensor2D,
      p["enc/image/b"],
      { inputGrad: false },
    );
  }
  if (x.imageRows && x.imageSlots) {
    img = scatterImageRows(img, x.imageSlots, x.imageRows);
  }
  const img3 = img.reshape([n, L.nImage, width]);
  const ehrW = p["enc/ehr/w"].mul(c.ehrMask) as tf.Tensor2D;
  const ehr = linear(x.ehr as tf.Tensor2D, ehrW, p["enc/ehr/b"], {
    inputGrad: false,
  })
    .reshape([n, L.nEhr, width]);
  const demo = linear(
    x.demo as tf.Tensor2D,
    p["enc/demo/w"] as tf.Tensor2D,
    p["enc/demo/b"],
    { inputGrad: false },
  ).reshape([n, 1, width]);
  const keep = x.presentHost
    ? tf.tensor3d(x.presentHost, [n, L.nTokens, 1])
    : x.present.expandDims(2);
  const content = tf.concat([img3, ehr, demo], 1);
  let pos: tf.Tensor = tf.matMul(c.rows, p["enc/embed"] as tf.Tensor2D);
  if (c.fixed) pos = pos.add(c.fixed);
  pos = pos.expandDims(0);
  if (x.time) pos = pos.add(x.time);
  return { content, pos, keep };
}
