/**
 * Named scenarios. Each is a partial scenario resolved onto the defaults,
 * so a preset only states what makes it what it is.
 *
 * @module
 */
import { UserError } from "../core/errors.ts";
import { resolveScenario, type Scenario } from "./scenario.ts";

/**
 * The presets as partial scenarios (what a YAML file would hold), by name.
 * Resolve one with {@link preset}.
 *
 * @example
 * ```ts
 * "paper" in PRESETS; // true
 * ```
 */
export const PRESETS: Readonly<Record<string, unknown>> = {
  "shared-cause": {
    name: "shared-cause",
    label: { mechanism: "shared-cause" },
  },
  "independent-causes": {
    name: "independent-causes",
    label: { mechanism: "independent-causes" },
  },
  // Mirrors Li et al. 2025: imaging alone is weak-moderate, EHR adds much at
  // home, partly through a site coding habit that does not travel, so the
  // external site (different scanner, no habit) reverses the ranking.
  paper: {
    name: "paper",
    crossModalCorrelation: 0.3,
    label: {
      mechanism: "custom",
      weights: { shared: 0.3, image: 0.6, ehr: 0.9 },
      strength: 3.5,
      prevalence: 0.3,
    },
    ehr: { codingHabit: 0.85, habitDims: 8 },
    internal: { pretrain: 3000, train: 600, val: 200, test: 600 },
    externals: [{
      name: "external",
      size: 600,
      shift: {
        concept: 1,
        acquisition: { noiseHu: 35, blur: 1.2, offsetHu: 15 },
        covariate: { mean: 0.2, scale: 1 },
      },
    }],
  },
  "missing-ehr": {
    name: "missing-ehr",
    label: {
      mechanism: "custom",
      weights: { shared: 1, image: 0.5, ehr: 0.5 },
    },
    missingness: {
      pretrain: { noEhr: 0.5, noScan: 0 },
      labeled: { noEhr: 0.3, noScan: 0 },
    },
  },
};

/**
 * The preset names, in a stable order.
 *
 * @example
 * ```ts
 * PRESET_NAMES.includes("paper"); // true
 * ```
 */
export const PRESET_NAMES: readonly string[] = Object.keys(PRESETS);

/**
 * A resolved copy of a named preset; an unknown name lists the valid ones.
 *
 * @example
 * ```ts
 * const s = preset("paper");
 * ```
 */
export function preset(name: string): Scenario {
  const raw = PRESETS[name];
  if (raw === undefined) {
    throw new UserError(
      `unknown scenario preset "${name}" (one of: ${PRESET_NAMES.join(", ")})`,
    );
  }
  return resolveScenario(structuredClone(raw), `preset ${name}`);
}
