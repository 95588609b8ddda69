/**
 * Scenarios: the typed, YAML-loadable description of a synthetic study.
 *
 * A scenario is plain data. {@link resolveScenario} deep-merges a partial
 * object onto {@link DEFAULT_SCENARIO} and checks every key against a schema,
 * so a typo or an out-of-range value fails with a message that names the key
 * and what is allowed, instead of silently generating a different study.
 *
 * @module
 */
import {
  configError,
  defaults,
  int,
  list,
  loadConfig,
  nullable,
  num,
  obj,
  oneOf,
  resolveConfig,
  type Schema,
  str,
} from "../core/schema.ts";
import { UserError } from "../core/errors.ts";

/**
 * The label mechanisms.
 *
 * @example
 * ```ts
 * LABEL_MECHANISMS.includes("custom"); // true
 * ```
 */
export const LABEL_MECHANISMS = [
  "shared-cause",
  "independent-causes",
  "custom",
] as const;
/** How the malignancy logit is built from the latents. */
export type LabelMechanism = typeof LABEL_MECHANISMS[number];

/**
 * The shapes of the risk function.
 *
 * @example
 * ```ts
 * LABEL_NONLINEARITIES[0]; // "none"
 * ```
 */
export const LABEL_NONLINEARITIES = [
  "none",
  "interaction",
  "threshold",
] as const;
/** Shape of the risk function on top of the weighted latent score. */
export type LabelNonlinearity = typeof LABEL_NONLINEARITIES[number];

/**
 * The image levels: a detector-like feature vector or a 3D volume.
 *
 * @example
 * ```ts
 * IMAGING_LEVELS; // ["features", "volume"]
 * ```
 */
export const IMAGING_LEVELS = ["features", "volume"] as const;
/** How images are generated (see {@link Scenario.imaging}). */
export type ImagingLevel = typeof IMAGING_LEVELS[number];

/** Scanner acquisition parameters of one site. */
export interface Acquisition {
  /** Standard deviation of reconstruction noise, HU. */
  noiseHu: number;
  /** Reconstruction-kernel blur, Gaussian sigma in voxels (0 = sharp). */
  blur: number;
  /** Isotropic voxel spacing, mm. */
  spacingMm: number;
  /** Calibration offset added to every voxel, HU. */
  offsetHu: number;
}

/** An external site's acquisition: null fields keep the internal value. */
export interface AcquisitionShift {
  /** Null = as internal. */
  noiseHu: number | null;
  /** Null = as internal. */
  blur: number | null;
  /** Null = as internal. */
  spacingMm: number | null;
  /** Null = as internal. */
  offsetHu: number | null;
}

/** How an external cohort differs from the internal one. Each is independent. */
export interface Shift {
  /** Target prevalence abroad; null = the internal prevalence. */
  prevalence: number | null;
  /** Covariate shift: every latent is drawn as mean + scale * N(0, 1). */
  covariate: { mean: number; scale: number };
  /** Scanner differences. */
  acquisition: AcquisitionShift;
  /**
   * Concept shift, 0..1: the fraction of the internal site's EHR coding habit
   * (see {@link Scenario.ehr}) that is replaced abroad by an unrelated
   * variable. Changes P(y | EHR), leaves P(y | image) alone.
   */
  concept: number;
  /** Cross-modal correlation abroad; null = the internal value. */
  crossModalCorrelation: number | null;
}

/** One external cohort: all its patients are labeled test patients. */
export interface ExternalSpec {
  /** Cohort name, e.g. "external-A". */
  name: string;
  /** Number of patients. */
  size: number;
  /** How this site differs from the internal one. */
  shift: Shift;
}

/** Missingness of one part of a cohort. A patient never lacks both. */
export interface Missingness {
  /** Probability that a patient has no EHR. */
  noEhr: number;
  /** Probability that a patient has no scan. */
  noScan: number;
}

