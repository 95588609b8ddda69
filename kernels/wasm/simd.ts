/**
 * The SIMD loops behind mmjepa's wasm kernels, emitted with assembler.ts
 * and compiled once per tfjs-wasm heap. Every argument is a byte address
 * into that heap or a byte stride, so kernels work on tensors in place.
 *
 * - `rows{R}x{V}` / `rowsBias{R}x{V}` / `rowsAcc{R}x{V}`: C = A @ B (+ bias),
 *   or C += A @ B, a block of R rows
 *   by 4V columns per step, B and C row-major, A read through row and
 *   column strides (so A may be transposed), with a leading batch.
 * - `dots{V}`: C = A @ B^T as dot products along k (k contiguous in both).
 * - `colsum`: out = sum over rows of x.
 * - `normalize` / `normalizeGrad`: the fused norm of kernels/names.ts.
 * - `softmaxGrad`: the softmax gradient of kernels/names.ts;
 *   `softmaxGradScaled` multiplies it by a constant (attention's scale).
 * - `reluGrad`: dx = dy where y > 0, else 0 (y the ReLU's output).
 * - `softmaxRows`: the attention softmax of scaled scores plus a bias row
 *   (normalized or not, with each row's max and sum) for
 *   kernels/wasm/attention.ts; exp is a Cephes-style polynomial (relative
 *   error about 1e-7).
 *
 * The loops need the innermost sizes they vectorize over to be multiples
 * of 4 (callers check, and fall back to stock kernels or scalar code).
 *
 * @module
 */
import { encodeModule, FunctionBuilder } from "./assembler.ts";

/** C = A @ B (+ bias); see the module doc. */
export type RowsFn = (
  a: number,
  b: number,
  bias: number,
  c: number,
  batch: number,
  rowBlocks: number,
  k: number,
  colBlocks: number,
  aBatch: number,
  aRow: number,
  aCol: number,
  bBatch: number,
  bRow: number,
  cRow: number,
  cBatch: number,
) => void;

/** C = A @ B^T; see the module doc. */
export type DotsFn = (
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  colBlocks: number,
  kQuads: number,
  aBatch: number,
  aRow: number,
  bBatch: number,
  bRow: number,
) => void;

/** The compiled kernels. */
export interface SimdKernels {
  /** rows{R}x{V}, rowsBias{R}x{V} and rowsAcc{R}x{V} for R and V in 1, 2, 4. */
  rows: Record<string, RowsFn>;
  /** dots1 (one column at a time) and dots4 (four). */
  dots: Record<string, DotsFn>;
  /** out[quads * 4] = column sums of x [rows, quads * 4]. */
  colsum: (x: number, out: number, rows: number, quads: number) => void;
  /** y, inv = normalize(x) over rows of quads * 4 floats. */
  normalize: (
    x: number,
    y: number,
    inv: number,
    rows: number,
    quads: number,
  ) => void;
  /** dx = normalize gradient from dy, y, inv. */
  normalizeGrad: (
    dy: number,
    y: number,
    inv: number,
    dx: number,
    rows: number,
    quads: number,
  ) => void;
  /** dx = scale * y * (dy - rowsum(dy * y)); scale as f32 bits (i32). */
  softmaxGradScaled: (
    dy: number,
    y: number,
    dx: number,
    rows: number,
    quads: number,
    rem: number,
    scaleBits: number,
  ) => void;
  /**
   * out = exp(x - max(x)) with x = s * scale + bias row, per row of
   * quads * 4 + rem floats (out may be s), divided by its row sum when
   * `normalize` is non-zero (softmax); stats gets [max, sum] per row; the
   * bias pointer advances biasRow bytes per row (0: one row for all).
   */
  softmaxRows: (
    s: number,
    bias: number,
    out: number,
    stats: number,
    rows: number,
    quads: number,
    rem: number,
    biasRow: number,
    scaleBits: number,
    normalize: number,
  ) => void;
  /** dx = y > 0 ? dy : 0 over quads * 4 floats. */
  reluGrad: (dy: number, y: number, dx: number, quads: number) => void;
  /** dx = y * (dy - rowsum(dy * y)) over rows of quads * 4 + rem floats. */
  softmaxGrad: (
    dy: number,
    y: number,
    dx: number,
    rows: number,
    quads: number,
    rem: number,
  ) => void;
}

