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
import { parse as parseYaml } from "yaml";
import { UserError } from "../core/errors.ts";
import { readRegularText, yamlErrorLine } from "../core/files.ts";

/** How the malignancy logit is built from the latents. */
export type LabelMechanism = "shared-cause" | "independent-causes" | "custom";

/** Shape of the risk function on top of the weighted latent score. */
export type LabelNonlinearity = "none" | "interaction" | "threshold";

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
    level: "features" | "volume";
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

/**
 * Defaults: a moderate shared-cause study in features mode with one
 * unshifted external site.
 *
 * @example
 * ```ts
 * const s = DEFAULT_SCENARIO.internal.train; // 400
 * ```
 */
export const DEFAULT_SCENARIO: Scenario = {
  name: "default",
  latent: { sharedDim: 4, imageDim: 4, ehrDim: 4 },
  crossModalCorrelation: 0.5,
  label: {
    mechanism: "shared-cause",
    weights: { shared: 1, image: 0, ehr: 0 },
    strength: 2,
    nonlinearity: "none",
    prevalence: 0.3,
    labelNoise: 0,
  },
  demographics: {
    ageMean: 63,
    ageSd: 7,
    maleFraction: 0.55,
    packYearsMedian: 30,
    riskWeight: 0.3,
  },
  imaging: {
    level: "features",
    featureDim: 32,
    volumeSize: 32,
    scansPerPatient: 1,
    meanIntervalMonths: 12,
    noise: 0.3,
  },
  ehr: { dim: 64, crossSections: 2, noise: 0.3, codingHabit: 0, habitDims: 8 },
  missingness: {
    pretrain: { noEhr: 0, noScan: 0 },
    labeled: { noEhr: 0, noScan: 0 },
  },
  internal: {
    pretrain: 2000,
    train: 400,
    val: 200,
    test: 400,
    acquisition: { noiseHu: 20, blur: 0.7, spacingMm: 1, offsetHu: 0 },
  },
  externals: [{
    name: "external",
    size: 400,
    shift: defaultShift(),
  }],
};

function defaultShift(): Shift {
  return {
    prevalence: null,
    covariate: { mean: 0, scale: 1 },
    acquisition: { noiseHu: null, blur: null, spacingMm: null, offsetHu: null },
    concept: 0,
    crossModalCorrelation: null,
  };
}

type Leaf =
  | { t: "num"; min: number; max: number; int?: boolean; nullable?: boolean }
  | { t: "enum"; values: readonly string[] }
  | { t: "str" };
type Spec = Leaf | { t: "obj"; keys: Record<string, Spec> } | {
  t: "arr";
  item: Spec;
  make: () => unknown;
};

const num = (min: number, max: number, nullable = false): Leaf => ({
  t: "num",
  min,
  max,
  nullable,
});
const int = (min: number, max: number): Leaf => ({
  t: "num",
  min,
  max,
  int: true,
});
const obj = (keys: Record<string, Spec>): Spec => ({ t: "obj", keys });
const MAX_N = 10_000_000;

const ACQ_SPEC = {
  noiseHu: num(0, 500),
  blur: num(0, 3),
  spacingMm: num(0.25, 5),
  offsetHu: num(-500, 500),
};
const MISS_SPEC = obj({ noEhr: num(0, 1), noScan: num(0, 1) });

const SPEC: Spec = obj({
  name: { t: "str" },
  latent: obj({
    sharedDim: int(1, 64),
    imageDim: int(1, 64),
    ehrDim: int(1, 64),
  }),
  crossModalCorrelation: num(0, 1),
  label: obj({
    mechanism: {
      t: "enum",
      values: ["shared-cause", "independent-causes", "custom"],
    },
    weights: obj({
      shared: num(0, 100),
      image: num(0, 100),
      ehr: num(0, 100),
    }),
    strength: num(0, 50),
    nonlinearity: { t: "enum", values: ["none", "interaction", "threshold"] },
    prevalence: num(0.001, 0.999),
    labelNoise: num(0, 0.5),
  }),
  demographics: obj({
    ageMean: num(18, 100),
    ageSd: num(0, 30),
    maleFraction: num(0, 1),
    packYearsMedian: num(0, 200),
    riskWeight: num(0, 10),
  }),
  imaging: obj({
    level: { t: "enum", values: ["features", "volume"] },
    featureDim: int(8, 1024),
    volumeSize: int(8, 64),
    scansPerPatient: int(1, 32),
    meanIntervalMonths: num(0.1, 120),
    noise: num(0, 10),
  }),
  ehr: obj({
    dim: int(8, 4096),
    crossSections: int(1, 32),
    noise: num(0, 10),
    codingHabit: num(0, 0.9),
    habitDims: int(1, 4096),
  }),
  missingness: obj({ pretrain: MISS_SPEC, labeled: MISS_SPEC }),
  internal: obj({
    pretrain: int(0, MAX_N),
    train: int(0, MAX_N),
    val: int(0, MAX_N),
    test: int(0, MAX_N),
    acquisition: obj(ACQ_SPEC),
  }),
  externals: {
    t: "arr",
    make: () => ({ name: "external", size: 400, shift: defaultShift() }),
    item: obj({
      name: { t: "str" },
      size: int(1, MAX_N),
      shift: obj({
        prevalence: num(0.001, 0.999, true),
        covariate: obj({ mean: num(-10, 10), scale: num(0.01, 10) }),
        acquisition: obj({
          noiseHu: num(0, 500, true),
          blur: num(0, 3, true),
          spacingMm: num(0.25, 5, true),
          offsetHu: num(-500, 500, true),
        }),
        concept: num(0, 1),
        crossModalCorrelation: num(0, 1, true),
      }),
    }),
  },
});

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function fmtRange(l: Extract<Leaf, { t: "num" }>): string {
  const r = `[${l.min}, ${l.max}]`;
  return (l.int ? `an integer in ${r}` : `a number in ${r}`) +
    (l.nullable ? " or null" : "");
}

