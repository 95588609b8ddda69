/**
 * One declarative schema mechanism for every config file (scenario,
 * experiment, study, cohort), and the one YAML loader.
 *
 * A schema is a tree of small builders ({@link num}, {@link int},
 * {@link str}, {@link oneOf}, {@link obj}, {@link list}, ...). Each field
 * carries its default and its accepted values in one line, so adding a
 * config field is adding one line. {@link resolveConfig} deep-merges a
 * partial input onto the defaults (or onto a given base) and validates it;
 * every failure is a {@link UserError} naming the file, the dotted field,
 * what was expected and what was found, and an unknown key gets a "did you
 * mean" suggestion when a close key exists.
 *
 * ```ts
 * const MODES = ["fast", "exact"] as const;
 * const S = obj({ steps: int(1, 1000, 100), mode: oneOf(MODES, "fast") });
 * type Settings = Infer<typeof S>; // { steps: number; mode: "fast" | "exact" }
 * const s: Settings = resolveConfig(S, { steps: 5 }, "run.yaml");
 * ```
 *
 * @module
 */
import { parse } from "yaml";
import { UserError } from "./errors.ts";
import { readRegularText } from "./files.ts";

/** Where a value sits: its source (a file, "flags", ...) and dotted path. */
export interface At {
  /** The file or other source, named first in every message. */
  source: string;
  /** Dotted path of the field, "" for the top level. */
  path: string;
}

/** A schema for values of type `T`. */
export interface Schema<T> {
  /** What a valid value looks like, e.g. "an integer in [1, 64]". */
  readonly expected: string;
  /** The default value; undefined when the field is required. */
  readonly fallback: (() => T) | undefined;
  /**
   * Validates `input`; objects merge it onto `base` (the current value,
   * or undefined to start from the defaults).
   */
  resolve(input: unknown, base: T | undefined, at: At): T;
  /** The allowed keys, for mappings made by {@link obj}. */
  readonly keys?: readonly string[];
}

/** The value type a schema produces. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** The field schemas of an object type `T`: one per key, no more, no less. */
export type Shape<T> = { [K in keyof T]-?: Schema<T[K]> };

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function field(at: At): string {
  return at.path === "" ? "(top level)" : at.path;
}

/**
 * The error for a bad value: file, dotted field, what was expected, what
 * was found. Config modules use it for checks across several fields too.
 *
 * @example
 * ```ts
 * throw configError({ source: "s.yaml", path: "ehr.habitDims" }, "at most ehr.dim (64)", 80);
 * ```
 */
export function configError(at: At, expected: string, got: unknown): UserError {
  return new UserError(
    `${at.source}: ${field(at)}: expected ${expected}, got ${show(got)}`,
  );
}

