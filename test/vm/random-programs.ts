/**
 * fast-check generators of random eBPF programs that always terminate and always set r0: every
 * register r0-r9 starts from a 64-bit constant, then comes a body of ALU operations (all ops, both
 * widths, register and immediate sources, neg, movsx, endian/bswap) and forward branches shaped as
 * if-then and if-then-else (so the kernel's CFG check never finds unreachable code), and finally
 * every register is folded into r0 so that the result depends on all of them.
 *
 * The programs use only what the verifier accepts for plain scalars: immediate shifts are in range
 * and immediate divisors non-zero (register divisors may be zero: the kernel defines that).
 */
import fc from 'fast-check';
import {
  ALU_OP_LIST,
  type AluOp,
  type AtomicOp,
  type Insn,
  JMP_OP_LIST,
  type Reg,
  type Size,
  type Width,
} from '../../src/asm/insn.js';

const DATA_REGS: readonly Reg[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** 64-bit values biased towards the edges where 32/64-bit and signed/unsigned semantics differ. */
export const interestingU64: fc.Arbitrary<bigint> = fc.oneof(
  fc.constantFrom(
    0n,
    1n,
    2n,
    0xffn,
    0x8000n,
    0xffffn,
    0x7fff_ffffn,
    0x8000_0000n,
    0xffff_ffffn,
    0x1_0000_0000n,
    0x7fff_ffff_ffff_ffffn,
    0x8000_0000_0000_0000n,
    0xffff_ffff_ffff_fffen,
    0xffff_ffff_ffff_ffffn,
    0xffff_ffff_8000_0000n,
  ),
  fc.bigInt({ min: 0n, max: 0xffn }),
  fc.bigInt({ min: 0n, max: 0xffff_ffffn }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

/** s32 immediates, biased towards the edges. */
export const interestingImm: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, -1, 2, 31, 32, 63, 0x7fff_ffff, -0x8000_0000, 0xffff, -0x10000),
  fc.integer({ min: -16, max: 16 }),
  fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
);

const reg = fc.constantFrom(...DATA_REGS);
const width = fc.constantFrom<Width>(32, 64);
/** An immediate the verifier accepts for `op` on `w` bits. */
function immFor(op: AluOp, w: Width): fc.Arbitrary<number> {
  if (op === 'lsh' || op === 'rsh' || op === 'arsh') return fc.integer({ min: 0, max: w - 1 });
  if (op === 'div' || op === 'mod' || op === 'sdiv' || op === 'smod') {
    return interestingImm.filter((v) => v !== 0);
  }
  return interestingImm;
}

/** One straight-line ALU instruction (alu, neg, movsx, endian). */
export const aluInsn: fc.Arbitrary<Insn> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom(...ALU_OP_LIST), width, reg, reg)
      .map(([op, w, dst, src]): Insn => ({ kind: 'alu', op, width: w, dst, src: { reg: src } })),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom(...ALU_OP_LIST), width, reg)
      .chain(([op, w, dst]) =>
        immFor(op, w).map((imm): Insn => ({ kind: 'alu', op, width: w, dst, src: { imm } })),
      ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(width, reg).map(([w, dst]): Insn => ({ kind: 'neg', width: w, dst })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom<[Width, 8 | 16 | 32]>([64, 8], [64, 16], [64, 32], [32, 8], [32, 16]),
        reg,
        reg,
      )
      .map(([[w, from], dst, src]): Insn => ({ kind: 'movsx', width: w, from, dst, src })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom<'le' | 'be' | 'bswap'>('le', 'be', 'bswap'),
        fc.constantFrom<16 | 32 | 64>(16, 32, 64),
        reg,
      )
      .map(([order, bits, dst]): Insn => ({ kind: 'endian', order, bits, dst })),
  },
);

/**
 * The stack scratch area memory instructions use: fp-40 .. fp-9 (32 bytes, zero-filled at the
 * start). fp-8 stays free for harnesses that need a slot of their own.
 */
export const SCRATCH_BASE = -40;
const SCRATCH_BYTES = 32;

const sizes: readonly Size[] = ['b', 'h', 'w', 'dw'];
const BYTES: Record<Size, number> = { b: 1, h: 2, w: 4, dw: 8 };

/** An aligned offset for a `size` access inside the scratch area. */
function scratchOffset(size: Size): fc.Arbitrary<number> {
  const n = BYTES[size];
  return fc.integer({ min: 0, max: SCRATCH_BYTES / n - 1 }).map((k) => SCRATCH_BASE + k * n);
}

/** One stack memory instruction: store (reg or imm), load (zero- or sign-extending), atomic. */
export const memoryInsn: fc.Arbitrary<Insn> = fc.oneof(
  fc
    .constantFrom(...sizes)
    .chain((size) =>
      fc
        .tuple(scratchOffset(size), reg)
        .map(([off, src]): Insn => ({ kind: 'stx', size, dst: 10, src, off })),
    ),
  fc
    .constantFrom(...sizes)
    .chain((size) =>
      fc
        .tuple(scratchOffset(size), interestingImm)
        .map(([off, imm]): Insn => ({ kind: 'st', size, dst: 10, off, imm })),
    ),
  fc.constantFrom(...sizes).chain((size) =>
    fc.tuple(scratchOffset(size), reg, fc.boolean()).map(
      ([off, dst, signed]): Insn => ({
        kind: 'ldx',
        size,
        signed: signed && size !== 'dw',
        dst,
        src: 10,
        off,
      }),
    ),
  ),
  fc.constantFrom<'w' | 'dw'>('w', 'dw').chain((size) =>
    fc
      .tuple(
        scratchOffset(size),
        reg,
        fc.constantFrom<AtomicOp>('add', 'or', 'and', 'xor', 'xchg', 'cmpxchg'),
        fc.boolean(),
      )
      .map(
        ([off, src, op, fetch]): Insn => ({
          kind: 'atomic',
          size,
          op,
          fetch: fetch || op === 'xchg' || op === 'cmpxchg',
          dst: 10,
          src,
          off,
        }),
      ),
  ),
);

