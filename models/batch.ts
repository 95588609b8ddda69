/**
 * Cohort patients to dense model inputs.
 *
 * Every patient becomes the same fixed row of tokens, so that one batch is
 * a handful of dense tensors and masks say what is missing:
 *
 * ```
 * [ image tokens: maxScans x patchesPerScan ][ EHR tokens: maxEhr x ehrGroups ][ demographics ]
 * ```
 *
 * In `features` mode a scan is one token; in `volume` mode it is cut into
 * non-overlapping cubic patches here, on the host, so the model only needs
 * a reshape and a matrix product. The most recent scans and records are
 * kept, because the diagnosis is made at the latest scan; times are months
 * relative to that scan.
 *
 * @module
 */
import type { Cohort, ImagingMode, Patient } from "../cohort/types.ts";
import { UserError } from "../core/errors.ts";
import type { ModelConfig } from "./config.ts";
import { transformTables, type VolumeTransform } from "./augment.ts";

/**
 * Token modality codes in {@link Layout.modality}.
 *
 * @example
 * ```ts
 * const imageTokens = [...layout.modality].filter((m) => m === IMAGE).length;
 * ```
 */
export const IMAGE = 0, EHR = 1, DEMO = 2;

/** The fixed token layout of one patient. */
export interface Layout {
  /** Imaging mode of the cohort. */
  mode: ImagingMode;
  /** Shape of one scan. */
  scanShape: number[];
  /** Tokens per scan (1 in features mode). */
  patchesPerScan: number;
  /** Values per image token. */
  imageDim: number;
  /** Scan slots. */
  maxScans: number;
  /** EHR signature dimensions. */
  ehrDim: number;
  /** EHR tokens per record. */
  ehrGroups: number;
  /** Signature dimensions per EHR token (the last one zero-padded). */
  groupSize: number;
  /** EHR record slots. */
  maxEhr: number;
  /** Image tokens in total. */
  nImage: number;
  /** EHR tokens in total. */
  nEhr: number;
  /** All tokens: image, EHR, one demographics token. */
  nTokens: number;
  /** Modality code per token: {@link IMAGE}, {@link EHR} or {@link DEMO}. */
  modality: Int8Array;
  /** Scan or record slot per token (-1 for demographics). */
  slot: Int32Array;
  /** Patch index (image) or group index (EHR) per token. */
  within: Int32Array;
  /**
   * Order of the voxels inside a volume patch token: `raster` (z, y, x),
   * or `subcube`: 2x2x2 subcubes one after another (raster inside each, the
   * subcubes in raster order), so that a strided 2^3 stem is one reshape
   * and one matrix product. Absent (older saved models): raster.
   */
  voxelOrder?: "raster" | "subcube";
  /**
   * Levels of `subcube` nesting: with 2, the 2^3 subcubes themselves come
   * in 2^3 groups (a 4^3 block after another), so a second strided stem
   * layer is again one reshape and one product; and so on. Absent: 1.
   */
  subcubeLevels?: number;
}

/**
 * Most scans any patient of a cohort has (at least 1): in `volume` mode a
 * layout keeps no more scan slots than that, so one-scan cohorts carry no
 * padding tokens.
 *
 * @example
 * ```ts
 * scanSlotsIn(set.internal); // 1 for a one-scan cohort
 * ```
 */
export function scanSlotsIn(cohort: Cohort): number {
  let most = 1;
  for (const p of cohort.patients) most = Math.max(most, p.scans.length);
  return most;
}

/**
 * The token layout for a cohort's shapes and a model config.
 *
 * @example
 * ```ts
 * const layout = makeLayout(set.internal, cfg.model);
 * console.log(layout.nTokens);
 * ```
 */