// Row-block heights and column-block widths (in f32x4) that rows kernels
// exist for; heap.ts picks among them.
const ROW_BLOCKS = [4, 2, 1] as const;
const COL_BLOCKS = [4, 2, 1] as const;

function rows(
  r: number,
  v: number,
  init: "zero" | "bias" | "accumulate",
  fma: boolean,
): FunctionBuilder {
  const f = new FunctionBuilder(15);
  const [a, b, pBias, c, batch, rowBlocks, k, colBlocks] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
  ];
  const [aBatch, aRow, aCol, bBatch, bRow, cRow, cBatch] = [
    8,
    9,
    10,
    11,
    12,
    13,
    14,
  ];
  const bi = f.local("i32"), ib = f.local("i32"), jb = f.local("i32");
  const pcB = f.local("i32");
  const kk = f.local("i32"), paI = f.local("i32"), pbJ = f.local("i32");
  const pc = f.local("i32"), pb = f.local("i32"), pbi = f.local("i32");
  const p = f.local("i32");
  const pa = Array.from({ length: r }, () => f.local("i32"));
  const s = f.local("v128");
  const bv = Array.from({ length: v }, () => f.local("v128"));
  const acc = Array.from(
    { length: r },
    () => Array.from({ length: v }, () => f.local("v128")),
  );
  f.get(c).set(pcB);
  f.repeat(bi, batch, () => {
    f.get(a).set(paI).get(pcB).set(c);
    f.repeat(ib, rowBlocks, () => {
      f.get(b).set(pbJ).get(c).set(pc).get(pBias).set(pbi);
      f.repeat(jb, colBlocks, () => {
        f.get(pc).set(p);
        acc.forEach((row, i) => {
          row.forEach((x, q) => {
            if (init === "bias") f.get(pbi).v128Load(16 * q).set(x);
            else if (init === "accumulate") f.get(p).v128Load(16 * q).set(x);
            else f.v128Zero().set(x);
          });
          if (init === "accumulate" && i < r - 1) f.addTo(p, { local: cRow });
        });
        f.get(paI).set(pa[0]);
        for (let i = 1; i < r; i++) {
          f.get(pa[i - 1]).get(aRow).i32Add().set(pa[i]);
        }
        f.get(pbJ).set(pb);
        f.repeat(kk, k, () => {
          bv.forEach((x, q) => f.get(pb).v128Load(16 * q).set(x));
          acc.forEach((row, i) => {
            f.get(pa[i]).f32Load().f32x4Splat().set(s);
            row.forEach((x, q) => {
              if (fma) f.get(s).get(bv[q]).get(x).f32x4RelaxedMadd().set(x);
              else f.get(x).get(s).get(bv[q]).f32x4Mul().f32x4Add().set(x);
            });
          });
          for (const x of pa) f.addTo(x, { local: aCol });
          f.addTo(pb, { local: bRow });
        });
        f.get(pc).set(p);
        acc.forEach((row, i) => {
          row.forEach((x, q) => f.get(p).get(x).v128Store(16 * q));
          if (i < r - 1) f.addTo(p, { local: cRow });
        });
        f.addTo(pc, 16 * v).addTo(pbJ, 16 * v);
        if (init === "bias") f.addTo(pbi, 16 * v);
      });
      for (let i = 0; i < r; i++) {
        f.addTo(paI, { local: aRow }).addTo(c, { local: cRow });
      }
    });
    f.addTo(a, { local: aBatch }).addTo(b, { local: bBatch });
    f.addTo(pcB, { local: cBatch });
  });
  return f;
}

