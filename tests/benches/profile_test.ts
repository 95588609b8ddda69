import assert from "node:assert/strict";
import { formatProfile, profileSteps } from "../../benches/profile.ts";
import { initBackend } from "../../kernels/backend.ts";
import { pretrain, resolveExperimentConfig } from "../../models/mod.ts";
import { easySet } from "../models/fixtures.ts";

Deno.test("profileSteps reports one step's kernels of a tiny model: shares sum to 1, calls per step match the step", async () => {
  await initBackend("cpu");
  const set = easySet({
    sizes: { pretrain: 40, train: 20, val: 10, test: 10 },
    external: 0,
  });
  const cfg = (steps: number) =>
    resolveExperimentConfig({
      model: { width: 8, depth: 1, heads: 2, predictorWidth: 8 },
      pretrain: { steps, readEvery: steps, batchSize: 8 },
    });
  const p = await profileSteps(
    async (steps) => (await pretrain(set, "jepa", cfg(steps), 1))?.dispose(),
    1,
    3,
  );
  assert.ok(p.kernels.length >= 5, `kernels: ${p.kernels.map((k) => k.name)}`);
  const total = p.kernels.reduce((s, k) => s + k.share, 0);
  assert.ok(Math.abs(total - 1) < 1e-9, `shares sum to ${total}`);
  // Setup kernels cancel between the two runs: every count left is a
  // whole number of calls per step.
  for (const k of p.kernels) {
    assert.ok(Number.isInteger(k.callsPerStep), `${k.name}: ${k.callsPerStep}`);
  }
  const names = p.kernels.map((k) => k.name);
  assert.ok(
    names.includes("BatchMatMul") || names.includes("MmjepaDense"),
    String(names),
  );
  for (let i = 1; i < p.kernels.length; i++) {
    assert.ok(p.kernels[i - 1].msPerStep >= p.kernels[i].msPerStep);
  }
  const text = formatProfile("jepa step, cpu", p, 4);
  const lines = text.split("\n");
  assert.match(
    lines[0],
    /^profile: jepa step, cpu: kernels [\d.]+ ms of [\d.]+ ms wall per step/,
  );
  assert.equal(lines[1], "| kernel | ms/step | share | calls/step |");
  assert.equal(lines.length, 3 + 4);
});