export function makeLayout(cohort: Cohort, model: ModelConfig): Layout {
  const { mode, shape } = cohort.imaging;
  let patchesPerScan = 1;
  let imageDim = shape.reduce((a, b) => a * b, 1);
  if (mode === "volume") {
    if (shape.length !== 3) {
      throw new UserError(
        `cohort ${cohort.name}: volume scans must be 3D, got shape [${shape}]`,
      );
    }
    const p = model.patchSize;
    if (shape.some((s) => s % p !== 0)) {
      throw new UserError(
        `model.patchSize: ${p} must divide every scan edge [${shape}]`,
      );
    }
    patchesPerScan = (shape[0] / p) * (shape[1] / p) * (shape[2] / p);
    imageDim = p * p * p;
  }
  const ehrGroups = Math.min(model.ehrGroups, Math.max(1, cohort.ehrDim));
  const groupSize = Math.max(1, Math.ceil(cohort.ehrDim / ehrGroups));
  // Volume mode: scan slots from the data (padding only where a patient
  // has fewer scans than the cohort's most), at most model.maxScans. In
  // features mode a token is cheap and the slots stay as configured.
  const maxScans = mode === "volume"
    ? Math.min(model.maxScans, scanSlotsIn(cohort))
    : model.maxScans;
  const nImage = maxScans * patchesPerScan;
  const nEhr = model.maxEhr * ehrGroups;
  const nTokens = nImage + nEhr + 1;
  const modality = new Int8Array(nTokens);
  const slot = new Int32Array(nTokens);
  const within = new Int32Array(nTokens);
  for (let i = 0; i < nTokens; i++) {
    if (i < nImage) {
      modality[i] = IMAGE;
      slot[i] = Math.floor(i / patchesPerScan);
      within[i] = i % patchesPerScan;
    } else if (i < nImage + nEhr) {
      modality[i] = EHR;
      slot[i] = Math.floor((i - nImage) / ehrGroups);
      within[i] = (i - nImage) % ehrGroups;
    } else {
      modality[i] = DEMO;
      slot[i] = -1;
    }
  }
  return {
    mode,
    scanShape: [...shape],
    patchesPerScan,
    imageDim,
    maxScans,
    ehrDim: cohort.ehrDim,
    ehrGroups,
    groupSize,
    maxEhr: model.maxEhr,
    nImage,
    nEhr,
    nTokens,
    modality,
    slot,
    within,
    voxelOrder: mode === "volume" && model.patchSize % 2 === 0
      ? "subcube"
      : "raster",
    subcubeLevels: subcubeLevels(model),
  };
}

/**
 * Offsets of a patch's voxels (relative to its corner, in a volume with
 * rows of `W` and slices of `H * W`) in token order (see
 * {@link Layout.voxelOrder}).
 */
function patchOffsets(
  p: number,
  H: number,
  W: number,
  order: "raster" | "subcube",
  levels = 1,
): Int32Array {
  const out = new Int32Array(p * p * p);
  let o = 0;
  if (order === "raster") {
    for (let z = 0; z < p; z++) {
      for (let y = 0; y < p; y++) {
        for (let x = 0; x < p; x++) out[o++] = (z * H + y) * W + x;
      }
    }
    return out;
  }
  // Blocks of edge b = 2^levels in raster order; inside a block, its 2^3
  // halves in raster order, recursively down to single voxels (with
  // levels 1: 2x2x2 subcubes in raster order, raster inside each).
  const b = 1 << levels;
  const nest = (z: number, y: number, x: number, e: number): void => {
    if (e === 1) {
      out[o++] = (z * H + y) * W + x;
      return;
    }
    const h = e / 2;
    for (let dz = 0; dz < 2; dz++) {
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          nest(z + dz * h, y + dy * h, x + dx * h, h);
        }
      }
    }
  };
  const g = p / b;
  for (let Z = 0; Z < g; Z++) {
    for (let Y = 0; Y < g; Y++) {
      for (let X = 0; X < g; X++) nest(Z * b, Y * b, X * b, b);
    }
  }
  return out;
}

/**
 * Levels of subcube nesting a model's stem needs: `stemDepth` when the
 * stem is on and the patch edge allows it, else 1.
 */
function subcubeLevels(
  model: Pick<ModelConfig, "patchSize" | "stemChannels" | "stemDepth">,
): number {
  const d = model.stemChannels > 0 ? model.stemDepth ?? 1 : 1;
  return model.patchSize % (1 << d) === 0 ? d : 1;
}

/** Per-dimension standardization fitted on a patient pool. */
export interface Normalizer {
  /** Image mean per feature (features mode) or one value (volume). */
  imageMean: Float32Array;
  /** Image standard deviation, same length as imageMean. */
  imageStd: Float32Array;
  /** EHR mean per signature dimension. */
  ehrMean: Float32Array;
  /** EHR standard deviation per signature dimension. */
  ehrStd: Float32Array;
  /** Mean of age, sex, pack-years. */
  demoMean: Float32Array;
  /** Standard deviation of age, sex, pack-years. */
  demoStd: Float32Array;
}

