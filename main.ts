/**
 * The `mmjepa` command line (`deno task sim|train|predict|report|bench`).
 *
 * @module
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runBenches } from "./benches/run.ts";
import { type Actions, runCli } from "./cli/program.ts";
import { UserError } from "./core/errors.ts";
import { reportCommand } from "./reports/mod.ts";
import {
  applySets,
  defaultStudy,
  loadStudy,
  type StudyConfig,
} from "./study/config.ts";
import { stringify as stringifyYaml } from "yaml";
import { planStudy, shardDirName, shardJobs } from "./study/plan.ts";
import { runStudy, validateJobs } from "./study/run.ts";
import { splitArgs, submitSlurm, writeSlurm } from "./study/slurm.ts";
import { claimOutDir } from "./core/outdir.ts";
import { readResults } from "./core/results.ts";
import { runPredict, runTrainOnConfig } from "./real/mod.ts";
import { PRESET_DESCRIPTIONS, PRESET_NAMES } from "./sim/mod.ts";

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
}

/**
 * What each subcommand does (exported so tests can drive the CLI in
 * process with `runCli(actions, argv)`).
 *
 * @example
 * ```ts
 * const code = await runCli(actions, ["report", "a.jsonl", "-o", "out/r"]);
 * ```
 */
export const actions: Actions = {
  async sim(g, o) {
    if (o.listPresets) {
      for (const name of PRESET_NAMES) {
        console.log(`${name.padEnd(20)} ${PRESET_DESCRIPTIONS[name] ?? ""}`);
      }
      return;
    }
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
    if (o.set) study = applySets(study, o.set);
    if (o.printConfig) {
      // Every scenario and experiment key is checked before printing.
      validateJobs(
        planStudy(study, g.seed),
        o.config ?? study.title,
        o.allowUndefinedAuc,
      );
      console.log(stringifyYaml(study).trimEnd());
      return;
    }
    if (o.check) {
      const jobs = planStudy(study, g.seed);
      validateJobs(jobs, o.config ?? `${study.title}`, o.allowUndefinedAuc);
      console.log(
        `check: study "${study.title}" is valid: ${jobs.length} job(s) (${study.methods.length} methods x ${study.seeds} seeds, ${study.sweeps.length} sweeps); nothing written`,
      );
      return;
    }
    if (o.slurm) {
      await simSlurm(g, o, study);
      return;
    }
    const outDir = g.out ?? join("out", `sim-${timestamp()}`);
    // Refuse a shard count the plan cannot fill before creating its folder.
    if (o.shard) shardJobs(planStudy(study, g.seed), o.shard);
    // Each shard its own folder, so shards can share one --out.
    const runDir = o.shard ? join(outDir, shardDirName(o.shard)) : outDir;
    await runStudy(study, {
      seed: g.seed,
      backend: g.backend,
      outDir: runDir,
      workers: o.workers ?? Math.max(1, cpus().length),
      quiet: g.quiet,
      ...(o.shard ? { shard: o.shard } : {}),
      // Claimed after validation: with --force a bad input deletes nothing.
      claim: () => claimOutDir(runDir, { ...o, command: "sim" }).doneIds,
      argv: Deno.args,
      allowUndefinedAuc: o.allowUndefinedAuc,
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
    const outDir = g.out ?? join("out", `train-${timestamp()}`);
    // Claimed after validation: with --force a bad input deletes nothing.
    const claim = () => claimOutDir(outDir, { ...o, command: "train" }).doneIds;
    if (o.config) {
      await runTrainOnConfig({
        configPath: o.config,
        seed: g.seed,
        backend: g.backend,
        outDir,
        workers: Math.max(1, cpus().length),
        quiet: g.quiet,
        methods: o.methods,
        skipBad: o.skipBad,
        claim,
        argv: Deno.args,
        allowUndefinedAuc: o.allowUndefinedAuc,
        checkOnly: o.check,
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
    if (o.check) {
      validateJobs(
        planStudy(study, g.seed),
        `scenario ${o.scenario}`,
        o.allowUndefinedAuc,
      );
      console.log(`check: scenario ${o.scenario} is valid; nothing written`);
      return;
    }
    await runStudy(study, {
      seed: g.seed,
      backend: g.backend,
      outDir,
      workers: Math.max(1, cpus().length),
      quiet: g.quiet,
      claim,
      argv: Deno.args,
      allowUndefinedAuc: o.allowUndefinedAuc,
    });
  },
  async predict(g, o) {
    const outDir = g.out ?? join("out", `predict-${timestamp()}`);
    const old = ["predictions.csv", "embeddings.csv"].filter((f) =>
      existsSync(join(outDir, f))
    );
    if (old.length > 0 && !o.force) {
      throw new UserError(
        `--out ${outDir} already holds ${
          old.join(" and ")
        } from an earlier predict; pass --force to overwrite, or choose another folder`,
      );
    }
    await runPredict({
      modelDir: o.model,
      configPath: o.config,
      outDir,
      embeddings: o.embeddings,
      skipBad: o.skipBad,
      backend: g.backend,
    });
  },
  async report(g, files, o) {
    const outDir = g.out ?? join("out", `report-${timestamp()}`);
    // Validation before any output: a report of nothing (every line bad)
    // is an error naming the first bad line, and nothing is written.
    const { rows, problems } = readResults(files);
    if (rows.length === 0) {
      const first = problems[0];
      throw new UserError(
        `${
          first ? `${first.file}:${first.line}: ${first.message}; ` : ""
        }no usable results lines in ${
          files.join(", ")
        } (${problems.length} skipped); nothing written`,
      );
    }
    claimOutDir(outDir, { resume: false, force: o.force, command: "report" });
    // A report that fails part-way leaves none of its files behind.
    const mine = ["report.md", "report.html", "figures"].filter((f) =>
      !existsSync(join(outDir, f))
    );
    try {
      return await reportCommand(files, outDir, {});
    } catch (e) {
      for (const f of mine) {
        rmSync(join(outDir, f), { recursive: true, force: true });
      }
      throw e;
    }
  },
  async bench(g, o) {
    // RESULTS.md goes to -o (default out/bench-<time>/); the committed
    // benches/RESULTS.md changes only with --write-results.
    await runBenches({
      quick: o.quick,
      only: o.only,
      quiet: g.quiet,
      writeResults: o.writeResults,
      profile: o.profile,
      ...(g.out ? { out: g.out } : {}),
    });
  },
};

async function simSlurm(
  g: Parameters<Actions["sim"]>[0],
  o: Parameters<Actions["sim"]>[1],
  study: StudyConfig,
): Promise<void> {
  const outDir = resolve(g.out!);
  const planned = planStudy(study, g.seed);
  // Fail on the login node, not in every array task.
  validateJobs(planned, o.config ?? study.title, o.allowUndefinedAuc);
  const jobs = planned.length;
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
