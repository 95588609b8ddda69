/**
 * EHR reading in two forms, onto the scans' clock:
 * - wide: one row per patient-time, signature columns taken as they are
 *   (e.g. the latent clinical signatures of Lasko et al.);
 * - long events: one row per code, lab or medication event. These become
 *   cross-sections at each scan date (code intensity in a look-back window,
 *   last lab value and its trend, medication present or not, age), then a
 *   PCA fitted on training patients only maps them to signature dimensions.
 *
 * Demographics (age, sex, smoking pack-years) come from the same tables.
 *
 * @module
 */
import type {
  DemographicsColumns,
  LongEhrConfig,
  WideEhrConfig,
} from "./config.ts";
import {
  type BadRecords,
  DATE_EXPECTED,
  monthsBetween,
  NUMERIC_EXPECTED,
  numericCell,
  parseDate,
  readTable,
} from "./table.ts";

/** One EHR row on its own date. */
export interface DatedRecord {
  /** ms since the epoch. */
  date: number;
  values: Float32Array;
}

/** A demographics reading on a date. */
export interface DemographicsRow {
  date: number;
  age: number | null;
  sex: 0 | 1 | null;
  packYears: number | null;
}

/** What a wide EHR file held. */
export interface WideEhr {
  /** Signature column names. */
  names: string[];
  /** Records per patient, in file order. */
  records: Map<string, DatedRecord[]>;
  /** Demographics rows per patient (when the file has such columns). */
  demographics: Map<string, DemographicsRow[]>;
}

function parseSex(s: string): 0 | 1 | null | undefined {
  const v = s.toLowerCase();
  if (v === "") return null;
  if (["0", "f", "female"].includes(v)) return 0;
  if (["1", "m", "male"].includes(v)) return 1;
  return undefined;
}

/**
 * Reads demographics columns of a row; reports a bad field and returns
 * null when one is unparseable.
 *
 * @example
 * ```ts
 * const d = readDemographics(row.get, cols, date, (f, why) => console.log(f, why));
 * ```
 */
export function readDemographics(
  get: (col: string) => string,
  cols: DemographicsColumns,
  date: number,
  fail: (field: string, reason: string) => void,
): DemographicsRow | null {
  const num = (col: string | null): number | null | undefined => {
    if (!col) return null;
    const s = get(col);
    if (s === "") return null;
    const v = numericCell(s);
    return v !== null && v >= 0 ? v : undefined;
  };
  const age = num(cols.age), pack = num(cols.packYears);
  const sex = cols.sex ? parseSex(get(cols.sex)) : null;
  if (age === undefined) {
    fail(cols.age!, `age "${get(cols.age!)}" is not a non-negative number`);
    return null;
  }
  if (pack === undefined) {
    fail(
      cols.packYears!,
      `pack-years "${get(cols.packYears!)}" is not a non-negative number`,
    );
    return null;
  }
  if (sex === undefined) {
    fail(cols.sex!, `sex "${get(cols.sex!)}" is not one of 0, 1, F, M`);
    return null;
  }
  return { date, age, sex, packYears: pack };
}

/**
 * Reads a wide EHR table (`known`: patients with usable manifest rows;
 * `listed`: every id the manifest names). Rows of unknown patients, unparseable
 * dates, non-numeric values and duplicate (patient, date) rows are bad.
 *
 * @example
 * ```ts
 * const ehr = readWideEhr(cfg.ehr, cfg.demographics, ids, ids, bad, ["cohort"]);
 * ```
 */