function meanStd(sum: Float64Array, sq: Float64Array, count: number[]) {
  const mean = new Float32Array(sum.length);
  const std = new Float32Array(sum.length);
  for (let j = 0; j < sum.length; j++) {
    const c = count[j] ?? count[0];
    const m = c > 0 ? sum[j] / c : 0;
    const v = c > 1 ? sq[j] / c - m * m : 1;
    mean[j] = m;
    std[j] = v > 1e-12 ? Math.sqrt(v) : 1;
  }
  return { mean, std };
}

/**
 * Fits the standardization on a pool of patients (never on test patients).
 *
 * @example
 * ```ts
 * const norm = fitNormalizer(patientsIn(set.internal, ["pretrain", "train", "val"]), layout);
 * ```
 */
export function fitNormalizer(patients: Patient[], layout: Layout): Normalizer {
  const perFeature = layout.mode === "features";
  const iDim = perFeature ? layout.imageDim : 1;
  const iSum = new Float64Array(iDim), iSq = new Float64Array(iDim);
  let iCount = 0;
  const eSum = new Float64Array(layout.ehrDim);
  const eSq = new Float64Array(layout.ehrDim);
  let eCount = 0;
  const dSum = new Float64Array(3), dSq = new Float64Array(3);
  const dCount = [0, 0, 0];
  for (const p of patients) {
    for (const s of p.scans) {
      if (perFeature) {
        for (let j = 0; j < iDim; j++) {
          iSum[j] += s.data[j];
          iSq[j] += s.data[j] * s.data[j];
        }
        iCount++;
      } else {
        // Subsampled: a volume has tens of thousands of voxels per scan.
        for (let j = 0; j < s.data.length; j += 7) {
          iSum[0] += s.data[j];
          iSq[0] += s.data[j] * s.data[j];
          iCount++;
        }
      }
    }
    for (const r of p.ehr) {
      for (let j = 0; j < layout.ehrDim; j++) {
        eSum[j] += r.values[j];
        eSq[j] += r.values[j] * r.values[j];
      }
      eCount++;
    }
    const d = [
      p.demographics.age,
      p.demographics.sex,
      p.demographics.packYears,
    ];
    for (let j = 0; j < 3; j++) {
      const v = d[j];
      if (v === null || !Number.isFinite(v)) continue;
      dSum[j] += v;
      dSq[j] += v * v;
      dCount[j]++;
    }
  }
  const img = meanStd(iSum, iSq, [iCount]);
  const ehr = meanStd(eSum, eSq, [eCount]);
  const demo = meanStd(dSum, dSq, dCount);
  return {
    imageMean: img.mean,
    imageStd: img.std,
    ehrMean: ehr.mean,
    ehrStd: ehr.std,
    demoMean: demo.mean,
    demoStd: demo.std,
  };
}

/** Which modalities a method may see. */
export interface ModalityUse {
  /** Image tokens. */
  image: boolean;
  /** EHR and demographics tokens. */
  ehr: boolean;
}

/** One batch as host arrays, row-major. */
export interface HostBatch {
  /** Patients in the batch. */
  n: number;
  /**
   * [n, nImage, imageDim] standardized image tokens; with `imageRows`, only
   * the rows of present image tokens, in order: [imageRows.length, imageDim].
   */
  image: Float32Array;
  /**
   * Compact volume batches only: row i of `image` is image token
   * imageRows[i] % nImage of patient floor(imageRows[i] / nImage).
   */
  imageRows?: Int32Array;
  /** [n * maxEhr, ehrGroups * groupSize] standardized, zero-padded EHR. */
  ehr: Float32Array;
  /** [n, 6]: age, sex, pack-years standardized (0 if missing), then 3 missing flags. */
  demo: Float32Array;
  /** [n, nTokens]: 1 where a token holds data. */
  present: Float32Array;
  /** [n, nTokens]: months relative to the latest scan (0 for absent tokens). */
  times: Float32Array;
  /** [n]: labels, 0 where unlabeled. */
  labels: Float32Array;
}