/** A conditional jump with offset `off`. */
function condJump(off: number): fc.Arbitrary<Insn> {
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(...JMP_OP_LIST), width, reg, reg)
      .map(
        ([op, w, dst, src]): Insn => ({ kind: 'jump', op, width: w, dst, src: { reg: src }, off }),
      ),
    fc
      .tuple(fc.constantFrom(...JMP_OP_LIST), width, reg, interestingImm)
      .map(([op, w, dst, imm]): Insn => ({ kind: 'jump', op, width: w, dst, src: { imm }, off })),
  );
}

const straight = (max: number) => fc.array(aluInsn, { minLength: 1, maxLength: max });

/** `if cond goto L; then…; L:` */
const ifThen: fc.Arbitrary<Insn[]> = straight(6).chain((then) =>
  condJump(then.length).map((j) => [j, ...then]),
);

/** `if cond goto E; then…; goto/gotol L; E: else…; L:` */
const ifThenElse: fc.Arbitrary<Insn[]> = fc
  .tuple(straight(5), straight(5), fc.boolean())
  .chain(([then, otherwise, long]) =>
    condJump(then.length + 1).map((j): Insn[] => [
      j,
      ...then,
      long ? { kind: 'gotol', imm: otherwise.length } : { kind: 'ja', off: otherwise.length },
      ...otherwise,
    ]),
  );

/** Register initialisation: r0-r9 from 64-bit constants. */
function initRegs(values: readonly bigint[]): Insn[] {
  return values.map(
    (value, r): Insn => ({
      kind: 'ld_imm64',
      pseudo: 'imm64',
      dst: r as Reg,
      imm: BigInt.asIntN(64, value),
    }),
  );
}

/** Folds every register into r0: r0 = r0 * 0x01000193 ^ ri (FNV-style), on 64 bits. */
const FOLD: Insn[] = DATA_REGS.slice(1).flatMap((r): Insn[] => [
  { kind: 'alu', op: 'mul', width: 64, dst: 0, src: { imm: 0x0100_0193 } },
  { kind: 'alu', op: 'xor', width: 64, dst: 0, src: { reg: r } },
]);

/** `may_goto +n` over a block: falls through while the loop budget lasts (always, here). */
const mayGotoBlock: fc.Arbitrary<Insn[]> = straight(4).map((then): Insn[] => [
  { kind: 'may_goto', off: then.length },
  ...then,
]);

function blocks(single: fc.Arbitrary<Insn>): fc.Arbitrary<Insn[][]> {
  return fc.array(
    fc.oneof(
      { weight: 3, arbitrary: single.map((i) => [i]) },
      { weight: 1, arbitrary: ifThen },
      { weight: 1, arbitrary: ifThenElse },
      { weight: 1, arbitrary: mayGotoBlock },
    ),
    { minLength: 1, maxLength: 12 },
  );
}

/** A random terminating program over r0-r9 that ends in `exit` with r0 set. */
export const randomProgram: fc.Arbitrary<Insn[]> = fc
  .tuple(fc.array(interestingU64, { minLength: 10, maxLength: 10 }), blocks(aluInsn))
  .map(([inits, body]) => [...initRegs(inits), ...body.flat(), ...FOLD, { kind: 'exit' }]);

/**
 * Like randomProgram, plus stack memory instructions (stores, zero- and sign-extending loads,
 * atomics) on a zero-filled scratch area whose final contents are folded into r0 too.
 */
export const randomMemoryProgram: fc.Arbitrary<Insn[]> = fc
  .tuple(
    fc.array(interestingU64, { minLength: 10, maxLength: 10 }),
    blocks(fc.oneof({ weight: 2, arbitrary: aluInsn }, { weight: 2, arbitrary: memoryInsn })),
  )
  .map(([inits, body]) => {
    const zero = [0, 8, 16, 24].map(
      (k): Insn => ({ kind: 'st', size: 'dw', dst: 10, off: SCRATCH_BASE + k, imm: 0 }),
    );
    const foldStack = [0, 8, 16, 24].flatMap((k): Insn[] => [
      { kind: 'ldx', size: 'dw', signed: false, dst: 1, src: 10, off: SCRATCH_BASE + k },
      { kind: 'alu', op: 'mul', width: 64, dst: 0, src: { imm: 0x0100_0193 } },
      { kind: 'alu', op: 'xor', width: 64, dst: 0, src: { reg: 1 } },
    ]);
    return [...zero, ...initRegs(inits), ...body.flat(), ...FOLD, ...foldStack, { kind: 'exit' }];
  });