function dots(v: number, fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder(11);
  const [a, b, c, batch, m, colBlocks, kQuads, aBatch, aRow, bBatch, bRow] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
  ];
  const bi = f.local("i32"), i = f.local("i32"), j = f.local("i32");
  const kk = f.local("i32"), pa = f.local("i32"), pbJ = f.local("i32");
  const paI = f.local("i32");
  const pb = Array.from({ length: v }, () => f.local("i32"));
  const x = f.local("v128");
  const acc = Array.from({ length: v }, () => f.local("v128"));
  f.repeat(bi, batch, () => {
    f.get(a).set(paI);
    f.repeat(i, m, () => {
      f.get(b).set(pbJ);
      f.repeat(j, colBlocks, () => {
        for (const r of acc) f.v128Zero().set(r);
        f.get(paI).set(pa).get(pbJ).set(pb[0]);
        for (let q = 1; q < v; q++) {
          f.get(pb[q - 1]).get(bRow).i32Add().set(pb[q]);
        }
        f.repeat(kk, kQuads, () => {
          f.get(pa).v128Load().set(x);
          acc.forEach((r, q) => {
            if (fma) {
              f.get(x).get(pb[q]).v128Load().get(r).f32x4RelaxedMadd().set(r);
            } else {
              f.get(r).get(x).get(pb[q]).v128Load().f32x4Mul().f32x4Add()
                .set(r);
            }
          });
          f.addTo(pa, 16);
          for (const y of pb) f.addTo(y, 16);
        });
        if (v === 4) {
          // [sum acc0, sum acc1, sum acc2, sum acc3] by two rounds of
          // interleave-and-add: 6 shuffles and 3 adds for four sums.
          f.get(c);
          f.get(acc[0]).get(acc[1]).shuffle([0, 4, 1, 5]);
          f.get(acc[0]).get(acc[1]).shuffle([2, 6, 3, 7]).f32x4Add();
          f.set(x);
          f.get(acc[2]).get(acc[3]).shuffle([0, 4, 1, 5]);
          f.get(acc[2]).get(acc[3]).shuffle([2, 6, 3, 7]).f32x4Add();
          f.set(acc[0]);
          f.get(x).get(acc[0]).shuffle([0, 1, 4, 5]);
          f.get(x).get(acc[0]).shuffle([2, 3, 6, 7]).f32x4Add();
          f.v128Store();
        } else {
          acc.forEach((r, q) => f.get(c).hsum(r).f32Store(4 * q));
        }
        f.addTo(c, 4 * v);
        for (let q = 0; q < v; q++) f.addTo(pbJ, { local: bRow });
      });
      f.addTo(paI, { local: aRow });
    });
    f.addTo(a, { local: aBatch }).addTo(b, { local: bBatch });
  });
  return f;
}

function colsum(): FunctionBuilder {
  const f = new FunctionBuilder(4);
  const [x, out, nRows, quads] = [0, 1, 2, 3];
  const r = f.local("i32"), q = f.local("i32"), p = f.local("i32");
  f.get(out).set(p);
  f.repeat(q, quads, () => {
    f.get(p).v128Zero().v128Store();
    f.addTo(p, 16);
  });
  f.repeat(r, nRows, () => {
    f.get(out).set(p);
    f.repeat(q, quads, () => {
      f.get(p).get(p).v128Load().get(x).v128Load().f32x4Add().v128Store();
      f.addTo(p, 16).addTo(x, 16);
    });
  });
  return f;
}

// The ReLU gradient as a mask: y > 0 sets all bits of a lane, and dy & mask
// keeps dy there and gives +0 elsewhere (tfjs: dy * step(x), the same
// values for finite dy).
function reluGrad(): FunctionBuilder {
  const f = new FunctionBuilder(4);
  const [dy, y, dx, quads] = [0, 1, 2, 3];
  const q = f.local("i32");
  f.repeat(q, quads, () => {
    f.get(dx).get(dy).v128Load().get(y).v128Load().v128Zero().f32x4Gt()
      .v128And().v128Store();
    f.addTo(dy, 16).addTo(y, 16).addTo(dx, 16);
  });
  return f;
}

// Pushes the row width (quads * 4) as an f32.
function width(f: FunctionBuilder, quads: number): FunctionBuilder {
  return f.get(quads).i32(4).i32Mul().f32FromI32();
}

function normalize(eps: number): FunctionBuilder {
  const f = new FunctionBuilder(5);
  const [x, y, inv, nRows, quads] = [0, 1, 2, 3, 4];
  const r = f.local("i32"), q = f.local("i32"), px = f.local("i32");
  const py = f.local("i32");
  const acc = f.local("v128"), mean = f.local("v128"), d = f.local("v128");
  f.repeat(r, nRows, () => {
    f.v128Zero().set(acc).get(x).set(px);
    f.repeat(q, quads, () => {
      f.get(acc).get(px).v128Load().f32x4Add().set(acc).addTo(px, 16);
    });
    f.hsum(acc);
    width(f, quads).f32Div().f32x4Splat().set(mean);
    f.v128Zero().set(acc).get(x).set(px).get(y).set(py);
    f.repeat(q, quads, () => {
      f.get(px).v128Load().get(mean).f32x4Sub().set(d);
      f.get(py).get(d).v128Store();
      f.get(acc).get(d).get(d).f32x4Mul().f32x4Add().set(acc);
      f.addTo(px, 16).addTo(py, 16);
    });
    // inv = 1 / sqrt(sum / w + eps), stored, then reread as a splat.
    f.get(inv).f32(1).hsum(acc);
    width(f, quads).f32Div().f32(eps).f32Add().f32Sqrt().f32Div();
    f.f32Store();
    f.get(inv).f32Load().f32x4Splat().set(mean);
    f.get(y).set(py);
    f.repeat(q, quads, () => {
      f.get(py).get(py).v128Load().get(mean).f32x4Mul().v128Store();
      f.addTo(py, 16);
    });
    f.get(px).set(x).get(py).set(y).addTo(inv, 4);
  });
  return f;
}

