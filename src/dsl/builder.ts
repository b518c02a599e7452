/**
 * The program builder: the `b` of `program('sockops', 'name', (b) => { ... })`. Every method
 * emits instructions immediately (it is an assembler: you pick registers and instructions) and
 * records the TypeScript line of the call for line info and errors.
 *
 * Beyond one method per instruction it offers: labels with forward and backward jumps; `if`/`else`
 * on typed conditions and `block` lowered to jumps (clang-like: `b.if(c, () => b.ret(0))` is one
 * conditional jump to a shared `r0 = 0; exit`); typed ctx field access; typed helper calls that
 * place their operands in r1–r5; stack objects with typed member access and lazy zero-fill.
 */
import type {
  AluOp,
  AtomicOp,
  Insn,
  JmpOp,
  JumpInsn,
  Reg,
  Size,
  Source,
  Width,
} from '../asm/insn.js';
import { type Item, type JumpLike, Label, type Label as LabelT } from './assemble.js';
import type {
  CtxArrayField,
  CtxFieldName,
  CtxPortField,
  CtxSchema,
  WritableCtxField,
} from './ctx.js';
import { DslError } from './errors.js';
import { HELPERS, type HelperCalls, type HelperDef, type HelperName } from './helpers.js';
import { array, type Layout, resolvePath, type ScalarPath, u8 } from './layout.js';
import { MapDef } from './maps.js';
import { type CtxOf, PROGRAM_TYPES, type ProgramTypeName } from './program-types.js';
import { Ref, StackObject } from './refs.js';
import {
  type Condition,
  type DstRegister,
  negateOp,
  type Operand,
  Register,
  r0,
  r10,
} from './registers.js';
import { captureLocation, type SourceLocation } from './source-location.js';

/** The stack frame size the verifier allows. */
export const STACK_SIZE = 512;

const SIZE_OF: Record<1 | 2 | 4 | 8, Size> = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' };

/** A jump destination: a label, or a raw slot offset relative to the next instruction. */
export type Target = LabelT | number;

/**
 * Where a stack object was allocated: expanded at the end of the build into zero stores for the
 * bytes that some path may store before the object is read (they cannot be zeroed lazily at the
 * read, which would overwrite those stores), so it runs before any of them.
 */
interface ZeroSlot {
  readonly t: 'zero';
  readonly obj: StackObject;
  readonly bytes: Set<number>;
  readonly loc: SourceLocation;
}

/** The builder's stream: assembler items plus allocation-time zero slots. */
type BuilderItem = Item | ZeroSlot;

/** True when an item ends straight-line flow (exit or unconditional jump). */
function leaves(item: BuilderItem | undefined): boolean {
  return (
    item !== undefined &&
    (item.t === 'insn' || item.t === 'jump') &&
    (item.insn.kind === 'exit' || item.insn.kind === 'ja' || item.insn.kind === 'gotol')
  );
}

/** Aligned store sizes covering `bytes` (r10-relative offsets) with the fewest stores. */
function zeroStores(bytes: ReadonlySet<number>): { at: number; size: 1 | 2 | 4 | 8 }[] {
  const left = new Set(bytes);
  const out: { at: number; size: 1 | 2 | 4 | 8 }[] = [];
  for (const at of [...bytes].sort((a, b) => a - b)) {
    if (!left.has(at)) continue;
    let size: 1 | 2 | 4 | 8 = 1;
    for (const s of [8, 4, 2] as const) {
      if (((at % s) + s) % s !== 0) continue;
      let all = true;
      for (let k = 0; k < s; k++) all &&= left.has(at + k);
      if (all) {
        size = s;
        break;
      }
    }
    for (let k = 0; k < size; k++) left.delete(at + k);
    out.push({ at, size });
  }
  return out;
}

interface StackWrite {
  readonly lo: number;
  readonly hi: number;
  readonly scope: number;
  readonly epoch: number;
}

/** Options of `b.ctx.load`/`store`: the register holding the ctx pointer and an array index. */
export interface CtxAccessOptions {
  /** Register holding the context pointer (default r1, where it is at entry). */
  readonly ctx?: Register;
  /** Element of an array field (`remote_ip6`, `args`); default 0. */
  readonly index?: number;
}

function isInt32(v: number): boolean {
  return Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
}

/** Typed access to the context struct of program type P (`b.ctx`). */
export class CtxAccess<S extends CtxSchema> {
  readonly #b: ProgramBuilder<ProgramTypeName>;
  /** The context schema. */
  readonly schema: S;

  /** Created by the builder. */
  constructor(b: ProgramBuilder<ProgramTypeName>, schema: S) {
    this.#b = b;
    this.schema = schema;
  }

