/**
 * The frozen-feature size probe of the volume pretraining known-answer
 * tests: a converged logistic regression on an encoder's frozen pooled
 * embeddings, reading a noise-free size label (diameter > 7 mm) of
 * known-answer volumes (sim/known_answer.ts).
 *
 * @module
 */
import { frozenEmbeddings, type Pretrained } from "../../models/experiment.ts";
import { fitLogistic, predictLogistic } from "../../models/probe.ts";
import { aucMannWhitney } from "../../reports/auc.ts";
import type { Patient } from "../../cohort/types.ts";

/**
 * 1 where the patient's first scan has a nodule over 7 mm across.
 *
 * @example
 * ```ts
 * const y = patients.map(bigNodule);
 * ```
 */
export function bigNodule(p: Patient): 0 | 1 {
  return (p.scans[0] as unknown as { properties: { diameterMm: number } })
      .properties.diameterMm > 7
    ? 1
    : 0;
}

/**
 * Test AUC of the size probe fitted on `train`'s frozen embeddings.
 *
 * @example
 * ```ts
 * const auc = await sizeProbe(pretrained, train, test);
 * ```
 */
export async function sizeProbe(
  enc: Pretrained,
  train: Patient[],
  test: Patient[],
): Promise<number> {
  const w = enc.model.width;
  const m = fitLogistic(
    await frozenEmbeddings(enc, train),
    train.map(bigNodule),
    w,
  );
  return aucMannWhitney(
    test.map(bigNodule),
    predictLogistic(m, await frozenEmbeddings(enc, test), w),
  );
}
