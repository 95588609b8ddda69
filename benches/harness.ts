/**
 * The benchmark harness shared by every `benches/*_bench.ts` file.
 *
 * Each bench file exports `run(options)` returning {@link BenchLine}s; the
 * `bench` command prints them as one table and writes benches/RESULTS.md.
 * Speed targets are ratios against a baseline measured in the same run,
 * because timings on a shared 2-core machine vary 30-100% between runs.
 *
 * @module
 */

/** One measured figure. */
export interface BenchLine {
  /** What was measured, e.g. "sim: volume 32^3 generation". */
  name: string;
  /** The measurement. */
  value: number;
  /** Its unit, e.g. "patients/s" or "ms/step". */
  unit: string;
  /** The target, when the issue states one, e.g. ">= 1000 patients/s". */
  target?: string;
  /** Whether the target was met, when there is one. */
  met?: boolean;
  /** Baseline measured in the same run, and this/baseline. */
  baseline?: { name: string; value: number; ratio: number };
  /** Anything a reader needs to interpret it. */
  note?: string;
}

/** Options every bench receives. */
export interface BenchOptions {
  /** Smaller sizes, for smoke tests. */
  quick: boolean;
  /** Progress messages (stderr). */
  log: (msg: string) => void;
  /**
   * A line the reader must see even with --quiet (printed once, kept in
   * RESULTS.md), e.g. that the PyTorch ratios were skipped.
   */
  notice?: (msg: string) => void;
  /** Print the top kernels of each timed step (models bench). */
  profile?: boolean;
}

/**
 * Times `fn` `reps` times after `warmup` calls; returns the median seconds.
 *
 * @example
 * ```ts
 * const s = await medianSeconds(() => work(), 5, 1);
 * ```
 */
export async function medianSeconds(
  fn: () => unknown | Promise<unknown>,
  reps = 5,
  warmup = 1,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

/**
 * The median (upper middle for even counts) of a non-empty list.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

/**
 * Runs a bench file on its own (`deno run -A benches/x_bench.ts [--quick]`)
 * and prints its lines.
 *
 * @example
 * ```ts
 * if (import.meta.main) await runStandalone(run);
 * ```
 */
export async function runStandalone(
  run: (o: BenchOptions) => Promise<BenchLine[]>,
): Promise<void> {
  const lines = await run({
    quick: Deno.args.includes("--quick"),
    log: (m) => console.error(m),
  });
  for (const l of lines) {
    console.log(
      `${l.name}: ${l.value} ${l.unit}${
        l.baseline ? ` (x${l.baseline.ratio} ${l.baseline.name})` : ""
      } (${l.note ?? ""})`,
    );
  }
}