function normalizeGrad(): FunctionBuilder {
  const f = new FunctionBuilder(6);
  const [dy, y, inv, dx, nRows, quads] = [0, 1, 2, 3, 4, 5];
  const r = f.local("i32"), q = f.local("i32"), pd = f.local("i32");
  const py = f.local("i32");
  const s1 = f.local("v128"), s2 = f.local("v128"), g = f.local("v128");
  const sc = f.local("v128");
  f.repeat(r, nRows, () => {
    f.v128Zero().set(s1).v128Zero().set(s2).get(dy).set(pd).get(y).set(py);
    f.repeat(q, quads, () => {
      f.get(pd).v128Load().set(g);
      f.get(s1).get(g).f32x4Add().set(s1);
      f.get(s2).get(g).get(py).v128Load().f32x4Mul().f32x4Add().set(s2);
      f.addTo(pd, 16).addTo(py, 16);
    });
    f.hsum(s1);
    width(f, quads).f32Div().f32x4Splat().set(s1);
    f.hsum(s2);
    width(f, quads).f32Div().f32x4Splat().set(s2);
    f.get(inv).f32Load().f32x4Splat().set(sc);
    f.get(dy).set(pd).get(y).set(py);
    f.repeat(q, quads, () => {
      f.get(dx);
      f.get(pd).v128Load().get(s1).f32x4Sub();
      f.get(py).v128Load().get(s2).f32x4Mul().f32x4Sub();
      f.get(sc).f32x4Mul().v128Store();
      f.addTo(pd, 16).addTo(py, 16).addTo(dx, 16);
    });
    f.get(pd).set(dy).get(py).set(y).addTo(inv, 4);
  });
  return f;
}

function softmaxGrad(scaled: boolean): FunctionBuilder {
  const f = new FunctionBuilder(scaled ? 7 : 6);
  const [dy, y, dx, nRows, quads, rem, scaleBits] = [0, 1, 2, 3, 4, 5, 6];
  const r = f.local("i32"), q = f.local("i32"), pd = f.local("i32");
  const py = f.local("i32");
  const s = f.local("v128"), t = f.local("v128"), vs = f.local("v128");
  if (scaled) f.get(scaleBits).f32FromBits().f32x4Splat().set(vs);
  f.repeat(r, nRows, () => {
    // s = sum(dy * y) over the row: four lanes, then the rem tail lanes.
    f.v128Zero().set(s).v128Zero().set(t).get(dy).set(pd).get(y).set(py);
    f.when(quads, () => {
      f.repeat(q, quads, () => {
        f.get(s).get(pd).v128Load().get(py).v128Load().f32x4Mul()
          .f32x4Add().set(s);
        f.addTo(pd, 16).addTo(py, 16);
      });
    });
    f.when(rem, () => {
      f.repeat(q, rem, () => {
        f.get(pd).f32Load().get(py).f32Load().f32Mul().f32x4Splat()
          .get(t).f32x4Add().set(t);
        f.addTo(pd, 4).addTo(py, 4);
      });
    });
    f.hsum(s).get(t).f32x4Lane(0).f32Add().f32x4Splat().set(s);
    f.when(quads, () => {
      f.repeat(q, quads, () => {
        f.get(dx);
        f.get(y).v128Load();
        f.get(dy).v128Load().get(s).f32x4Sub();
        f.f32x4Mul();
        if (scaled) f.get(vs).f32x4Mul();
        f.v128Store();
        f.addTo(dx, 16).addTo(dy, 16).addTo(y, 16);
      });
    });
    f.when(rem, () => {
      f.repeat(q, rem, () => {
        f.get(dx);
        f.get(y).f32Load();
        f.get(dy).f32Load().get(s).f32x4Lane(0).f32Sub();
        f.f32Mul();
        if (scaled) f.get(vs).f32x4Lane(0).f32Mul();
        f.f32Store();
        f.addTo(dx, 4).addTo(dy, 4).addTo(y, 4);
      });
    });
  });
  return f;
}

