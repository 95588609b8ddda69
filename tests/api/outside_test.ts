/**
 * mmjepa used as a library from another Deno project: a scratch project
 * holds this repository as a workspace member (a symlink, as a vendored
 * checkout would be) and imports it by its package name, then generates a
 * cohort, trains JEPA for a few steps and computes an AUC: the README's
 * "Use as a library" example. Nothing is fetched from a registry but npm.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;

export const EXAMPLE = `import {
  aucMannWhitney,
  generateCohorts,
  preset,
  resolveExperimentConfig,
  runExperiment,
  withOverrides,
} from "@mmjepa/mmjepa";

const set = generateCohorts(
  withOverrides(preset("shared-cause"), {
    "internal.pretrain": 300,
    "internal.train": 200,
    "internal.test": 200,
  }),
  1,
);
const cfg = resolveExperimentConfig({
  pretrain: { steps: 30 },
  finetune: { steps: 30 },
});
const r = await runExperiment(set, "jepa", cfg, 1);
const test = r.predictions.internal;
console.log(\`AUC \${aucMannWhitney(test.labels, test.scores).toFixed(3)}\`);
`;

Deno.test("another Deno project imports mmjepa, trains JEPA and gets an AUC", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "mmjepa-outside-" });
  try {
    Deno.symlinkSync(ROOT, join(dir, "mmjepa"));
    Deno.writeTextFileSync(
      join(dir, "deno.json"),
      JSON.stringify({ workspace: ["./mmjepa"], nodeModulesDir: "auto" }),
    );
    Deno.writeTextFileSync(join(dir, "main.ts"), EXAMPLE);
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    const m = out.match(/^AUC (\d\.\d{3})$/m);
    assert.ok(m, `no AUC line in: ${out}`);
    assert.ok(Number(m[1]) > 0.6, `AUC ${m[1]}`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the README's library example is the one tested here", () => {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  assert.ok(readme.includes("```ts\n" + EXAMPLE + "```"), "README drifted");
});
