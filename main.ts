/**
 * The `mmjepa` command line (`deno task sim|train|predict|report|bench`).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runBenches } from "./benches/run.ts";
import { type Actions, runCli } from "./cli/program.ts";
import { UserError } from "./core/errors.ts";
import { reportCommand } from "./reports/mod.ts";
import { defaultStudy, loadStudy, type StudyConfig } from "./study/config.ts";
import { planStudy, shardDirName, shardJobs } from "./study/plan.ts";
import { runStudy } from "./study/run.ts";
import { splitArgs, submitSlurm, writeSlurm } from "./study/slurm.ts";
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
    if (o.slurm) {
      await simSlurm(g, o, study);
      return;
    }
    const outDir = g.out ?? join("out", `sim-${timestamp()}`);
    // Refuse a shard count the plan cannot fill before creating its folder.
    if (o.shard) shardJobs(planStudy(study, g.seed), o.shard);
    await runStudy(study, {
      seed: g.seed,
      backend: g.backend,
      // Each shard its own folder, so shards can share one --out.
      outDir: o.shard ? join(outDir, shardDirName(o.shard)) : outDir,
      workers: o.workers ?? Math.max(1, cpus().length),
      quiet: g.quiet,
      ...(o.shard ? { shard: o.shard } : {}),
    });
    if (o.shard) {
      console.log(
        `shard ${o.shard.index}/${o.shard.count} done; once every shard is: deno task report ${
          join(outDir, `shard-*-of-${o.shard.count}`, "results.jsonl")
        } --out ${outDir}`,
      );
    }
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

async function simSlurm(
  g: Parameters<Actions["sim"]>[0],
  o: Parameters<Actions["sim"]>[1],
  study: StudyConfig,
): Promise<void> {
  const outDir = resolve(g.out!);
  const jobs = planStudy(study, g.seed).length;
  const shards = o.shards ?? Math.min(4, jobs);
  if (shards > jobs) {
    throw new UserError(
      `--shards ${shards}: the study has only ${jobs} job(s); use --shards ${jobs} or fewer`,
    );
  }
  const sbatchArgs = splitArgs(o.sbatchArgs ?? "");
  const root = dirname(fileURLToPath(import.meta.url));
  const files = writeSlurm({
    outDir,
    shards,
    sbatchArgs,
    sim: { ...o, seed: g.seed, backend: g.backend, quiet: g.quiet },
    deno: Deno.execPath(),
    mainTs: join(root, "main.ts"),
    workDir: root,
  });
  console.log(
    `wrote ${files.array} (${shards} array tasks over ${jobs} jobs) and ${files.merge}`,
  );
  if (o.submit) {
    const { arrayId, mergeId } = await submitSlurm(files, sbatchArgs);
    console.log(
      `submitted array job ${arrayId} and merge job ${mergeId} (runs after every shard succeeded); report: ${
        join(outDir, "report.md")
      }`,
    );
    console.log(`watch: squeue -j ${arrayId},${mergeId}`);
  } else {
    console.log(
      `to submit (on the cluster's login node): bash ${files.submit}`,
    );
    console.log(`which runs:\n${readFileSync(files.submit, "utf8")}`);
  }
}

if (import.meta.main) {
  Deno.exitCode = await runCli(actions, Deno.args);
}
