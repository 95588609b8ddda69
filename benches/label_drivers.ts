/**
 * Which rendered nodule properties carry a scenario's label? For each seed,
 * the scenario's labeled internal patients (train, val, test) are
 * generated and each of the ten drawn properties of the latest scan is used
 * alone as a score: its AUC for the label (below 0.5: the label falls as
 * the property rises). Read beside benches/encoder_visibility.ts (what the
 * encoder reads) to see which seeds need which property.
 * Run: `npx -y deno@2.9.6 run -A benches/label_drivers.ts [preset] [seeds]`,
 * e.g. `benches/label_drivers.ts paper-volume 42,43,44`.
 *
 * @module
 */
import { generateCohorts } from "../sim/generate.ts";
import { preset } from "../sim/presets.ts";
import type { Nodule } from "../sim/features.ts";
import type { SyntheticScan } from "../sim/generate.ts";
import { aucMannWhitney } from "../reports/auc.ts";

const name = Deno.args[0] ?? "paper-volume";
const seeds = (Deno.args[1] ?? "42,43,44").split(",").map(Number);
for (const seed of seeds) {
  const set = generateCohorts(preset(name), seed);
  const ps = set.internal.patients.filter((p) =>
    p.split !== "pretrain" && p.label !== null && p.scans.length > 0
  );
  const props = ps.map((p) =>
    (p.scans[p.scans.length - 1] as SyntheticScan).properties as Nodule
  );
  if (props.some((q) => q === undefined)) {
    throw new Error(`${name}: scans carry no rendered properties`);
  }
  const y = ps.map((p) => p.label ?? 0);
  const keys = Object.keys(props[0]) as (keyof Nodule)[];
  console.log(
    `seed ${seed}\t` +
      keys.map((k) =>
        `${k} ${
          aucMannWhitney(y, props.map((q) => (q[k] as number) ?? 0)).toFixed(2)
        }`
      ).join("\t"),
  );
}
