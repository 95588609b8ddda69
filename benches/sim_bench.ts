/**
 * Generation rate of the synthetic environment, against the issue's
 * targets: >= 1,000 patients/s with one 32^3 scan each, and >= 50,000
 * patients/s in features mode. Generation runs on one core (plain
 * JavaScript in one isolate); the targets were stated for a 2-core machine.
 *
 * @module
 */
import type { BenchLine, BenchOptions } from "./harness.ts";
import { medianSeconds } from "./harness.ts";
import { generateCohorts, preset, withOverrides } from "../sim/mod.ts";

/**
 * Measures patients per second in volume (32^3, one scan) and features mode.
 *
 * @example
 * ```ts
 * const lines = await run({ quick: true, log: console.error });
 * ```
 */
export async function run(o: BenchOptions): Promise<BenchLine[]> {
  const cases = [
    { level: "volume", n: o.quick ? 500 : 3000, target: 1000 },
    { level: "features", n: o.quick ? 10_000 : 100_000, target: 50_000 },
  ] as const;
  const lines: BenchLine[] = [];
  for (const c of cases) {
    const s = withOverrides(preset("paper"), {
      "imaging.level": c.level,
      "imaging.volumeSize": 32,
      "imaging.scansPerPatient": 1,
      "internal.pretrain": Math.round(c.n * 0.8),
      "internal.train": Math.round(c.n * 0.1),
      "internal.val": 0,
      "internal.test": c.n - Math.round(c.n * 0.8) - Math.round(c.n * 0.1),
      externals: [],
    });
    o.log(`sim: ${c.level} mode, ${c.n} patients`);
    let seed = 0;
    const sec = await medianSeconds(() => generateCohorts(s, seed++), 3, 1);
    const rate = c.n / sec;
    lines.push({
      name: `sim: ${
        c.level === "volume" ? "volume 32^3, 1 scan" : "features"
      } generation`,
      value: Math.round(rate),
      unit: "patients/s",
      target: `>= ${c.target.toLocaleString("en-US")} patients/s`,
      met: rate >= c.target,
      note:
        `paper preset, ${c.n} patients incl. EHR (2 x 64) and Bayes ceilings on the test split; one core; median of 3`,
    });
  }
  return lines;
}
