/**
 * Multimodal JEPA: a context encoder sees the visible tokens; a target
 * encoder, an exponential moving average of the context encoder, sees all
 * tokens; a narrow predictor gets the context embeddings plus mask tokens
 * (carrying each hidden token's modality, position and time) and predicts
 * the target encoder's layer-normalized embeddings of the hidden tokens.
 *
 * The target branch runs on EMA weights that are not optimizer variables,
 * so no gradient reaches them; they change only through {@link emaUpdate}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { JepaLoss, ModelConfig, TargetNorm } from "./config.ts";
import type { Encoder } from "./encoder.ts";
import { EMA, hasKernel } from "../kernels/mod.ts";
import {
  denseSpecs,
  type Params,
  type ParamSet,
  type ParamSpec,
} from "./params.ts";
import type { Inputs } from "./tokenizers.ts";
import { untaped } from "./untaped.ts";
import {
  dense,
  keyBias,
  layerNorm,
  stackRows,
  type StackShape,
  stackSpecs,
} from "./transformer.ts";

/**
 * The predictor's transformer shape.
 *
 * @example
 * ```ts
 * predictorShape(cfg.model).width; // cfg.model.predictorWidth
 * ```
 */
export function predictorShape(m: ModelConfig): StackShape {
  return {
    width: m.predictorWidth,
    depth: m.predictorDepth,
    heads: m.predictorHeads,
    mlpRatio: m.mlpRatio,
    decay: false,
  };
}

/**
 * Predictor parameter specs (names start with "pred/").
 *
 * @example
 * ```ts
 * const pred = ParamSet.create(predictorSpecs(cfg.model), streams.get("init/pred"));
 * ```
 */
export function predictorSpecs(m: ModelConfig): ParamSpec[] {
  const pw = m.predictorWidth;
  return [
    ...denseSpecs("pred/in", m.width, pw),
    ...denseSpecs("pred/pos", m.width, pw, false),
    { name: "pred/mask", shape: [pw], init: { std: 0.02 }, decay: false },
    ...stackSpecs("pred", predictorShape(m)),
    ...denseSpecs("pred/out", pw, m.width),
  ];
}

/**
 * EMA momentum at `step` of `total`: linear from `start` to `end`.
 *
 * @example
 * ```ts
 * momentumAt(0, 100, 0.996, 1); // 0.996
 * ```
 */
export function momentumAt(
  step: number,
  total: number,
  start: number,
  end: number,
): number {
  return start + (end - start) * Math.min(1, step / Math.max(1, total - 1));
}

/**
 * target <- momentum * target + (1 - momentum) * online, on flat vectors.
 *
 * @example
 * ```ts
 * emaUpdate(targetFlat, online.flat(), 0.996);
 * ```
 */
export function emaUpdate(
  target: tf.Variable,
  online: tf.Tensor,
  momentum: number,
): void {
  tf.tidy(() => {
    target.assign(target.mul(momentum).add(online.mul(1 - momentum)));
  });
}

/**
 * {@link emaUpdate} from a parameter set, through the fused EMA kernel
 * where the backend has it (no concatenation of the parameters).
 *
 * @example
 * ```ts
 * emaUpdateFrom(targetFlat, online, 0.996);
 * ```
 */
export function emaUpdateFrom(
  target: tf.Variable,
  online: ParamSet,
  momentum: number,
): void {
  if (!hasKernel(EMA)) {
    tf.tidy(() => emaUpdate(target, online.flat(), momentum));
    return;
  }
  tf.tidy(() => {
    const inputs: tf.NamedTensorMap = { target };
    online.vars.forEach((p, i) => inputs[`p${i}`] = p);
    target.assign(
      tf.engine().runKernel(EMA, inputs, { momentum }) as tf.Tensor,
    );
  });
}

/**
 * JEPA piece 1, the targets: the EMA target encoder sees every present
 * token, and its outputs are layer-normalized without an affine, so the
 * predictor cannot win by shrinking them. No gradient reaches the target
 * parameters (they are not optimizer variables).
 *
 * @example
 * ```ts
 * const wanted = targetTokens(enc, online.unflatten(targetFlat), x); // [n, N, width]
 * ```
 */
