/**
 * Finetuned models that outlive the run: `task train --config` saves each
 * method's finetuned model under `<out>/models/<method>-seed<seed>[-fold<k>]/`
 * as `model.safetensors` plus a `model.json` sidecar, and
 * `task predict --model DIR --config cohort.yaml` scores a cohort with it.
 *
 * Layout of `model.safetensors` (float32, little endian): the encoder's
 * parameters under `encoder.*`, the logistic head under `head.*`, the input
 * standardization under `norm.*`. Names are the internal parameter paths
 * with "/" turned into "." (e.g. `encoder.enc.embed.w`); a dense layer is
 * `.w` of shape [in, out] and `.b` of shape [out] (y = x @ w + b, so a
 * PyTorch `nn.Linear` takes `w.T`), a layer norm `.g` and `.b`. The sidecar
 * holds the model config, the token layout, the modalities the method
 * reads, the training seed/fold and the tensor names in order.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { stringify } from "csv-stringify/sync";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Patient } from "../cohort/types.ts";
import { type BackendChoice, initBackend } from "../kernels/backend.ts";
import { UserError } from "../core/errors.ts";
import { readRegularFile, readRegularText } from "../core/files.ts";
import { writeAtomic } from "../core/results.ts";
import { hostBatch, type Layout, makeLayout } from "../models/batch.ts";
import type { ModelConfig } from "../models/config.ts";
import { Encoder } from "../models/encoder.ts";
import type { FinetunedModel } from "../models/experiment.ts";
import type { Params } from "../models/params.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedTensor,
} from "../models/safetensors.ts";
import { fusedEmbedding, headLogits } from "../models/supervised.ts";
import { toInputs } from "../models/tokenizers.ts";
import { buildCohortSet } from "./build.ts";
import { loadCohortConfig } from "./config.ts";

/** Bumped when the saved layout changes meaning. */
export const SAVED_MODEL_VERSION = 1;

/** Where the run is from, stored in the sidecar. */
export interface SavedModelInfo {
  /** Training seed (also the split seed unless the cohort YAML sets one). */
  seed: number;
  /** k-fold index, when k-fold. */
  fold?: number;
  /** The cohort YAML it was trained on. */
  cohortConfig: string;
}

interface Sidecar extends SavedModelInfo {
  format: "mmjepa-finetuned";
  version: number;
  method: string;
  model: ModelConfig;
  layout: Record<string, unknown>;
  use: { image: boolean; ehr: boolean };
  encoder: string[];
  head: string[];
}

const NORM_KEYS = [
  "imageMean",
  "imageStd",
  "ehrMean",
  "ehrStd",
  "demoMean",
  "demoStd",
] as const;

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function tensorName(group: string, name: string): string {
  return `${group}.${name.replaceAll("/", ".")}`;
}

/**
 * The folder name of a saved model: `<method>-seed<seed>[-fold<k>]`, with
 * "+" in method names turned into "-".
 *
 * @example
 * ```ts
 * modelDirName("jepa+contrastive", 1); // "jepa-contrastive-seed1"
 * ```
 */
export function modelDirName(
  method: string,
  seed: number,
  fold?: number,
): string {
  return `${method.replaceAll("+", "-")}-seed${seed}${
    fold === undefined ? "" : `-fold${fold}`
  }`;
}

/**
 * Writes `dir/model.safetensors` and `dir/model.json`.
 *
 * @example
 * ```ts
 * await finetune(set, "jepa", pre, cfg, 1, {}, (m) =>
 *   saveFinetuned("out/models/jepa-seed1", m, { seed: 1, cohortConfig: "c.yaml" }));
 * ```
 */
export function saveFinetuned(
  dir: string,
  m: FinetunedModel,
  info: SavedModelInfo,
): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, NamedTensor> = {};
  const names = { encoder: [] as string[], head: [] as string[] };
  for (const group of ["encoder", "head"] as const) {
    const p = m[group];
    p.names.forEach((n, i) => {
      const key = tensorName(group, n);
      if (tensors[key]) throw new Error(`duplicate tensor name ${key}`);
      tensors[key] = { shape: p.shapes[i], data: p.values[i] };
      names[group].push(key);
    });
  }
  for (const k of NORM_KEYS) {
    tensors[`norm.${snake(k)}`] = {
      shape: [m.norm[k].length],
      data: m.norm[k],
    };
  }
  const L = m.layout;
  const sidecar: Sidecar = {
    format: "mmjepa-finetuned",
    version: SAVED_MODEL_VERSION,
    method: m.method,
    ...info,
    model: m.model,
    layout: {
      ...L,
      modality: Array.from(L.modality),
      slot: Array.from(L.slot),
      within: Array.from(L.within),
    },
    use: m.use,
    encoder: names.encoder,
    head: names.head,
  };
  writeAtomic(
    join(dir, "model.safetensors"),
    encodeSafetensors(tensors, {
      format: "mmjepa-finetuned",
      version: String(SAVED_MODEL_VERSION),
    }),
  );
  writeAtomic(join(dir, "model.json"), JSON.stringify(sidecar, null, 1) + "\n");
}

