import assert from "node:assert/strict";
import { UserError } from "../../core/errors.ts";
import { DEFAULT_MODEL, resolveExperimentConfig } from "../../models/config.ts";

Deno.test("defaults resolve and overrides apply", () => {
  const cfg = resolveExperimentConfig({ model: { width: 64, heads: 4 } });
  assert.equal(cfg.model.width, 64);
  assert.equal(cfg.model.depth, DEFAULT_MODEL.depth);
  assert.equal(cfg.pretrain.emaStart, 0.99);
});

Deno.test("bad values name the key and the accepted range", () => {
  assert.throws(
    () => resolveExperimentConfig({ model: { depth: 0 } }, "study.yaml"),
    (e: unknown) =>
      e instanceof UserError && /study\.yaml: model\.depth/.test(e.message) &&
      /\[1, 64\]/.test(e.message),
  );
  assert.throws(
    () => resolveExperimentConfig({ model: { width: 30, heads: 4 } }),
    /config: model\.heads: expected a divisor of model\.width \(30\), got 4/,
  );
  assert.throws(
    () => resolveExperimentConfig({ finetune: { labelFraction: 2 } }),
    /finetune\.labelFraction/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => resolveExperimentConfig({ pretrain: { masks: ["tube" as any] } }),
    /pretrain\.masks\[0\]: expected one of block, modality, time, got "tube"/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => resolveExperimentConfig({ model: { widht: 3 } as any }),
    /unknown key "model\.widht".*did you mean "width"\?/,
  );
});