/** The full description of a synthetic study. */
export interface Scenario {
  /** A label for reports. */
  name: string;
  /** Latent dimensions: shared (cause both modalities), image-only, EHR-only. */
  latent: { sharedDim: number; imageDim: number; ehrDim: number };
  /**
   * 0..1: the share of each modality's generating variance that comes from
   * the shared latents. 0 = independent modalities, 1 = two views of one cause.
   */
  crossModalCorrelation: number;
  /** The label mechanism. */
  label: {
    /**
     * `shared-cause`: the logit uses z_s only; `independent-causes`: z_i and
     * z_e equally, none of z_s; `custom`: {@link Scenario.label}.weights.
     */
    mechanism: LabelMechanism;
    /** Relative weights of z_s, z_i, z_e (used when mechanism = custom). */
    weights: { shared: number; image: number; ehr: number };
    /** Logit scale of the latent risk score (its standard deviation). */
    strength: number;
    /** Shape of the risk function. */
    nonlinearity: LabelNonlinearity;
    /** Fraction malignant; the logit intercept is calibrated to it. */
    prevalence: number;
    /** Probability that an observed label is flipped. */
    labelNoise: number;
  };
  /** Demographics tied to risk, as in clinical models (Brock, PLCO). */
  demographics: {
    /** Mean age at the first scan, years. */
    ageMean: number;
    /** Age standard deviation, years. */
    ageSd: number;
    /** Fraction male. */
    maleFraction: number;
    /** Median smoking pack-years (log-normal). */
    packYearsMedian: number;
    /** Logit weight of the standardised age + smoking risk score. */
    riskWeight: number;
  };
  /** Image generation. */
  imaging: {
    /** `volume`: 3D HU volumes; `features`: a detector-like feature vector. */
    level: ImagingLevel;
    /** Length of a feature vector (features mode; also the image source size). */
    featureDim: number;
    /** Edge of the cubic volume in voxels (volume mode). */
    volumeSize: number;
    /** Scans per patient (T). */
    scansPerPatient: number;
    /** Mean months between scans (exponential gaps). */
    meanIntervalMonths: number;
    /** Feature noise standard deviation (features mode). */
    noise: number;
  };
  /** EHR generation. */
  ehr: {
    /** Signature vector length. */
    dim: number;
    /** Cross-sections per patient. */
    crossSections: number;
    /** Noise standard deviation per value and cross-section. */
    noise: number;
    /**
     * Internal-site coding habit, 0..0.9: the share of variance of the habit
     * dimensions that follows the patient's latent risk score (which includes
     * the image-only latents, as if scan findings were coded into the EHR).
     */
    codingHabit: number;
    /** How many EHR dimensions (the last ones) carry the coding habit. */
    habitDims: number;
  };
  /** Missingness in the unlabeled pool and in labeled sets. */
  missingness: { pretrain: Missingness; labeled: Missingness };
  /** Internal cohort sizes and scanner. */
  internal: {
    pretrain: number;
    train: number;
    val: number;
    test: number;
    acquisition: Acquisition;
  };
  /** External cohorts. */
  externals: ExternalSpec[];
}

const MAX_N = 10_000_000;

// The schema: one line per field with its range and default. Adding a
// scenario field = adding it to the interface above and one line here.
const ACQUISITION = obj<Acquisition>({
  noiseHu: num(0, 500, 20),
  blur: num(0, 3, 0.7),
  spacingMm: num(0.25, 5, 1),
  offsetHu: num(-500, 500, 0),
});
const MISSINGNESS = obj<Missingness>({
  noEhr: num(0, 1, 0),
  noScan: num(0, 1, 0),
});
const SHIFT = obj<Shift>({
  prevalence: nullable(num(0.001, 0.999)),
  covariate: obj({ mean: num(-10, 10, 0), scale: num(0.01, 10, 1) }),
  acquisition: obj<AcquisitionShift>({
    noiseHu: nullable(num(0, 500)),
    blur: nullable(num(0, 3)),
    spacingMm: nullable(num(0.25, 5)),
    offsetHu: nullable(num(-500, 500)),
  }),
  concept: num(0, 1, 0),
  crossModalCorrelation: nullable(num(0, 1)),
});
// A listed external is merged onto an unshifted site of 400 patients.
const EXTERNAL = obj<ExternalSpec>({
  name: str("external"),
  size: int(1, MAX_N, 400),
  shift: SHIFT,
});

/**
 * The scenario schema (ranges and defaults of every field).
 *
 * @example
 * ```ts
 * const s = resolveConfig(SCENARIO_SCHEMA, { crossModalCorrelation: 0.8 }, "cli");
 * ```
 */
export const SCENARIO_SCHEMA: Schema<Scenario> = obj<Scenario>({
  name: str("default"),
  latent: obj({
    sharedDim: int(1, 64, 4),
    imageDim: int(1, 64, 4),
    ehrDim: int(1, 64, 4),
  }),
  crossModalCorrelation: num(0, 1, 0.5),
  label: obj({
    mechanism: oneOf(LABEL_MECHANISMS, "shared-cause"),
    weights: obj({
      shared: num(0, 100, 1),
      image: num(0, 100, 0),
      ehr: num(0, 100, 0),
    }),
    strength: num(0, 50, 2),
    nonlinearity: oneOf(LABEL_NONLINEARITIES, "none"),
    prevalence: num(0.001, 0.999, 0.3),
    labelNoise: num(0, 0.5, 0),
  }),
  demographics: obj({
    ageMean: num(18, 100, 63),
    ageSd: num(0, 30, 7),
    maleFraction: num(0, 1, 0.55),
    packYearsMedian: num(0, 200, 30),
    riskWeight: num(0, 10, 0.3),
  }),
  imaging: obj({
    level: oneOf(IMAGING_LEVELS, "features"),
    featureDim: int(8, 1024, 32),
    volumeSize: int(8, 64, 32),
    scansPerPatient: int(1, 32, 1),
    meanIntervalMonths: num(0.1, 120, 12),
    noise: num(0, 10, 0.3),
  }),
  ehr: obj({
    dim: int(8, 4096, 64),
    crossSections: int(1, 32, 2),
    noise: num(0, 10, 0.3),
    codingHabit: num(0, 0.9, 0),
    habitDims: int(1, 4096, 8),
  }),
  missingness: obj({ pretrain: MISSINGNESS, labeled: MISSINGNESS }),
  internal: obj({
    pretrain: int(0, MAX_N, 2000),
    train: int(0, MAX_N, 400),
    val: int(0, MAX_N, 200),
    test: int(0, MAX_N, 400),
    acquisition: ACQUISITION,
  }),
  externals: list(EXTERNAL, { def: [defaults(EXTERNAL)] }),
});

