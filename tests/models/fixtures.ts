/**
 * A tiny synthetic CohortSet made by code, FactorCL style: a shared latent
 * drives both modalities and the label, plus latents unique to each
 * modality, all through random linear maps with small noise.
 *
 * @module
 */
import type { Cohort, CohortSet, Patient, Split } from "../../cohort/types.ts";
import { Rng } from "../../core/rng.ts";
import {
  fitNormalizer,
  type HostBatch,
  hostBatch,
  type Layout,
  makeLayout,
} from "../../models/batch.ts";
import {
  type ModelConfig,
  resolveExperimentConfig,
} from "../../models/config.ts";

/** Options of {@link easySet}. */
export interface EasyOptions {
  /** Seed of the generator. */
  seed?: number;
  /** Patients per split of the internal cohort. */
  sizes?: Partial<Record<Split, number>>;
  /** Patients of the one external cohort. */
  external?: number;
  /** Label logit = strength * (standardized shared score). */
  strength?: number;
  /** `features` (16 per scan) or `volume` (16^3 per scan). */
  mode?: "features" | "volume";
  /** Fraction of patients without EHR. */
  missingEhr?: number;
  /** Edge of the cubic volume in volume mode (default 16). */
  volumeEdge?: number;
}

const DIMS = { shared: 4, image: 2, ehr: 2 };

/**
 * Builds the set.
 *
 * @example
 * ```ts
 * const set = easySet({ seed: 1 });
 * ```
 */
export function easySet(o: EasyOptions = {}): CohortSet {
  const rng = new Rng(`fixture/${o.seed ?? 1}`);
  const mode = o.mode ?? "features";
  const edge = o.volumeEdge ?? 16;
  const shape = mode === "features" ? [16] : [edge, edge, edge];
  const imgSize = shape.reduce((a, b) => a * b, 1);
  const ehrDim = 16;
  const strength = o.strength ?? 8;
  const a = rng.normals(imgSize * DIMS.shared),
    b = rng.normals(imgSize * DIMS.image);
  const c = rng.normals(ehrDim * DIMS.shared),
    d = rng.normals(ehrDim * DIMS.ehr);
  const w = rng.normals(DIMS.shared);
  const wn = Math.hypot(...w);
  const map = (
    out: Float32Array,
    m1: Float32Array,
    z1: Float32Array,
    m2: Float32Array,
    z2: Float32Array,
    noise: number,
  ) => {
    for (let i = 0; i < out.length; i++) {
      let v = 0;
      for (let k = 0; k < z1.length; k++) v += m1[i * z1.length + k] * z1[k];
      for (let k = 0; k < z2.length; k++) v += m2[i * z2.length + k] * z2[k];
      out[i] = v / 2 + noise * rng.normal();
    }
    return out;
  };
  const patient = (id: string, split: Split): Patient => {
    const zShared = rng.normals(DIMS.shared);
    const zImage = rng.normals(DIMS.image);
    const zEhr = rng.normals(DIMS.ehr);
    let s = 0;
    for (let k = 0; k < DIMS.shared; k++) s += w[k] * zShared[k];
    const pMalignant = 1 / (1 + Math.exp(-strength * s / wn));
    const nScans = 1 + rng.int(3);
    const scans = Array.from({ length: nScans }, (_, k) => ({
      id: `${id}-s${k}`,
      time: 12 * k + rng.range(-1, 1) + (k === 0 ? 1 : 0),
      data: map(new Float32Array(imgSize), a, zShared, b, zImage, 0.3),
    }));
    const hasEhr = !rng.bernoulli(o.missingEhr ?? 0);
    const ehr = hasEhr
      ? [{
        time: scans[nScans - 1].time,
        values: map(new Float32Array(ehrDim), c, zShared, d, zEhr, 0.3),
      }]
      : [];
    return {
      id,
      split,
      label: split === "pretrain" ? null : (rng.bernoulli(pMalignant) ? 1 : 0),
      scans,
      ehr,
      demographics: {
        age: rng.bernoulli(0.9) ? 60 + 8 * rng.normal() : null,
        sex: rng.bernoulli(0.5) ? 1 : 0,
        packYears: rng.bernoulli(0.8) ? Math.abs(30 + 15 * rng.normal()) : null,
      },
      truth: { zShared, zImage, zEhr, pMalignant },
    };
  };
  const sizes = { pretrain: 400, train: 200, val: 80, test: 200, ...o.sizes };
  const patients: Patient[] = [];
  for (const split of ["pretrain", "train", "val", "test"] as Split[]) {
    for (let i = 0; i < sizes[split]; i++) {
      patients.push(patient(`${split}-${i}`, split));
    }
  }
  const cohort = (
    name: string,
    kind: "internal" | "external",
    ps: Patient[],
  ): Cohort => ({
    name,
    kind,
    source: "synthetic",
    imaging: { mode, shape },
    ehrDim,
    patients: ps,
  });
  const ext = Array.from(
    { length: o.external ?? 100 },
    (_, i) => patient(`ext-${i}`, "test"),
  );
  return {
    internal: cohort("internal", "internal", patients),
    externals: [cohort("external-A", "external", ext)],
  };
}

/**
 * Rank AUC (ties count half).
 *
 * @example
 * ```ts
 * auc([0, 1], [0.2, 0.9]); // 1
 * ```
 */
export function auc(labels: number[], scores: number[]): number {
  let pos = 0, neg = 0, wins = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    pos++;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] === 1) continue;
      if (scores[i] > scores[j]) wins += 1;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  neg = labels.length - pos;
  return wins / (pos * neg);
}

/**
 * The first `count` internal patients of an {@link easySet} as one host
 * batch with both modalities, with its layout: the batch the tokenizer and
 * objective tests feed through toInputs.
 *
 * @example
 * ```ts
 * const { h, L, m } = easyBatch(37, { pretrain: 60, train: 10, val: 5, test: 5 });
 * ```
 */
export function easyBatch(
  count: number,
  sizes: EasyOptions["sizes"],
  model: Partial<ModelConfig> = {},
): { h: HostBatch; L: Layout; m: ModelConfig } {
  const set = easySet({ sizes, external: 0 });
  const m = resolveExperimentConfig({ model }).model;
  const patients = set.internal.patients.slice(0, count);
  const L = makeLayout(set.internal, m);
  const h = hostBatch(
    patients,
    patients.map((_, i) => i),
    L,
    fitNormalizer(patients, L),
    { image: true, ehr: true },
  );
  return { h, L, m };
}
