/**
 * Runs the mmjepa CLI inside the test process (no subprocess start-up),
 * capturing what it prints.
 *
 * @module
 */
import process from "node:process";
import { runCli } from "../../cli/program.ts";
import { actions } from "../../main.ts";

/**
 * Runs the CLI in this process; returns the exit code and what it printed.
 *
 * @example
 * ```ts
 * const { code, stderr } = await cliInProcess(["-q", "report", "a.jsonl"]);
 * ```
 */
export async function cliInProcess(
  args: string[],
): Promise<{ code: number; stderr: string[]; stdout: string[] }> {
  const stderr: string[] = [], stdout: string[] = [];
  const { error, log, warn } = console;
  const write = process.stderr.write;
  const outWrite = process.stdout.write;
  console.error = (...a: unknown[]) => stderr.push(a.join(" "));
  console.warn = (...a: unknown[]) => stderr.push(a.join(" "));
  console.log = (...a: unknown[]) => stdout.push(a.join(" "));
  process.stderr.write = ((s: string) => {
    stderr.push(...String(s).trimEnd().split("\n"));
    return true;
  }) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => {
    stdout.push(...String(s).trimEnd().split("\n"));
    return true;
  }) as typeof process.stdout.write;
  let code: number;
  try {
    code = await runCli(actions, args);
  } finally {
    Object.assign(console, { error, log, warn });
    process.stderr.write = write;
    process.stdout.write = outWrite;
    Deno.exitCode = 0;
  }
  return { code, stderr, stdout };
}
