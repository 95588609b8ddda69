/**
 * The `mmjepa` command line: `sim`, `train`, `predict`, `report`, `bench`.
 *
 * @module
 */
import {
  Command,
  CommanderError,
  InvalidArgumentError,
  Option,
} from "@commander-js/extra-typings";
import type { BackendChoice } from "../core/backend.ts";
import { MMJEPA_VERSION } from "../core/provenance.ts";
import { DivergenceError, UserError } from "../core/errors.ts";
import type { Shard } from "../study/plan.ts";
import {
  ensureWritableDir,
  parseBackend,
  parseMethods,
  parsePositiveInt,
  parseSeed,
  parseShardArg,
} from "./parse.ts";
import { METHODS } from "../models/methods.ts";

/** Options every subcommand receives. */
export interface GlobalOptions {
  /** Run seed. */
  seed: number;
  /** Requested backend. */
  backend: BackendChoice;
  /** Output folder, when given. */
  out?: string;
  /** Suppress progress output. */
  quiet: boolean;
}

/** What the subcommands do; injected so tests can drive the parser alone. */
export interface Actions {
  /** `sim`: the synthetic study. */
  sim(
    g: GlobalOptions,
    o: {
      quick: boolean;
      full: boolean;
      preset?: string;
      config?: string;
      /** `key=value` overrides, in order. */
      set?: string[];
      printConfig: boolean;
      listPresets: boolean;
      workers?: number;
      level?: "features" | "volume";
      methods?: string[];
      resume: boolean;
      force: boolean;
      check: boolean;
      allowUndefinedAuc: boolean;
      /** Run only this shard of the plan. */
      shard?: Shard;
      /** Write SLURM scripts instead of running. */
      slurm: boolean;
      /** Array tasks for `--slurm`. */
      shards?: number;
      /** Extra sbatch arguments for `--slurm`, as typed. */
      sbatchArgs?: string;
      /** Submit the `--slurm` scripts with sbatch. */
      submit: boolean;
    },
  ): Promise<void>;
  /** `train`: one experiment on a cohort config or a scenario. */
  train(
    g: GlobalOptions,
    o: {
      config?: string;
      scenario?: string;
      methods?: string[];
      skipBad: boolean;
      resume: boolean;
      force: boolean;
      check: boolean;
      allowUndefinedAuc: boolean;
    },
  ): Promise<void>;
  /** `predict`: score a cohort with a model saved by `train --config`. */
  predict(
    g: GlobalOptions,
    o: {
      model: string;
      config: string;
      embeddings: boolean;
      skipBad: boolean;
      force: boolean;
    },
  ): Promise<void>;
  /** `report`: render results files. */
  report(
    g: GlobalOptions,
    files: string[],
    o: { force: boolean },
  ): Promise<number>;
  /** `bench`: the benchmarks. */
  bench(
    g: GlobalOptions,
    o: {
      quick: boolean;
      only?: string[];
      writeResults: boolean;
      profile: boolean;
    },
  ): Promise<void>;
}

function writableOut(dir: string): string {
  try {
    return ensureWritableDir(dir);
  } catch (e) {
    throw new UserError(`--out: ${(e as Error).message}`);
  }
}

function list(value: string): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) {
    throw new InvalidArgumentError(
      `expected a comma-separated list, got "${value}"`,
    );
  }
  return items;
}

const RESUME_HELP =
  "continue a run into an --out folder that holds its results.jsonl: runs already there are skipped";
const FORCE_HELP =
  "delete the earlier run's outputs (results.jsonl, report, figures, models) in --out before running";

/**
 * Builds the command-line program around the given actions.
 *
 * @example
 * ```ts
 * await buildProgram(actions).parseAsync(["node", "mmjepa", "sim", "--quick"]);
 * ```
 */