/** A saved model, loaded. */
export interface LoadedModel {
  /** The sidecar. */
  info: Sidecar;
  /** As {@link FinetunedModel}. */
  model: FinetunedModel;
}

/**
 * Reads a model saved by {@link saveFinetuned}; errors name the file.
 *
 * @example
 * ```ts
 * const { model } = loadFinetuned("out/run/models/jepa-seed1");
 * ```
 */
export function loadFinetuned(dir: string): LoadedModel {
  const st = join(dir, "model.safetensors"), js = join(dir, "model.json");
  for (const f of [st, js]) {
    if (!existsSync(f)) {
      throw new UserError(
        `--model ${dir}: ${f} is missing; expected a folder written by task train (out/<run>/models/<method>-seed<n>)`,
      );
    }
  }
  let info: Sidecar;
  const text = readRegularText(js, "model sidecar (model.json)");
  try {
    info = JSON.parse(text);
    if (typeof info !== "object" || info === null) {
      throw new Error("not an object");
    }
  } catch (e) {
    throw new UserError(`${js}: not valid JSON (${(e as Error).message})`);
  }
  if (
    info.format !== "mmjepa-finetuned" || info.version !== SAVED_MODEL_VERSION
  ) {
    throw new UserError(
      `${js}: format ${info.format} version ${info.version}; expected mmjepa-finetuned version ${SAVED_MODEL_VERSION}`,
    );
  }
  const { tensors } = decodeSafetensors(
    readRegularFile(st, "model weights (model.safetensors)"),
    st,
  );
  const group = (keys: string[], prefix: string) => {
    const out = {
      names: [] as string[],
      shapes: [] as number[][],
      values: [] as Float32Array[],
    };
    for (const k of keys) {
      const t = tensors[k];
      if (!t) throw new UserError(`${st}: tensor ${k} is missing`);
      out.names.push(k.slice(prefix.length + 1).replaceAll(".", "/"));
      out.shapes.push(t.shape);
      out.values.push(t.data);
    }
    return out;
  };
  const norm = Object.fromEntries(NORM_KEYS.map((k) => {
    const t = tensors[`norm.${snake(k)}`];
    if (!t) throw new UserError(`${st}: tensor norm.${snake(k)} is missing`);
    return [k, t.data];
  })) as unknown as FinetunedModel["norm"];
  const l = info.layout;
  const layout = {
    ...l,
    modality: Int8Array.from(l.modality as number[]),
    slot: Int32Array.from(l.slot as number[]),
    within: Int32Array.from(l.within as number[]),
  } as unknown as Layout;
  return {
    info,
    model: {
      method: info.method as FinetunedModel["method"],
      model: info.model,
      layout,
      norm,
      use: info.use,
      encoder: group(info.encoder, "encoder"),
      head: group(info.head, "head"),
    },
  };
}

/** Scores and fused embeddings of some patients. */
export interface Scoring {
  /** P(malignant) per patient. */
  scores: number[];
  /** [n, width] fused embeddings (what the head reads), row-major. */
  embeddings: Float32Array;
}

/**
 * Scores patients with a finetuned model, in chunks of 256 as training's
 * evaluation does (so the same patients give the same scores on cpu).
 *
 * @example
 * ```ts
 * const { scores } = await scorePatients(model, cohort.patients);
 * ```
 */