function child(at: At, key: string | number): At {
  const path = typeof key === "number"
    ? `${at.path}[${key}]`
    : at.path === ""
    ? key
    : `${at.path}.${key}`;
  return { source: at.source, path };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function leaf<T>(
  expected: string,
  test: (v: unknown) => boolean,
  def: T | undefined,
): Schema<T> {
  return {
    expected,
    fallback: def === undefined ? undefined : () => structuredClone(def),
    resolve(input: unknown, _base: T | undefined, at: At): T {
      if (!test(input)) throw configError(at, expected, input);
      return input as T;
    },
  };
}

function range(min: number, max: number): string {
  if (min === -Infinity && max === Infinity) return "";
  if (max === Infinity) return ` >= ${min}`;
  if (min === -Infinity) return ` <= ${max}`;
  return ` in [${min}, ${max}]`;
}

/**
 * A finite number in [min, max] (max may be Infinity).
 *
 * @example
 * ```ts
 * const noiseHu = num(0, 500, 20);
 * ```
 */
export function num(min: number, max: number, def?: number): Schema<number> {
  return leaf(
    `a number${range(min, max)}`,
    (v) => typeof v === "number" && Number.isFinite(v) && v >= min && v <= max,
    def,
  );
}

/**
 * An integer in [min, max] (max may be Infinity).
 *
 * @example
 * ```ts
 * const seeds = int(1, 100, 3);
 * ```
 */
export function int(min: number, max: number, def?: number): Schema<number> {
  return leaf(
    `an integer${range(min, max)}`,
    (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
    def,
  );
}

/**
 * A finite number > 0.
 *
 * @example
 * ```ts
 * const lookbackMonths = positive(12);
 * ```
 */
export function positive(def?: number): Schema<number> {
  return leaf(
    "a number > 0",
    (v) => typeof v === "number" && Number.isFinite(v) && v > 0,
    def,
  );
}

/**
 * A non-empty string.
 *
 * @example
 * ```ts
 * const name = str("default");
 * ```
 */
export function str(def?: string): Schema<string> {
  return leaf(
    "a non-empty string",
    (v) => typeof v === "string" && v !== "",
    def,
  );
}

/**
 * true or false.
 *
 * @example
 * ```ts
 * const normalize = bool(false);
 * ```
 */
export function bool(def?: boolean): Schema<boolean> {
  return leaf("true or false", (v) => typeof v === "boolean", def);
}

/**
 * One of a const list of strings; the type is the list's union.
 *
 * @example
 * ```ts
 * const LEVELS = ["features", "volume"] as const;
 * const level = oneOf(LEVELS, "features"); // Schema<"features" | "volume">
 * ```
 */
export function oneOf<T extends string>(
  values: readonly T[],
  def?: NoInfer<T>,
): Schema<T> {
  const expected = `one of ${values.join(", ")}`;
  return {
    expected,
    fallback: def === undefined ? undefined : () => def,
    resolve(input: unknown, _base: T | undefined, at: At): T {
      if (typeof input === "string" && values.includes(input as T)) {
        return input as T;
      }
      const e = configError(at, expected, input);
      const near = typeof input === "string"
        ? didYouMean(input, values)
        : undefined;
      if (near) e.message += `; did you mean "${near}"?`;
      throw e;
    },
  };
}

/**
 * A value checked by a predicate, for shapes the builders lack.
 *
 * @example
 * ```ts
 * const pair = custom<[number, number]>("[low, high] with low < high",
 *   (v) => Array.isArray(v) && v.length === 2 && v[0] < v[1]);
 * ```
 */
export function custom<T>(
  expected: string,
  test: (v: unknown) => boolean,
  def?: T,
): Schema<T> {
  return leaf(expected, test, def);
}

/**
 * The inner schema, or null. `def` is the default (null unless given).
 *
 * @example
 * ```ts
 * const prevalence = nullable(num(0.001, 0.999)); // default null
 * ```
 */
export function nullable<T>(
  inner: Schema<T>,
  def: T | null = null,
): Schema<T | null> {
  return {
    expected: `${inner.expected}, or null`,
    fallback: () => structuredClone(def),
    resolve(input: unknown, base: T | null | undefined, at: At): T | null {
      if (input === null) return null;
      return inner.resolve(input, base ?? undefined, at);
    },
  };
}

/**
 * The inner schema, or absent (undefined).
 *
 * @example
 * ```ts
 * const base = optional(mapping());
 * ```
 */
export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return {
    expected: inner.expected,
    fallback: () => undefined,
    resolve(input: unknown, base: T | undefined, at: At): T | undefined {
      if (input === undefined) return undefined;
      return inner.resolve(input, base, at);
    },
  };
}

/**
 * A list whose items follow `item`. A given list replaces the current one
 * (no merge by position); object items are merged onto the item's
 * defaults.
 *
 * @example
 * ```ts
 * const masks = list(oneOf(["block", "time"] as const), { min: 1, def: ["block"] });
 * ```
 */
export function list<T>(
  item: Schema<T>,
  opts: { min?: number; def?: T[] } = {},
): Schema<T[]> {
  const min = opts.min ?? 0;
  const expected = `a list of ${min > 0 ? `at least ${min} ` : ""}items (${
    min > 1 ? "each " : ""
  }${item.expected})`;
  const def = opts.def;
  return {
    expected,
    fallback: def === undefined ? undefined : () => structuredClone(def),
    resolve(input: unknown, _base: T[] | undefined, at: At): T[] {
      if (!Array.isArray(input) || input.length < min) {
        throw configError(at, expected, input);
      }
      return input.map((v, i) =>
        item.resolve(v, item.fallback?.(), child(at, i))
      );
    },
  };
}

/**
 * A mapping from any names to values of `value` (e.g. event kinds).
 *
 * @example
 * ```ts
 * const kinds = record(oneOf(["code", "lab"] as const), {});
 * ```
 */
export function record<T>(
  value: Schema<T>,
  def?: Record<string, T>,
): Schema<Record<string, T>> {
  const expected = `a mapping of names to ${value.expected}`;
  return {
    expected,
    fallback: def === undefined ? undefined : () => structuredClone(def),
    resolve(input: unknown, _b: unknown, at: At): Record<string, T> {
      if (!isMapping(input)) throw configError(at, expected, input);
      const out: Record<string, T> = {};
      for (const [k, v] of Object.entries(input)) {
        out[k] = value.resolve(v, undefined, child(at, k));
      }
      return out;
    },
  };
}

/**
 * Any mapping, passed through unchecked (checked later by its consumer,
 * e.g. an `experiment:` block by the experiment schema).
 *
 * @example
 * ```ts
 * const experiment = mapping({});
 * ```
 */
export function mapping(
  def?: Record<string, unknown>,
): Schema<Record<string, unknown>> {
  return leaf("a mapping", isMapping, def);
}

/**
 * Edit distance with adjacent transpositions ("widht" is 1 from "width"),
 * case-insensitive, for "did you mean".
 */
function distance(a: string, b: string): number {
  const x = a.toLowerCase(), y = b.toLowerCase();
  const d: number[][] = Array.from(
    { length: x.length + 1 },
    (_, i) => Array.from({ length: y.length + 1 }, (_, j) => i === 0 ? j : i),
  );
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + cost,
      );
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[x.length][y.length];
}

