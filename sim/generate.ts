/**
 * From a scenario and a seed to the project's one cohort type.
 *
 * Streams: the biology and the volume fields come from seed-level streams
 * (shared by all cohorts of a seed); each cohort draws its patients from
 * its own child stream, so adding an external site never changes the
 * internal cohort.
 *
 * @module
 */
import { RngStreams } from "../core/rng.ts";
import { FastRng } from "./fast_rng.ts";
import type {
  Cohort,
  CohortSet,
  EhrRecord,
  Patient,
  Scan,
  Split,
} from "../cohort/types.ts";
import type { Acquisition, Missingness, Scenario } from "./scenario.ts";
import {
  type Alloc,
  type Biology,
  calibrateIntercept,
  drawLatents,
  type Latents,
  linearScore,
  makeBiology,
  type RiskInputs,
  riskInputs,
  riskLogit,
  riskModel,
  sigmoid,
} from "./latent.ts";
import {
  ehrSource,
  growthFactor,
  imageRows,
  imageSource,
  type Nodule,
  NODULE_PROPERTIES,
  noduleFromSource,
  scanFeatures,
} from "./features.ts";
import { DEFAULT_HU_WINDOW, windowHu } from "../core/hu.ts";
import {
  drawAnatomy,
  makeVolumeFields,
  renderVolume,
  type VolumeFields,
} from "./volume.ts";
import { ehrNames, ehrValues, habitValue } from "./ehr.ts";
import { bayesCeilings, type CeilingPatient } from "./bayes.ts";

/** A scan of a synthetic patient: also knows its nodule and voxel spacing. */
export interface SyntheticScan extends Scan {
  /** The nodule at this scan: centre in world mm (NIfTI affine), diameter. */
  nodule: { centerMm: [number, number, number]; diameterMm: number };
  /**
   * Every drawn property of the nodule at this scan: what `volume` mode
   * renders and what `features` mode's detector measures.
   */
  properties: Nodule;
  /** Isotropic voxel spacing of the site's scanner, mm. */
  spacingMm: number;
}

/**
 * Median volume doubling times (months) at risk 1 and risk 0; a nodule's
 * median is interpolated geometrically by its malignancy probability.
 */
const VDT_MALIGNANT = 5, VDT_BENIGN = 40;

/** What differs between the cohorts of one study. */
interface Site {
  name: string;
  kind: "internal" | "external";
  parts: { split: Split; n: number }[];
  prevalence: number;
  rho: number;
  covariate: { mean: number; scale: number };
  acquisition: Acquisition;
  habitK: number;
}

function sites(s: Scenario): Site[] {
  const inner: Site = {
    name: "internal",
    kind: "internal",
    parts: (["pretrain", "train", "val", "test"] as const).map((split) => ({
      split,
      n: s.internal[split],
    })),
    prevalence: s.label.prevalence,
    rho: s.crossModalCorrelation,
    covariate: { mean: 0, scale: 1 },
    acquisition: s.internal.acquisition,
    habitK: s.ehr.codingHabit,
  };
  const outer = s.externals.map((e): Site => {
    const a = e.shift.acquisition, base = s.internal.acquisition;
    return {
      name: e.name,
      kind: "external",
      parts: [{ split: "test", n: e.size }],
      prevalence: e.shift.prevalence ?? s.label.prevalence,
      rho: e.shift.crossModalCorrelation ?? s.crossModalCorrelation,
      covariate: e.shift.covariate,
      acquisition: {
        noiseHu: a.noiseHu ?? base.noiseHu,
        blur: a.blur ?? base.blur,
        spacingMm: a.spacingMm ?? base.spacingMm,
        offsetHu: a.offsetHu ?? base.offsetHu,
      },
      habitK: s.ehr.codingHabit * (1 - e.shift.concept),
    };
  });
  return [inner, ...outer];
}

/**
 * Generates the internal cohort and every external cohort of a scenario.
 * The same (scenario, seed) always gives byte-identical cohorts.
 *
 * @example
 * ```ts
 * const set = generateCohorts(preset("paper"), 1);
 * set.internal.truth?.bayesAuc.full;
 * ```
 */
export function generateCohorts(s: Scenario, seed: number): CohortSet {
  const streams = new RngStreams(seed);
  const bio = makeBiology(s, streams);
  const fields = s.imaging.level === "volume"
    ? makeVolumeFields(streams)
    : null;
  const cohorts = sites(s).map((site) =>
    generateSite(s, site, bio, fields, streams.child(`sim/cohort/${site.name}`))
  );
  return { internal: cohorts[0], externals: cohorts.slice(1) };
}

/**
 * Hands out views into 64k-float blocks. In features mode a patient needs
 * about eight small arrays; allocating each separately made generation
 * allocation-bound. Views share a buffer: read them through the view
 * (`byteOffset`, `length`), never through `.buffer` alone.
 */
function blockAlloc(): Alloc {
  const BLOCK = 1 << 16;
  let block = new Float32Array(BLOCK), used = 0;
  return (n: number) => {
    if (n > BLOCK / 4) return new Float32Array(n);
    if (used + n > BLOCK) {
      block = new Float32Array(BLOCK);
      used = 0;
    }
    used += n;
    return block.subarray(used - n, used);
  };
}

function pad(i: number): string {
  return String(i).padStart(6, "0");
}