export async function scorePatients(
  m: FinetunedModel,
  patients: Patient[],
): Promise<Scoring> {
  const enc = new Encoder(m.layout, m.model);
  const dict = (g: FinetunedModel["encoder"]): Params =>
    Object.fromEntries(
      g.names.map((n, i) => [n, tf.tensor(g.values[i], g.shapes[i])]),
    );
  const encP = dict(m.encoder), head = dict(m.head);
  const w = m.model.width, chunk = 256;
  const scores: number[] = [];
  const embeddings = new Float32Array(patients.length * w);
  try {
    for (let s = 0; s < patients.length; s += chunk) {
      const idx = Array.from(
        { length: Math.min(patients.length, s + chunk) - s },
        (_, i) => s + i,
      );
      const [e, p] = tf.tidy(() => {
        const x = toInputs(
          hostBatch(patients, idx, m.layout, m.norm, m.use),
          m.layout,
          m.model,
        );
        const emb = fusedEmbedding(enc, encP, x);
        return [emb, tf.sigmoid(headLogits(head, emb))];
      });
      embeddings.set(await e.data(), s * w);
      scores.push(...await p.data());
      tf.dispose([e, p]);
    }
  } finally {
    tf.dispose([...Object.values(encP), ...Object.values(head)]);
    enc.dispose();
  }
  return { scores, embeddings };
}

/** Options of {@link runPredict}. */
export interface PredictOptions {
  /** A folder written by task train (`models/<method>-seed<n>`). */
  modelDir: string;
  /** The cohort YAML to score. */
  configPath: string;
  /** Output folder (predictions.csv, embeddings.csv). */
  outDir: string;
  /** Also write the fused embedding per patient. */
  embeddings: boolean;
  /** Split seed; default: the model's training seed. */
  seed?: number;
  /** Drop bad records instead of stopping. */
  skipBad: boolean;
  /** Tensor backend. */
  backend: BackendChoice;
  /** Sink for the closing lines (default: stdout). */
  print?: (line: string) => void;
}

/**
 * Scores every patient of a cohort config with a saved model; writes
 * `predictions.csv` (cohort, split, patient_id, label, score) and, when
 * asked, `embeddings.csv` (cohort, split, patient_id, e0..e<width-1>).
 * Patients are scored in groups of (cohort, split, labeled or not), the
 * labeled internal test group exactly as training evaluated it.
 *
 * @example
 * ```ts
 * await runPredict({ modelDir: "out/run/models/jepa-seed1", configPath: "cohort.yaml",
 *   outDir: "out/pred", embeddings: true, skipBad: false, backend: "cpu" });
 * ```
 */
export async function runPredict(opts: PredictOptions): Promise<void> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const { info, model } = loadFinetuned(opts.modelDir);
  await initBackend(opts.backend);
  const cfg = await loadCohortConfig(opts.configPath);
  const seed = opts.seed ?? info.seed;
  const { set } = await buildCohortSet(cfg, {
    skipBad: opts.skipBad,
    seed,
    ...(info.fold !== undefined ? { fold: info.fold } : {}),
  });
  const here = makeLayout(set.internal, model.model);
  for (
    const k of [
      "mode",
      "imageDim",
      "ehrDim",
      "nTokens",
      "patchesPerScan",
    ] as const
  ) {
    if (here[k] !== model.layout[k]) {
      throw new UserError(
        `${opts.configPath}: cohort gives ${k} = ${
          here[k]
        }, the model in ${opts.modelDir} was trained with ${
          model.layout[k]
        }; preprocess the cohort as for training (roiSize, spacingMm, EHR signature)`,
      );
    }
  }
  const pred: string[][] = [[
    "cohort",
    "split",
    "patient_id",
    "label",
    "score",
  ]];
  const emb: string[][] = [[
    "cohort",
    "split",
    "patient_id",
    ...Array.from({ length: model.model.width }, (_, i) => `e${i}`),
  ]];
  let n = 0;
  for (const c of [set.internal, ...set.externals]) {
    for (const split of ["pretrain", "train", "val", "test"] as const) {
      for (const labeled of [true, false]) {
        const group = c.patients.filter((p) =>
          p.split === split && (p.label !== null) === labeled
        );
        if (group.length === 0) continue;
        const r = await scorePatients(model, group);
        const w = model.model.width;
        group.forEach((p, i) => {
          pred.push([
            c.name,
            split,
            p.id,
            p.label === null ? "" : String(p.label),
            String(r.scores[i]),
          ]);
          emb.push([
            c.name,
            split,
            p.id,
            ...Array.from(r.embeddings.subarray(i * w, (i + 1) * w), String),
          ]);
        });
        n += group.length;
      }
    }
  }
  mkdirSync(opts.outDir, { recursive: true });
  const predPath = join(opts.outDir, "predictions.csv");
  writeAtomic(predPath, stringify(pred));
  print(`scored ${n} patient(s) with ${info.method} (seed ${info.seed})`);
  print(`predictions: ${predPath}`);
  if (opts.embeddings) {
    const embPath = join(opts.outDir, "embeddings.csv");
    writeAtomic(embPath, stringify(emb));
    print(`embeddings:  ${embPath}`);
  }
}
