/**
 * The `mmjepa` command line (`deno task sim|train|predict|report|bench`).
 *
 * @module
 */
import { cpus } from "node:os";
import { join } from "node:path";
import { runBenches } from "./benches/run.ts";
import { type Actions, runCli } from "./cli/program.ts";
import { UserError } from "./core/errors.ts";
import { reportCommand } from "./reports/mod.ts";
import { defaultStudy, loadStudy, type StudyConfig } from "./study/config.ts";
import { runStudy } from "./study/run.ts";
import { runPredict, runTrainOnConfig } from "./real/mod.ts";
import { PRESET_NAMES } from "./sim/mod.ts";

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
}

const actions: Actions = {
  async sim(g, o) {
    let study: StudyConfig = defaultStudy(
      o.quick ? "quick" : o.full ? "full" : "default",
    );
    if (o.config) study = loadStudy(o.config, study);
    if (o.preset) {
      if (!PRESET_NAMES.includes(o.preset)) {
        throw new UserError(
          `--preset: unknown preset "${o.preset}"; expected one of ${
            PRESET_NAMES.join(", ")
          }`,
        );
      }
      study = { ...study, scenario: o.preset, sweeps: [] };
    }
    if (o.level) {
      study = {
        ...study,
        scenarioOverrides: {
          ...study.scenarioOverrides,
          "imaging.level": o.level,
        },
      };
    }
    if (o.methods) study = { ...study, methods: o.methods };
    const outDir = g.out ?? join("out", `sim-${timestamp()}`);
    await runStudy(study, {
      seed: g.seed,
      backend: g.backend,
      outDir,
      workers: o.workers ?? Math.max(1, cpus().length),
      quiet: g.quiet,
    });
  },
  async train(g, o) {
    if (o.config) {
      await runTrainOnConfig({
        configPath: o.config,
        seed: g.seed,
        backend: g.backend,
        outDir: g.out ?? join("out", `train-${timestamp()}`),
        workers: Math.max(1, cpus().length),
        quiet: g.quiet,
        methods: o.methods,
        skipBad: o.skipBad,
      });
      return;
    }
    const study: StudyConfig = {
      ...defaultStudy("default"),
      title: `mmjepa training on scenario ${o.scenario}`,
      scenario: o.scenario!,
      seeds: 1,
      sweeps: [],
      ...(o.methods ? { methods: o.methods } : {}),
    };
    await runStudy(study, {
      seed: g.seed,
      backend: g.backend,
      outDir: g.out ?? join("out", `train-${timestamp()}`),
      workers: Math.max(1, cpus().length),
      quiet: g.quiet,
    });
  },
  async predict(g, o) {
    await runPredict({
      modelDir: o.model,
      configPath: o.config,
      outDir: g.out ?? join("out", `predict-${timestamp()}`),
      embeddings: o.embeddings,
      skipBad: o.skipBad,
      backend: g.backend,
    });
  },
  report(g, files) {
    return reportCommand(
      files,
      g.out ?? join("out", `report-${timestamp()}`),
      {},
    );
  },
  async bench(g, o) {
    await runBenches({ quick: o.quick, only: o.only, quiet: g.quiet });
  },
};

if (import.meta.main) {
  Deno.exitCode = await runCli(actions, Deno.args);
}