  /** Byte offset of a field (of element `index` for array fields). */
  offsetOf(field: CtxFieldName<S>, index = 0): number {
    const f = this.schema.fields[field];
    if (!f) {
      throw new DslError(
        'UNKNOWN_FIELD',
        `${this.schema.struct} has no field '${String(field)}'`,
        captureLocation(),
      );
    }
    const count = f.count ?? 1;
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new DslError(
        'UNKNOWN_FIELD',
        `${this.schema.struct}.${field} has ${count} element(s); index ${index} is outside`,
        captureLocation(),
      );
    }
    return f.offset + index * f.size;
  }

  /**
   * `dst = ctx->field`, with exactly the load width the verifier accepts (4 bytes for every u32
   * field including `remote_port`, 8 for pointers and 64-bit counters).
   */
  load(dst: DstRegister, field: CtxFieldName<S>, options: CtxAccessOptions = {}): void {
    const off = this.offsetOf(field, options.index ?? 0);
    const f = this.schema.fields[field];
    this.#b.ldx(SIZE_OF[f!.size], dst, options.ctx ?? this.#b.ctxRegister, off);
  }

  /** `ctx->field = src` for the writable fields (`reply`, `sk_txhash` of sock_ops). */
  store(field: WritableCtxField<S>, src: Register, options: CtxAccessOptions = {}): void {
    const f = this.schema.fields[field];
    if (f && f.access !== 'rw') {
      throw new DslError(
        'READ_ONLY_FIELD',
        `${this.schema.struct}.${field} is read-only`,
        captureLocation(),
      );
    }
    const off = this.offsetOf(field, options.index ?? 0);
    this.#b.stx(SIZE_OF[f!.size], options.ctx ?? this.#b.ctxRegister, off, src);
  }

  /**
   * Loads a port field and converts it: 'network' leaves the wire-order u16 in the low 16 bits
   * (the form sockmap keys use), 'host' the port number. remote_port is stored network order in
   * the upper half (`>> 16`); local_port is host order (`be16` swaps it to network order).
   */
  loadPort(
    dst: DstRegister<64>,
    field: CtxPortField<S>,
    order: 'network' | 'host',
    options: Omit<CtxAccessOptions, 'index'> = {},
  ): void {
    this.load(dst, field, options);
    if (field === 'remote_port') {
      this.#b.rsh(dst, 16);
      if (order === 'host') this.#b.be(dst, 16);
    } else if (order === 'network') {
      this.#b.be(dst, 16);
    }
  }

  /** Names of the array fields, for reference (`remote_ip6`, …). */
  arrayFields(): CtxArrayField<S>[] {
    return Object.entries(this.schema.fields)
      .filter(([, f]) => 'count' in f)
      .map(([k]) => k as CtxArrayField<S>);
  }
}

/** Options of `b.stack`. */
export interface StackOptions {
  /** Zero-fill the bytes the program does not write (default true). */
  readonly zero?: boolean;
}

/** Builds one program. Received as `b` by the body passed to `program()`. */
export class ProgramBuilder<P extends ProgramTypeName> {
  /** Program type. */
  readonly type: P;
  /** Program name. */
  readonly name: string;
  /** Typed ctx access (field loads/stores with the verifier's widths). */
  readonly ctx: CtxAccess<CtxOf<P>>;
  /** Typed helper calls; only the helpers program type P may call exist here. */
  readonly call: HelperCalls<P>;
  /** Register `b.ctx` uses by default (r1). */
  ctxRegister: Register = new Register(1, 64);

  #items: BuilderItem[] = [];
  #zeroSlots = new Map<StackObject, ZeroSlot>();
  #firstWrite = new Map<StackObject, number>();
  #scopes: number[] = [0];
  #nextScope = 1;
  #epoch = 0;
  #writes: StackWrite[] = [];
  #objects: StackObject[] = [];
  #stackUsed = 0;
  #labelCount = 0;
  #retLabels = new Map<number, LabelT>();
  #boundRet = new Set<LabelT>();

  /** Use `program()`. */
  constructor(type: P, name: string) {
    this.type = type;
    this.name = name;
    this.ctx = new CtxAccess(
      this as unknown as ProgramBuilder<ProgramTypeName>,
      PROGRAM_TYPES[type].ctx as CtxOf<P>,
    );
    this.call = this.#helperProxy();
  }

  // ---------------------------------------------------------------- emission core