export function targetTokens(
  enc: Encoder,
  target: Params,
  x: Inputs,
  norm: TargetNorm = "layer",
): tf.Tensor {
  const t = layerNorm(enc.forward(target, x, x.present), null, null);
  if (norm === "layer+batch") return batchStandardize(t, x.present);
  if (norm === "layer+instance") return instanceStandardize(t, x.present);
  return t;
}

/**
 * Standardizes each channel across one patient's present tokens ([n, N,
 * w], `present` [n, N]), as data2vec's instance-normalized targets: what
 * every token of a scan shares (its overall density, scanner gain and
 * noise) cancels, and what stays is how the tokens differ from each
 * other, e.g. the nodule against the lung around it.
 *
 * @example
 * ```ts
 * const t = instanceStandardize(layerNorm(out, null, null), x.present);
 * ```
 */
export function instanceStandardize(
  t: tf.Tensor,
  present: tf.Tensor,
): tf.Tensor {
  const m = present.expandDims(2);
  const count = tf.maximum(m.sum(1, true), 1);
  const mean = t.mul(m).sum(1, true).div(count);
  const centred = t.sub(mean).mul(m);
  const variance = centred.square().sum(1, true).div(count);
  return centred.div(variance.add(1e-4).sqrt());
}

/**
 * Standardizes each token position and channel across the patients of a
 * batch that have that token ([n, N, w], `present` [n, N]): what stays is
 * only what differs between patients at that position, so a target that
 * the position alone predicts counts for nothing, and a target encoder
 * that collapses to the positions still has unit-variance targets to fit.
 *
 * @example
 * ```ts
 * const t = batchStandardize(layerNorm(out, null, null), x.present);
 * ```
 */
export function batchStandardize(t: tf.Tensor, present: tf.Tensor): tf.Tensor {
  const m = present.expandDims(2);
  const count = tf.maximum(m.sum(0), 1);
  const mean = t.mul(m).sum(0).div(count);
  const centred = t.sub(mean).mul(m);
  const variance = centred.square().sum(0).div(count);
  return centred.div(variance.add(1e-4).sqrt());
}

/**
 * JEPA piece 2, context and predictor: the context encoder sees only the
 * context tokens; the predictor gets their embeddings plus, at every hidden
 * token, the learned mask token and that token's position/modality/time
 * embedding, and returns [n, N, width], a prediction at every hidden token
 * (rows of tokens neither context nor hidden are unspecified).
 *
 * @param context [n, N] 1 on tokens the context encoder sees
 * @param hidden [n, N] 1 on tokens to predict
 *
 * @example
 * ```ts
 * const predicted = predictHidden(enc, online.dict, pred.dict, x, ctx, hid, cfg.model);
 * ```
 */
export function predictHidden(
  enc: Encoder,
  online: Params,
  pred: Params,
  x: Inputs,
  context: tf.Tensor,
  hidden: tf.Tensor,
  m: ModelConfig,
): tf.Tensor {
  // On token rows [n * N, .] throughout: no reshape between the context
  // encoder, the predictor's layers and its stack.
  const n = x.n, N = enc.layout.nTokens, rows = n * N;
  const emb = enc.embed(online, x);
  const ctxOut = enc.forwardRows(online, x, context, false, emb);
  const ctxCol = untaped(() => context.reshape([rows, 1]));
  const hidCol = untaped(() => hidden.reshape([rows, 1]));
  const tokens = dense(ctxOut, pred, "pred/in").mul(ctxCol)
    .add(hidCol.mul(pred["pred/mask"]))
    .add(dense(emb.pos.reshape([rows, m.width]), pred, "pred/pos"));
  return dense(
    stackRows(
      tokens,
      n,
      pred,
      "pred",
      predictorShape(m),
      untaped(() => keyBias(context.add(hidden))),
      null,
      // Only hidden rows are read (jepaRegression).
      { hiddenUnread: true },
    ),
    pred,
    "pred/out",
  ).reshape([n, N, m.width]);
}