export function readWideEhr(
  cfg: WideEhrConfig,
  demo: DemographicsColumns,
  known: Set<string>,
  listed: Set<string>,
  bad: BadRecords,
  exclude: string[],
): WideEhr {
  const file = cfg.path;
  const { patientId, date } = cfg.columns;
  const t = readTable(file, [patientId, date, ...(cfg.signatureColumns ?? [])]);
  const demoCols = [demo.age, demo.sex, demo.packYears].filter((c) =>
    c !== null && t.header.includes(c)
  ) as string[];
  const names = cfg.signatureColumns ??
    t.header.filter((h) =>
      h !== patientId && h !== date && !demoCols.includes(h) &&
      !exclude.includes(h)
    );
  const present: DemographicsColumns = {
    age: demo.age && t.header.includes(demo.age) ? demo.age : null,
    sex: demo.sex && t.header.includes(demo.sex) ? demo.sex : null,
    packYears: demo.packYears && t.header.includes(demo.packYears)
      ? demo.packYears
      : null,
  };
  const records = new Map<string, DatedRecord[]>();
  const demographics = new Map<string, DemographicsRow[]>();
  const seen = new Map<string, number>();
  rows: for (const r of t.rows) {
    const pid = r.get(patientId);
    const fail = (field: string, reason: string) =>
      bad.report({ file, row: r.row, id: pid, field, reason });
    if (!known.has(pid)) {
      fail(patientId, unknownReason(pid, listed));
      continue;
    }
    const d = parseDate(r.get(date));
    if (d === null) {
      fail(
        date,
        `unparseable date "${r.get(date)}"; expected ${DATE_EXPECTED}`,
      );
      continue;
    }
    const key = `${pid}\u0000${d}`;
    if (seen.has(key)) {
      fail(
        date,
        `duplicate record for this patient and date (first at row ${
          seen.get(key)
        })`,
      );
      continue;
    }
    const values = new Float32Array(names.length);
    for (let i = 0; i < names.length; i++) {
      const s = r.get(names[i]);
      const v = numericCell(s);
      if (v === null) {
        fail(names[i], `value "${s}" ${NUMERIC_EXPECTED}`);
        continue rows;
      }
      values[i] = v;
    }
    const dem = readDemographics(r.get, present, d, fail);
    if (!dem) continue;
    seen.set(key, r.row);
    if (!records.has(pid)) records.set(pid, []);
    records.get(pid)!.push({ date: d, values });
    if (!demographics.has(pid)) demographics.set(pid, []);
    demographics.get(pid)!.push(dem);
  }
  return { names, records, demographics };
}

function unknownReason(pid: string, listed: Set<string>): string {
  return listed.has(pid)
    ? `patient "${pid}" has no usable manifest row (all were skipped)`
    : `unknown patient id "${pid}" (not in the manifest)`;
}

/** One long-format event. */
export interface EhrEvent {
  date: number;
  name: string;
  /** Null for a code without a value. */
  value: number | null;
}

/**
 * Reads long EHR events per patient (file order). Unknown patients,
 * unparseable dates and non-numeric values are bad.
 *
 * @example
 * ```ts
 * const events = readLongEhr(cfg.ehr, ids, ids, bad);
 * ```
 */
export function readLongEhr(
  cfg: LongEhrConfig,
  known: Set<string>,
  listed: Set<string>,
  bad: BadRecords,
): Map<string, EhrEvent[]> {
  const file = cfg.path;
  const c = cfg.columns;
  const t = readTable(file, [c.patientId, c.date, c.name, c.value]);
  const out = new Map<string, EhrEvent[]>();
  for (const r of t.rows) {
    const pid = r.get(c.patientId);
    const fail = (field: string, reason: string) =>
      bad.report({ file, row: r.row, id: pid, field, reason });
    if (!known.has(pid)) {
      fail(c.patientId, unknownReason(pid, listed));
      continue;
    }
    const d = parseDate(r.get(c.date));
    if (d === null) {
      fail(
        c.date,
        `unparseable date "${r.get(c.date)}"; expected ${DATE_EXPECTED}`,
      );
      continue;
    }
    const name = r.get(c.name);
    if (!name) {
      fail(c.name, "empty code or lab name");
      continue;
    }
    const s = r.get(c.value);
    const v = s === "" ? null : numericCell(s);
    if (s !== "" && v === null) {
      fail(c.value, `value "${s}" ${NUMERIC_EXPECTED}`);
      continue;
    }
    if (!out.has(pid)) out.set(pid, []);
    out.get(pid)!.push({ date: d, name, value: v });
  }
  return out;
}

/** Which raw feature a long-EHR event name turns into. */
export type EventKind = "code" | "lab" | "medication";

/**
 * Kinds of every event name: configured, else "lab" if any of its events
 * has a value, else "code". Sorted by name for a stable feature order.
 *
 * @example
 * ```ts
 * const kinds = eventKinds(events.values(), cfg.kinds);
 * ```
 */
export function eventKinds(
  all: Iterable<EhrEvent[]>,
  configured: Record<string, EventKind>,
): [string, EventKind][] {
  const kinds = new Map<string, EventKind>();
  for (const events of all) {
    for (const e of events) {
      const k = configured[e.name] ?? (e.value !== null ? "lab" : "code");
      if (kinds.get(e.name) !== "lab") kinds.set(e.name, k);
    }
  }
  return [...kinds.entries()].sort((a, b) => a[0] < b[0] ? -1 : 1);
}

/**
 * Raw feature names for the kinds: `<code>:rate`, `<lab>:last`,
 * `<lab>:trend`, `<med>:on`, then `age` when ages are known.
 *
 * @example
 * ```ts
 * featureNames([["A01", "code"]], false); // ["A01:rate"]
 * ```
 */