  #emit(insn: Insn, loc: SourceLocation, map?: MapDef): void {
    this.#items.push(map ? { t: 'insn', insn, loc, map } : { t: 'insn', insn, loc });
  }

  #emitJump(insn: JumpLike, target: Target, loc: SourceLocation): void {
    if (typeof target === 'number') {
      if (!Number.isInteger(target)) {
        throw new DslError('INVALID_OPERAND', `jump offset ${target} is not an integer`, loc);
      }
      const raw =
        insn.kind === 'gotol' ? { ...insn, imm: target } : ({ ...insn, off: target } as JumpLike);
      this.#emit(raw, loc);
    } else {
      this.#items.push({ t: 'jump', insn, target, loc });
    }
  }

  #bind(label: LabelT, loc: SourceLocation): void {
    this.#items.push({ t: 'bind', label, loc });
    if (!label.internal) this.#epoch += 1;
  }

  #internalLabel(name: string, loc: SourceLocation): LabelT {
    this.#labelCount += 1;
    return new Label(`${name}${this.#labelCount}`, loc, true);
  }

  /** Runs `body` into a fresh item buffer in a new scope; returns the items. */
  #nested(body: () => void): BuilderItem[] {
    const saved = this.#items;
    this.#items = [];
    this.#scopes.push(this.#nextScope++);
    try {
      body();
      return this.#items;
    } finally {
      this.#scopes.pop();
      this.#items = saved;
    }
  }

  #imm(v: number, loc: SourceLocation, width: Width): number {
    if (!Number.isInteger(v)) {
      throw new DslError('IMMEDIATE_RANGE', `immediate ${v} is not an integer`, loc);
    }
    if (isInt32(v)) return v;
    if (width === 32 && v >= 0 && v < 2 ** 32) return v - 2 ** 32;
    throw new DslError(
      'IMMEDIATE_RANGE',
      `immediate ${v} does not fit the signed 32-bit field${width === 64 ? ' (64-bit operations sign-extend it); load it with b.ldImm64()' : ''}`,
      loc,
    );
  }

  #source(src: Operand, loc: SourceLocation, width: Width): Source {
    return src instanceof Register ? { reg: src.n } : { imm: this.#imm(src, loc, width) };
  }

  #alu(op: AluOp, dst: Register, src: Operand, loc: SourceLocation): void {
    this.#emit(
      { kind: 'alu', width: dst.width, op, dst: dst.n, src: this.#source(src, loc, dst.width) },
      loc,
    );
  }

  // ---------------------------------------------------------------- ALU

  /** `dst = src` (MOV; 32-bit when dst is a w-register). */
  mov<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('mov', dst, src, captureLocation());
  }
  /** `dst += src`. */
  add<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('add', dst, src, captureLocation());
  }
  /** `dst -= src`. */
  sub<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('sub', dst, src, captureLocation());
  }
  /** `dst *= src`. */
  mul<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('mul', dst, src, captureLocation());
  }
  /** Unsigned `dst /= src` (division by zero yields 0). */
  div<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('div', dst, src, captureLocation());
  }
  /** Signed `dst s/= src` (cpu v4). */
  sdiv<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('sdiv', dst, src, captureLocation());
  }
  /** Unsigned `dst %= src`. */
  mod<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('mod', dst, src, captureLocation());
  }
  /** Signed `dst s%= src` (cpu v4). */
  smod<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('smod', dst, src, captureLocation());
  }
  /** `dst |= src`. */
  or<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('or', dst, src, captureLocation());
  }
  /** `dst &= src`. */
  and<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('and', dst, src, captureLocation());
  }
  /** `dst ^= src`. */
  xor<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('xor', dst, src, captureLocation());
  }
  /** `dst <<= src`. */
  lsh<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('lsh', dst, src, captureLocation());
  }
  /** Logical `dst >>= src`. */
  rsh<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('rsh', dst, src, captureLocation());
  }
  /** Arithmetic `dst s>>= src`. */
  arsh<W extends Width>(dst: DstRegister<W>, src: Operand<NoInfer<W>>): void {
    this.#alu('arsh', dst, src, captureLocation());
  }
  /** `dst = -dst`. */
  neg(dst: DstRegister): void {
    this.#emit({ kind: 'neg', width: dst.width, dst: dst.n }, captureLocation());
  }
  /** Sign-extending move `dst = (s8|s16|s32) src` (cpu v4); `from: 32` needs a 64-bit dst. */
  movsx<W extends Width>(
    dst: DstRegister<W>,
    src: Register<Reg, W>,
    from: 8 | 16 | (W extends 64 ? 32 : never),
  ): void {
    this.#emit(
      { kind: 'movsx', width: dst.width, from, dst: dst.n, src: src.n },
      captureLocation(),
    );
  }
  /** `dst = htobe{bits}(dst)`: to big-endian (a swap on little-endian hosts), zero-extended. */
  be(dst: DstRegister, bits: 16 | 32 | 64): void {
    this.#emit({ kind: 'endian', order: 'be', bits, dst: dst.n }, captureLocation());
  }
  /** `dst = htole{bits}(dst)`: to little-endian (truncation only on little-endian hosts). */
  le(dst: DstRegister, bits: 16 | 32 | 64): void {
    this.#emit({ kind: 'endian', order: 'le', bits, dst: dst.n }, captureLocation());
  }
  /** `dst = bswap{bits}(dst)`: unconditional byte swap (cpu v4). */
  bswap(dst: DstRegister, bits: 16 | 32 | 64): void {
    this.#emit({ kind: 'endian', order: 'bswap', bits, dst: dst.n }, captureLocation());
  }

  // ---------------------------------------------------------------- 64-bit immediates and maps

  /** `dst = imm64` (the two-slot ld_imm64). */
  ldImm64(dst: DstRegister<64>, value: bigint | number): void {
    const loc = captureLocation();
    const v = typeof value === 'bigint' ? value : BigInt(value);
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new DslError('IMMEDIATE_RANGE', `${value} is not a safe integer; pass a bigint`, loc);
    }
    if (v < -(1n << 63n) || v >= 1n << 64n) {
      throw new DslError('IMMEDIATE_RANGE', `${v} does not fit 64 bits`, loc);
    }
    this.#emit({ kind: 'ld_imm64', pseudo: 'imm64', dst: dst.n, imm: BigInt.asIntN(64, v) }, loc);
  }

  /** `dst = &map` (ld_imm64 relocated to the map at load time). */
  ldMap(dst: DstRegister<64>, map: MapDef): void {
    this.#emitLdMap(dst.n, map, captureLocation());
  }

  #emitLdMap(dst: Reg, map: MapDef, loc: SourceLocation): void {
    this.#emit({ kind: 'ld_imm64', pseudo: 'imm64', dst, imm: 0n }, loc, map);
  }

  // ---------------------------------------------------------------- memory

  /** `dst = *(size *)(base + off)` (zero-extending). */
  ldx(size: Size, dst: DstRegister, base: Register, off: number): void {
    const loc = captureLocation();
    this.#beforeStackRead(base, off, size, loc);
    this.#emit(
      { kind: 'ldx', size, signed: false, dst: dst.n, src: base.n, off: this.#off(off, loc) },
      loc,
    );
  }
  /** `dst = *(s8|s16|s32 *)(base + off)` sign-extending (cpu v4 BPF_MEMSX). */
  ldxs(size: 'b' | 'h' | 'w', dst: DstRegister, base: Register, off: number): void {
    const loc = captureLocation();
    this.#beforeStackRead(base, off, size, loc);
    this.#emit(
      { kind: 'ldx', size, signed: true, dst: dst.n, src: base.n, off: this.#off(off, loc) },
      loc,
    );
  }
  /** `*(size *)(base + off) = imm`. */
  st(size: Size, base: Register, off: number, imm: number): void {
    const loc = captureLocation();
    this.#recordStackWrite(base, off, size);
    this.#emit(
      {
        kind: 'st',
        size,
        dst: base.n,
        off: this.#off(off, loc),
        imm: this.#imm(imm, loc, size === 'dw' ? 64 : 32),
      },
      loc,
    );
  }
  /** `*(size *)(base + off) = src`. */
  stx(size: Size, base: Register, off: number, src: Register): void {
    const loc = captureLocation();
    this.#recordStackWrite(base, off, size);
    this.#emit({ kind: 'stx', size, dst: base.n, src: src.n, off: this.#off(off, loc) }, loc);
  }
  /**
   * Atomic `*(size *)(base + off) op= src`; with `fetch` src receives the old value. `xchg` and
   * `cmpxchg` always fetch (cmpxchg compares with r0 and leaves the old value in r0).
   */
  atomic(
    op: AtomicOp,
    size: 'w' | 'dw',
    base: Register,
    off: number,
    src: Register,
    options: { fetch?: boolean } = {},
  ): void {
    const loc = captureLocation();
    this.#beforeStackRead(base, off, size, loc);
    const fetch = op === 'xchg' || op === 'cmpxchg' ? true : (options.fetch ?? false);
    this.#emit(
      { kind: 'atomic', size, op, fetch, dst: base.n, src: src.n, off: this.#off(off, loc) },
      loc,
    );
  }
  /** `dst = load_acquire((size *)(base + off))` (6.15+). */
  loadAcquire(size: Size, dst: DstRegister, base: Register, off: number): void {
    const loc = captureLocation();
    this.#beforeStackRead(base, off, size, loc);
    this.#emit(
      { kind: 'load_acquire', size, dst: dst.n, src: base.n, off: this.#off(off, loc) },
      loc,
    );
  }
  /** `store_release((size *)(base + off), src)` (6.15+). */
  storeRelease(size: Size, base: Register, off: number, src: Register): void {
    const loc = captureLocation();
    this.#recordStackWrite(base, off, size);
    this.#emit(
      { kind: 'store_release', size, dst: base.n, src: src.n, off: this.#off(off, loc) },
      loc,
    );
  }
  /** Legacy packet load `r0 = ntoh(*(size *)(skb->data + imm))` (socket filters only). */
  ldAbs(size: 'b' | 'h' | 'w', imm: number): void {
    const loc = captureLocation();
    this.#emit({ kind: 'ld_abs', size, imm: this.#imm(imm, loc, 32) }, loc);
  }
  /** Legacy packet load `r0 = ntoh(*(size *)(skb->data + src + imm))` (socket filters only). */
  ldInd(size: 'b' | 'h' | 'w', src: Register, imm: number): void {
    const loc = captureLocation();
    this.#emit({ kind: 'ld_ind', size, src: src.n, imm: this.#imm(imm, loc, 32) }, loc);
  }

  /** Emits any instruction as is (the build-time checks still apply). */
  insn(insn: Insn): void {
    this.#emit(insn, captureLocation());
  }

  #off(off: number, loc: SourceLocation): number {
    if (!Number.isInteger(off) || off < -(2 ** 15) || off >= 2 ** 15) {
      throw new DslError(
        'IMMEDIATE_RANGE',
        `memory offset ${off} does not fit the signed 16-bit field`,
        loc,
      );
    }
    return off;
  }

  // ---------------------------------------------------------------- stack objects

  /**
   * Allocates `layout` in the stack frame (8-byte aligned) and returns its typed reference.
   * Bytes not stored before the object's address is taken (helper argument, `b.addr`) or a
   * member is read are zero-filled at that point, on that path, with the fewest aligned stores.
   */
  stack<L extends Layout>(layout: L, options: StackOptions = {}): StackObject<L> {
    const loc = captureLocation();
    const used = Math.ceil((this.#stackUsed + layout.size) / 8) * 8;
    if (used > STACK_SIZE) {
      throw new DslError(
        'STACK_OVERFLOW',
        `stack object of ${layout.size} bytes does not fit: ${this.#stackUsed} of ${STACK_SIZE} bytes are in use`,
        loc,
      );
    }
    this.#stackUsed = used;
    const obj = new StackObject(r10, -used, layout, this.#objects.length, options.zero ?? true);
    this.#objects.push(obj);
    this.#firstWrite.set(obj, this.#writes.length);
    if (obj.zero) {
      const slot: ZeroSlot = { t: 'zero', obj, bytes: new Set(), loc };
      this.#zeroSlots.set(obj, slot);
      this.#items.push(slot);
    }
    return obj;
  }

  /** Allocates a NUL-terminated string on the stack (e.g. a trace_printk format); returns it and its size. */
  string(text: string): { readonly ref: StackObject; readonly size: number } {
    const bytes = new TextEncoder().encode(`${text}\0`);
    const obj = this.stack(array(u8, bytes.length), { zero: false });
    const loc = captureLocation();
    for (let i = 0; i < bytes.length; ) {
      const rest = bytes.length - i;
      const size =
        rest >= 4 && (obj.offset + i) % 4 === 0
          ? 4
          : rest >= 2 && (obj.offset + i) % 2 === 0
            ? 2
            : 1;
      let v = 0;
      for (let k = size - 1; k >= 0; k--) v = v * 256 + (bytes[i + k] as number);
      this.#recordStackWrite(r10, obj.offset + i, SIZE_OF[size as 1 | 2 | 4]);
      this.#emit(
        {
          kind: 'st',
          size: SIZE_OF[size as 1 | 2 | 4],
          dst: 10,
          off: obj.offset + i,
          imm: size === 4 ? v | 0 : v,
        },
        loc,
      );
      i += size;
    }
    return { ref: obj, size: bytes.length };
  }

  #recordStackWrite(base: Register, off: number, size: Size): void {
    if (base.n !== 10) return;
    const n = { b: 1, h: 2, w: 4, dw: 8 }[size];
    this.#writes.push({
      lo: off,
      hi: off + n,
      scope: this.#scopes[this.#scopes.length - 1] as number,
      epoch: this.#epoch,
    });
  }

  #beforeStackRead(base: Register, off: number, size: Size, loc: SourceLocation): void {
    if (base.n !== 10) return;
    const n = { b: 1, h: 2, w: 4, dw: 8 }[size];
    for (const obj of this.#objects) {
      const lo = Math.max(off, obj.offset);
      const hi = Math.min(off + n, obj.offset + obj.layout.size);
      if (lo < hi) this.#zeroFill(obj, lo, hi, loc);
    }
  }

  /**
   * Makes the bytes [lo, hi) (r10-relative) of `obj` read as zero where the program has not stored:
   * bytes stored on every path to here need nothing; bytes never stored get zero stores here;
   * bytes stored on some paths only are zeroed at the allocation (see ZeroSlot).
   */
  #zeroFill(obj: StackObject, lo: number, hi: number, loc: SourceLocation): void {
    if (!obj.zero) return;
    const active = new Set(this.#scopes);
    const since = this.#writes.slice(this.#firstWrite.get(obj) ?? 0);
    const covers = (w: StackWrite, at: number) => w.lo <= at && at < w.hi;
    const missing = new Set<number>();
    for (let at = lo; at < hi; at++) {
      if (since.some((w) => covers(w, at) && w.epoch === this.#epoch && active.has(w.scope)))
        continue;
      if (since.some((w) => covers(w, at))) this.#zeroSlots.get(obj)?.bytes.add(at);
      else missing.add(at);
    }
    const scope = this.#scopes[this.#scopes.length - 1] as number;
    for (const { at, size } of zeroStores(missing)) {
      this.#writes.push({ lo: at, hi: at + size, scope, epoch: this.#epoch });
      this.#emit({ kind: 'st', size: SIZE_OF[size], dst: 10, off: at, imm: 0 }, loc);
    }
  }

  #escape(ref: Ref, loc: SourceLocation): void {
    if (ref instanceof StackObject)
      this.#zeroFill(ref, ref.offset, ref.offset + ref.layout.size, loc);
  }

  /** `dst = &ref` (base register plus offset); zero-fills a stack object first. */
  addr(dst: DstRegister<64>, target: Ref): void {
    const loc = captureLocation();
    this.#escape(target, loc);
    if (target.base.n !== dst.n)
      this.#emit(
        { kind: 'alu', width: 64, op: 'mov', dst: dst.n, src: { reg: target.base.n } },
        loc,
      );
    if (target.offset !== 0)
      this.#emit(
        { kind: 'alu', width: 64, op: 'add', dst: dst.n, src: { imm: target.offset } },
        loc,
      );
  }

  /** `dst = ref->path`: loads a scalar member with its exact width and offset. */
  load<L extends Layout>(
    dst: DstRegister,
    target: Ref<L>,
    ...path: '' extends ScalarPath<L> ? [path?: ''] : [path: ScalarPath<L>]
  ): void {
    const loc = captureLocation();
    const { offset, size } = this.#member(target, path[0] ?? '', loc);
    const off = target.offset + offset;
    this.#beforeStackRead(target.base, off, SIZE_OF[size], loc);
    this.#emit(
      { kind: 'ldx', size: SIZE_OF[size], signed: false, dst: dst.n, src: target.base.n, off },
      loc,
    );
  }

  /** `ref->path = value`: stores a register or immediate with the member's width. */
  store<L extends Layout>(target: Ref<L>, path: ScalarPath<L>, value: Register | number): void {
    const loc = captureLocation();
    const { offset, size } = this.#member(target, path, loc);
    const off = target.offset + offset;
    this.#recordStackWrite(target.base, off, SIZE_OF[size]);
    if (value instanceof Register) {
      this.#emit({ kind: 'stx', size: SIZE_OF[size], dst: target.base.n, src: value.n, off }, loc);
    } else {
      this.#emit(
        {
          kind: 'st',
          size: SIZE_OF[size],
          dst: target.base.n,
          off,
          imm: this.#imm(value, loc, size === 8 ? 64 : 32),
        },
        loc,
      );
    }
  }

  #member(target: Ref, path: string, loc: SourceLocation): { offset: number; size: 1 | 2 | 4 | 8 } {
    let resolved: ReturnType<typeof resolvePath>;
    try {
      resolved = resolvePath(target.layout, path);
    } catch (e) {
      if (e instanceof DslError) throw new DslError(e.code, e.detail, loc);
      throw e;
    }
    if (resolved.layout.kind !== 'scalar') {
      throw new DslError(
        'UNKNOWN_FIELD',
        `'${path}' is a ${resolved.layout.kind}, not a scalar member; name one of its members`,
        loc,
      );
    }
    return { offset: resolved.offset, size: resolved.layout.size };
  }

  // ---------------------------------------------------------------- control flow

  /** A new label for `goto`/`jumpIf`; place it with `b.mark(label)` before or after the jumps. */
  label(name?: string): LabelT {
    const loc = captureLocation();
    this.#labelCount += 1;
    return new Label(name ?? `L${this.#labelCount}`, loc, false);
  }

  /** Places `label` here. */
  mark(label: LabelT): void {
    this.#bind(label, captureLocation());
  }

  /** Unconditional jump (16-bit offset). */
  goto(target: Target): void {
    this.#emitJump({ kind: 'ja', off: 0 }, target, captureLocation());
  }

  /** Unconditional jump with a 32-bit offset (cpu v4 `gotol`). */
  gotol(target: Target): void {
    this.#emitJump({ kind: 'gotol', imm: 0 }, target, captureLocation());
  }

  /** `may_goto target`: the verifier-bounded loop escape (6.9+). */
  mayGoto(target: Target): void {
    this.#emitJump({ kind: 'may_goto', off: 0 }, target, captureLocation());
  }

  /** Jumps to `target` when `cond` holds. */
  jumpIf(cond: Condition, target: Target): void {
    const loc = captureLocation();
    if (typeof target === 'number') {
      if (cond.kind !== 'cmp') {
        throw new DslError(
          'INVALID_OPERAND',
          'a numeric jump offset needs a single comparison; use a label for compound conditions',
          loc,
        );
      }
      this.#emitJump(this.#cmpJump(cond.op, cond, loc), target, loc);
      return;
    }
    this.#jumpIfTrue(cond, target, loc);
  }

  #cmpJump(op: JmpOp, c: Condition & { kind: 'cmp' }, loc: SourceLocation): JumpInsn {
    return {
      kind: 'jump',
      width: c.width,
      op,
      dst: c.dst.n,
      src: this.#source(c.src, loc, c.width),
      off: 0,
    };
  }

  #jumpIfTrue(c: Condition, target: LabelT, loc: SourceLocation): void {
    switch (c.kind) {
      case 'cmp':
        this.#emitJump(this.#cmpJump(c.op, c, loc), target, loc);
        return;
      case 'not':
        this.#jumpIfFalse(c.of, target, loc);
        return;
      case 'any':
        for (const x of c.of) this.#jumpIfTrue(x, target, loc);
        return;
      case 'all': {
        if (c.of.length === 0) {
          this.#emitJump({ kind: 'ja', off: 0 }, target, loc);
          return;
        }
        const skip = this.#internalLabel('and', loc);
        for (const x of c.of.slice(0, -1)) this.#jumpIfFalse(x, skip, loc);
        this.#jumpIfTrue(c.of[c.of.length - 1] as Condition, target, loc);
        this.#bind(skip, loc);
        return;
      }
    }
  }

  #jumpIfFalse(c: Condition, target: LabelT, loc: SourceLocation): void {
    switch (c.kind) {
      case 'cmp': {
        const neg = negateOp(c.op);
        if (neg) {
          this.#emitJump(this.#cmpJump(neg, c, loc), target, loc);
        } else {
          const skip = this.#internalLabel('set', loc);
          this.#emitJump(this.#cmpJump(c.op, c, loc), skip, loc);
          this.#emitJump({ kind: 'ja', off: 0 }, target, loc);
          this.#bind(skip, loc);
        }
        return;
      }
      case 'not':
        this.#jumpIfTrue(c.of, target, loc);
        return;
      case 'all':
        for (const x of c.of) this.#jumpIfFalse(x, target, loc);
        return;
      case 'any': {
        if (c.of.length === 0) {
          this.#emitJump({ kind: 'ja', off: 0 }, target, loc);
          return;
        }
        const skip = this.#internalLabel('or', loc);
        for (const x of c.of.slice(0, -1)) this.#jumpIfTrue(x, skip, loc);
        this.#jumpIfFalse(c.of[c.of.length - 1] as Condition, target, loc);
        this.#bind(skip, loc);
        return;
      }
    }
  }

  /**
   * `if (cond) then() else otherwise()`, lowered to jumps. A branch that only leaves (`b.ret(k)`,
   * `b.goto(l)`) becomes a single conditional jump to its destination.
   */
  if(cond: Condition, then: () => void, otherwise?: () => void): void {
    const loc = captureLocation();
    const thenItems = this.#nested(then);
    const elseItems = otherwise ? this.#nested(otherwise) : [];
    const only = thenItems.length === 1 ? thenItems[0] : undefined;
    if (only && only.t === 'jump' && only.insn.kind === 'ja') {
      this.#jumpIfTrue(cond, only.target, loc);
      this.#items.push(...elseItems);
      return;
    }
    const elseLabel = this.#internalLabel('else', loc);
    this.#jumpIfFalse(cond, elseLabel, loc);
    this.#items.push(...thenItems);
    if (elseItems.length === 0) {
      this.#bind(elseLabel, loc);
      return;
    }
    const endLabel = this.#internalLabel('endif', loc);
    if (!leaves(thenItems[thenItems.length - 1])) {
      this.#emitJump({ kind: 'ja', off: 0 }, endLabel, loc);
    }
    this.#bind(elseLabel, loc);
    this.#items.push(...elseItems);
    this.#bind(endLabel, loc);
  }

  /** A block whose `end` label is right after it: `b.goto(end)` leaves the block early. */
  block(body: (end: LabelT) => void): void {
    const loc = captureLocation();
    const end = this.#internalLabel('end', loc);
    const items = this.#nested(() => body(end));
    this.#items.push(...items);
    this.#bind(end, loc);
  }

  /**
   * Returns from the program: `b.ret(k)` sets r0 = k (one shared `r0 = k; exit` per constant;
   * early returns jump to it), `b.ret(reg)` moves reg to r0, `b.ret()` returns r0 as it is.
   */
  ret(value?: Register | number): void {
    const loc = captureLocation();
    if (value === undefined) {
      this.#emit({ kind: 'exit' }, loc);
      return;
    }
    if (value instanceof Register) {
      if (value.n !== 0)
        this.#emit({ kind: 'alu', width: 64, op: 'mov', dst: 0, src: { reg: value.n } }, loc);
      this.#emit({ kind: 'exit' }, loc);
      return;
    }
    const imm = this.#imm(value, loc, 64);
    let label = this.#retLabels.get(imm);
    if (!label) {
      label = this.#internalLabel(`ret${imm}_`, loc);
      this.#retLabels.set(imm, label);
    }
    if (this.#scopes.length === 1 && !this.#boundRet.has(label)) {
      this.#boundRet.add(label);
      this.#bind(label, loc);
      this.#emit({ kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm } }, loc);
      this.#emit({ kind: 'exit' }, loc);
      return;
    }
    this.#emitJump({ kind: 'ja', off: 0 }, label, loc);
  }

  /** `exit`: return r0. */
  exit(): void {
    this.#emit({ kind: 'exit' }, captureLocation());
  }

  // ---------------------------------------------------------------- helper calls

  /** Calls helper `id` with whatever is in r1–r5 (the typed `b.call.*` is preferred). */
  callHelper(id: number): void {
    const loc = captureLocation();
    if (!Number.isInteger(id) || id <= 0 || id >= 2 ** 31) {
      throw new DslError(
        'INVALID_OPERAND',
        `helper id ${id} is not a positive 32-bit integer`,
        loc,
      );
    }
    this.#emit({ kind: 'call', target: 'helper', imm: id, off: 0 }, loc);
  }

  #helperProxy(): HelperCalls<P> {
    const allowed = (d: HelperDef) => (d.progTypes as readonly string[]).includes(this.type);
    return new Proxy({} as HelperCalls<P>, {
      get: (_t, prop) => {
        if (typeof prop !== 'string' || !(prop in HELPERS)) return undefined;
        const def = HELPERS[prop as HelperName] as HelperDef;
        return (...args: unknown[]) => {
          const loc = captureLocation();
          if (!allowed(def)) {
            throw new DslError(
              'HELPER_NOT_ALLOWED',
              `${def.name} cannot be called from ${this.type} programs (allowed in: ${def.progTypes.join(', ')})`,
              loc,
            );
          }
          return this.#emitCall(def, args, loc);
        };
      },
      has: (_t, prop) =>
        typeof prop === 'string' &&
        prop in HELPERS &&
        allowed(HELPERS[prop as HelperName] as HelperDef),
    });
  }

  #emitCall(def: HelperDef, args: readonly unknown[], loc: SourceLocation): Register<0, 64> | Ref {
    const max = def.args.length + (def.varargs ?? 0);
    if (args.length < def.args.length || args.length > max) {
      throw new DslError(
        'INVALID_OPERAND',
        `${def.name} takes ${def.args.length === max ? max : `${def.args.length} to ${max}`} arguments, got ${args.length}`,
        loc,
      );
    }
    const moves = new Map<Reg, Reg>();
    const post: (() => void)[] = [];
    const late: (() => void)[] = [];
    args.forEach((arg, i) => {
      const dst = (i + 1) as Reg;
      if (arg instanceof Register) {
        if (arg.n !== dst) moves.set(dst, arg.n);
      } else if (arg instanceof MapDef) {
        late.push(() => this.#emitLdMap(dst, arg, loc));
      } else if (arg instanceof Ref) {
        this.#escape(arg, loc);
        if (arg.base.n === 10) {
          late.push(() => {
            this.#emit({ kind: 'alu', width: 64, op: 'mov', dst, src: { reg: 10 } }, loc);
            if (arg.offset !== 0)
              this.#emit({ kind: 'alu', width: 64, op: 'add', dst, src: { imm: arg.offset } }, loc);
          });
        } else {
          if (arg.base.n !== dst) moves.set(dst, arg.base.n);
          if (arg.offset !== 0)
            post.push(() =>
              this.#emit({ kind: 'alu', width: 64, op: 'add', dst, src: { imm: arg.offset } }, loc),
            );
        }
      } else if (typeof arg === 'number' || typeof arg === 'bigint') {
        const v = BigInt(arg);
        if (typeof arg === 'number' && !Number.isSafeInteger(arg)) {
          throw new DslError(
            'IMMEDIATE_RANGE',
            `argument ${i + 1} of ${def.name}: ${arg} is not a safe integer`,
            loc,
          );
        }
        late.push(() => {
          if (v >= -(2n ** 31n) && v < 2n ** 31n) {
            this.#emit({ kind: 'alu', width: 64, op: 'mov', dst, src: { imm: Number(v) } }, loc);
          } else {
            this.#emit({ kind: 'ld_imm64', pseudo: 'imm64', dst, imm: BigInt.asIntN(64, v) }, loc);
          }
        });
      } else {
        throw new DslError(
          'INVALID_OPERAND',
          `argument ${i + 1} of ${def.name} must be a register, number, map or memory reference`,
          loc,
        );
      }
    });
    this.#parallelMove(moves, loc);
    for (const f of post) f();
    for (const f of late) f();
    this.#emit({ kind: 'call', target: 'helper', imm: def.id, off: 0 }, loc);
    if (def.ret === 'map_value_or_null') {
      const m = args[0];
      const value = m instanceof MapDef ? m.value : 0;
      const layout = typeof value === 'number' ? array(u8, Math.max(1, value)) : (value as Layout);
      return new Ref(r0, 0, layout);
    }
    return r0;
  }

  /** Emits register moves dst <- src for all pairs, never overwriting a pending source; cycles go through r0. */
  #parallelMove(moves: Map<Reg, Reg>, loc: SourceLocation): void {
    const mov = (dst: Reg, src: Reg) =>
      this.#emit({ kind: 'alu', width: 64, op: 'mov', dst, src: { reg: src } }, loc);
    while (moves.size > 0) {
      const sources = new Set(moves.values());
      const free = [...moves.entries()].find(([dst]) => !sources.has(dst));
      if (free) {
        mov(free[0], free[1]);
        moves.delete(free[0]);
        continue;
      }
      // Only cycles remain: save one destination's current value in r0 and read it from there.
      const [dst] = moves.entries().next().value as [Reg, Reg];
      mov(0, dst);
      for (const [d, s] of moves) if (s === dst) moves.set(d, 0);
    }
  }

  // ---------------------------------------------------------------- finishing

  /**
   * The item stream with the shared return epilogues appended, and whether the body's end is
   * reachable by falling through (a missing return) with the location to blame.
   */
  finish(): { readonly items: readonly Item[]; readonly fallsOffAt: SourceLocation | null } {
    const items: Item[] = this.#items.flatMap((item): Item[] =>
      item.t === 'zero'
        ? zeroStores(item.bytes).map(({ at, size }) => ({
            t: 'insn',
            insn: { kind: 'st', size: SIZE_OF[size], dst: 10, off: at, imm: 0 },
            loc: item.loc,
          }))
        : [item],
    );
    const last = items[items.length - 1];
    let fallsOffAt: SourceLocation | null = null;
    if (last !== undefined && !leaves(last)) fallsOffAt = last.loc;
    const out = [...items];
    for (const [imm, label] of this.#retLabels) {
      if (this.#boundRet.has(label)) continue;
      out.push({ t: 'bind', label, loc: label.created });
      out.push({
        t: 'insn',
        insn: { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm } },
        loc: label.created,
      });
      out.push({ t: 'insn', insn: { kind: 'exit' }, loc: label.created });
    }
    return { items: out, fallsOffAt: out.length > items.length ? fallsOffAt : null };
  }
}
