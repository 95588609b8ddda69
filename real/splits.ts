/**
 * Patient-level splits of the internal cohort: unlabeled patients go to
 * pretraining, labeled ones are shuffled per class (so both classes reach
 * every split) with a seeded stream and cut by the configured fractions,
 * or into k folds for cross-validation. A patient is in exactly one split.
 *
 * @module
 */
import type { Split } from "../cohort/types.ts";
import { RngStreams } from "../core/rng.ts";
import { UserError } from "../core/errors.ts";
import type { SplitsConfig } from "./config.ts";

/** What a split needs to know of a patient. */
export interface SplitPatient {
  id: string;
  label: 0 | 1 | null;
}

/**
 * Split of every patient, keyed by id. With `cfg.kfold`, `fold` (0-based)
 * picks the test fold and the rest is cut into train and val by the
 * train:val ratio.
 *
 * @example
 * ```ts
 * const s = assignSplits(patients, { seed: 1, train: 0.6, val: 0.2, test: 0.2, kfold: null }, 1);
 * ```
 */
export function assignSplits(
  patients: SplitPatient[],
  cfg: SplitsConfig,
  seed: number,
  fold: number | null = null,
): Map<string, Split> {
  if (cfg.kfold !== null && (fold === null || fold < 0 || fold >= cfg.kfold)) {
    throw new UserError(
      `splits.kfold is ${cfg.kfold}: a fold in 0..${
        cfg.kfold - 1
      } is needed, got ${fold}`,
    );
  }
  const out = new Map<string, Split>();
  const rng = new RngStreams(cfg.seed ?? seed).get("real/splits");
  // Sorted ids make the split independent of the manifest's row order.
  const sorted = [...patients].sort((a, b) => a.id < b.id ? -1 : 1);
  for (const p of sorted) if (p.label === null) out.set(p.id, "pretrain");
  for (const cls of [0, 1]) {
    const group = rng.shuffle(sorted.filter((p) => p.label === cls));
    const n = group.length;
    if (cfg.kfold !== null) {
      const k = cfg.kfold;
      const rest = group.filter((_, i) => i % k !== fold);
      for (const [i, p] of group.entries()) {
        if (i % k === fold) out.set(p.id, "test");
      }
      const nVal = Math.round(rest.length * cfg.val / (cfg.train + cfg.val));
      rest.forEach((p, i) => out.set(p.id, i < nVal ? "val" : "train"));
      continue;
    }
    const total = cfg.train + cfg.val + cfg.test;
    const nTest = Math.round(n * cfg.test / total);
    const nVal = Math.round(n * cfg.val / total);
    group.forEach((p, i) =>
      out.set(p.id, i < nTest ? "test" : i < nTest + nVal ? "val" : "train")
    );
  }
  return out;
}

/**
 * Throws a {@link UserError} with the counts when the splits cannot give a
 * meaningful AUC: k-fold with more folds than patients of the smaller
 * class, or a train or test split without both classes. `source` names
 * the config (for the key to change). `allowUndefinedAuc` (the CLI's
 * `--allow-undefined-auc`) lets a run go ahead anyway.
 *
 * @example
 * ```ts
 * checkSplitsUsable(patients, splits, { kfold: null }, "cohort.yaml", false);
 * ```
 */
export function checkSplitsUsable(
  patients: SplitPatient[],
  splits: Map<string, Split>,
  cfg: Pick<SplitsConfig, "kfold">,
  source: string,
  allowUndefinedAuc: boolean,
): void {
  const labeled = patients.filter((p) => p.label !== null);
  const n1 = labeled.filter((p) => p.label === 1).length;
  const n0 = labeled.length - n1;
  if (cfg.kfold !== null && cfg.kfold > Math.min(n0, n1)) {
    throw new UserError(
      `${source}: splits.kfold is ${cfg.kfold} but the internal cohort has ${labeled.length} labeled patient(s) (${n1} positive, ${n0} negative); expected kfold <= ${
        Math.min(n0, n1)
      } so that every test fold holds both classes`,
    );
  }
  if (allowUndefinedAuc) return;
  const count = (s: Split, label: 0 | 1) =>
    labeled.filter((p) => p.label === label && splits.get(p.id) === s).length;
  for (const s of ["train", "test"] as const) {
    const pos = count(s, 1), neg = count(s, 0);
    if (pos < 1 || neg < 1) {
      throw new UserError(
        `${source}: the ${s} split has ${pos} positive and ${neg} negative labeled patient(s) (internal cohort: ${n1} positive, ${n0} negative); at least one of each is needed for ${
          s === "test" ? "an AUC" : "finetuning"
        }. Label more patients, change splits in the config, or pass --allow-undefined-auc to run anyway`,
      );
    }
  }
}