export function buildProgram(actions: Actions): Command {
  const program = new Command("mmjepa")
    .description(
      "Self-supervised multimodal (CT + EHR) learning: synthetic failure-mode studies, real cohorts, reports.",
    )
    .option(
      "--seed <int>",
      "run seed; the same seed reproduces the same numbers on the cpu backend",
      parseSeed,
      42,
    )
    .addOption(
      new Option(
        "--backend <name>",
        "tensor backend: auto picks webgpu on a hardware GPU, else wasm (SIMD), else cpu",
      ).choices(["auto", "webgpu", "wasm", "cpu"] as const).default("auto"),
    )
    .option(
      "-o, --out <dir>",
      "output folder (created if missing; must be writable)",
    )
    .option("-q, --quiet", "no progress output (errors still print)", false)
    .version(
      `mmjepa ${MMJEPA_VERSION} (deno ${Deno.version.deno})`,
      "--version",
      "print the version and exit",
    )
    // Every subcommand's --help lists the global options too.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  const globals = (): GlobalOptions => {
    const o = program.opts();
    return {
      seed: o.seed,
      backend: parseBackend(o.backend),
      out: o.out === undefined ? undefined : writableOut(o.out),
      quiet: o.quiet,
    };
  };

  program.command("sim")
    .description(
      "Run the synthetic failure-mode study: a paper-analog scenario (internal + external cohort), sweeps over the coding habit, external concept and acquisition shift and the labeled-set size (--full adds cross-modal correlation and missing EHR), pretraining and representation diagnostics, and a headline answer. Writes results.jsonl, report.md, appendix.md, tables/ and figures.",
    )
    .option(
      "--quick",
      "reduced study for smoke tests and CI (about a minute)",
      false,
    )
    .option(
      "--full",
      "larger study: more seeds, bigger cohorts, longer training",
      false,
    )
    .option(
      "--preset <name>",
      "run only the paper-analog part on this scenario preset (e.g. paper, shared-cause, independent-causes, missing-ehr, paper-volume)",
    )
    .option(
      "--config <file>",
      "a study or scenario YAML file (see README: Configuration)",
    )
    .option(
      "--set <key=value>",
      "override one key, repeatable: a study key (seeds=5, experiment.pretrain.steps=300) or a scenario key of the base scenario (crossModalCorrelation=0.6, internal.pretrain=1000); values are YAML",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--print-config",
      "print the resolved study config as YAML and exit",
      false,
    )
    .option(
      "--list-presets",
      "list the scenario presets, one line each, and exit",
      false,
    )
    .option(
      "--workers <n>",
      "parallel worker processes (default: number of CPU cores)",
      parsePositiveInt,
    )
    .addOption(
      new Option(
        "--level <level>",
        "imaging level: features (fast) or volume (3D patches)",
      )
        .choices(["features", "volume"] as const),
    )
    .option(
      "--methods <list>",
      `comma-separated subset of methods to run (${METHODS.join(", ")})`,
      parseMethods,
    )
    .option("--resume", RESUME_HELP, false)
    .option("--force", FORCE_HELP, false)
    .option(
      "--check",
      "validate the study (config, every job's scenario and experiment) and exit; writes nothing",
      false,
    )
    .option(
      "--allow-undefined-auc",
      "run even when a test, external or labeled train cohort expects fewer than 5 (train: 2) patients of the rarer class",
      false,
    )
    .option(
      "--shard <I/N>",
      "run only shard I of N (a fixed, cost-balanced split of the planned jobs) into <out>/shard-I-of-N/; needs --out; merge with `task report`",
      parseShardArg,
    )
    .option(
      "--slurm",
      "write a SLURM array script (one shard per array task) and a dependent merge job under <out>/slurm/ instead of running; needs --out on a shared filesystem",
      false,
    )
    .option(
      "--shards <n>",
      "with --slurm: number of array tasks (default 4, at most the number of jobs)",
      parsePositiveInt,
    )
    .option(
      "--sbatch-args <args>",
      'with --slurm: extra sbatch arguments for both jobs, e.g. "--partition=cpu --time=02:00:00"',
    )
    .option(
      "--submit",
      "with --slurm: submit both jobs with sbatch (otherwise print the commands)",
      false,
    )
    .addHelpText(
      "after",
      `
Examples:
  npx -y deno@2.9.6 task sim                      # default study, report under out/sim-<time>/
  npx -y deno@2.9.6 task sim --quick --seed 1     # about a minute
  npx -y deno@2.9.6 task sim --preset paper-volume --out out/volume
  npx -y deno@2.9.6 task sim --config my_study.yaml --workers 2
  npx -y deno@2.9.6 task sim --quick --shard 1/2 --out out/s   # then 2/2, then:
  npx -y deno@2.9.6 task report out/s/shard-*/results.jsonl --out out/s
  npx -y deno@2.9.6 task sim --slurm --shards 8 --sbatch-args "--time=01:00:00" --out /shared/study --submit`,
    )
    .action(async (o) => {
      if (o.quick && o.full) {
        throw new UserError("--quick and --full cannot be combined; pick one");
      }
      if (o.shard && o.slurm) {
        throw new UserError(
          "--shard and --slurm cannot be combined: --slurm gives each array task its own --shard (set their number with --shards)",
        );
      }
      for (
        const [flag, set] of [
          ["--shards", o.shards !== undefined],
          ["--sbatch-args", o.sbatchArgs !== undefined],
          ["--submit", o.submit],
        ] as const
      ) {
        if (set && !o.slurm) throw new UserError(`${flag} needs --slurm`);
      }
      if (o.slurm && o.force) {
        throw new UserError(
          "--force and --slurm cannot be combined: the array tasks always resume their shard; delete <out>/shard-* to start over",
        );
      }
      if ((o.shard || o.slurm) && program.opts().out === undefined) {
        throw new UserError(
          `${
            o.shard ? "--shard" : "--slurm"
          } needs --out DIR: a folder every shard writes under and the merge reads from`,
        );
      }
      await actions.sim(globals(), o);
    });

  program.command("train")
    .description(
      "Pretrain, finetune and evaluate methods on one cohort set, then write results.jsonl and report.md.",
    )
    .option(
      "--config <file>",
      "a real-cohort YAML file (manifest, EHR tables, splits)",
    )
    .option(
      "--scenario <name-or-file>",
      "a synthetic scenario: preset name or YAML file",
    )
    .option(
      "--methods <list>",
      `comma-separated methods (default: all; ${METHODS.join(", ")})`,
      parseMethods,
    )
    .option(
      "--skip-bad",
      "real cohorts: skip unreadable or invalid records instead of stopping; the skipped records are printed and saved to skipped.csv",
      false,
    )
    .option("--resume", RESUME_HELP, false)
    .option("--force", FORCE_HELP, false)
    .option(
      "--check",
      "real cohorts: validate the config, manifest, tables, scan headers and splits, print what would be skipped, and exit; writes nothing",
      false,
    )
    .option(
      "--allow-undefined-auc",
      "run even when the train or test split lacks a class, or a synthetic cohort is too small (the AUC is then undefined or noise)",
      false,
    )
    .addHelpText(
      "after",
      `
Examples:
  npx -y deno@2.9.6 task train --scenario paper --methods imaging-only,jepa
  npx -y deno@2.9.6 task train --config cohort.yaml --out out/nlst
  npx -y deno@2.9.6 task train --config cohort.yaml --skip-bad --methods imaging-only,jepa`,
    )
    .action(async (o) => {
      if (!o.config && !o.scenario) {
        throw new UserError(
          "train needs --config FILE.yaml (real cohort) or --scenario NAME|FILE (synthetic)",
        );
      }
      await actions.train(globals(), o);
    });

  program.command("predict")
    .description(
      "Score every patient of a cohort config with a model saved by `train --config` (out/<run>/models/<method>-seed<n>); writes predictions.csv (cohort, split, patient_id, label, score) and, with --embeddings, embeddings.csv.",
    )
    .requiredOption(
      "--model <dir>",
      "a saved model folder (model.safetensors + model.json)",
    )
    .requiredOption("--config <file>", "the cohort YAML to score")
    .option(
      "--embeddings",
      "also write the fused embedding per patient (embeddings.csv)",
      false,
    )
    .option(
      "--skip-bad",
      "skip unreadable or invalid records instead of stopping",
      false,
    )
    .option(
      "--force",
      "overwrite predictions.csv / embeddings.csv already in --out",
      false,
    )
    .addHelpText(
      "after",
      `
Examples:
  npx -y deno@2.9.6 task predict --model out/nlst/models/jepa-seed42 --config cohort.yaml --out out/pred
  npx -y deno@2.9.6 task predict --model out/nlst/models/jepa-seed42 --config new.yaml --embeddings`,
    )
    .action(async (o) => {
      await actions.predict(globals(), o);
    });

  program.command("report")
    .description(
      "Merge results files (from any machines or shards) and write report.md with figures beside it.",
    )
    .argument("<results...>", "one or more results.jsonl files")
    .option("--force", "overwrite a report.md already in --out", false)
    .addHelpText(
      "after",
      `
Examples:
  npx -y deno@2.9.6 task report out/sim-*/results.jsonl -o out/merged`,
    )
    .action(async (files, o) => {
      const code = await actions.report(globals(), files, o);
      if (code !== 0) Deno.exitCode = code;
    });

  program.command("bench")
    .description(
      "Benchmarks: generation, training steps (with PyTorch in the same run when available), study wall time. Writes RESULTS.md under --out (default out/bench-<time>/).",
    )
    .option("--quick", "small sizes, for smoke tests", false)
    .option(
      "--write-results",
      "also replace the committed benches/RESULTS.md (do this from one full run of the final code)",
      false,
    )
    .option(
      "--profile",
      "print the top kernels (time share, calls) of each timed training step",
      false,
    )
    .option(
      "--only <list>",
      "comma-separated bench names (sim, real, models, webgpu, study)",
      list,
    )
    .addHelpText(
      "after",
      `
Examples:
  npx -y deno@2.9.6 task bench
  npx -y deno@2.9.6 task bench --only sim --quick -o out/b
  npx -y deno@2.9.6 task bench --only models --write-results
  MMJEPA_BENCH_BACKENDS=wasm npx -y deno@2.9.6 task bench --only models --quick --profile
  MMJEPA_BENCH_BACKENDS=wasm npx -y deno@2.9.6 task bench --only models

Environment:
  MMJEPA_BENCH_BACKENDS  comma list of backends the models bench times (wasm, cpu, webgpu)
  MMJEPA_BENCH_MODES     comma list of model modes the models bench times (features, volume)
  MMJEPA_TORCH_PYTHON    the Python that runs the PyTorch baseline (default /usr/bin/python3, then python3)
  MMJEPA_STOCK_KERNELS=1 tfjs's own kernels only (the models bench times both anyway)`,
    )
    .action(async (o) => {
      await actions.bench(globals(), o);
    });

  return program;
}

