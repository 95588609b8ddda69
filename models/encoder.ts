/**
 * The multimodal encoder: tokenizers, modality and time embeddings, a
 * pre-norm transformer, and masked mean pooling per modality and fused.
 *
 * Hidden tokens are excluded as attention keys rather than removed, so
 * every batch keeps one shape; a hidden token's own output is never read
 * (so the fused attention skips it as a query, and its value is
 * unspecified), and no visible token can attend to it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { IMAGE, type Layout } from "./batch.ts";
import type { ModelConfig } from "./config.ts";
import type { Params, ParamSpec } from "./params.ts";
import {
  type Inputs,
  tokenize,
  TokenizerConstants,
  tokenizerSpecs,
  tokenSum,
} from "./tokenizers.ts";
import {
  keyBias,
  stackRows,
  type StackShape,
  stackSpecs,
} from "./transformer.ts";
import { untaped } from "./untaped.ts";

/**
 * Shapes, constants and forward pass of the encoder; parameters live
 * outside, so the same code runs the online and the EMA target weights.
 *
 * @example
 * ```ts
 * const enc = new Encoder(layout, cfg.model);
 * const params = ParamSet.create(enc.specs(), streams.get("init"));
 * const pooled = tf.tidy(() => enc.pool(enc.forward(params.dict, x, x.present), x.present));
 * ```
 */
export class Encoder {
  /** Token layout. */
  readonly layout: Layout;
  /** Model config. */
  readonly model: ModelConfig;
  /** The transformer stack's shape. */
  readonly shape: StackShape;
  /** Tokenizer constants. */
  readonly consts: TokenizerConstants;
  /** [1, N]: 1 on image tokens. */
  readonly imageTokens: tf.Tensor;
  /** [1, N]: 1 on EHR and demographics tokens. */
  readonly ehrTokens: tf.Tensor;
  /** [1, 1, N, N]: 1 where query and key are on the same modality side. */
  readonly sameSide: tf.Tensor;
  /** [1, 1, N, N]: 0 where query and key are on the same side, else -1e9. */
  readonly sideBias: tf.Tensor;
  // 1 on image tokens, by token.
  readonly #isImage: Float32Array;