/**
 * JEPA piece 3, the loss: regression of the predictions onto the targets,
 * averaged over hidden tokens and width only (context tokens add nothing).
 * The gradient reaches the predictions only (the targets are constants).
 *
 * @param hidden [n, N] 1 on tokens to predict
 *
 * @example
 * ```ts
 * const loss = jepaRegression(predicted, wanted, hid, "l2");
 * ```
 */
export function jepaRegression(
  predicted: tf.Tensor,
  wanted: tf.Tensor,
  hidden: tf.Tensor,
  loss: JepaLoss,
): tf.Scalar {
  if (loss === "l2") return maskedSquares(predicted, wanted, hidden);
  const a = predicted.sub(wanted).abs(), small = tf.minimum(a, 1);
  const err = small.square().mul(0.5).add(a.sub(small));
  const width = wanted.shape[wanted.shape.length - 1];
  const count = tf.maximum(hidden.sum().mul(width), 1);
  return err.mul(hidden.expandDims(2)).sum().div(count) as tf.Scalar;
}

// The l2 loss of jepaRegression as one tape node: the same forward ops,
// and backward the gradient autodiff forms, ((dy / count) * mask) * (2 *
// diff) in that order, so the same values; the targets, the mask and the
// count get none (the caller passes targets computed off the tape).
function maskedSquares(
  predicted: tf.Tensor,
  wanted: tf.Tensor,
  hidden: tf.Tensor,
): tf.Scalar {
  const width = wanted.shape[wanted.shape.length - 1];
  const m = untaped(() => hidden.expandDims(2));
  const count = untaped(() => tf.maximum(hidden.sum().mul(width), 1));
  const f = tf.customGrad(
    // deno-lint-ignore no-explicit-any
    ((p: tf.Tensor, save: tf.GradSaveFunc): any => {
      const diff = p.sub(wanted);
      // The mask and count too: the forward scope disposes them before
      // the backward pass runs.
      save([diff, m, count]);
      return {
        value: diff.square().mul(m).sum().div(count),
        gradFunc: (dy: tf.Tensor, [d, sm, sc]: tf.Tensor[]) =>
          dy.div(sc).mul(sm).mul(d.mul(2)),
      };
      // deno-lint-ignore no-explicit-any
    }) as any,
  ) as (p: tf.Tensor) => tf.Scalar;
  return f(predicted);
}

/**
 * The JEPA loss for one batch: {@link targetTokens}, then
 * {@link predictHidden}, then {@link jepaRegression}. Piece 4, the
 * momentum update of the target, is {@link emaUpdateFrom} after the
 * optimizer step.
 *
 * @param online context encoder parameters
 * @param pred predictor parameters
 * @param target EMA target encoder parameters, or a function giving them
 *   (then called with the gradient tape off, so e.g. slicing them out of
 *   a flat vector records nothing)
 * @param context [n, N] 1 on tokens the context encoder sees
 * @param hidden [n, N] 1 on tokens to predict
 *
 * @example
 * ```ts
 * const loss = jepaLoss(enc, online.dict, pred.dict, targetParams, x, ctx, tgt, cfg.model, "l2");
 * ```
 */
export function jepaLoss(
  enc: Encoder,
  online: Params,
  pred: Params,
  target: Params | (() => Params),
  x: Inputs,
  context: tf.Tensor,
  hidden: tf.Tensor,
  m: ModelConfig,
  loss: JepaLoss,
  norm: TargetNorm = "layer",
): tf.Scalar {
  // The EMA branch gets no gradient: off the tape, its ops cost only
  // their arithmetic.
  const wanted = untaped(() =>
    targetTokens(enc, typeof target === "function" ? target() : target, x, norm)
  );
  const predicted = predictHidden(enc, online, pred, x, context, hidden, m);
  return jepaRegression(predicted, wanted, hidden, loss);
}
