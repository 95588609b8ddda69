/**
 * JEPA mask strategies as pure index arithmetic (no tensors), so that the
 * one property that matters, no target token in the context, is testable
 * over many draws.
 *
 * - `block`: I-JEPA style, hide a block within one modality: a cube of
 *   patches in one scan (volume mode) or a run of scans or EHR groups.
 * - `modality`: hide a whole modality, predict it from the other one.
 * - `time`: hide the latest scan, predict it from earlier scans and EHR.
 *
 * A strategy that does not apply to a patient (one modality missing, one
 * scan only) falls back to `block`; a patient with fewer than two tokens
 * gets no target and adds nothing to the loss.
 *
 * @module
 */
import type { Rng } from "../core/rng.ts";
import { IMAGE, type Layout } from "./batch.ts";
import type { MaskStrategy } from "./config.ts";

/** One patient's mask: token indices. */
export interface MaskDraw {
  /** Strategy applied ("none": too few tokens). */
  strategy: MaskStrategy | "none";
  /** Tokens the context encoder sees. */
  context: number[];
  /** Tokens the predictor must predict. */
  target: number[];
}

function blockOnSide(
  L: Layout,
  side: number[],
  isImage: boolean,
  fraction: number,
  rng: Rng,
): number[] {
  if (isImage && L.patchesPerScan > 1) {
    // A cube of patches inside one present scan.
    const scans = [...new Set(side.map((t) => L.slot[t]))];
    const scan = scans[rng.int(scans.length)];
    const g = Math.round(Math.cbrt(L.patchesPerScan));
    const s = Math.min(g, Math.max(1, Math.round(g * Math.cbrt(fraction))));
    const [z0, y0, x0] = [
      rng.int(g - s + 1),
      rng.int(g - s + 1),
      rng.int(g - s + 1),
    ];
    const out: number[] = [];
    for (let z = z0; z < z0 + s; z++) {
      for (let y = y0; y < y0 + s; y++) {
        for (let x = x0; x < x0 + s; x++) {
          out.push(scan * L.patchesPerScan + (z * g + y) * g + x);
        }
      }
    }
    return out;
  }
  const len = Math.min(
    side.length - 1,
    Math.max(1, Math.round(fraction * side.length)),
  );
  const start = rng.int(side.length - len + 1);
  return side.slice(start, start + len);
}

/**
 * Draws one patient's context and target tokens.
 *
 * @param present the patient's row of the presence mask (length nTokens)
 *
 * @example
 * ```ts
 * const m = drawMask(layout, host.present.subarray(0, layout.nTokens), ["modality"], 0.4, rng);
 * ```
 */
export function drawMask(
  L: Layout,
  present: ArrayLike<number>,
  strategies: readonly MaskStrategy[],
  fraction: number,
  rng: Rng,
): MaskDraw {
  const image: number[] = [], ehr: number[] = [];
  for (let t = 0; t < L.nTokens; t++) {
    if (present[t] !== 1) continue;
    (L.modality[t] === IMAGE ? image : ehr).push(t);
  }
  const all = [...image, ...ehr];
  let strategy: MaskStrategy | "none" = strategies[rng.int(strategies.length)];
  let target: number[] = [];
  let context: number[] = [];
  const lastScan = image.length > 0 ? L.slot[image[image.length - 1]] : -1;
  if (strategy === "modality" && image.length > 0 && ehr.length > 0) {
    const hideImage = rng.bernoulli(0.5);
    target = hideImage ? image : ehr;
    context = hideImage ? ehr : image;
  } else if (strategy === "time" && lastScan > 0) {
    target = image.filter((t) => L.slot[t] === lastScan);
    context = all.filter((t) =>
      L.modality[t] !== IMAGE || L.slot[t] < lastScan
    );
  } else {
    const sides = [image, ehr].filter((s) => s.length >= 2);
    if (sides.length === 0) {
      return { strategy: "none", context: all, target: [] };
    }
    strategy = "block";
    const side = sides[rng.int(sides.length)];
    const inSide = new Set(side);
    target = blockOnSide(L, side, side === image, fraction, rng)
      .filter((t) => inSide.has(t));
    const hidden = new Set(target);
    context = all.filter((t) => !hidden.has(t));
  }
  if (context.length === 0 || target.length === 0) {
    return { strategy: "none", context: all, target: [] };
  }
  return { strategy, context, target };
}

/**
 * Masks for a batch as dense [n, nTokens] 0/1 arrays.
 *
 * @example
 * ```ts
 * const { context, target } = maskBatch(layout, host.present, host.n, cfg.pretrain.masks, 0.4, rng);
 * ```
 */
export function maskBatch(
  L: Layout,
  present: Float32Array,
  n: number,
  strategies: readonly MaskStrategy[],
  fraction: number,
  rng: Rng,
): { context: Float32Array; target: Float32Array } {
  const N = L.nTokens;
  const context = new Float32Array(n * N);
  const target = new Float32Array(n * N);
  for (let b = 0; b < n; b++) {
    const m = drawMask(
      L,
      present.subarray(b * N, (b + 1) * N),
      strategies,
      fraction,
      rng,
    );
    for (const t of m.context) context[b * N + t] = 1;
    for (const t of m.target) target[b * N + t] = 1;
  }
  return { context, target };
}
