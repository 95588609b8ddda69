/**
 * Reference numbers for the volume path (issue 20): a small 3D CNN in
 * PyTorch (benches/torch_volume_cnn.py) on the same volumes, labels and
 * splits as a scenario's study, once from random init and once after the
 * radiomics pretext (the 16 nodule measurements regressed on the unlabeled
 * pretraining pool, as `radiomics-image` does with the patch encoder).
 * Read beside `task sim --preset paper-volume --methods
 * imaging-only,radiomics-image,logreg-volume`: it tells whether the gap to
 * the hand-crafted baseline belongs to the patch encoder or to learning
 * from a few hundred labels.
 *
 * Run: `npx -y deno@2.9.6 run -A benches/volume_cnn_reference.ts
 * [preset] [seeds] [steps] [pretextSteps]`, e.g.
 * `benches/volume_cnn_reference.ts paper-volume 42,43,44 300 800`. Needs
 * Debian's `python3-torch` (/usr/bin/python3); one thread per seed.
 *
 * @module
 */
import { join } from "node:path";
import { generateCohorts } from "../sim/generate.ts";
import { preset } from "../sim/presets.ts";
import { volumeFeatures } from "../core/radiomics.ts";

const name = Deno.args[0] ?? "paper-volume";
const seeds = (Deno.args[1] ?? "42,43,44").split(",").map(Number);
const steps = Number(Deno.args[2] ?? 300);
const pretextSteps = Number(Deno.args[3] ?? 800);
const python = Deno.env.get("MMJEPA_PYTHON") ?? "/usr/bin/python3";
const script = new URL("./torch_volume_cnn.py", import.meta.url).pathname;

interface Scores {
  val: number;
  bestStep: number;
  internal: number;
  external: number;
}

// Latest scan of every internal patient (labeled or not) and every labeled
// external patient, with its split, label and 16 measurements.
async function exportSeed(seed: number, dir: string): Promise<void> {
  const set = generateCohorts(preset(name), seed);
  const edge = set.internal.imaging.shape[0];
  if (set.internal.imaging.shape.length !== 3) {
    throw new Error(`${name}: not a volume scenario`);
  }
  const rows: { split: string; label: number | null; rad: number[] }[] = [];
  const vols: Float32Array[] = [];
  const add = (ps: typeof set.internal.patients, external: boolean) => {
    for (const p of ps) {
      if (p.scans.length === 0 || (external && p.label === null)) continue;
      const d = p.scans[p.scans.length - 1].data;
      rows.push({
        split: external ? "external" : p.split,
        label: p.label,
        rad: [...volumeFeatures(d, edge)],
      });
      vols.push(d);
    }
  };
  add(set.internal.patients, false);
  for (const e of set.externals) add(e.patients, true);
  const buf = new Float32Array(vols.length * edge ** 3);
  vols.forEach((v, i) => buf.set(v, i * edge ** 3));
  await Deno.writeFile(join(dir, "vol.bin"), new Uint8Array(buf.buffer));
  await Deno.writeTextFile(
    join(dir, "meta.json"),
    JSON.stringify({ edge, rows }),
  );
}

const runs = seeds.map(async (seed) => {
  const dir = await Deno.makeTempDir({ prefix: `mmjepa-cnn-${seed}-` });
  try {
    await exportSeed(seed, dir);
    const out = await new Deno.Command(python, {
      args: [script, dir, String(seed), String(steps), String(pretextSteps)],
      stderr: "inherit",
    }).output();
    if (!out.success) {
      throw new Error(
        `${python} ${script} failed for seed ${seed} (needs PyTorch: apt-get install python3-torch)`,
      );
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as {
      seed: number;
      scratch: Scores;
      pretext: Scores;
      seconds: number;
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
const results = await Promise.all(runs);
const f = (x: number) => x.toFixed(3);
console.log(
  `3D CNN (PyTorch, ${steps} finetuning steps; pretext ${pretextSteps} steps) on ${name}: internal / external AUC`,
);
console.log("| seed | from scratch | after the radiomics pretext | seconds |");
console.log("|---|---|---|---:|");
for (const r of results) {
  console.log(
    `| ${r.seed} | ${f(r.scratch.internal)} / ${f(r.scratch.external)} | ${
      f(r.pretext.internal)
    } / ${f(r.pretext.external)} | ${r.seconds.toFixed(0)} |`,
  );
}
const mean = (k: "scratch" | "pretext", c: "internal" | "external") =>
  results.reduce((a, r) => a + r[k][c], 0) / results.length;
console.log(
  `| mean | ${f(mean("scratch", "internal"))} / ${
    f(mean("scratch", "external"))
  } | ${f(mean("pretext", "internal"))} / ${
    f(mean("pretext", "external"))
  } | |`,
);
