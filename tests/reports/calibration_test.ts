import assert from "node:assert/strict";
import {
  brier,
  ece,
  operatingPointFromValidation,
  reliabilityBins,
  sensSpecAt,
  youdenThreshold,
} from "../../reports/calibration.ts";
import { StatsError } from "../../reports/auc.ts";

const close = (a: number, b: number) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

Deno.test("Brier score by hand", () => {
  close(brier([0, 1], [0.2, 0.6]), 0.1); // (0.04 + 0.16) / 2
  close(brier([1, 0, 1], [1, 0, 0]), 1 / 3);
});

Deno.test("ECE and reliability bins by hand", () => {
  // bin 1: {0.1, 0.15} mean 0.125, 0 positives -> 2 * 0.125
  // bin 8: {0.8} -> 0.2; bin 9: {0.95} -> 0.05; ECE = 0.5 / 4
  const y = [0, 0, 1, 1];
  const s = [0.1, 0.15, 0.8, 0.95];
  close(ece(y, s), 0.125);
  const bins = reliabilityBins(y, s);
  assert.equal(bins.length, 10);
  assert.equal(bins[1].n, 2);
  close(bins[1].meanScore!, 0.125);
  assert.equal(bins[1].fracPositive, 0);
  assert.equal(bins[0].meanScore, null);
  // a score of exactly 1 falls in the last bin
  assert.equal(reliabilityBins([1], [1])[9].n, 1);
  // perfectly calibrated bins give ECE 0
  close(ece([0, 1, 1, 0, 0, 0], [0.5, 0.5, 0.25, 0.25, 0.25, 0.25]), 0);
});

Deno.test("Youden threshold on validation, sens/spec on test", () => {
  // t = 0.4: sens 1, spec 3/4 (J 0.75); t = 0.8: sens 2/3, spec 1 (J 0.667)
  const yv = [0, 0, 0, 0, 1, 1, 1];
  const sv = [0.1, 0.2, 0.3, 0.7, 0.4, 0.8, 0.9];
  const best = youdenThreshold(yv, sv);
  assert.equal(best.threshold, 0.4);
  close(best.j, 0.75);
  // ties in J: the higher threshold wins
  assert.equal(
    youdenThreshold([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9]).threshold,
    0.9,
  );
  const op = operatingPointFromValidation(yv, sv, [0, 0, 1, 1], [
    0.35,
    0.5,
    0.45,
    0.3,
  ]);
  assert.deepEqual(op, { threshold: 0.4, sensitivity: 0.5, specificity: 0.5 });
  assert.deepEqual(sensSpecAt([0, 0, 1, 1], [0.1, 0.6, 0.5, 0.9], 0.5), {
    threshold: 0.5,
    sensitivity: 1,
    specificity: 0.5,
  });
});

Deno.test("calibration edge cases throw StatsError", () => {
  assert.throws(() => brier([0, 1], [0.1, NaN]), StatsError);
  assert.throws(() => ece([0, 1], [0.1, 1.2]), /outside \[0, 1\]/);
  assert.throws(
    () => sensSpecAt([0, 0], [0.1, 0.2], 0.5),
    /all 2 labels are 0/,
  );
  assert.throws(() => brier([], []), /no patients/);
});