function generateSite(
  s: Scenario,
  site: Site,
  bio: Biology,
  fields: VolumeFields | null,
  streams: RngStreams,
): Cohort {
  const rng = new FastRng(streams.get("patients"));
  // Scans draw from their own stream, so that the same seed gives the same
  // patients (latents, labels, EHR, missingness) at both imaging levels:
  // `features` and `volume` are two views of one cohort.
  const scanRng = new FastRng(streams.get("scans"));
  const alloc = blockAlloc();
  const model = riskModel(s);
  const n = site.parts.reduce((t, p) => t + p.n, 0);
  const latents: Latents[] = [];
  const inputs: RiskInputs[] = [];
  const logits = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const z = drawLatents(
      rng,
      bio,
      site.covariate,
      s.demographics.maleFraction,
      alloc,
    );
    latents.push(z);
    const r = riskInputs(bio, z);
    inputs.push(r);
    logits[i] = riskLogit(model, r);
  }
  const intercept = calibrateIntercept(logits, site.prevalence);

  const volume = s.imaging.level === "volume";
  const size = s.imaging.volumeSize;
  const acq = site.acquisition;
  const patients: Patient[] = [];
  const imgScratch = new Float64Array(NODULE_PROPERTIES);
  const ehrScratch = new Float64Array(s.ehr.dim);
  const ceiling: CeilingPatient[] = [];
  let i = 0;
  for (const part of site.parts) {
    const miss: Missingness = part.split === "pretrain"
      ? s.missingness.pretrain
      : s.missingness.labeled;
    for (let j = 0; j < part.n; j++, i++) {
      const z = latents[i], r = inputs[i];
      const p = sigmoid(logits[i] + intercept);
      const malignant = rng.bernoulli(p);
      const flip = rng.bernoulli(s.label.labelNoise);
      const label: 0 | 1 = malignant !== flip ? 1 : 0;
      const u = rng.uniform();
      const hasScan = u >= miss.noScan;
      const hasEhr = u < miss.noScan || u >= miss.noScan + miss.noEhr;
      const habit = habitValue(rng, linearScore(model, r), site.habitK);
      const id = `${site.name}-${pad(i)}`;

      const scans: Scan[] = [];
      if (hasScan) {
        const m = imageSource(bio, z, site.rho, imgScratch);
        // Growth follows the risk, not the realised label: a label drawn
        // from p must not be readable from the images beyond p itself.
        const vdt = VDT_BENIGN * (VDT_MALIGNANT / VDT_BENIGN) ** p *
          Math.exp(0.4 * scanRng.normal());
        const anatomy = volume ? drawAnatomy(scanRng, size) : null;
        let t = 0;
        for (let k = 0; k < s.imaging.scansPerPatient; k++) {
          if (k > 0) {
            t -= s.imaging.meanIntervalMonths * Math.log(1 - scanRng.uniform());
          }
          const g = growthFactor(t, vdt);
          const nod = noduleFromSource(m, g);
          const c = anatomy?.center ??
            [size / 2 - 0.5, size / 2 - 0.5, size / 2 - 0.5];
          const scan: SyntheticScan = {
            id: `${id}-s${k}`,
            time: t,
            // Volumes go through the same HU window as real ROIs
            // (core/hu.ts; real/ defaults to it too), so both paths hand
            // the model clipped HU and the model's one standardization.
            data: anatomy && fields
              ? windowHu(
                renderVolume(fields, size, anatomy, nod, acq, scanRng),
                DEFAULT_HU_WINDOW,
                false,
              )
              : scanFeatures(m, g, acq, s.imaging.noise, bio, scanRng, alloc),
            nodule: {
              centerMm: c.map((v) => (v - (size - 1) / 2) * acq.spacingMm) as [
                number,
                number,
                number,
              ],
              diameterMm: nod.diameterMm,
            },
            properties: nod,
            spacingMm: acq.spacingMm,
          };
          scans.push(scan);
        }
      }

      const ehr: EhrRecord[] = [];
      if (hasEhr) {
        const m = ehrSource(bio, z, site.rho, ehrScratch);
        let t = -rng.range(0, 6);
        for (let k = 0; k < s.ehr.crossSections; k++) {
          if (k > 0) {
            t -= s.imaging.meanIntervalMonths * Math.log(1 - rng.uniform());
          }
          ehr.push({
            time: t,
            values: ehrValues(m, habit, s.ehr.noise, bio, rng, alloc),
          });
        }
      }

      const d = s.demographics;
      const labeled = part.split !== "pretrain";
      patients.push({
        id,
        split: part.split,
        label: labeled ? label : null,
        scans,
        ehr,
        demographics: hasEhr
          ? {
            age: Math.round(10 * (d.ageMean + d.ageSd * z.ageZ)) / 10,
            sex: z.sex,
            packYears:
              Math.round(10 * d.packYearsMedian * Math.exp(0.8 * z.packZ)) / 10,
          }
          : { age: null, sex: null, packYears: null },
        truth: {
          zShared: z.zShared,
          zImage: z.zImage,
          zEhr: z.zEhr,
          pMalignant: p,
        },
      });
      if (part.split === "test") {
        ceiling.push({
          r,
          p,
          label,
          habit,
          z: { shared: z.zShared, image: z.zImage },
        });
      }
    }
  }

  const bayesAuc = ceiling.length > 0
    ? bayesCeilings(ceiling, {
      bio,
      model,
      intercept,
      rho: site.rho,
      covariate: site.covariate,
      habitK: site.habitK,
      rng: streams.get("ceiling"),
      // The image ceiling from what the scans show: the drawn nodule
      // properties, rendered (volume) or measured (features).
      imageRows: imageRows(bio, site.rho, s.imaging.level),
    })
    : { full: NaN, image: NaN, ehr: NaN };
  return {
    name: site.name,
    kind: site.kind,
    source: "synthetic",
    imaging: {
      mode: s.imaging.level,
      shape: volume ? [size, size, size] : [s.imaging.featureDim],
    },
    ehrDim: s.ehr.dim,
    ehrNames: ehrNames(s.ehr.dim),
    patients,
    truth: { bayesAuc },
  };
}
