/**
 * Small volume cohorts whose labels are known functions of the rendered
 * nodule, for the volume-level known-answer tests: each patient's nodule
 * comes from the simulator's own renderer (sim/volume.ts, 1 mm voxels, HU)
 * with five independent standard-normal source numbers (size, spiculation,
 * solidity, margin, lung density; the renderer's other properties stay at
 * their median), so a label can depend on one property and nothing else.
 * sim/known_answer.ts draws all ten properties at the paper-volume scanner;
 * the encoder reads much less there (see the closing note of issue 20).
 *
 * @module
 */
import type { Cohort, CohortSet, Patient, Split } from "../../cohort/types.ts";
import { RngStreams } from "../../core/rng.ts";
import { FastRng } from "../../sim/fast_rng.ts";
import { type Nodule, noduleFromSource } from "../../sim/features.ts";
import {
  drawAnatomy,
  makeVolumeFields,
  renderVolume,
} from "../../sim/volume.ts";

/** Options of {@link noduleSet}. */
export interface NoduleSetOptions {
  /** Seed of the generator. */
  seed?: number;
  /** Patients per split of the internal cohort. */
  sizes?: Partial<Record<Split, number>>;
  /** Volume edge in voxels (1 mm spacing). */
  edge?: number;
  /** The label of a nodule and its source numbers (noise-free). */
  label: (n: Nodule, m: Float64Array) => 0 | 1;
  /** Largest diameter drawn, mm (larger ones are redrawn; default 14). */
  maxDiameterMm?: number;
  /** Source numbers held fixed, by index (0 size, 1 spiculation, 2 solidity, 3 margin, 4 lung). */
  fixed?: Record<number, number>;
}

/**
 * Builds a cohort set (internal only) of one-scan volume patients.
 *
 * @example
 * ```ts
 * const set = noduleSet({ label: (n) => n.diameterMm > 7 ? 1 : 0 });
 * ```
 */
export function noduleSet(o: NoduleSetOptions): CohortSet {
  const streams = new RngStreams(o.seed ?? 1);
  const fields = makeVolumeFields(streams);
  const rng = new FastRng(streams.get("fixture/nodules"));
  const edge = o.edge ?? 32;
  const maxD = o.maxDiameterMm ?? 14;
  const acq = { noiseHu: 20, blur: 0.7, spacingMm: 1, offsetHu: 0 };
  const sizes = { pretrain: 0, train: 200, val: 100, test: 200, ...o.sizes };
  const patients: Patient[] = [];
  for (const split of ["pretrain", "train", "val", "test"] as Split[]) {
    for (let i = 0; i < sizes[split]; i++) {
      let m: Float64Array, nod: Nodule;
      do {
        m = Float64Array.from({ length: 5 }, () => rng.normal());
        for (const [k, v] of Object.entries(o.fixed ?? {})) m[Number(k)] = v;
        nod = noduleFromSource(m, 1);
      } while (nod.diameterMm > maxD);
      const anatomy = drawAnatomy(rng, edge);
      const data = renderVolume(fields, edge, anatomy, nod, acq, rng);
      const y = o.label(nod, m);
      patients.push({
        id: `${split}-${i}`,
        split,
        label: split === "pretrain" ? null : y,
        scans: [{ id: `${split}-${i}-s0`, time: 0, data }],
        ehr: [],
        demographics: { age: null, sex: null, packYears: null },
      });
    }
  }
  const internal: Cohort = {
    name: "internal",
    kind: "internal",
    source: "synthetic",
    imaging: { mode: "volume", shape: [edge, edge, edge] },
    ehrDim: 4,
    patients,
  };
  return { internal, externals: [] };
}
