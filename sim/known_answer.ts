/**
 * Known-answer volume cohorts: every patient is one rendered nodule whose
 * property scores are drawn independently (unlike a scenario's patients,
 * whose ten properties share a handful of latents and so predict each
 * other), and the label is any rule on the drawn properties. A label that
 * reads only spiculation is then readable only from spiculation, which is
 * what a test of "does the encoder see spiculation, not just size" needs.
 *
 * @module
 */
import { RngStreams } from "../core/rng.ts";
import { DEFAULT_HU_WINDOW, windowHu } from "../core/hu.ts";
import type { Cohort, CohortSet, Patient, Split } from "../cohort/types.ts";
import { FastRng } from "./fast_rng.ts";
import {
  type Nodule,
  NODULE_PROPERTIES,
  noduleFromSource,
} from "./features.ts";
import { drawAnatomy, makeVolumeFields, renderVolume } from "./volume.ts";
import { type Acquisition, DEFAULT_SCENARIO } from "./scenario.ts";
import type { SyntheticScan } from "./generate.ts";

/** Options of {@link propertyCohorts}. */
export interface PropertyCohortOptions {
  /** Seed of every draw. */
  seed: number;
  /** Patients per split of the internal cohort (missing splits: 0). */
  sizes: Partial<Record<Split, number>>;
  /** Patients of the one external cohort ("external"; 0: none). */
  external?: number;
  /** Cube edge in voxels (default 32). */
  size?: number;
  /** Scanner (default: the default scenario's internal scanner at 1.75 mm). */
  acquisition?: Acquisition;
  /** Properties held fixed for every nodule (e.g. the diameter). */
  fixed?: Partial<Nodule>;
  /** The label of a nodule. */
  label: (n: Nodule) => 0 | 1;
}

/**
 * An imaging-only cohort set (no EHR) of independently drawn nodules,
 * labeled by `label`; pretraining patients are unlabeled. Each scan is a
 * {@link SyntheticScan} with its `properties`.
 *
 * @example
 * ```ts
 * const set = propertyCohorts({
 *   seed: 1,
 *   sizes: { train: 200, val: 50, test: 200 },
 *   fixed: { diameterMm: 10 },
 *   label: (n) => (n.spiculation > 0.5 ? 1 : 0),
 * });
 * ```
 */
export function propertyCohorts(o: PropertyCohortOptions): CohortSet {
  const streams = new RngStreams(o.seed);
  const fields = makeVolumeFields(streams);
  const size = o.size ?? 32;
  const acq = o.acquisition ??
    { ...DEFAULT_SCENARIO.internal.acquisition, spacingMm: 1.75 };
  const ehrDim = 8;
  const make = (name: string, parts: [Split, number][]): Cohort => {
    const rng = new FastRng(streams.get(`known-answer/${name}`));
    const patients: Patient[] = [];
    for (const [split, n] of parts) {
      for (let i = 0; i < n; i++) {
        const m = Float64Array.from(
          { length: NODULE_PROPERTIES },
          () => rng.normal(),
        );
        const nodule = { ...noduleFromSource(m, 1), ...o.fixed };
        const anatomy = drawAnatomy(rng, size);
        const id = `${name}-${split}-${i}`;
        const scan: SyntheticScan = {
          id: `${id}-s0`,
          time: 0,
          data: windowHu(
            renderVolume(fields, size, anatomy, nodule, acq, rng),
            DEFAULT_HU_WINDOW,
            false,
          ),
          nodule: {
            centerMm: anatomy.center.map((v) =>
              (v - (size - 1) / 2) * acq.spacingMm
            ) as [number, number, number],
            diameterMm: nodule.diameterMm,
          },
          properties: nodule,
          spacingMm: acq.spacingMm,
        };
        patients.push({
          id,
          split,
          label: split === "pretrain" ? null : o.label(nodule),
          scans: [scan],
          ehr: [],
          demographics: { age: null, sex: null, packYears: null },
        });
      }
    }
    return {
      name,
      kind: name === "internal" ? "internal" : "external",
      source: "synthetic",
      imaging: { mode: "volume", shape: [size, size, size] },
      ehrDim,
      patients,
    };
  };
  const splits: Split[] = ["pretrain", "train", "val", "test"];
  const internal = make(
    "internal",
    splits.map((s) => [s, o.sizes[s] ?? 0]),
  );
  const external = o.external ?? 0;
  return {
    internal,
    externals: external > 0 ? [make("external", [["test", external]])] : [],
  };
}
