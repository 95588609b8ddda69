/**
 * The one training loop every objective uses.
 *
 * Each step runs inside tf.tidy: the task builds its batch from streams
 * seeded by the step number (so a resumed run draws exactly the batches
 * the uninterrupted run would have), gradients flow to the task's
 * parameter sets, AdamW updates them, and the task may update extra state
 * (the JEPA EMA). Losses stay on the device and are read back every
 * `readEvery` steps in one transfer; a non-finite value stops the run
 * naming its step. With a validation function, training stops early when
 * validation loss (optionally smoothed, see {@link LoopConfig.smoothing})
 * has not improved by `minDelta` for `patience` checks and the best
 * weights are restored. With a checkpoint path, state is saved at every
 * readback and an interrupted run resumes from there.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DivergenceError, UserError } from "../core/errors.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { AdamW, lrAt } from "./optim.ts";
import type { ParamSet } from "./params.ts";
import type { NamedTensor } from "./safetensors.ts";

/** Callbacks and run controls. */
export interface Hooks {
  /** Called at every readback; `eta` in seconds. */
  onProgress?: (
    phase: string,
    step: number,
    total: number,
    loss: number | null,
    eta?: number,
  ) => void;
  /** Abort: the loop saves a checkpoint at the next readback and throws {@link Interrupted}. */
  signal?: AbortSignal;
  /** Folder for checkpoints; a run finding one there resumes from it. */
  checkpointDir?: string;
}

/**
 * Thrown when {@link Hooks.signal} stopped a run (after checkpointing).
 *
 * @example
 * ```ts
 * try { await pretrain(set, "jepa", cfg, 1, { signal, checkpointDir: "ckpt" }); }
 * catch (e) { if (e instanceof Interrupted) console.error(e.message); }
 * ```
 */
export class Interrupted extends Error {
  /** Steps completed. */
  readonly step: number;
  /** @param phase which run @param step steps completed */
  constructor(phase: string, step: number) {
    super(`${phase} interrupted after step ${step}; rerun to resume`);
    this.name = "Interrupted";
    this.step = step;
  }
}

/** What a task gives the loop. */
export interface TrainTask {
  /** Name used in messages, e.g. "jepa pretraining". */
  phase: string;
  /** Optimized parameters. */
  sets: ParamSet[];
  /** Extra checkpointed state, e.g. the EMA target. */
  state?: Record<string, tf.Variable>;
  /** The step's loss; builds its own batch. Runs inside tf.tidy. */
  loss(step: number): tf.Scalar;
  /** After the optimizer update, inside the same tidy. */
  afterStep?(step: number): void;
  /** Validation loss, for early stopping. */
  validate?(): Promise<number>;
  /** Must match on resume (config, method, seed, data size). */
  identity: unknown;
}

/** Optimization settings of one run. */
export interface LoopConfig {
  /** Most steps. */
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** AdamW weight decay. */
  weightDecay: number;
  /** Warmup fraction. */
  warmupFraction: number;
  /** Gradient clip norm (0 = off). */
  clipNorm: number;
  /** Readback interval. */
  readEvery: number;
  /** Validation checks without improvement before stopping. */
  patience?: number;
  /** Relative validation improvement that counts (0: any decrease). */
  minDelta?: number;
  /**
   * Exponential smoothing of the validation curve before the stopping rule
   * and the best-check choice read it: s = smoothing * s_prev + (1 -
   * smoothing) * val, starting at the first value (0: the raw curve). A
   * small validation split's loss moves by more than the changes it is
   * asked to judge; smoothing averages over recent checks.
   */
  smoothing?: number;
  /**
   * On stopping, restore the weights of the best validation check (true,
   * for finetuning) or keep the last ones (false: a pretraining plateau,
   * where the held-out loss tracks a moving EMA target).
   */
  restoreBest?: boolean;
}

/** What a run produced. */
export interface TrainResult {
  /** Mean training loss over each readback window. */
  curve: number[];
  /** Validation loss at each readback (empty without validation). */
  valCurve: number[];
  /** The smoothed curve the rule judged (equal to valCurve without smoothing). */
  smoothedCurve: number[];
  /** Steps taken. */
  steps: number;
  /** Whether early stopping ended the run. */
  stoppedEarly: boolean;
  /** Wall-clock seconds in this process. */
  seconds: number;
}

interface Meta {
  step: number;
  t: number;
  curve: number[];
  valCurve: number[];
  smoothedCurve?: number[];
  best: number | null;
  bad: number;
  done: boolean;
  stoppedEarly: boolean;
  identity: unknown;
}

async function host(v: tf.Tensor): Promise<NamedTensor> {
  return { shape: v.shape, data: new Float32Array(await v.data()) };
}

/**
 * Trains `task` for `cfg.steps` steps (fewer when stopping early).
 *
 * @throws DivergenceError when a loss is NaN or infinite
 * @throws Interrupted when `hooks.signal` aborted (a checkpoint was saved)
 *
 * @example
 * ```ts
 * const result = await train(task, { steps: 100, lr: 1e-3, weightDecay: 0.05,
 *   warmupFraction: 0.1, clipNorm: 1, readEvery: 25 }, hooks, "pretrain");
 * ```
 */