/**
 * Defaults: a moderate shared-cause study in features mode with one
 * unshifted external site (the defaults of {@link SCENARIO_SCHEMA}).
 *
 * @example
 * ```ts
 * const s = DEFAULT_SCENARIO.internal.train; // 400
 * ```
 */
export const DEFAULT_SCENARIO: Scenario = defaults(SCENARIO_SCHEMA);

/** Checks that involve more than one key. */
function checkJoint(s: Scenario, source: string): void {
  for (const part of ["pretrain", "labeled"] as const) {
    const m = s.missingness[part];
    if (m.noEhr + m.noScan > 1) {
      throw configError(
        { source, path: `missingness.${part}.noEhr + noScan` },
        "at most 1 (a patient never lacks both modalities)",
        m.noEhr + m.noScan,
      );
    }
  }
  if (s.ehr.habitDims > s.ehr.dim) {
    throw configError(
      { source, path: "ehr.habitDims" },
      `an integer in [1, ${s.ehr.dim}] (at most ehr.dim)`,
      s.ehr.habitDims,
    );
  }
  const names = new Set<string>(["internal"]);
  for (const e of s.externals) {
    if (names.has(e.name)) {
      throw configError(
        { source, path: "externals[].name" },
        'unique names other than "internal"',
        e.name,
      );
    }
    names.add(e.name);
  }
  const w = effectiveWeights(s);
  if (w.shared + w.image + w.ehr === 0) {
    throw configError(
      { source, path: "label.weights" },
      "at least one weight > 0 when mechanism = custom",
      s.label.weights,
    );
  }
}

/**
 * The label weights of z_s, z_i, z_e that the mechanism implies, normalised
 * to unit length so that `label.strength` alone sets the logit scale.
 *
 * @example
 * ```ts
 * effectiveWeights(preset("independent-causes")); // {shared: 0, image: .707, ehr: .707}
 * ```
 */
export function effectiveWeights(
  s: Scenario,
): { shared: number; image: number; ehr: number } {
  const raw = s.label.mechanism === "shared-cause"
    ? { shared: 1, image: 0, ehr: 0 }
    : s.label.mechanism === "independent-causes"
    ? { shared: 0, image: 1, ehr: 1 }
    : s.label.weights;
  const n = Math.hypot(raw.shared, raw.image, raw.ehr);
  if (n === 0) return { shared: 0, image: 0, ehr: 0 };
  return { shared: raw.shared / n, image: raw.image / n, ehr: raw.ehr / n };
}

/**
 * Deep-merges `partial` onto {@link DEFAULT_SCENARIO} and validates it.
 * Lists (externals) replace the default list; each item is merged onto an
 * unshifted external site. `source` names the input in error messages.
 *
 * @example
 * ```ts
 * const s = resolveScenario({ crossModalCorrelation: 0.8 }, "cli");
 * resolveScenario({ labl: {} }, "s.yaml"); // throws: unknown key "labl" (allowed: ...)
 * ```
 */
export function resolveScenario(partial: unknown, source: string): Scenario {
  const s = resolveConfig(SCENARIO_SCHEMA, partial, source);
  checkJoint(s, source);
  return s;
}

/**
 * Reads a scenario from a YAML (or JSON) file and resolves it.
 *
 * @example
 * ```ts
 * const s = loadScenario("scenarios/paper.yaml");
 * ```
 */
export function loadScenario(path: string): Scenario {
  const s = loadConfig(SCENARIO_SCHEMA, path, "scenario (YAML)");
  checkJoint(s, path);
  return s;
}

/**
 * Returns a copy of `s` with dotted-path overrides applied and validated,
 * as a sweep does: `{"label.prevalence": 0.2, "externals.0.shift.concept": 1}`.
 *
 * @example
 * ```ts
 * const t = withOverrides(s, { crossModalCorrelation: 0.9 });
 * ```
 */
export function withOverrides(
  s: Scenario,
  overrides: Record<string, unknown>,
): Scenario {
  const copy = structuredClone(s) as unknown as Record<string, unknown>;
  for (const [path, value] of Object.entries(overrides)) {
    const parts = path.split(".");
    let node: unknown = copy;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = (node as Record<string, unknown>)[parts[i]];
      if (typeof next !== "object" || next === null) {
        throw new UserError(
          `override "${path}": "${
            parts.slice(0, i + 1).join(".")
          }" is not a section of the scenario`,
        );
      }
      node = next;
    }
    (node as Record<string, unknown>)[parts[parts.length - 1]] = value;
  }
  return resolveScenario(copy, "overrides");
}
