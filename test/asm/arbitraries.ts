/**
 * fast-check arbitraries for valid `Insn` values: every variant, every field over its whole legal
 * range (fast-check biases integers towards 0 and the bounds). Reusable by any test that needs
 * instructions: `arbInsn` for any instruction, `insnArbitraries[kind]` for one kind, `arbInsnOfKinds`
 * for a subset.
 */
import fc from 'fast-check';
import {
  ALU_OP_LIST,
  type AtomicOp,
  type CallKind,
  type Insn,
  type InsnKind,
  JMP_OP_LIST,
  type LdImm64Kind,
  type Reg,
  type Size,
  type Source,
  type Width,
} from '../../src/asm/insn.js';

/** Any register r0-r10. */
export const arbReg: fc.Arbitrary<Reg> = fc.integer({ min: 0, max: 10 }) as fc.Arbitrary<Reg>;
/** Any signed 16-bit integer (offsets). */
export const arbS16 = fc.integer({ min: -0x8000, max: 0x7fff });
/** Any signed 32-bit integer (immediates). */
export const arbS32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
/** 32 or 64. */
export const arbWidth: fc.Arbitrary<Width> = fc.constantFrom(32, 64);
/** Any access size. */
export const arbSize: fc.Arbitrary<Size> = fc.constantFrom('b', 'h', 'w', 'dw');
/** A register or immediate source operand. */
export const arbSource: fc.Arbitrary<Source> = fc.oneof(rec({ reg: arbReg }), rec({ imm: arbS32 }));

const ATOMIC_OPS: readonly AtomicOp[] = ['add', 'or', 'and', 'xor', 'xchg', 'cmpxchg'];
const CALL_KINDS: readonly CallKind[] = ['helper', 'bpf', 'kfunc'];

/** fc.record with ordinary (Object.prototype) objects, so values compare equal to decoded ones. */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const S64_MIN = -(2n ** 63n);
const S64_MAX = 2n ** 63n - 1n;
const U32_MAX = 0xffff_ffffn;

/** An ld_imm64 whose immediate respects its pseudo source (high half zero for map_fd, map_idx, func). */
const arbLdImm64 = fc
  .constantFrom<LdImm64Kind>(
    'imm64',
    'map_fd',
    'map_value',
    'btf_id',
    'func',
    'map_idx',
    'map_idx_value',
  )
  .chain((pseudo) => {
    const lowOnly = pseudo === 'map_fd' || pseudo === 'map_idx' || pseudo === 'func';
    return rec({
      kind: fc.constant('ld_imm64' as const),
      pseudo: fc.constant(pseudo),
      dst: arbReg,
      imm: lowOnly
        ? fc.bigInt({ min: 0n, max: U32_MAX })
        : fc.bigInt({ min: S64_MIN, max: S64_MAX }),
    });
  });

/** One arbitrary per instruction kind. */
export const insnArbitraries: {
  readonly [K in InsnKind]: fc.Arbitrary<Extract<Insn, { kind: K }>>;
} = {
  alu: rec({
    kind: fc.constant('alu' as const),
    width: arbWidth,
    op: fc.constantFrom(...ALU_OP_LIST),
    dst: arbReg,
    src: arbSource,
  }),
  neg: rec({ kind: fc.constant('neg' as const), width: arbWidth, dst: arbReg }),
  movsx: fc.oneof(
    rec({
      kind: fc.constant('movsx' as const),
      width: fc.constant(64 as const),
      from: fc.constantFrom(8 as const, 16 as const, 32 as const),
      dst: arbReg,
      src: arbReg,
    }),
    rec({
      kind: fc.constant('movsx' as const),
      width: fc.constant(32 as const),
      from: fc.constantFrom(8 as const, 16 as const),
      dst: arbReg,
      src: arbReg,
    }),
  ),
  endian: rec({
    kind: fc.constant('endian' as const),
    order: fc.constantFrom('le' as const, 'be' as const, 'bswap' as const),
    bits: fc.constantFrom(16 as const, 32 as const, 64 as const),
    dst: arbReg,
  }),
  jump: rec({
    kind: fc.constant('jump' as const),
    width: arbWidth,
    op: fc.constantFrom(...JMP_OP_LIST),
    dst: arbReg,
    src: arbSource,
    off: arbS16,
  }),
  ja: rec({ kind: fc.constant('ja' as const), off: arbS16 }),
  gotol: rec({ kind: fc.constant('gotol' as const), imm: arbS32 }),
  may_goto: rec({ kind: fc.constant('may_goto' as const), off: arbS16 }),
  call: fc.constantFrom(...CALL_KINDS).chain((target) =>
    rec({
      kind: fc.constant('call' as const),
      target: fc.constant(target),
      imm: arbS32,
      off: target === 'kfunc' ? arbS16 : fc.constant(0),
    }),
  ),
  exit: fc.constant({ kind: 'exit' as const }),
  ldx: fc.oneof(
    rec({
      kind: fc.constant('ldx' as const),
      size: arbSize,
      signed: fc.constant(false),
      dst: arbReg,
      src: arbReg,
      off: arbS16,
    }),
    rec({
      kind: fc.constant('ldx' as const),
      size: fc.constantFrom<Size>('b', 'h', 'w'),
      signed: fc.constant(true),
      dst: arbReg,
      src: arbReg,
      off: arbS16,
    }),
  ),
  st: rec({
    kind: fc.constant('st' as const),
    size: arbSize,
    dst: arbReg,
    off: arbS16,
    imm: arbS32,
  }),
  stx: rec({
    kind: fc.constant('stx' as const),
    size: arbSize,
    dst: arbReg,
    src: arbReg,
    off: arbS16,
  }),
  atomic: fc.constantFrom(...ATOMIC_OPS).chain((op) =>
    rec({
      kind: fc.constant('atomic' as const),
      size: fc.constantFrom('w' as const, 'dw' as const),
      op: fc.constant(op),
      fetch: op === 'xchg' || op === 'cmpxchg' ? fc.constant(true) : fc.boolean(),
      dst: arbReg,
      src: arbReg,
      off: arbS16,
    }),
  ),
  load_acquire: rec({
    kind: fc.constant('load_acquire' as const),
    size: arbSize,
    dst: arbReg,
    src: arbReg,
    off: arbS16,
  }),
  store_release: rec({
    kind: fc.constant('store_release' as const),
    size: arbSize,
    dst: arbReg,
    src: arbReg,
    off: arbS16,
  }),
  ld_imm64: arbLdImm64,
  ld_abs: rec({
    kind: fc.constant('ld_abs' as const),
    size: fc.constantFrom('b' as const, 'h' as const, 'w' as const),
    imm: arbS32,
  }),
  ld_ind: rec({
    kind: fc.constant('ld_ind' as const),
    size: fc.constantFrom('b' as const, 'h' as const, 'w' as const),
    src: arbReg,
    imm: arbS32,
  }),
};

/** Every instruction kind. */
export const INSN_KINDS = Object.keys(insnArbitraries) as InsnKind[];

/** An instruction of one of the given kinds, each kind equally likely. */
export function arbInsnOfKinds(kinds: readonly InsnKind[]): fc.Arbitrary<Insn> {
  return fc.oneof(...kinds.map((k) => insnArbitraries[k] as fc.Arbitrary<Insn>));
}

/** Any valid instruction, each kind equally likely. */
export const arbInsn: fc.Arbitrary<Insn> = arbInsnOfKinds(INSN_KINDS);