export async function train(
  task: TrainTask,
  cfg: LoopConfig,
  hooks: Hooks = {},
  checkpointName = "run",
): Promise<TrainResult> {
  const t0 = performance.now();
  const opt = new AdamW(task.sets, {
    weightDecay: cfg.weightDecay,
    clipNorm: cfg.clipNorm,
  });
  const base = hooks.checkpointDir
    ? `${hooks.checkpointDir}/${checkpointName}`
    : null;
  let best: tf.Tensor | null = null;
  const allFlat = () => tf.concat(task.sets.map((s) => s.flat()));
  let meta: Meta = {
    step: 0,
    t: 0,
    curve: [],
    valCurve: [],
    best: null,
    bad: 0,
    done: false,
    stoppedEarly: false,
    identity: task.identity,
  };

  const stateVars = (): Record<string, tf.Tensor> => {
    const out: Record<string, tf.Tensor> = {};
    for (const s of task.sets) {
      s.names.forEach((n, i) => out[`param/${n}`] = s.vars[i]);
    }
    out["opt/m"] = opt.m;
    out["opt/v"] = opt.v;
    for (const [k, v] of Object.entries(task.state ?? {})) {
      out[`state/${k}`] = v;
    }
    if (best) out["best"] = best;
    return out;
  };
  const save = async () => {
    if (!base) return;
    const tensors: Record<string, NamedTensor> = {};
    for (const [k, v] of Object.entries(stateVars())) {
      tensors[k] = await host(v);
    }
    saveCheckpoint(base, { tensors, meta: { ...meta, t: opt.t } });
  };

  const ck = base ? loadCheckpoint<Meta>(base) : null;
  if (ck) {
    if (JSON.stringify(ck.meta.identity) !== JSON.stringify(task.identity)) {
      throw new UserError(
        `${base}: checkpoint is from a different run (config, method, seed or data differ); delete it or use another checkpoint folder`,
      );
    }
    meta = ck.meta;
    opt.t = meta.t;
    if (ck.tensors["best"]) {
      best = tf.keep(
        tf.tensor(ck.tensors["best"].data, ck.tensors["best"].shape),
      );
    }
    for (const [k, v] of Object.entries(stateVars())) {
      const saved = ck.tensors[k];
      if (!saved) throw new UserError(`${base}: checkpoint lacks tensor ${k}`);
      if (v instanceof tf.Variable) {
        v.assign(tf.tensor(saved.data, saved.shape));
      }
    }
  }

  let lastFinite = meta.curve.length > 0
    ? meta.curve[meta.curve.length - 1]
    : null;
  const pending: tf.Scalar[] = [];
  let windowStart = meta.step;
  const startStep = meta.step;
  try {
    for (let step = meta.step; step < cfg.steps && !meta.done; step++) {
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => task.loss(step),
          opt.vars,
        );
        const g = opt.vars.map((v) => grads[v.name] ?? tf.zerosLike(v));
        opt.apply(g, lrAt(step, cfg.steps, cfg.lr, cfg.warmupFraction));
        task.afterStep?.(step);
        return value;
      });
      pending.push(loss);
      const last = step + 1 === cfg.steps;
      if (pending.length < cfg.readEvery && !last) continue;

      const stacked = tf.stack(pending);
      const values = Array.from(await stacked.data());
      stacked.dispose();
      for (const p of pending.splice(0)) p.dispose();
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) {
          throw new DivergenceError(task.phase, windowStart + i, lastFinite);
        }
        lastFinite = values[i];
      }
      meta.curve.push(values.reduce((a, b) => a + b, 0) / values.length);
      meta.step = step + 1;
      windowStart = meta.step;

      if (task.validate) {
        const raw = await task.validate();
        meta.valCurve.push(raw);
        const sm = meta.smoothedCurve ??= [];
        const a = cfg.smoothing ?? 0;
        const val = sm.length === 0 || a === 0
          ? raw
          : a * sm[sm.length - 1] + (1 - a) * raw;
        sm.push(val);
        const bar = meta.best === null
          ? Infinity
          : meta.best - (cfg.minDelta ?? 0) * Math.abs(meta.best);
        if (!Number.isFinite(val)) {
          throw new DivergenceError(
            `${task.phase} (validation)`,
            meta.step,
            lastFinite,
          );
        }
        if (val < bar) {
          meta.best = val;
          meta.bad = 0;
          if (cfg.restoreBest !== false) {
            best?.dispose();
            best = tf.keep(tf.tidy(allFlat));
          }
        } else if (++meta.bad >= (cfg.patience ?? Infinity)) {
          meta.stoppedEarly = true;
          meta.done = true;
        }
      }
      if (last) meta.done = true;
      if (meta.done && best) {
        let o = 0;
        for (const s of task.sets) {
          const flat = best;
          tf.tidy(() => s.assignFlat(flat.slice(o, s.total)));
          o += s.total;
        }
      }
      const elapsed = (performance.now() - t0) / 1000;
      const eta = elapsed / (meta.step - startStep) * (cfg.steps - meta.step);
      hooks.onProgress?.(
        task.phase,
        meta.step,
        cfg.steps,
        meta.curve[meta.curve.length - 1],
        meta.done ? 0 : eta,
      );
      await save();
      if (hooks.signal?.aborted && !meta.done) {
        throw new Interrupted(task.phase, meta.step);
      }
    }
  } finally {
    for (const p of pending) p.dispose();
    best?.dispose();
    opt.dispose();
  }
  return {
    curve: meta.curve,
    valCurve: meta.valCurve,
    smoothedCurve: meta.smoothedCurve ?? [],
    steps: meta.step,
    stoppedEarly: meta.stoppedEarly,
    seconds: (performance.now() - t0) / 1000,
  };
}