/** Merges `input` onto `base` under `spec`, throwing on any bad key/value. */
function merge(
  spec: Spec,
  base: unknown,
  input: unknown,
  path: string,
  source: string,
): unknown {
  const where = `${source}: ${path || "(top level)"}`;
  switch (spec.t) {
    case "obj": {
      if (!isPlainObject(input)) {
        throw new UserError(`${where} must be a mapping of keys`);
      }
      const out: Record<string, unknown> = {
        ...(base as Record<string, unknown>),
      };
      const allowed = Object.keys(spec.keys);
      for (const [k, v] of Object.entries(input)) {
        const sub = spec.keys[k];
        const p = path ? `${path}.${k}` : k;
        if (!sub) {
          throw new UserError(
            `${source}: unknown key "${p}" (allowed: ${allowed.join(", ")})`,
          );
        }
        out[k] = merge(sub, out[k], v, p, source);
      }
      return out;
    }
    case "arr": {
      if (!Array.isArray(input)) {
        throw new UserError(`${where} must be a list`);
      }
      return input.map((v, i) =>
        merge(spec.item, spec.make(), v, `${path}[${i}]`, source)
      );
    }
    case "str":
      if (typeof input !== "string" || input.length === 0) {
        throw new UserError(`${where} must be a non-empty string`);
      }
      return input;
    case "enum":
      if (typeof input !== "string" || !spec.values.includes(input)) {
        throw new UserError(
          `${where} = ${JSON.stringify(input)} is not allowed (one of: ${
            spec.values.join(", ")
          })`,
        );
      }
      return input;
    case "num": {
      if (input === null && spec.nullable) return null;
      if (typeof input !== "number" || !Number.isFinite(input)) {
        throw new UserError(
          `${where} = ${JSON.stringify(input)} is not ${fmtRange(spec)}`,
        );
      }
      if (input < spec.min || input > spec.max) {
        throw new UserError(
          `${where} = ${input} is out of range [${spec.min}, ${spec.max}]`,
        );
      }
      if (spec.int && !Number.isInteger(input)) {
        throw new UserError(`${where} = ${input} must be ${fmtRange(spec)}`);
      }
      return input;
    }
  }
}

/** Checks that involve more than one key. */
function checkJoint(s: Scenario, source: string): void {
  for (const part of ["pretrain", "labeled"] as const) {
    const m = s.missingness[part];
    if (m.noEhr + m.noScan > 1) {
      throw new UserError(
        `${source}: missingness.${part}.noEhr + noScan = ${
          m.noEhr + m.noScan
        } exceeds 1 (a patient never lacks both modalities)`,
      );
    }
  }
  if (s.ehr.habitDims > s.ehr.dim) {
    throw new UserError(
      `${source}: ehr.habitDims = ${s.ehr.habitDims} is out of range [1, ${s.ehr.dim}] (ehr.dim)`,
    );
  }
  if (s.imaging.level === "volume" && s.imaging.featureDim < 8) {
    throw new UserError(`${source}: imaging.featureDim must be >= 8`);
  }
  const names = new Set<string>(["internal"]);
  for (const e of s.externals) {
    if (names.has(e.name)) {
      throw new UserError(
        `${source}: externals name "${e.name}" is used twice (names must be unique and not "internal")`,
      );
    }
    names.add(e.name);
  }
  const w = effectiveWeights(s);
  if (w.shared + w.image + w.ehr === 0) {
    throw new UserError(
      `${source}: label.weights are all 0 (at least one must be > 0 when mechanism = custom)`,
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
  const s = merge(
    SPEC,
    structuredClone(DEFAULT_SCENARIO),
    partial ?? {},
    "",
    source,
  ) as Scenario;
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
  const text = readRegularText(path, "scenario (YAML)");
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new UserError(`${path}: ${yamlErrorLine(e)}`);
  }
  return resolveScenario(data, path);
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
