/**
 * Mutation check: applies each one-line mutation of {@link MUTATIONS} to a
 * temporary copy of the repository, runs the tests that cover it, and
 * prints which mutations the tests caught, per folder and overall.
 *
 * Not part of `deno task test` (no `_test` suffix, no Deno.test). Run it
 * from the repository root:
 *
 * ```sh
 * deno run -A tests/mutation/run.ts                 # every mutation
 * deno run -A tests/mutation/run.ts --only models/  # ids or folders containing
 * deno run -A tests/mutation/run.ts --timeout 240 --json out/mutation.json
 * deno run -A tests/mutation/run.ts --stale            # which targets moved
 * ```
 *
 * A mutation is "caught" when its covering tests fail (non-zero exit,
 * timeouts included), "missed" when they pass, and "stale" when its search
 * string is no longer in the file (the code moved on: update the list);
 * "error" when the run failed without any test failing (a mutation that
 * breaks loading, which says nothing about the tests).
 * Tests run with `--no-check`, so a mutation is caught by behaviour, never
 * by the type checker. Before any mutation, the covering tests must pass on
 * the unmutated copy; a failing baseline stops the run.
 *
 * @module
 */
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Mutation, MUTATIONS } from "./mutations.ts";

/**
 * Outcome of one mutation: "error" is a failing run in which no test
 * failed (the mutated code did not load), counted apart from "caught".
 */
export type Outcome = "caught" | "missed" | "stale" | "error";

/** One row of the report. */
export interface MutationResult {
  /** Mutation id. */
  id: string;
  /** Folder the mutated file lives in. */
  folder: string;
  /** What happened. */
  outcome: Outcome;
  /** Seconds the covering tests took. */
  seconds: number;
  /** Why it was stale, or the first failing test's name. */
  note: string;
}

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");

function parseArgs(args: string[]) {
  let only: string[] = [];
  let timeout = 300;
  let json: string | null = null;
  let list = false;
  let stale = false;
  let filter: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--only") only = args[++i].split(",");
    else if (a === "--timeout") timeout = Number(args[++i]);
    else if (a === "--json") json = args[++i];
    else if (a === "--list") list = true;
    else if (a === "--stale") stale = true;
    else if (a === "--filter") filter = args[++i];
    else if (a === "--help" || a === "-h") {
      console.log(
        "usage: deno run -A tests/mutation/run.ts [--only id|folder,...] [--timeout s] [--json path] [--list] [--stale] [--filter test-name]\n" +
          "  --list   print the mutations and exit\n" +
          "  --stale  print the mutations whose target text is gone, and exit (no tests run)\n" +
          "  --filter run only the tests whose name contains this (deno test --filter):\n" +
          "           checks that one given test catches a mutation",
      );
      Deno.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new Error(`--timeout: expected seconds > 0, got ${timeout}`);
  }
  return { only, timeout, json, list, stale, filter };
}

/** The folder a mutation is scored under: the first path segment. */
export function folderOf(m: Mutation): string {
  return m.file.split("/")[0];
}

/**
 * Applies `m` to `text`: replaces the `nth` (default first) occurrence of
 * `m.search`. Returns null when there is no such occurrence.
 *
 * @example
 * ```ts
 * applyMutation("a b a", { id: "x", file: "f", search: "a", replace: "c", nth: 1, tests: [] }); // "a b c"
 * ```
 */
export function applyMutation(text: string, m: Mutation): string | null {
  let at = -1;
  for (let k = 0; k <= (m.nth ?? 0); k++) {
    at = text.indexOf(m.search, at + 1);
    if (at < 0) return null;
  }
  return text.slice(0, at) + m.replace + text.slice(at + m.search.length);
}

function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), "mmjepa-mutation-"));
  const skip = new Set([".git", "node_modules", "out", ".gpu"]);
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (src) => {
      const rel = src.slice(ROOT.length + 1);
      return !skip.has(rel.split("/")[0]);
    },
  });
  // npm packages are read, never written: share them.
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

async function runTests(
  dir: string,
  tests: string[],
  timeout: number,
  filter: string | null,
): Promise<
  { ok: boolean; testFailed: boolean; seconds: number; note: string }
