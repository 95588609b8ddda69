/**
 * Seeded, named random streams.
 *
 * Every random draw in mmjepa comes from an {@link Rng} derived from the run
 * seed and a stream name ("data", "init", "mask", "shuffle", ...). Streams
 * are independent of each other, so adding draws to one (say, a new masking
 * strategy) never changes the numbers another (say, the synthetic data)
 * produces.
 *
 * @module
 */
import seedrandom from "seedrandom";

/** A saved generator state, as returned by {@link Rng.state}. */
export type RngState = object;

type Alea = { (): number; int32(): number; state(): RngState };

/**
 * A reproducible pseudo-random generator (Alea, via seedrandom).
 *
 * @example
 * ```ts
 * const rng = new Rng("42/data");
 * const u = rng.uniform(); // in [0, 1)
 * const z = rng.normal(); // standard normal
 * ```
 */
export class Rng {
  readonly #alea: Alea;
  #spare: number | null = null;

  /** Seed with any string; pass `state` to resume a saved generator. */
  constructor(seed: string, state?: RngState) {
    // seedrandom types omit the `state` option overload for alea.
    const alea = seedrandom.alea as unknown as (
      s: string,
      o?: { state: RngState | boolean },
    ) => Alea;
    this.#alea = state ? alea("", { state }) : alea(seed, { state: true });
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.#alea();
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.#alea();
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.#alea() * n);
  }

  /** Standard normal draw (Marsaglia polar method). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = 0, v = 0, s = 0;
    do {
      u = 2 * this.#alea() - 1;
      v = 2 * this.#alea() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt(-2 * Math.log(s) / s);
    this.#spare = v * m;
    return u * m;
  }

  /** Bernoulli draw with probability p. */
  bernoulli(p: number): boolean {
    return this.#alea() < p;
  }

  /** Fills a new Float32Array of length n with N(mean, std^2) draws. */
  normals(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** Generator state, restorable with `new Rng("", state)`. */
  state(): RngState {
    if (this.#spare !== null) {
      // A cached polar draw is not part of Alea's state; drop it so that a
      // restored generator continues exactly like this one would.
      this.#spare = null;
    }
    return structuredClone(this.#alea.state());
  }
}

/**
 * Independent named streams from one run seed.
 *
 * @example
 * ```ts
 * const streams = new RngStreams(7);
 * const data = streams.get("data");
 * const init = streams.get("init"); // does not depend on `data` draws
 * ```
 */
export class RngStreams {
  /** The run seed. */
  readonly seed: number;

  /** @param seed any integer */
  constructor(seed: number) {
    this.seed = seed;
  }

  /** A fresh generator for `name`; the same name always starts the same. */
  get(name: string): Rng {
    return new Rng(`mmjepa/${this.seed}/${name}`);
  }

  /** A child set of streams, e.g. per cohort or per method. */
  child(name: string): RngStreams {
    return new DerivedStreams(this.seed, `${name}`);
  }
}

class DerivedStreams extends RngStreams {
  readonly #prefix: string;
  constructor(seed: number, prefix: string) {
    super(seed);
    this.#prefix = prefix;
  }
  override get(name: string): Rng {
    return new Rng(`mmjepa/${this.seed}/${this.#prefix}/${name}`);
  }
  override child(name: string): RngStreams {
    return new DerivedStreams(this.seed, `${this.#prefix}/${name}`);
  }
}