// exp of the four lanes of v128 local x, in place: n = round(x log2 e)
// by adding a magic number (its low mantissa bits then hold n + 127, which
// a shift by 23 turns into 2^n), r = x - n ln 2 in two parts (Cephes), a
// degree-5 polynomial in r (Cephes expf; relative error about 1e-7).
// pmax clamps below at -87.3 (one instruction where min/max are several):
// the -1e9 of a masked key comes out as about 1e-38, as softmax needs.
// Inputs are at most about 0 here (x - max, x - lse). t, u: scratch v128.
const EXP_MAGIC = 12582912 + 127;
function expInPlace(
  f: FunctionBuilder,
  x: number,
  t: number,
  u: number,
): void {
  f.get(x).f32x4Const(-87.33654).f32x4PMax().set(x);
  f.get(x).f32x4Const(Math.LOG2E).f32x4Mul().f32x4Const(EXP_MAGIC)
    .f32x4Add().set(t);
  f.get(t).f32x4Const(EXP_MAGIC).f32x4Sub().set(u);
  f.get(x).get(u).f32x4Const(0.693359375).f32x4Mul().f32x4Sub();
  f.get(u).f32x4Const(-2.12194440e-4).f32x4Mul().f32x4Sub().set(x);
  f.f32x4Const(1.9875691500e-4).get(x).f32x4Mul();
  for (
    const c of [
      1.3981999507e-3,
      8.3334519073e-3,
      4.1665795894e-2,
      1.6666665459e-1,
      5.0000001201e-1,
    ]
  ) {
    f.f32x4Const(c).f32x4Add().get(x).f32x4Mul();
  }
  // p(r) r^2 + r + 1 (the loop left p(r) * r on the stack), times 2^n.
  f.get(x).f32x4Mul().get(x).f32x4Add().f32x4Const(1).f32x4Add();
  f.get(t).i32(23).i32x4Shl().f32x4Mul().set(x);
}

// The first pass of softmaxRows: x = s * scale + bias for every
// element (four at a time, then the rem tail one by one as a splat), with
// `each(x)` emitted for both parts; the element's output address is in po.
function scaledRow(
  f: FunctionBuilder,
  a: { s: number; bias: number; quads: number; rem: number; vs: number },
  l: { q: number; ps: number; pb: number; po: number; x: number },
  out: number,
  each: (vector: boolean) => void,
): void {
  f.get(a.s).set(l.ps).get(a.bias).set(l.pb).get(out).set(l.po);
  f.when(a.quads, () => {
    f.repeat(l.q, a.quads, () => {
      f.get(l.ps).v128Load().get(a.vs).f32x4Mul().get(l.pb).v128Load()
        .f32x4Add().set(l.x);
      each(true);
      f.addTo(l.ps, 16).addTo(l.pb, 16).addTo(l.po, 16);
    });
  });
  f.when(a.rem, () => {
    f.repeat(l.q, a.rem, () => {
      f.get(l.ps).f32Load().get(a.vs).f32x4Lane(0).f32Mul().get(l.pb)
        .f32Load().f32Add().f32x4Splat().set(l.x);
      each(false);
      f.addTo(l.ps, 4).addTo(l.pb, 4).addTo(l.po, 4);
    });
  });
}

