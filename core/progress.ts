/**
 * Progress reporting on stderr: a bar with ETA on a terminal, plain periodic
 * lines otherwise (CI logs, pipes), nothing with `--quiet`.
 *
 * @module
 */
import cliProgress from "cli-progress";

/** Where progress goes; `quiet` silences it. */
export interface ProgressOptions {
  /** Print nothing. */
  quiet?: boolean;
  /** Force plain lines even on a terminal (tests). */
  plain?: boolean;
  /** Seconds between plain lines. */
  intervalSeconds?: number;
  /** Sink for plain lines (default: stderr). */
  write?: (line: string) => void;
}

/**
 * Formats seconds as `1h02m`, `3m05s` or `12s`.
 *
 * @example
 * ```ts
 * formatDuration(185); // "3m05s"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/**
 * A progress tracker for one long task of known size.
 *
 * @example
 * ```ts
 * const p = new Progress("study", 120);
 * for (let i = 0; i < 120; i++) p.tick(1, `run ${i}`);
 * p.done();
 * ```
 */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #opts: ProgressOptions;
  readonly #start = performance.now();
  #value = 0;
  #lastLine = 0;
  #bar: cliProgress.SingleBar | null = null;

  /**
   * @param label what is being done
   * @param total number of units of work
   * @param opts output options
   */
  constructor(label: string, total: number, opts: ProgressOptions = {}) {
    this.#label = label;
    this.#total = Math.max(total, 1);
    this.#opts = opts;
    const tty = !opts.plain && !opts.write && Deno.stderr.isTerminal();
    if (!opts.quiet && tty) {
      this.#bar = new cliProgress.SingleBar({
        format:
          `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} | {status}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 20,
      }, cliProgress.Presets.shades_classic);
      this.#bar.start(this.#total, 0, { status: "" });
    }
  }

  /** Seconds elapsed since the tracker was made. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Estimated seconds left, from the mean rate so far. */
  get eta(): number {
    if (this.#value === 0) return NaN;
    return this.elapsed / this.#value * (this.#total - this.#value);
  }

  /** Advances by `n` units; `status` says what is happening now. */
  tick(n = 1, status = ""): void {
    this.#value = Math.min(this.#value + n, this.#total);
    if (this.#opts.quiet) return;
    if (this.#bar) {
      this.#bar.update(this.#value, { status });
      return;
    }
    const now = performance.now();
    const every = (this.#opts.intervalSeconds ?? 10) * 1000;
    if (now - this.#lastLine >= every || this.#value === this.#total) {
      this.#lastLine = now;
      const pct = (100 * this.#value / this.#total).toFixed(0);
      this.#emit(
        `${this.#label}: ${this.#value}/${this.#total} (${pct}%), elapsed ${
          formatDuration(this.elapsed)
        }, ETA ${formatDuration(this.eta)}${status ? ` | ${status}` : ""}`,
      );
    }
  }

  /** Ends the bar (or prints a final line). */
  done(): void {
    if (this.#bar) {
      this.#bar.stop();
      this.#bar = null;
    }
  }

  #emit(line: string): void {
    if (this.#opts.write) this.#opts.write(line);
    else console.error(line);
  }
}
