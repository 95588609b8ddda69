/**
 * Radiomics pretext: the image encoder learns to regress the 16 nodule
 * measurements of core/radiomics.ts (volume, solid part, density, edge,
 * shape, surroundings) from the volume, on unlabeled patients.
 *
 * Why: on `paper-volume` a patch encoder trained from 300 labels reads the
 * nodule's size, spiculation and calcification far worse than those
 * measurements do (README, issue 20), and so does a small 3D CNN trained
 * the same way (benches/torch_volume_cnn.py). A label is one bit per
 * patient; the measurements are sixteen numbers per patient, computed from
 * the image alone, so they can supervise the encoder on every unlabeled
 * volume of the pretraining pool. No label is read. The targets are the
 * latest scan's measurements, standardized over the pool.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { VOLUME_FEATURE_NAMES, volumeFeatures } from "../core/radiomics.ts";
import { UserError } from "../core/errors.ts";
import type { Patient } from "../cohort/types.ts";
import type { Encoder } from "./encoder.ts";
import { denseSpecs, type Params, type ParamSpec } from "./params.ts";
import type { Inputs } from "./tokenizers.ts";
import { dense } from "./transformer.ts";

/** Standardized measurement targets of a patient pool. */
export interface RadiomicsTargets {
  /** [patients, dim] row-major, standardized (0 for a patient without a scan). */
  values: Float32Array;
  /** 1 where the patient has a scan, else 0. */
  has: Float32Array;
  /** Measurements per patient ({@link VOLUME_FEATURE_NAMES}). */
  dim: number;
}

/**
 * The linear head from the pooled image embedding to the measurements
 * (names start with "rad/").
 *
 * @example
 * ```ts
 * const rad = ParamSet.create(radiomicsSpecs(32), streams.get("init/rad"));
 * ```
 */
export function radiomicsSpecs(width: number): ParamSpec[] {
  return denseSpecs("rad/head", width, VOLUME_FEATURE_NAMES.length);
}

/**
 * Each patient's latest-scan measurements, standardized by the pool's
 * mean and standard deviation (a measurement that does not vary gets
 * target 0). `shape` is the cohort's imaging shape: a cube.
 *
 * @example
 * ```ts
 * const t = radiomicsTargets(pool, set.internal.imaging.shape);
 * ```
 */
export function radiomicsTargets(
  patients: readonly Patient[],
  shape: readonly number[],
): RadiomicsTargets {
  if (shape.length !== 3 || shape[0] !== shape[1] || shape[1] !== shape[2]) {
    throw new UserError(
      `the radiomics pretext measures nodules in volumes: the imaging shape is [${shape}], expected a cube [n, n, n] (imaging.level: volume)`,
    );
  }
  const dim = VOLUME_FEATURE_NAMES.length, n = patients.length;
  const raw = new Float64Array(n * dim), has = new Float32Array(n);
  patients.forEach((p, i) => {
    if (p.scans.length === 0) return;
    raw.set(
      volumeFeatures(p.scans[p.scans.length - 1].data, shape[0]),
      i * dim,
    );
    has[i] = 1;
  });
  const count = has.reduce((a, b) => a + b, 0);
  const values = new Float32Array(n * dim);
  for (let j = 0; j < dim; j++) {
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      if (has[i]) {
        s += raw[i * dim + j];
        s2 += raw[i * dim + j] ** 2;
      }
    }
    const mean = s / Math.max(count, 1);
    const sd = Math.sqrt(Math.max(s2 / Math.max(count, 1) - mean * mean, 0));
    for (let i = 0; i < n; i++) {
      if (has[i] && sd > 1e-9) {
        values[i * dim + j] = (raw[i * dim + j] - mean) / sd;
      }
    }
  }
  return { values, has, dim };
}

/**
 * Mean squared error of the predicted standardized measurements over the
 * batch's patients with a scan. `targets` [n, dim] and `has` [n] are the
 * batch's rows of {@link radiomicsTargets}.
 *
 * @param p encoder and "rad/" parameters in one dictionary
 *
 * @example
 * ```ts
 * const loss = radiomicsLoss(enc, { ...online.dict, ...rad.dict }, x, t, has);
 * ```
 */
export function radiomicsLoss(
  enc: Encoder,
  p: Params,
  x: Inputs,
  targets: tf.Tensor,
  has: tf.Tensor,
): tf.Scalar {
  const imgMask = x.present.mul(enc.imageTokens);
  const out = enc.forward(p, x, imgMask);
  const pred = dense(enc.pool(out, imgMask), p, "rad/head");
  const perPatient = pred.sub(targets).square().mean(1).mul(has);
  return perPatient.sum().div(tf.maximum(has.sum(), 1)) as tf.Scalar;
}