export function featureNames(
  kinds: [string, EventKind][],
  withAge: boolean,
): string[] {
  const out: string[] = [];
  for (const [n, k] of kinds) {
    if (k === "code") out.push(`${n}:rate`);
    else if (k === "medication") out.push(`${n}:on`);
    else out.push(`${n}:last`, `${n}:trend`);
  }
  if (withAge) out.push("age");
  return out;
}

/**
 * The raw cross-section of a patient's events at `at` (ms): events after
 * `at` are ignored; codes count per month over the look-back window;
 * labs give the last value (NaN if none) and its change per month since
 * the value before (0 with fewer than two values); medications give 1
 * when any event falls in the window.
 *
 * @example
 * ```ts
 * const x = crossSection(events, kinds, date, 12, 64.5);
 * ```
 */
export function crossSection(
  events: EhrEvent[],
  kinds: [string, EventKind][],
  at: number,
  lookbackMonths: number,
  age: number | null | undefined,
): Float64Array {
  const withAge = age !== undefined;
  const out = new Float64Array(featureNames(kinds, withAge).length);
  const past = events.filter((e) => e.date <= at)
    .sort((a, b) => a.date - b.date);
  let f = 0;
  for (const [name, kind] of kinds) {
    const mine = past.filter((e) => e.name === name);
    const recent = mine.filter((e) =>
      monthsBetween(e.date, at) < lookbackMonths
    );
    if (kind === "code") out[f++] = recent.length / lookbackMonths;
    else if (kind === "medication") out[f++] = recent.length > 0 ? 1 : 0;
    else {
      const vals = mine.filter((e) => e.value !== null);
      const last = vals.at(-1), prev = vals.at(-2);
      out[f++] = last ? last.value! : NaN;
      const dt = last && prev ? monthsBetween(prev.date, last.date) : 0;
      out[f++] = dt > 0 ? (last!.value! - prev!.value!) / dt : 0;
    }
  }
  if (withAge) out[f] = age ?? NaN;
  return out;
}

/** A fitted standardise-then-PCA (or ICA) projection, saved as JSON. */
export interface Projection {
  kind: "pca" | "ica";
  /** Raw feature names, in input order. */
  features: string[];
  /** Training mean per feature (NaN inputs are replaced by it). */
  mean: number[];
  /** Training standard deviation per feature (1 where constant). */
  std: number[];
  /**
   * [k][features]: rows applied to the standardised features. PCA:
   * principal axes, largest variance first. ICA: unmixing rows, most
   * non-Gaussian (largest |excess kurtosis|) first.
   */
  components: number[][];
  /** Training variance of each output (1 for ICA: whitened). */
  variance: number[];
  /** Cross-sections the projection was fitted on. */
  fittedRows: number;
}

/**
 * Eigen-decomposition of a real symmetric matrix by cyclic Jacobi,
 * largest eigenvalue first; `vectors[i]` belongs to `values[i]`.
 * Deterministic and exact to about 1e-14 for the few hundred features a
 * long EHR table yields. Kept instead of mathjs's `eigs` because it
 * measured 3-97x faster (medians over 3-5 runs, 16-200 features) with the
 * same eigenvalues to 1e-14; tests/real/eigen_test.ts compares the two.
 *
 * @example
 * ```ts
 * jacobiEigen([[2, 1], [1, 2]]).values; // [3, 1]
 * ```
 */
export function jacobiEigen(
  a: number[][],
): { values: number[]; vectors: number[][] } {
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = Array.from(
    { length: n },
    (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  );
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) off += m[p][q] * m[p][q];
    }
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) /
          (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p], mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k], mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i)
    .sort((i, j) => m[j][j] - m[i][i]);
  return {
    values: order.map((i) => m[i][i]),
    vectors: order.map((i) => v.map((row) => row[i])),
  };
}

/**
 * Fits standardisation + PCA with `k` axes on `rows` (NaN = missing). Each
 * axis's sign is fixed so its largest-magnitude loading is positive.
 *
 * @example
 * ```ts
 * const proj = fitPca(rows, names, 16);
 * ```
 */