// The patches of one D x H x W volume (z slowest, raster order), each
// (v - m) / sd, into dst from `at` on. Without `tables`, voxel j of a patch
// is read at offsets[j] from its corner. With the index tables of a
// VolumeTransform, the patches are those of the transformed volume, read in
// one pass: the voxel at (dz, dy, dx) from the corner goes to
// slotOf[(dz * p + dy) * p + dx] in its token (about 1.7x faster than
// transforming the volume first, on 32^3 scans). Top-level, not a closure
// in hostBatch: with the loop inside, hostBatch took 6.6 ms per 32-patient
// volume batch, 5.8 ms with it here.
function gatherPatches(
  data: Float32Array,
  dst: Float32Array,
  at: number,
  offsets: Int32Array,
  slotOf: Int32Array,
  tables: readonly Int32Array[] | null,
  p: number,
  H: number,
  W: number,
  patches: number,
  m: number,
  sd: number,
): void {
  const nh = H / p, nw = W / p, size = offsets.length;
  for (let q = 0, out = at; q < patches; q++, out += size) {
    const z0 = Math.floor(q / (nh * nw)) * p;
    const y0 = Math.floor(q / nw) % nh * p;
    const x0 = (q % nw) * p;
    if (tables === null) {
      const corner = (z0 * H + y0) * W + x0;
      for (let j = 0; j < size; j++) {
        dst[out + j] = (data[corner + offsets[j]] - m) / sd;
      }
      continue;
    }
    const [t0, t1, t2] = tables;
    for (let dz = 0; dz < p; dz++) {
      for (let dy = 0; dy < p; dy++) {
        const base = t0[z0 + dz] + t1[y0 + dy], local = (dz * p + dy) * p;
        for (let dx = 0; dx < p; dx++) {
          dst[out + slotOf[local + dx]] = (data[base + t2[x0 + dx]] - m) / sd;
        }
      }
    }
  }
}

// The inverse of a patch's voxel offsets: position in the token of the
// voxel at (dz, dy, dx) from the corner, at (dz * p + dy) * p + dx.
function slotsOf(offsets: Int32Array, p: number, H: number, W: number) {
  const slots = new Int32Array(offsets.length);
  offsets.forEach((off, j) => {
    const dz = Math.floor(off / (H * W)), dy = Math.floor(off / W) % H;
    slots[(dz * p + dy) * p + off % W] = j;
  });
  return slots;
}

/**
 * Builds a batch from `patients[idx]`. In `volume` mode, `transforms[b]`
 * (when given and not null) augments row b's scans: the same geometric
 * transform for all of the patient's scans, then its intensity jitter on
 * the standardized values (training batches only; see models/augment.ts).
 * `compact` (volume mode) leaves out the rows of empty scan slots (a third
 * of a typical batch): see {@link HostBatch.imageRows}.
 *
 * @example
 * ```ts
 * const b = hostBatch(patients, [0, 1, 2], layout, norm, { image: true, ehr: true });
 * ```
 */
