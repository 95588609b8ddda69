/**
 * Just enough of a WebAssembly binary writer to emit small SIMD kernels
 * from TypeScript: i32 and v128 locals, counted loops, loads, stores and
 * f32x4 arithmetic, one imported memory. No toolchain is needed at build
 * or run time, and the emitted module shares the tfjs-wasm heap, so kernels
 * read and write tensors in place.
 *
 * @module
 */

/** Value types a kernel uses. */
export type ValType = "i32" | "v128";

const TYPE_CODE: Record<ValType, number> = { i32: 0x7f, v128: 0x7b };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) ||
      (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [...uleb(b.length), ...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const SIMD = 0xfd;
// log2 of the alignment promised to the engine: tfjs tensors are 4-byte aligned.
const ALIGN4 = 2;

/**
 * Builder of one function body. Parameters are i32 locals 0..params-1;
 * {@link local} adds more. Each method appends one instruction.
 *
 * @example
 * ```ts
 * const f = new FunctionBuilder(2);
 * f.get(0).get(1).i32Add().drop();
 * ```
 */
export class FunctionBuilder {
  /** Number of i32 parameters. */
  readonly params: number;
  readonly #locals: ValType[] = [];
  readonly #code: number[] = [];

  /** A function of `params` i32 parameters and no result. */
  constructor(params: number) {
    this.params = params;
  }

  /** Declares a local and returns its index. */
  local(type: ValType): number {
    this.#locals.push(type);
    return this.params + this.#locals.length - 1;
  }

  #op(...bytes: number[]): this {
    this.#code.push(...bytes);
    return this;
  }

  /** local.get */
  get(i: number): this {
    return this.#op(0x20, ...uleb(i));
  }
  /** local.set */
  set(i: number): this {
    return this.#op(0x21, ...uleb(i));
  }
  /** i32.const */
  i32(v: number): this {
    return this.#op(0x41, ...sleb(v));
  }
  /** i32.add */
  i32Add(): this {
    return this.#op(0x6a);
  }
  /** i32.sub */
  i32Sub(): this {
    return this.#op(0x6b);
  }
  /** i32.mul */
  i32Mul(): this {
    return this.#op(0x6c);
  }
  /** drop */
  drop(): this {
    return this.#op(0x1a);
  }
  /** f32.load at the address on the stack plus `offset` bytes. */
  f32Load(offset = 0): this {
    return this.#op(0x2a, ALIGN4, ...uleb(offset));
  }
  /** f32.store */
  f32Store(offset = 0): this {
    return this.#op(0x38, ALIGN4, ...uleb(offset));
  }
  /** f32.add */
  f32Add(): this {
    return this.#op(0x92);
  }
  /** f32.sub */
  f32Sub(): this {
    return this.#op(0x93);
  }
  /** f32.mul */
  f32Mul(): this {
    return this.#op(0x94);
  }
  /** f32.div */
  f32Div(): this {
    return this.#op(0x95);
  }
  /** f32.sqrt */
  f32Sqrt(): this {
    return this.#op(0x91);
  }
  /** f32.const */
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.#op(0x43, ...b);
  }
  /** f32.max */
  f32Max(): this {
    return this.#op(0x97);
  }
  /** f32.reinterpret_i32: an f32 passed to a kernel as its i32 bits. */
  f32FromBits(): this {
    return this.#op(0xbe);
  }
  /** f32.convert_i32_s */
  f32FromI32(): this {
    return this.#op(0xb2);
  }
  /** v128.load */
  v128Load(offset = 0): this {
    return this.#op(SIMD, ...uleb(0), ALIGN4, ...uleb(offset));
  }
  /** v128.store */
  v128Store(offset = 0): this {
    return this.#op(SIMD, ...uleb(11), ALIGN4, ...uleb(offset));
  }
  /** v128.const of sixteen zero bytes. */
  v128Zero(): this {
    return this.#op(SIMD, ...uleb(12), ...new Array(16).fill(0));
  }
  /** v128.const of four equal f32 lanes. */
  f32x4Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
    return this.#op(SIMD, ...uleb(12), ...b);
  }
  /** i32x4.splat */
  i32x4Splat(): this {
    return this.#op(SIMD, ...uleb(17));
  }
  /** i32x4.add */
  i32x4Add(): this {
    return this.#op(SIMD, ...uleb(174));
  }
  /** i32x4.shl by the i32 on top of the stack. */
  i32x4Shl(): this {
    return this.#op(SIMD, ...uleb(171));
  }
  /** i32x4.trunc_sat_f32x4_s */
  i32x4FromF32x4(): this {
    return this.#op(SIMD, ...uleb(248));
  }
  /** f32x4.nearest (round half to even) */
  f32x4Nearest(): this {
    return this.#op(SIMD, ...uleb(106));
  }
  /** f32x4.pmax (b > a ? b : a; one instruction, no NaN handling) */
  f32x4PMax(): this {
    return this.#op(SIMD, ...uleb(235));
  }
  /**
   * f32x4.relaxed_madd: a * b + c of the three vectors on the stack, fused
   * or not as the engine likes (relaxed SIMD; the last bits may differ).
   */
  f32x4RelaxedMadd(): this {
    return this.#op(SIMD, ...uleb(261));
  }
  /** f32x4.gt: all-ones lanes where a > b. */
  f32x4Gt(): this {
    return this.#op(SIMD, ...uleb(68));
  }
  /** v128.and */
  v128And(): this {
    return this.#op(SIMD, ...uleb(78));
  }
  /** f32x4.min */
  f32x4Min(): this {
    return this.#op(SIMD, ...uleb(232));
  }
  /** f32x4.max */
  f32x4Max(): this {
    return this.#op(SIMD, ...uleb(233));
  }
  /** f32x4.splat */
  f32x4Splat(): this {
    return this.#op(SIMD, ...uleb(19));
  }
  /** f32x4.extract_lane */
  f32x4Lane(lane: number): this {
    return this.#op(SIMD, ...uleb(31), lane);
  }
  /** f32x4.add */
  f32x4Add(): this {
    return this.#op(SIMD, ...uleb(228));
  }
  /**
   * i8x16.shuffle picking four f32 lanes from two vectors (lanes 0-3 of
   * the first, 4-7 of the second).
   */
  shuffle(lanes: [number, number, number, number]): this {
    const bytes = lanes.flatMap((
      l,
    ) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
    return this.#op(SIMD, ...uleb(13), ...bytes);
  }
  /** f32x4.sub */
  f32x4Sub(): this {
    return this.#op(SIMD, ...uleb(229));
  }
  /** f32x4.mul */
  f32x4Mul(): this {
    return this.#op(SIMD, ...uleb(230));
  }

  /** local[i] += step (an i32 local or a constant). */
  addTo(i: number, step: number | { local: number }): this {
    this.get(i);
    if (typeof step === "number") this.i32(step);
    else this.get(step.local);
    return this.i32Add().set(i);
  }

  /**
   * A do-while loop: `body` runs `count` times (count >= 1 is the
   * caller's promise), counting down in local `counter`.
   */
  repeat(counter: number, count: number, body: () => void): this {
    this.get(count).set(counter);
    this.#op(0x03, 0x40);
    body();
    this.get(counter).i32(1).i32Sub();
    this.#op(0x22, ...uleb(counter)); // local.tee
    this.#op(0x0d, 0); // br_if to the loop head
    return this.#op(0x0b);
  }

  /** Pushes the sum of the four lanes of v128 local `v` as an f32. */
  hsum(v: number): this {
    this.get(v).f32x4Lane(0).get(v).f32x4Lane(1).f32Add();
    return this.get(v).f32x4Lane(2).get(v).f32x4Lane(3).f32Add().f32Add();
  }

  /** Runs `body` only when i32 local `cond` is non-zero. */
  when(cond: number, body: () => void): this {
    this.get(cond).#op(0x04, 0x40);
    body();
    return this.#op(0x0b);
  }

  /** The encoded body: local declarations, code, end. */
  encode(): number[] {
    const groups: number[][] = [];
    for (const t of this.#locals) groups.push([1, TYPE_CODE[t]]);
    const body = [...vec(groups), ...this.#code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module of exported functions over one imported memory (`env.memory`).
 *
 * @example
 * ```ts
 * const bytes = encodeModule({ noop: new FunctionBuilder(0) });
 * const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
 * ```
 */
export function encodeModule(
  functions: Record<string, FunctionBuilder>,
): Uint8Array<ArrayBuffer> {
  const entries = Object.entries(functions);
  const types = entries.map(([, f]) => [
    0x60,
    ...vec(new Array(f.params).fill([TYPE_CODE.i32])),
    0,
  ]);
  const imports = [[...name("env"), ...name("memory"), 0x02, 0x00, 1]];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(entries.map((_, i) => uleb(i)))),
    ...section(
      7,
      vec(entries.map(([n], i) => [...name(n), 0x00, ...uleb(i)])),
    ),
    ...section(10, vec(entries.map(([, f]) => f.encode()))),
  ]);
}
