/**
 * Named parameters as plain tf variables, initialised from a seeded
 * {@link Rng} on the host so that initial weights do not depend on the
 * backend, and flattened into one vector for the optimizer and the EMA
 * (one fused update instead of a dozen ops per parameter).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../core/rng.ts";

/**
 * A variable holding `t`'s values; `t` is disposed (tf.variable keeps its
 * own reference, so the source tensor would otherwise leak).
 *
 * @example
 * ```ts
 * const m = variableFrom(tf.zeros([10]), false);
 * ```
 */
export function variableFrom(t: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

/** Parameters by name, as tensors (variables, or slices of a flat vector). */
export type Params = Record<string, tf.Tensor>;

/** How one parameter is initialised. */
export interface ParamSpec {
  /** Unique name, e.g. "enc/block0/qkv/w". */
  name: string;
  /** Shape. */
  shape: number[];
  /** Normal with this standard deviation, or a constant. */
  init: { std: number } | { value: number };
  /** Whether AdamW decays it (matrices yes; biases, norms, embeddings no). */
  decay: boolean;
}

/**
 * A dense layer's weight and bias specs (Xavier-like std 1/sqrt(fanIn)).
 *
 * @example
 * ```ts
 * const specs = denseSpecs("head", 32, 1); // head/w [32, 1], head/b [1]
 * ```
 */
export function denseSpecs(
  name: string,
  fanIn: number,
  fanOut: number,
  bias = true,
): ParamSpec[] {
  const specs: ParamSpec[] = [{
    name: `${name}/w`,
    shape: [fanIn, fanOut],
    init: { std: 1 / Math.sqrt(fanIn) },
    decay: true,
  }];
  if (bias) {
    specs.push({
      name: `${name}/b`,
      shape: [fanOut],
      init: { value: 0 },
      decay: false,
    });
  }
  return specs;
}

/**
 * Layer norm gain and bias specs.
 *
 * @example
 * ```ts
 * const specs = normSpecs("enc/norm", 32); // enc/norm/g, enc/norm/b
 * ```
 */
export function normSpecs(name: string, width: number): ParamSpec[] {
  return [
    { name: `${name}/g`, shape: [width], init: { value: 1 }, decay: false },
    { name: `${name}/b`, shape: [width], init: { value: 0 }, decay: false },
  ];
}

/**
 * An ordered set of named variables.
 *
 * @example
 * ```ts
 * const ps = ParamSet.create(denseSpecs("head", 32, 1), new Rng("1/init"));
 * const w = ps.dict["head/w"];
 * ps.dispose();
 * ```
 */
export class ParamSet {
  /** Names in order. */
  readonly names: string[];
  /** Shapes in order. */
  readonly shapes: number[][];
  /** Element counts in order. */
  readonly sizes: number[];
  /** The variables in order. */
  readonly vars: tf.Variable[];
  /** 1 where AdamW decays, per element of the flat vector. */
  readonly decayMask: Float32Array;
  /** The variables by name. */
  readonly dict: Params;

  private constructor(
    names: string[],
    shapes: number[][],
    values: Float32Array[],
    decay: boolean[],
    trainable: boolean,
  ) {
    this.names = names;
    this.shapes = shapes;
    this.sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    this.vars = values.map((v, i) =>
      variableFrom(tf.tensor(v, shapes[i]), trainable)
    );
    this.dict = Object.fromEntries(names.map((n, i) => [n, this.vars[i]]));
    this.decayMask = new Float32Array(this.total);
    let o = 0;
    this.sizes.forEach((s, i) => {
      if (decay[i]) this.decayMask.fill(1, o, o + s);
      o += s;
    });
  }

  /** Draws every parameter from `rng`, in spec order. */
  static create(specs: ParamSpec[], rng: Rng, trainable = true): ParamSet {
    const seen = new Set<string>();
    const values = specs.map((s) => {
      if (seen.has(s.name)) throw new Error(`duplicate parameter ${s.name}`);
      seen.add(s.name);
      const n = s.shape.reduce((a, b) => a * b, 1);
      return "std" in s.init
        ? rng.normals(n, 0, s.init.std)
        : new Float32Array(n).fill(s.init.value);
    });
    return new ParamSet(
      specs.map((s) => s.name),
      specs.map((s) => s.shape),
      values,
      specs.map((s) => s.decay),
      trainable,
    );
  }

  /** A new set with the same names and shapes holding `values`. */
  static fromValues(
    like: ParamSet,
    values: Float32Array[],
    trainable: boolean,
  ): ParamSet {
    const decay = like.names.map((_, i) => {
      const start = like.sizes.slice(0, i).reduce((a, b) => a + b, 0);
      return like.sizes[i] > 0 && like.decayMask[start] === 1;
    });
    return new ParamSet(
      like.names,
      like.shapes,
      values,
      decay,
      trainable,
    );
  }

  /** Number of scalars. */
  get total(): number {
    return this.sizes.reduce((a, b) => a + b, 0);
  }

  /** All parameters concatenated into one vector (a new tensor). */
  flat(): tf.Tensor1D {
    return tf.tidy(() =>
      tf.concat(this.vars.map((v) => v.reshape([-1])))
    ) as tf.Tensor1D;
  }

  /** Splits a flat vector into tensors shaped like these parameters. */
  unflatten(flat: tf.Tensor): Params {
    const parts = tf.split(flat, this.sizes);
    return Object.fromEntries(
      this.names.map((n, i) => [n, parts[i].reshape(this.shapes[i])]),
    );
  }

  /** Assigns a flat vector's slices to the variables. */
  assignFlat(flat: tf.Tensor): void {
    tf.tidy(() => {
      const parts = tf.split(flat, this.sizes);
      this.vars.forEach((v, i) => v.assign(parts[i].reshape(this.shapes[i])));
    });
  }

  /** Host copies of every parameter, in order. */
  async values(): Promise<Float32Array[]> {
    return await Promise.all(
      this.vars.map(async (v) => new Float32Array(await v.data())),
    );
  }

  /** Frees the variables. */
  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}
