/**
 * The mutation list of {@link ../mutation/run.ts}: one-line behaviour
 * changes a user would care about, each with the test files that should
 * notice it. Add entries with every new learning component.
 *
 * @module
 */

/** One mutation. */
export interface Mutation {
  /** Short unique id, "folder/what". */
  id: string;
  /** File, relative to the repository root. */
  file: string;
  /** Exact text to replace (the `nth` occurrence, default the first). */
  search: string;
  /** Replacement text. */
  replace: string;
  /** Which occurrence of `search` (0-based). */
  nth?: number;
  /** What the mutation means for a study. */
  what: string;
  /** Covering test files, relative to the repository root. */
  tests: string[];
}

const JEPA = "tests/models/jepa_objective_test.ts";

/**
 * Every mutation.
 *
 * @example
 * ```ts
 * MUTATIONS.filter((m) => m.file.startsWith("models/")).length;
 * ```
 */
export const MUTATIONS: Mutation[] = [
  // ---- models/jepa.ts: the JEPA objective
  {
    id: "models/jepa-no-target-layernorm",
    file: "models/jepa.ts",
    search:
      "const wanted = layerNorm(enc.forward(target, x, x.present), null, null);",
    replace: "const wanted = enc.forward(target, x, x.present);",
    what: "targets not layer-normalised",
    tests: [JEPA],
  },
  {
    id: "models/jepa-target-sees-context-only",
    file: "models/jepa.ts",
    search: "enc.forward(target, x, x.present)",
    replace: "enc.forward(target, x, context)",
    what: "the target encoder sees only the context",
    tests: [JEPA],
  },
  {
    id: "models/jepa-loss-on-context",
    file: "models/jepa.ts",
    search: "return err.mul(hid3).sum().div(count)",
    replace: "return err.mul(ctx3).sum().div(count)",
    what: "loss taken on context instead of hidden tokens",
    tests: [JEPA],
  },
  {
    id: "models/jepa-no-mask-token",
    file: "models/jepa.ts",
    search: '.add(hid3.mul(pred["pred/mask"]))',
    replace: "",
    what: "mask tokens never reach the predictor",
    tests: [JEPA],
  },
  {
    id: "models/jepa-context-sees-hidden",
    file: "models/jepa.ts",
    search: "const ctxOut = enc.forward(online, x, context, false, emb);",
    replace: "const ctxOut = enc.forward(online, x, x.present, false, emb);",
    what: "the context encoder sees the hidden tokens",
    tests: [JEPA],
  },
  {
    id: "models/jepa-predictor-output-zeroed",
    file: "models/jepa.ts",
    search: '"pred/out",\n  );',
    replace: '"pred/out",\n  ).mul(0);',
    what: "predictor output zeroed (nothing is learned)",
    tests: [JEPA],
  },
  {
    id: "models/jepa-ema-never-updates",
    file: "models/experiment.ts",
    search: "      if (target) {\n        emaUpdateFrom(",
    replace: "      if (false && target) {\n        emaUpdateFrom(",
    what: "the target encoder never updates",
    tests: [JEPA],
  },
  {
    id: "models/jepa-ema-momentum-zero",
    file: "models/jepa.ts",
    search:
      "return start + (end - start) * Math.min(1, step / Math.max(1, total - 1));",
    replace: "return 0;",
    what: "EMA momentum 0: the target is a copy of the context encoder",
    tests: [JEPA],
  },
  {
    id: "models/jepa-ema-formula-swapped",
    file: "models/jepa.ts",
    search:
      "target.assign(target.mul(momentum).add(online.mul(1 - momentum)));",
    replace:
      "target.assign(online.mul(momentum).add(target.mul(1 - momentum)));",
    what: "EMA weights swapped",
    tests: [JEPA, "tests/models/ema_test.ts"],
  },
];