> {
  const t0 = performance.now();
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "-A",
      "--no-check",
      "--quiet",
      ...(filter ? ["--filter", filter] : []),
      ...tests,
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const child = cmd.spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeout * 1000);
  const out = await child.output();
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  const failed = text.split("\n").find((l) => / \.\.\. FAILED/.test(l));
  // The summary line counts failures even when a slow test's "has been
  // running for over 1m0s" notice split its "... FAILED" line.
  const summaryFailed = Number(/\| (\d+) failed/.exec(text)?.[1] ?? 0) > 0;
  const note = out.signal === "SIGKILL"
    ? `timed out after ${timeout} s`
    : (failed?.replace(/ \.\.\. FAILED.*/, "").trim() ??
      text.split("\n").find((l) => /error/i.test(l))?.trim() ?? "");
  const timedOut = out.signal === "SIGKILL";
  return {
    ok: out.success,
    testFailed: failed !== undefined || summaryFailed || timedOut,
    seconds,
    note,
  };
}

function pct(a: number, b: number): string {
  return b === 0 ? "-" : `${(100 * a / b).toFixed(0)}%`;
}

/**
 * Per-folder and overall score table in markdown.
 *
 * @example
 * ```ts
 * console.log(scoreTable(results));
 * ```
 */
export function scoreTable(results: MutationResult[]): string {
  const folders = [...new Set(results.map((r) => r.folder))].sort();
  const line = (name: string, rs: MutationResult[]) => {
    const caught = rs.filter((r) => r.outcome === "caught").length;
    const missed = rs.filter((r) => r.outcome === "missed").length;
    const stale = rs.filter((r) => r.outcome === "stale").length;
    const error = rs.filter((r) => r.outcome === "error").length;
    return `| ${name} | ${caught} | ${missed} | ${stale} | ${error} | ${
      pct(caught, caught + missed)
    } |`;
  };
  return [
    "| folder | caught | missed | target not found | load error | score |",
    "|---|---|---|---|---|---|",
    ...folders.map((f) => line(f, results.filter((r) => r.folder === f))),
    line("**all**", results),
  ].join("\n");
}

async function main(): Promise<void> {
  const { only, timeout, json, list, stale, filter } = parseArgs(Deno.args);
  const t0 = performance.now();
  const chosen = MUTATIONS.filter((m) =>
    only.length === 0 ||
    only.some((o) => m.id === o || m.file.startsWith(o) || m.id.startsWith(o))
  );
  if (list) {
    for (const m of chosen) console.log(`${m.id}\t${m.file}\t${m.what}`);
    return;
  }
  if (stale) {
    let n = 0;
    for (const m of chosen) {
      const text = readFileSync(join(ROOT, m.file), "utf8");
      if (applyMutation(text, m) === null) {
        console.log(`stale   ${m.id}: mutation target not found in ${m.file}`);
        n++;
      }
    }
    console.log(`${n} of ${chosen.length} mutations have no target`);
    return;
  }
  const ids = new Set<string>();
  for (const m of MUTATIONS) {
    if (ids.has(m.id)) throw new Error(`duplicate mutation id ${m.id}`);
    ids.add(m.id);
  }
  const dir = copyTree();
  const results: MutationResult[] = [];
  try {
    const covering = [...new Set(chosen.flatMap((m) => m.tests))].sort();
    console.log(
      `baseline: ${covering.length} test files on the unmutated copy in ${dir}`,
    );
    const base = await runTests(dir, covering, timeout * 2, filter);
    if (!base.ok) {
      throw new Error(
        `the covering tests fail without any mutation (${base.note}); fix them first`,
      );
    }
    console.log(`baseline passed in ${base.seconds.toFixed(1)} s`);
    for (const m of chosen) {
      const path = join(dir, m.file);
      const original = readFileSync(path, "utf8");
      const mutated = applyMutation(original, m);
      if (mutated === null) {
        results.push({
          id: m.id,
          folder: folderOf(m),
          outcome: "stale",
          seconds: 0,
          note: "mutation target not found",
        });
        console.log(`stale   ${m.id}: mutation target not found in ${m.file}`);
        continue;
      }
      writeFileSync(path, mutated);
      try {
        const r = await runTests(dir, m.tests, timeout, filter);
        const outcome: Outcome = r.ok
          ? "missed"
          : r.testFailed
          ? "caught"
          : "error";
        results.push({
          id: m.id,
          folder: folderOf(m),
          outcome,
          seconds: r.seconds,
          note: r.note,
        });
        console.log(
          `${outcome.padEnd(7)} ${m.id} (${r.seconds.toFixed(1)} s)${
            r.note ? `: ${r.note}` : ""
          }`,
        );
      } finally {
        writeFileSync(path, original);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log("\n" + scoreTable(results));
  console.log(
    `\n${results.length} mutations in ${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s`,
  );
  const missed = results.filter((r) => r.outcome === "missed");
  if (missed.length > 0) {
    console.log(`\nmissed: ${missed.map((r) => r.id).join(", ")}`);
  }
  if (json) writeFileSync(json, JSON.stringify(results, null, 2) + "\n");
}

if (import.meta.main) await main();