export function fitPca(
  rows: Float64Array[],
  features: string[],
  k: number,
): Projection {
  const d = features.length;
  const mean = new Array(d).fill(0), std = new Array(d).fill(0);
  for (let j = 0; j < d; j++) {
    const v = rows.map((r) => r[j]).filter(Number.isFinite);
    const mu = v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
    const sd = v.length > 1
      ? Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (v.length - 1))
      : 0;
    mean[j] = mu;
    std[j] = sd > 1e-12 ? sd : 1;
  }
  const z = rows.map((r) =>
    Array.from(r, (x, j) => Number.isFinite(x) ? (x - mean[j]) / std[j] : 0)
  );
  const cov = Array.from({ length: d }, () => new Array(d).fill(0));
  for (const r of z) {
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) cov[i][j] += r[i] * r[j];
    }
  }
  const denom = Math.max(z.length - 1, 1);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) cov[j][i] = cov[i][j] /= denom;
  }
  const { values, vectors } = jacobiEigen(cov);
  const kk = Math.min(k, d);
  const components = vectors.slice(0, kk).map((v) => {
    let big = 0;
    for (const x of v) if (Math.abs(x) > Math.abs(big)) big = x;
    return big < 0 ? v.map((x) => -x) : v;
  });
  return {
    kind: "pca",
    features,
    mean,
    std,
    components,
    variance: values.slice(0, kk),
    fittedRows: rows.length,
  };
}

function matMul(a: number[][], b: number[][]): number[][] {
  return a.map((r) =>
    b[0].map((_, j) => r.reduce((acc, v, k) => acc + v * b[k][j], 0))
  );
}

// (W W^T)^(-1/2) W: keeps the unmixing rows orthonormal.
function decorrelate(w: number[][]): number[][] {
  const wwt = matMul(w, w.map((_, i) => w.map((r) => r[i])));
  const { values, vectors } = jacobiEigen(wwt);
  const k = w.length;
  const inv = Array.from(
    { length: k },
    (_, i) =>
      Array.from({ length: k }, (_, j) =>
        values.reduce(
          (acc, lam, e) =>
            acc +
            vectors[e][i] * vectors[e][j] / Math.sqrt(Math.max(lam, 1e-300)),
          0,
        )),
  );
  return matMul(inv, w);
}

/**
 * Fits standardisation + ICA with `k` outputs: PCA whitening, then
 * symmetric FastICA (tanh contrast) started from the identity, so it is
 * deterministic. Axes whose variance is numerically zero are dropped
 * first, so fewer than `k` outputs can come back.
 *
 * @example
 * ```ts
 * const proj = fitIca(rows, names, 8);
 * ```
 */
export function fitIca(
  rows: Float64Array[],
  features: string[],
  k: number,
): Projection {
  const pca = fitPca(rows, features, k);
  const keep = pca.variance.filter((v) => v > 1e-9 * pca.variance[0]).length;
  const comps = pca.components.slice(0, keep);
  const white = comps.map((c, i) =>
    c.map((v) => v / Math.sqrt(pca.variance[i]))
  );
  const x = rows.map((r) =>
    Array.from(project({ ...pca, components: white }, r))
  );
  const n = x.length;
  let w: number[][] = Array.from(
    { length: keep },
    (_, i) => Array.from({ length: keep }, (_, j) => (i === j ? 1 : 0)),
  );
  for (let it = 0; it < 500; it++) {
    const next = w.map((wi) => {
      const out = new Array(keep).fill(0);
      let dg = 0;
      for (const xi of x) {
        const u = wi.reduce((a, v, j) => a + v * xi[j], 0);
        const g = Math.tanh(u);
        dg += 1 - g * g;
        for (let j = 0; j < keep; j++) out[j] += xi[j] * g;
      }
      return out.map((v, j) => v / n - dg / n * wi[j]);
    });
    const nw = decorrelate(next);
    const change = Math.max(
      ...nw.map((r, i) =>
        Math.abs(1 - Math.abs(r.reduce((a, v, j) => a + v * w[i][j], 0)))
      ),
    );
    w = nw;
    if (change < 1e-7) break;
  }
  const unmix = matMul(w, white);
  const kurt = unmix.map((c) => {
    const s = rows.map((r) => project({ ...pca, components: [c] }, r)[0]);
    return Math.abs(s.reduce((a, v) => a + v ** 4, 0) / s.length - 3);
  });
  const order = unmix.map((_, i) => i).sort((a, b) => kurt[b] - kurt[a]);
  const components = order.map((i) => {
    const c = unmix[i];
    let big = 0;
    for (const v of c) if (Math.abs(v) > Math.abs(big)) big = v;
    return big < 0 ? c.map((v) => -v) : c;
  });
  return {
    ...pca,
    kind: "ica",
    components,
    variance: components.map(() => 1),
  };
}

/**
 * Projects one raw cross-section.
 *
 * @example
 * ```ts
 * const sig = project(proj, crossSection(events, kinds, t, 12, age));
 * ```
 */
export function project(p: Projection, x: Float64Array): Float32Array {
  const z = Array.from(
    x,
    (v, j) => Number.isFinite(v) ? (v - p.mean[j]) / p.std[j] : 0,
  );
  return Float32Array.from(
    p.components,
    (c) => c.reduce((a, w, j) => a + w * z[j], 0),
  );
}
