/**
 * Errors meant for the user: the CLI prints their message on one line,
 * without a stack trace, and exits non-zero.
 *
 * @module
 */

/**
 * An error caused by input the user can fix (a bad flag, file or value).
 *
 * @example
 * ```ts
 * throw new UserError("--seed: expected an integer, got \"abc\"");
 * ```
 */
export class UserError extends Error {
  /**
   * An error for the user, printed as one line without a stack trace.
   *
   * @param message says what was wrong and what is accepted
   */
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/**
 * Training produced a non-finite loss.
 *
 * @example
 * ```ts
 * throw new DivergenceError("jepa pretraining", 120, 0.83);
 * ```
 */
export class DivergenceError extends Error {
  /** The step at which the loss became NaN or infinite. */
  readonly step: number;
  /** The last finite loss seen, or null if none was. */
  readonly lastFinite: number | null;

  /**
   * A run whose loss became NaN or infinite, with what to try.
   *
   * @param what which phase diverged
   * @param step the step whose loss was not finite
   * @param lastFinite the last finite loss read back
   */
  constructor(what: string, step: number, lastFinite: number | null) {
    super(
      `${what} diverged: loss is not finite at step ${step} (last finite loss ${
        lastFinite === null ? "none" : lastFinite.toPrecision(5)
      }); lower the learning rate or enable gradient clipping`,
    );
    this.name = "DivergenceError";
    this.step = step;
    this.lastFinite = lastFinite;
  }
}
