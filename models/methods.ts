/**
 * The method registry: every method the study can run, as data. A method
 * is the modalities its model reads, the self-supervised objectives it
 * pretrains with (none for supervised baselines) and the kind of model it
 * finetunes. Adding a method means adding one entry here (and, for a new
 * objective, its loss file); everything else reads this table.
 *
 * @module
 */
import { UserError } from "../core/errors.ts";

/** Self-supervised objectives a method can pretrain with. */
export type Objective = "jepa" | "contrastive" | "radiomics";

/** One method. */
export interface MethodSpec {
  /** Modalities the model reads. */
  uses: { image: boolean; ehr: boolean };
  /** Pretraining objectives, summed; empty: no pretraining. */
  objectives: readonly Objective[];
  /**
   * `encoder`: the transformer encoder, finetuned per `finetune.protocol`;
   * `logistic`: ridge logistic regression on hand-made raw features, no
   * deep model.
   */
  model: "encoder" | "logistic";
  /**
   * The method measures nodules in voxels (core/radiomics.ts), so it runs
   * on volume-level cohorts only.
   */
  volumeOnly?: boolean;
  /** One line for `--help` and the README. */
  description: string;
}

const BOTH = { image: true, ehr: true };
const IMAGE = { image: true, ehr: false };
const EHR = { image: false, ehr: true };

/**
 * Every method, by name.
 *
 * @example
 * ```ts
 * METHOD_SPECS.jepa.objectives; // ["jepa"]
 * ```
 */
export const METHOD_SPECS = {
  "imaging-only": {
    uses: IMAGE,
    objectives: [],
    model: "encoder",
    description: "encoder on the scans alone, supervised",
  },
  "ehr-only": {
    uses: EHR,
    objectives: [],
    model: "encoder",
    description: "encoder on the EHR alone, supervised",
  },
  multimodal: {
    uses: BOTH,
    objectives: [],
    model: "encoder",
    description:
      "encoder on scans + EHR from random init, supervised (the unregularized baseline)",
  },
  contrastive: {
    uses: BOTH,
    objectives: ["contrastive"],
    model: "encoder",
    description: "CLIP-style image-EHR InfoNCE pretraining, then finetuning",
  },
  jepa: {
    uses: BOTH,
    objectives: ["jepa"],
    model: "encoder",
    description: "multimodal JEPA pretraining, then finetuning",
  },
  "jepa+contrastive": {
    uses: BOTH,
    objectives: ["jepa", "contrastive"],
    model: "encoder",
    description: "JEPA plus InfoNCE pretraining, then finetuning",
  },
  "jepa-image": {
    uses: IMAGE,
    objectives: ["jepa"],
    model: "encoder",
    description:
      "JEPA pretraining on the scans alone (hidden blocks of a volume predicted from the rest), then imaging-only finetuning",
  },
  "radiomics-image": {
    uses: IMAGE,
    objectives: ["radiomics"],
    model: "encoder",
    volumeOnly: true,
    description:
      "the image encoder pretrained to regress the 16 nodule measurements of logreg-volume from unlabeled volumes (models/radiomics_pretext.ts), then imaging-only finetuning; volume mode only",
  },
  "logreg-image": {
    uses: IMAGE,
    objectives: [],
    model: "logistic",
    description: "logistic regression on the latest scan's features",
  },
  "logreg-ehr": {
    uses: EHR,
    objectives: [],
    model: "logistic",
    description: "logistic regression on the latest EHR record + demographics",
  },
  "logreg-volume": {
    uses: IMAGE,
    objectives: [],
    model: "logistic",
    volumeOnly: true,
    description:
      "logistic regression on 16 nodule measurements of the latest volume (core/radiomics.ts: volume, solid part, density, edge, shape, surroundings); volume mode only",
  },
  "logreg-both": {
    uses: BOTH,
    objectives: [],
    model: "logistic",
    description: "logistic regression on scan, EHR and demographics features",
  },
} as const satisfies Record<string, MethodSpec>;

/** One method's name. */
export type Method = keyof typeof METHOD_SPECS;

/**
 * The method names, in registry order.
 *
 * @example
 * ```ts
 * for (const method of METHODS) console.log(method, METHOD_SPECS[method].description);
 * ```
 */
export const METHODS: readonly Method[] = Object.keys(METHOD_SPECS) as Method[];

/**
 * Checks a method name from a user (flag, YAML): returns it typed, or
 * throws a one-line error naming where it came from and the valid names.
 *
 * @example
 * ```ts
 * const m = parseMethod("jepa", "--methods"); // "jepa"
 * ```
 */
export function parseMethod(name: unknown, where: string): Method {
  if (typeof name === "string" && Object.hasOwn(METHOD_SPECS, name)) {
    return name as Method;
  }
  throw new UserError(
    `${where}: unknown method ${JSON.stringify(name)} (one of: ${
      METHODS.join(", ")
    })`,
  );
}
