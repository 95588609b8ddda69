/**
 * JEPA mask strategies as pure index arithmetic (no tensors), so that the
 * one property that matters, no target token in the context, is testable
 * over many draws.
 *
 * - `block`: I-JEPA style, hide blocks within one modality: cubes of
 *   patches in one scan (volume mode) or runs of scans or EHR groups.
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
  centreShare = 0,
): number[] {
  if (isImage && L.patchesPerScan > 1) {
    // A cube of patches inside one present scan.
    const scans = [...new Set(side.map((t) => L.slot[t]))];
    const scan = scans[rng.int(scans.length)];
    const g = Math.round(Math.cbrt(L.patchesPerScan));
    const s = Math.min(g, Math.max(1, Math.round(g * Math.cbrt(fraction))));
    // A centred block overlaps the scan's central patches (the middle one
    // or two per axis), where a nodule-centred ROI holds its finding. The
    // extra draw happens only when the share is set, so other settings
    // keep their mask streams.
    const centred = centreShare > 0 && rng.uniform() < centreShare;
    const lo = Math.floor((g - 1) / 2), hi = Math.ceil((g - 1) / 2);
    const from = centred ? Math.max(0, lo - s + 1) : 0;
    const to = centred ? Math.min(g - s, hi) : g - s;
    const [z0, y0, x0] = [
      from + rng.int(to - from + 1),
      from + rng.int(to - from + 1),
      from + rng.int(to - from + 1),
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

/** How targets are drawn (the `pretrain` settings that shape masks). */
export interface MaskPolicy {
  /** Share of patients with a cross-modal or cross-time target. */
  crossModalShare: number;
  /** Strategies drawn uniformly for the other patients. */
  masks: readonly MaskStrategy[];
  /** Fraction of a modality's tokens hidden by the block masks together. */
  blockFraction: number;
  /** Blocks per `block` target. */
  targetBlocks: number;
  /**
   * Volume mode: share of image blocks that overlap the scan's central
   * patches (0 or absent: anywhere).
   */
  centreTargets?: number;
}

/**
 * A policy that always uses the given strategies (no forced cross-modal
 * share, one block): what a test of one strategy wants.
 *
 * @example
 * ```ts
 * drawMask(layout, present, only(["time"]), rng);
 * ```
 */
export function only(
  masks: readonly MaskStrategy[],
  blockFraction = 0.4,
): MaskPolicy {
  return { crossModalShare: 0, masks, blockFraction, targetBlocks: 1 };
}

/**
 * Draws one patient's context and target tokens.
 *
 * With probability `crossModalShare`, and where the patient has what it
 * takes, the target is chosen uniformly among the cross-modal and
 * cross-time options that apply: the image from the EHR, the EHR from the
 * image, the latest scan from earlier scans and the EHR. In `features`
 * mode a scan is one token, so without this share almost every draw would
 * predict EHR groups from other EHR groups.
 *
 * @param present the patient's row of the presence mask (length nTokens)
 *
 * @example
 * ```ts
 * const m = drawMask(layout, host.present.subarray(0, layout.nTokens), only(["modality"]), rng);
 * ```
 */
export function drawMask(
  L: Layout,
  present: ArrayLike<number>,
  policy: MaskPolicy,
  rng: Rng,
): MaskDraw {
  const image: number[] = [], ehr: number[] = [];
  for (let t = 0; t < L.nTokens; t++) {
    if (present[t] !== 1) continue;
    (L.modality[t] === IMAGE ? image : ehr).push(t);
  }
  const all = [...image, ...ehr];
  const lastScan = image.length > 0 ? L.slot[image[image.length - 1]] : -1;
  const both = image.length > 0 && ehr.length > 0;
  type Cross = "image" | "ehr" | "time";
  const cross: Cross[] = [
    ...(both ? ["image", "ehr"] as const : []),
    ...(lastScan > 0 ? ["time"] as const : []),
  ];
  let pick: Cross | null = null;
  if (cross.length > 0 && rng.uniform() < policy.crossModalShare) {
    pick = cross[rng.int(cross.length)];
  } else {
    const s = policy.masks[rng.int(policy.masks.length)];
    if (s === "modality" && both) pick = rng.bernoulli(0.5) ? "image" : "ehr";
    else if (s === "time" && lastScan > 0) pick = "time";
  }
  let strategy: MaskStrategy | "none";
  let target: number[] = [];
  let context: number[] = [];
  if (pick === "image" || pick === "ehr") {
    strategy = "modality";
    target = pick === "image" ? image : ehr;
    context = pick === "image" ? ehr : image;
  } else if (pick === "time") {
    strategy = "time";
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
    const k = Math.max(1, policy.targetBlocks);
    const hidden = new Set<number>();
    for (let b = 0; b < k; b++) {
      for (
        const t of blockOnSide(
          L,
          side,
          side === image,
          policy.blockFraction / k,
          rng,
          policy.centreTargets ?? 0,
        )
      ) {
        if (inSide.has(t)) hidden.add(t);
      }
    }
    target = side.filter((t) => hidden.has(t));
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
 * const { context, target } = maskBatch(layout, host.present, host.n, cfg.pretrain, rng);
 * ```
 */
export function maskBatch(
  L: Layout,
  present: Float32Array,
  n: number,
  policy: MaskPolicy,
  rng: Rng,
): { context: Float32Array; target: Float32Array } {
  const N = L.nTokens;
  const context = new Float32Array(n * N);
  const target = new Float32Array(n * N);
  for (let b = 0; b < n; b++) {
    const m = drawMask(L, present.subarray(b * N, (b + 1) * N), policy, rng);
    for (const t of m.context) context[b * N + t] = 1;
    for (const t of m.target) target[b * N + t] = 1;
  }
  return { context, target };
}