/**
 * Runs the program on `argv` (without the runtime and script), printing
 * user errors as one line; returns the exit code.
 *
 * @example
 * ```ts
 * Deno.exitCode = await runCli(actions, Deno.args);
 * ```
 */
export async function runCli(
  actions: Actions,
  argv: string[],
): Promise<number> {
  const program = buildProgram(actions);
  try {
    await program.parseAsync(argv, { from: "user" });
    return Number(Deno.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its message (and help for --help).
      return e.exitCode;
    }
    if (e instanceof UserError || e instanceof DivergenceError) {
      // One line: a message that spans lines (a library's code frame)
      // would read as several errors.
      console.error(`error: ${e.message.replace(/\s*\n\s*/g, " ")}`);
      return 2;
    }
    // A bug in mmjepa, not bad input: say so in one line and keep the
    // stack for whoever debugs it (MMJEPA_DEBUG=1 prints it).
    const err = e instanceof Error ? e : new Error(String(e));
    console.error(
      `error: internal error (${err.name}: ${
        err.message.split("\n")[0]
      }); this is a bug in mmjepa, please report it with the command you ran${
        Deno.env.get("MMJEPA_DEBUG")
          ? `\n${err.stack}`
          : " (MMJEPA_DEBUG=1 shows the stack)"
      }`,
    );
    return 70;
  }
}