/**
 * The closest allowed name to a mistyped one, if it is close (at most a
 * third of its letters differ), else undefined.
 *
 * @example
 * ```ts
 * didYouMean("labl", ["name", "label"]); // "label"
 * ```
 */
export function didYouMean(
  key: string,
  allowed: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = distance(key, a);
    if (d < bestD) [best, bestD] = [a, d];
  }
  return bestD <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * The error for a key that is not in a mapping's schema.
 *
 * @example
 * ```ts
 * throw unknownKey({ source: "s.yaml", path: "labl" }, ["label"]);
 * ```
 */
export function unknownKey(
  at: At,
  allowed: readonly string[],
  hint?: string,
  label = "",
): UserError {
  const key = at.path.split(".").pop() ?? at.path;
  const near = didYouMean(key.replace(/\[\d+\]$/, ""), allowed);
  return new UserError(
    `${at.source}: unknown ${
      label ? `${label} ` : ""
    }key "${at.path}" (allowed: ${allowed.join(", ")}${
      hint ? `; ${hint}` : ""
    })${near ? `; did you mean "${near}"?` : ""}`,
  );
}

/** Options of {@link obj}. */
export interface ObjOptions {
  /** What the mapping is, for "expected ..." (default "a mapping"). */
  what?: string;
  /** Appended to the unknown-key message. */
  hint?: string;
  /** Names the mapping in the unknown-key message ("unknown study key"). */
  label?: string;
}

/**
 * A mapping with known keys. Absent keys keep the base's value or their
 * default; a key without either is reported missing; unknown keys are
 * refused with the allowed ones and a "did you mean".
 *
 * @example
 * ```ts
 * interface Acq { noiseHu: number; blur: number }
 * const ACQ = obj<Acq>({ noiseHu: num(0, 500, 20), blur: num(0, 3, 0.7) });
 * ```
 */
export function obj<T>(shape: Shape<T>, opts: ObjOptions = {}): Schema<T> {
  const fields = shape as Record<string, Schema<unknown>>;
  const keys = Object.keys(fields);
  const expected = opts.what ?? "a mapping";
  const complete = keys.every((k) => fields[k].fallback !== undefined);
  const build = (input: unknown, base: T | undefined, at: At): T => {
    if (!isMapping(input)) throw configError(at, expected, input);
    for (const k of Object.keys(input)) {
      if (!Object.hasOwn(fields, k)) {
        throw unknownKey(child(at, k), keys, opts.hint, opts.label);
      }
    }
    const b = base as Record<string, unknown> | undefined;
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const f = fields[k];
      const inBase = b !== undefined && Object.hasOwn(b, k);
      const given = input[k];
      let v: unknown;
      if (given !== undefined) {
        v = f.resolve(given, inBase ? b[k] : f.fallback?.(), child(at, k));
      } else if (inBase) v = b[k];
      else if (f.fallback !== undefined) v = f.fallback();
      else {
        throw new UserError(
          `${at.source}: ${child(at, k).path}: missing; expected ${f.expected}`,
        );
      }
      // Absent optional fields stay absent (deepEqual, YAML round trips).
      if (v !== undefined) out[k] = v;
    }
    return out as T;
  };
  return {
    expected,
    keys,
    fallback: complete
      ? () => build({}, undefined, { source: "defaults", path: "" })
      : undefined,
    resolve: build,
  };
}