  /** Builds constants for a layout and config. */
  constructor(layout: Layout, model: ModelConfig) {
    this.layout = layout;
    this.model = model;
    this.shape = {
      width: model.width,
      depth: model.depth,
      heads: model.heads,
      mlpRatio: model.mlpRatio,
      decay: model.timeEncoding === "decay" || model.timeEncoding === "both",
    };
    this.consts = new TokenizerConstants(
      layout,
      model.width,
      model.positions,
    );
    const N = layout.nTokens;
    const img = Float32Array.from(layout.modality, (m) => m === IMAGE ? 1 : 0);
    this.imageTokens = tf.tensor2d(img, [1, N]);
    this.ehrTokens = tf.tensor2d(img.map((v) => 1 - v), [1, N]);
    const same = new Float32Array(N * N);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) same[i * N + j] = img[i] === img[j] ? 1 : 0;
    }
    this.sameSide = tf.tensor4d(same, [1, 1, N, N]);
    this.sideBias = tf.tidy(() => tf.scalar(1).sub(this.sameSide).mul(-1e9));
    this.#isImage = img;
  }

  /** Parameter specs (names start with "enc/"). */
  specs(): ParamSpec[] {
    return [
      ...tokenizerSpecs(this.layout, this.model),
      ...stackSpecs("enc", this.shape),
    ];
  }

  /** Token content and position embeddings, [n, N, w] each. */
  embed(p: Params, x: Inputs): { content: tf.Tensor; pos: tf.Tensor } {
    return tokenize(p, x, this.layout, this.model.width, this.consts);
  }

  /**
   * Encodes with attention restricted to `visible` keys [n, N]; returns
   * [n, N, w] (final layer norm applied). With `sideOnly`, image tokens
   * attend only to image tokens and EHR tokens only to EHR tokens, so each
   * modality's pooled embedding comes from that modality alone. Pass
   * `emb` when the caller already computed {@link embed}. Rows of tokens
   * outside `visible` are unspecified: read only visible rows.
   */
  forward(
    p: Params,
    x: Inputs,
    visible: tf.Tensor,
    sideOnly = false,
    emb?: { content: tf.Tensor; pos: tf.Tensor },
  ): tf.Tensor {
    const { nTokens } = this.layout;
    return this.forwardRows(p, x, visible, sideOnly, emb)
      .reshape([x.n, nTokens, this.model.width]);
  }

  /** {@link forward} as token rows [n * N, w] (no reshape at the end). */
  forwardRows(
    p: Params,
    x: Inputs,
    visible: tf.Tensor,
    sideOnly = false,
    emb?: { content: tf.Tensor; pos: tf.Tensor },
  ): tf.Tensor {
    const tokens = emb
      ? emb.content.add(emb.pos)
      : tokenSum(p, x, this.layout, this.model.width, this.consts);
    let bias: tf.Tensor;
    if (visible === x.present && x.presentHost) {
      bias = this.#hostBias(x.presentHost, x.n, sideOnly);
    } else {
      // A mask: nothing to differentiate.
      bias = untaped(() =>
        sideOnly ? keyBias(visible).add(this.sideBias) : keyBias(visible)
      );
    }
    const rows = tokens.reshape([x.n * this.layout.nTokens, this.model.width]);
    return stackRows(rows, x.n, p, "enc", this.shape, bias, x.dt, {
      hiddenUnread: true,
    });
  }

  // keyBias(present) (+ sideBias) as one constant, computed on the host
  // with the same float32 arithmetic (each term is 0 or fround(-1e9)):
  // the ops that built it cost a features step more than the numbers.
  #hostBias(present: Float32Array, n: number, sideOnly: boolean): tf.Tensor {
    const N = this.layout.nTokens;
    const big = Math.fround(-1e9);
    if (!sideOnly) {
      const b = new Float32Array(n * N);
      for (let i = 0; i < n * N; i++) {
        b[i] = Math.fround((1 - present[i]) * big);
      }
      return tf.tensor4d(b, [n, 1, 1, N]);
    }
    // A patient's query rows come in two kinds (image or EHR side): build
    // both once, then copy (a volume batch has 32 x 201 x 201 entries).
    const img = this.#isImage, b = new Float32Array(n * N * N);
    const rows = [new Float32Array(N), new Float32Array(N)];
    for (let r = 0; r < n; r++) {
      for (const s of [0, 1]) {
        for (let k = 0; k < N; k++) {
          const key = Math.fround((1 - present[r * N + k]) * big);
          const side = Math.fround((s === img[k] ? 0 : 1) * big);
          rows[s][k] = Math.fround(key + side);
        }
      }
      for (let q = 0; q < N; q++) b.set(rows[img[q]], (r * N + q) * N);
    }
    return tf.tensor4d(b, [n, 1, N, N]);
  }

  /**
   * Pools tokens where `mask` [n, N] is 1 (zeros when none): their mean,
   * or with `model.pooling` `meanmax` the average of their mean and their
   * per-channel max.
   */
  pool(out: tf.Tensor, mask: tf.Tensor): tf.Tensor {
    const m = mask.expandDims(2);
    const count = tf.maximum(m.sum(1), 1);
    const mean = out.mul(m).sum(1).div(count);
    // Older saved models have no pooling field: the mean.
    if ((this.model.pooling ?? "mean") === "mean") return mean;
    // Masked max: excluded tokens sit far below any value; a patient with
    // no token gets 0 (the max of -1e9 rows is multiplied away).
    const any = tf.minimum(m.sum(1), 1);
    const max = out.add(m.sub(1).mul(1e9)).max(1).mul(any);
    return mean.add(max).mul(0.5);
  }

  /** Frees the constants. */
  dispose(): void {
    this.consts.dispose();
    this.imageTokens.dispose();
    this.ehrTokens.dispose();
    this.sameSide.dispose();
    this.sideBias.dispose();
  }
}