export function hostBatch(
  patients: Patient[],
  idx: ArrayLike<number>,
  layout: Layout,
  norm: Normalizer,
  use: ModalityUse,
  transforms?: readonly (VolumeTransform | null)[],
  compact = false,
): HostBatch {
  const n = idx.length;
  const L = layout;
  const N = L.nTokens;
  const ehrWidth = L.ehrGroups * L.groupSize;
  const perFeature = L.mode === "features";
  // Compact: each patient's scans' rows follow the previous patient's.
  const rowsOf = (pt: Patient) =>
    use.image ? Math.min(pt.scans.length, L.maxScans) * L.patchesPerScan : 0;
  let imageRows: Int32Array | undefined;
  if (compact && !perFeature) {
    let count = 0;
    for (let b = 0; b < n; b++) count += rowsOf(patients[idx[b]]);
    imageRows = new Int32Array(count);
  }
  const image = new Float32Array(
    (imageRows ? imageRows.length : n * L.nImage) * L.imageDim,
  );
  let nextRow = 0;
  const ehr = new Float32Array(n * L.maxEhr * ehrWidth);
  const demo = new Float32Array(n * 6);
  const present = new Float32Array(n * N);
  const times = new Float32Array(n * N);
  const labels = new Float32Array(n);
  const [, H, W] = L.scanShape;
  const scanLength = L.scanShape.reduce((a, b) => a * b, 1);
  const p = Math.round(Math.cbrt(L.imageDim));
  const offsets = perFeature
    ? new Int32Array(0)
    : patchOffsets(p, H, W, L.voxelOrder ?? "raster", L.subcubeLevels ?? 1);
  const slotOf = perFeature ? offsets : slotsOf(offsets, p, H, W);
  const scratch = perFeature ? null : new Float32Array(scanLength);
  for (let b = 0; b < n; b++) {
    const pt = patients[idx[b]];
    const tf = perFeature ? null : transforms?.[b] ?? null;
    // One transform for all of the patient's scans.
    const tables = tf ? transformTables(L.scanShape, tf) : null;
    labels[b] = pt.label ?? 0;
    const scans = use.image ? pt.scans.slice(-L.maxScans) : [];
    const recs = use.ehr ? pt.ehr.slice(-L.maxEhr) : [];
    const tRef = pt.scans.length > 0
      ? pt.scans[pt.scans.length - 1].time
      : pt.ehr.length > 0
      ? pt.ehr[pt.ehr.length - 1].time
      : 0;
    scans.forEach((s, k) => {
      if (s.data.length !== scanLength) {
        throw new UserError(
          `patient ${pt.id}, scan ${s.id}: ${s.data.length} values, expected ${scanLength} (shape [${L.scanShape}])`,
        );
      }
      for (let q = 0; q < L.patchesPerScan; q++) {
        const tok = k * L.patchesPerScan + q;
        present[b * N + tok] = 1;
        times[b * N + tok] = s.time - tRef;
        if (!perFeature) continue;
        const out = (b * L.nImage + tok) * L.imageDim;
        for (let j = 0; j < L.imageDim; j++) {
          image[out + j] = (s.data[j] - norm.imageMean[j]) / norm.imageStd[j];
        }
      }
      if (perFeature) return;
      // Read from a copy in cache: the stored volume read patch by patch
      // (or permuted) is about 1.4x slower (cache misses).
      scratch!.set(s.data);
      // Standardized, then the jitter: v' = v * scale + offset.
      const sd = norm.imageStd[0] / (tf?.scale ?? 1);
      const m = norm.imageMean[0] - (tf?.offset ?? 0) * sd;
      const first = b * L.nImage + k * L.patchesPerScan;
      let row = first;
      if (imageRows) {
        row = nextRow;
        for (let q = 0; q < L.patchesPerScan; q++) {
          imageRows[nextRow++] = first + q;
        }
      }
      gatherPatches(
        scratch!,
        image,
        row * L.imageDim,
        offsets,
        slotOf,
        tables,
        p,
        H,
        W,
        L.patchesPerScan,
        m,
        sd,
      );
    });
    recs.forEach((r, k) => {
      if (r.values.length !== L.ehrDim) {
        throw new UserError(
          `patient ${pt.id}: EHR record has ${r.values.length} values, expected ehrDim ${L.ehrDim}`,
        );
      }
      const out = (b * L.maxEhr + k) * ehrWidth;
      for (let j = 0; j < L.ehrDim; j++) {
        ehr[out + j] = (r.values[j] - norm.ehrMean[j]) / norm.ehrStd[j];
      }
      for (let g = 0; g < L.ehrGroups; g++) {
        const tok = L.nImage + k * L.ehrGroups + g;
        present[b * N + tok] = 1;
        times[b * N + tok] = r.time - tRef;
      }
    });
    if (use.ehr) {
      const d = pt.demographics;
      const vals = [d.age, d.sex, d.packYears];
      let known = 0;
      for (let j = 0; j < 3; j++) {
        const v = vals[j];
        const ok = v !== null && Number.isFinite(v);
        demo[b * 6 + j] = ok ? (v - norm.demoMean[j]) / norm.demoStd[j] : 0;
        demo[b * 6 + 3 + j] = ok ? 0 : 1;
        if (ok) known++;
      }
      // A token with nothing known would be a constant: leave it out.
      if (known > 0) {
        present[b * N + N - 1] = 1;
        times[b * N + N - 1] = 0;
      }
    }
  }
  return imageRows
    ? { n, image, imageRows, ehr, demo, present, times, labels }
    : { n, image, ehr, demo, present, times, labels };
}