/**
 * Mappings of several kinds told apart by a tag key (e.g. `format: wide`
 * or `format: long`); each kind's schema lists the tag key too.
 *
 * @example
 * ```ts
 * const ehr = variants("format", { wide: WIDE, long: LONG }, "wide");
 * ```
 */
export function variants<T>(
  tag: string,
  kinds: Record<string, Schema<T>>,
  def: string,
): Schema<T> {
  const names = Object.keys(kinds);
  const expected = `a mapping with ${tag}: ${names.join(" or ")}`;
  return {
    expected,
    fallback: undefined,
    resolve(input: unknown, base: T | undefined, at: At): T {
      if (!isMapping(input)) throw configError(at, expected, input);
      const kind = input[tag] ?? def;
      if (typeof kind !== "string" || !Object.hasOwn(kinds, kind)) {
        throw configError(child(at, tag), `one of ${names.join(", ")}`, kind);
      }
      const b = base as Record<string, unknown> | undefined;
      const same = b !== undefined && b[tag] === kind;
      return kinds[kind].resolve(
        { ...input, [tag]: kind },
        same ? base : undefined,
        at,
      );
    },
  };
}

/**
 * The default value of a schema whose every field has one.
 *
 * @example
 * ```ts
 * const DEFAULT_ACQ = defaults(ACQ);
 * ```
 */
export function defaults<T>(schema: Schema<T>): T {
  if (schema.fallback === undefined) {
    throw new Error("defaults(): the schema has a required field");
  }
  return schema.fallback();
}

/**
 * Validates `input` (e.g. parsed YAML; null or undefined = empty) against
 * `schema`, merged onto `base` (default: the schema's defaults). `source`
 * names the input in every error message.
 *
 * @example
 * ```ts
 * const s = resolveConfig(SCENARIO, { label: { prevalence: 0.2 } }, "cli");
 * ```
 */
export function resolveConfig<T>(
  schema: Schema<T>,
  input: unknown,
  source: string,
  base?: T,
): T {
  return schema.resolve(
    input ?? {},
    base === undefined ? schema.fallback?.() : structuredClone(base),
    { source, path: "" },
  );
}

/**
 * A YAML text as data; a syntax error becomes a one-line
 * {@link UserError} naming `source`, the line and the column.
 *
 * @example
 * ```ts
 * parseYaml("[0, 1]", "--set values"); // [0, 1]
 * ```
 */
export function parseYaml(text: string, source: string): unknown {
  try {
    return parse(text);
  } catch (e) {
    // The yaml package appends a code frame after the first line, which
    // already names the line and column.
    const msg = e instanceof Error ? e.message : String(e);
    throw new UserError(
      `${source}: not valid YAML: ${msg.split("\n")[0].replace(/:$/, "")}`,
    );
  }
}

/**
 * Reads a YAML (or JSON) file: regular files only, errors naming the file.
 * `what` says what the file is for, e.g. "scenario (YAML)".
 *
 * @example
 * ```ts
 * const data = loadYaml("study.yaml", "study config (YAML)");
 * ```
 */
export function loadYaml(path: string, what: string): unknown {
  return parseYaml(readRegularText(path, what), path);
}

/**
 * Reads a YAML file and resolves it against `schema` (onto `base` if
 * given): the one way a config file is loaded.
 *
 * @example
 * ```ts
 * const s = loadConfig(SCENARIO, "my.yaml", "scenario (YAML)");
 * ```
 */
export function loadConfig<T>(
  schema: Schema<T>,
  path: string,
  what: string,
  base?: T,
): T {
  return resolveConfig(schema, loadYaml(path, what), path, base);
}