function softmaxRows(): FunctionBuilder {
  const f = new FunctionBuilder(10);
  const [s, bias, out, stats, nRows, quads, rem, biasRow, scaleBits] = [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
  ];
  const normalize = 9;
  const r = f.local("i32"), q = f.local("i32"), ps = f.local("i32");
  const pb = f.local("i32"), po = f.local("i32");
  const vs = f.local("v128"), m = f.local("v128"), acc = f.local("v128");
  const tail = f.local("v128"), x = f.local("v128"), t = f.local("v128");
  const u = f.local("v128");
  const a = { s, bias, quads, rem, vs };
  const l = { q, ps, pb, po, x };
  f.get(scaleBits).f32FromBits().f32x4Splat().set(vs);
  f.repeat(r, nRows, () => {
    // Pass 1: x = s * scale + bias into out, and the row's max.
    f.f32x4Const(-Infinity).set(m);
    scaledRow(f, a, l, out, (vector) => {
      if (vector) f.get(po).get(x).v128Store();
      else f.get(po).get(x).f32x4Lane(0).f32Store();
      f.get(m).get(x).f32x4PMax().set(m);
    });
    f.get(m).f32x4Lane(0).get(m).f32x4Lane(1).f32Max();
    f.get(m).f32x4Lane(2).get(m).f32x4Lane(3).f32Max().f32Max();
    f.f32x4Splat().set(m);
    // Pass 2: out = exp(out - max), summed.
    f.v128Zero().set(acc).v128Zero().set(tail).get(out).set(po);
    f.when(quads, () => {
      f.repeat(q, quads, () => {
        f.get(po).v128Load().get(m).f32x4Sub().set(x);
        expInPlace(f, x, t, u);
        f.get(po).get(x).v128Store();
        f.get(acc).get(x).f32x4Add().set(acc).addTo(po, 16);
      });
    });
    f.when(rem, () => {
      f.repeat(q, rem, () => {
        f.get(po).f32Load().f32x4Splat().get(m).f32x4Sub().set(x);
        expInPlace(f, x, t, u);
        f.get(po).get(x).f32x4Lane(0).f32Store();
        f.get(tail).get(x).f32x4Add().set(tail).addTo(po, 4);
      });
    });
    f.get(stats).get(m).f32x4Lane(0).f32Store();
    f.get(stats).hsum(acc).get(tail).f32x4Lane(0).f32Add().f32Store(4);
    // Pass 3, when asked: divide by the sum (else out stays unnormalized,
    // and the caller divides the much smaller product with v instead).
    f.when(normalize, () => {
      f.f32(1).get(stats).f32Load(4).f32Div().f32x4Splat().set(m);
      f.get(out).set(po);
      f.when(quads, () => {
        f.repeat(q, quads, () => {
          f.get(po).get(po).v128Load().get(m).f32x4Mul().v128Store();
          f.addTo(po, 16);
        });
      });
      f.when(rem, () => {
        f.repeat(q, rem, () => {
          f.get(po).get(po).f32Load().get(m).f32x4Lane(0).f32Mul()
            .f32Store();
          f.addTo(po, 4);
        });
      });
    });
    f.get(ps).set(s).get(po).set(out).addTo(bias, { local: biasRow });
    f.addTo(stats, 8);
  });
  return f;
}

/**
 * Compiles every kernel against one heap; with `fma`, the products'
 * multiply-adds are relaxed-SIMD fused multiply-adds (faster where the CPU
 * has FMA, and different in the last bits).
 *
 * @example
 * ```ts
 * const k = compileSimdKernels(backend.wasm.asm.memory, 1e-5, false);
 * k.colsum(px, pout, 1536, 24);
 * ```
 */
export function compileSimdKernels(
  memory: WebAssembly.Memory,
  eps: number,
  fma = false,
): SimdKernels {
  const fns: Record<string, FunctionBuilder> = {};
  for (const r of ROW_BLOCKS) {
    for (const v of COL_BLOCKS) {
      fns[`rows${r}x${v}`] = rows(r, v, "zero", fma);
      fns[`rowsBias${r}x${v}`] = rows(r, v, "bias", fma);
      fns[`rowsAcc${r}x${v}`] = rows(r, v, "accumulate", fma);
    }
  }
  fns.dots1 = dots(1, fma);
  fns.dots4 = dots(4, fma);
  fns.colsum = colsum();
  fns.normalize = normalize(eps);
  fns.normalizeGrad = normalizeGrad();
  fns.softmaxGrad = softmaxGrad(false);
  fns.softmaxGradScaled = softmaxGrad(true);
  fns.softmaxRows = softmaxRows();
  fns.reluGrad = reluGrad();
  const inst = new WebAssembly.Instance(
    new WebAssembly.Module(encodeModule(fns)),
    { env: { memory } },
  );
  // deno-lint-ignore no-explicit-any
  const e = inst.exports as Record<string, any>;
  const pick = (prefix: string) =>
    Object.fromEntries(
      Object.entries(e).filter(([n]) => n.startsWith(prefix)),
    );
  return {
    rows: pick("rows"),
    dots: pick("dots"),
    colsum: e.colsum,
    normalize: e.normalize,
    normalizeGrad: e.normalizeGrad,
    softmaxGrad: e.softmaxGrad,
    softmaxGradScaled: e.softmaxGradScaled,
    softmaxRows: e.softmaxRows,
    reluGrad: e.reluGrad,
  };
}
