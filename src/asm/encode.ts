/**
 * `Insn` → bytes. Every field is range-checked and every combination the kernel would reject as a
 * malformed encoding (reserved fields, impossible sizes) is refused here, with the instruction index
 * and the reason, so that bad bytecode never leaves the assembler.
 *
 * Slot layout written by `writeSlot` (little-endian, as the kernel on x86-64 and arm64 reads it):
 *
 *     byte  0        1               2    3    4    5    6    7
 *         +--------+-------+-------+---------+-------------------+
 *         | opcode |src:4  |dst:4  | off s16 |     imm s32       |
 *         +--------+-------+-------+---------+-------------------+
 */
import { match } from 'ts-pattern';
import type { AluOp, AtomicOp, CallKind, Insn, JmpOp, LdImm64Kind, Reg, Size } from './insn.js';
import { InsnEncodeError, type InsnEncodeErrorKind } from './insn-errors.js';
import {
  AluCode,
  AtomicImm,
  BPF_FETCH,
  Class,
  EndianSrc,
  JCOND_MAY_GOTO,
  JmpCode,
  LD_IMM64_OPCODE,
  MAX_REG,
  Mode,
  PseudoCall,
  PseudoLd,
  SIGNED_DIVMOD_OFF,
  SizeField,
  SLOT_SIZE,
  Src,
} from './opcodes.js';

/** ALU operation → (operation code, offset field). sdiv/smod are div/mod with offset 1. */
export const ALU_OPS: Readonly<Record<AluOp, { readonly code: number; readonly off: number }>> = {
  add: { code: AluCode.ADD, off: 0 },
  sub: { code: AluCode.SUB, off: 0 },
  mul: { code: AluCode.MUL, off: 0 },
  div: { code: AluCode.DIV, off: 0 },
  sdiv: { code: AluCode.DIV, off: SIGNED_DIVMOD_OFF },
  or: { code: AluCode.OR, off: 0 },
  and: { code: AluCode.AND, off: 0 },
  lsh: { code: AluCode.LSH, off: 0 },
  rsh: { code: AluCode.RSH, off: 0 },
  mod: { code: AluCode.MOD, off: 0 },
  smod: { code: AluCode.MOD, off: SIGNED_DIVMOD_OFF },
  xor: { code: AluCode.XOR, off: 0 },
  mov: { code: AluCode.MOV, off: 0 },
  arsh: { code: AluCode.ARSH, off: 0 },
};

/** Conditional jump operation → operation code. */
export const JMP_OPS: Readonly<Record<JmpOp, number>> = {
  jeq: JmpCode.JEQ,
  jgt: JmpCode.JGT,
  jge: JmpCode.JGE,
  jset: JmpCode.JSET,
  jne: JmpCode.JNE,
  jsgt: JmpCode.JSGT,
  jsge: JmpCode.JSGE,
  jlt: JmpCode.JLT,
  jle: JmpCode.JLE,
  jslt: JmpCode.JSLT,
  jsle: JmpCode.JSLE,
};

/** Load/store size → size field. */
export const SIZES: Readonly<Record<Size, number>> = {
  b: SizeField.B,
  h: SizeField.H,
  w: SizeField.W,
  dw: SizeField.DW,
};

/** Atomic read-modify-write operation → immediate (without BPF_FETCH). */
export const ATOMIC_OPS: Readonly<Record<AtomicOp, number>> = {
  add: AtomicImm.ADD,
  or: AtomicImm.OR,
  and: AtomicImm.AND,
  xor: AtomicImm.XOR,
  xchg: AtomicImm.XCHG,
  cmpxchg: AtomicImm.CMPXCHG,
};

/** ld_imm64 kind → src_reg value. */
export const LD_IMM64_PSEUDOS: Readonly<Record<LdImm64Kind, number>> = {
  imm64: PseudoLd.IMM64,
  map_fd: PseudoLd.MAP_FD,
  map_value: PseudoLd.MAP_VALUE,
  btf_id: PseudoLd.BTF_ID,
  func: PseudoLd.FUNC,
  map_idx: PseudoLd.MAP_IDX,
  map_idx_value: PseudoLd.MAP_IDX_VALUE,
};

/** Call target kind → src_reg value. */
export const CALL_PSEUDOS: Readonly<Record<CallKind, number>> = {
  helper: PseudoCall.HELPER,
  bpf: PseudoCall.CALL,
  kfunc: PseudoCall.KFUNC_CALL,
};

/** The pseudo sources whose ld_imm64 carries nothing in the second slot (high 32 bits zero). */
const LD_IMM64_LOW_ONLY: ReadonlySet<LdImm64Kind> = new Set(['map_fd', 'map_idx', 'func']);

const S64_MIN = -(2n ** 63n);
const S64_MAX = 2n ** 63n - 1n;

/** The raw fields of one 8-byte slot. */
interface Slot {
  readonly opcode: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

/** Writes one slot at byte `pos` of `view`. Fields must already be validated. */
function writeSlot(view: DataView, pos: number, s: Slot): void {
  view.setUint8(pos, s.opcode);
  view.setUint8(pos + 1, ((s.src & 0x0f) << 4) | (s.dst & 0x0f));
  view.setInt16(pos + 2, s.off, true);
  view.setInt32(pos + 4, s.imm, true);
}

/** Field checks bound to one instruction, throwing InsnEncodeError that names it. */
class Checker {
  constructor(
    private readonly index: number,
    private readonly kind: string,
  ) {}

  fail(kind: InsnEncodeErrorKind, reason: string): never {
    throw new InsnEncodeError(this.index, this.kind, kind, reason);
  }

  reg(name: string, value: unknown): Reg {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_REG) {
      this.fail('bad_register', `${name} ${String(value)} is not a register r0-r${MAX_REG}`);
    }
    return value as Reg;
  }

  int(name: string, value: unknown, bits: 16 | 32): number {
    const lo = -(2 ** (bits - 1));
    const hi = 2 ** (bits - 1) - 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
      this.fail('out_of_range', `${name} ${String(value)} is not a signed ${bits}-bit integer`);
    }
    return value;
  }

  lookup<K extends string, V>(name: string, table: Readonly<Record<K, V>>, key: unknown): V {
    if (typeof key !== 'string' || !Object.hasOwn(table, key)) {
      this.fail(
        'unknown_value',
        `${name} ${JSON.stringify(key)} is not one of ${Object.keys(table).join(', ')}`,
      );
    }
    return table[key as K];
  }

  width(value: unknown): 32 | 64 {
    if (value !== 32 && value !== 64) {
      this.fail('unknown_value', `width ${String(value)} is not 32 or 64`);
    }
    return value;
  }

  bool(name: string, value: unknown): boolean {
    if (typeof value !== 'boolean') this.fail('unknown_value', `${name} must be a boolean`);
    return value;
  }
}

const ZERO: Slot = { opcode: 0, dst: 0, src: 0, off: 0, imm: 0 };

/** Validates one instruction and returns its slot(s). */
// Module-level rather than inside toSlots: defined once, not once per encoded instruction.
const aluClass = (w: 32 | 64) => (w === 64 ? Class.ALU64 : Class.ALU);
const jmpClass = (w: 32 | 64) => (w === 64 ? Class.JMP : Class.JMP32);
// Fields listed, not spread over ZERO: spreads were a visible cost of encoding every instruction.
const single = (s: Partial<Slot> & { opcode: number }): readonly Slot[] => [
  { opcode: s.opcode, dst: s.dst ?? 0, src: s.src ?? 0, off: s.off ?? 0, imm: s.imm ?? 0 },
];

function toSlots(insn: Insn, index: number): readonly Slot[] {
  const kind = typeof insn === 'object' && insn !== null ? String(insn.kind) : 'unknown';
  const c = new Checker(index, kind);
  if (typeof insn !== 'object' || insn === null) c.fail('unknown_value', 'not an instruction');

  // A switch, not ts-pattern: encoding runs for every instruction of every build, and match()'s
  // per-call pattern objects were a hot spot of buildSockops(). `never` keeps it exhaustive.
  const i = insn;
  switch (i.kind) {
    case 'alu': {
      const op = c.lookup('op', ALU_OPS, i.op);
      const cls = aluClass(c.width(i.width));
      const dst = c.reg('dst', i.dst);
      const src = i.src as unknown;
      if (typeof src === 'object' && src !== null && 'reg' in src) {
        return single({
          opcode: op.code | Src.X | cls,
          dst,
          src: c.reg('src', src.reg),
          off: op.off,
        });
      }
      if (typeof src === 'object' && src !== null && 'imm' in src) {
        return single({
          opcode: op.code | Src.K | cls,
          dst,
          off: op.off,
          imm: c.int('imm', src.imm, 32),
        });
      }
      return c.fail('unknown_value', 'src must be { reg } or { imm }');
    }
    case 'neg':
      return single({
        opcode: AluCode.NEG | Src.K | aluClass(c.width(i.width)),
        dst: c.reg('dst', i.dst),
      });
    case 'movsx': {
      const width = c.width(i.width);
      if (i.from !== 8 && i.from !== 16 && i.from !== 32) {
        c.fail('unknown_value', `from ${String(i.from)} is not 8, 16 or 32`);
      }
      if (i.from === 32 && width === 32) {
        c.fail('bad_combination', 'movsx from 32 bits exists only at width 64');
      }
      return single({
        opcode: AluCode.MOV | Src.X | aluClass(width),
        dst: c.reg('dst', i.dst),
        src: c.reg('src', i.src),
        off: i.from,
      });
    }
    case 'endian': {
      if (i.bits !== 16 && i.bits !== 32 && i.bits !== 64) {
        c.fail('unknown_value', `bits ${String(i.bits)} is not 16, 32 or 64`);
      }
      const dst = c.reg('dst', i.dst);
      const opcode = match(i.order as string)
        .with('le', () => AluCode.END | EndianSrc.TO_LE | Class.ALU)
        .with('be', () => AluCode.END | EndianSrc.TO_BE | Class.ALU)
        .with('bswap', () => AluCode.END | EndianSrc.TO_LE | Class.ALU64)
        .otherwise((o) =>
          c.fail('unknown_value', `order ${JSON.stringify(o)} is not le, be or bswap`),
        );
      return single({ opcode, dst, imm: i.bits });
    }
    case 'jump': {
      const code = c.lookup('op', JMP_OPS, i.op);
      const cls = jmpClass(c.width(i.width));
      const dst = c.reg('dst', i.dst);
      const off = c.int('off', i.off, 16);
      const src = i.src as unknown;
      if (typeof src === 'object' && src !== null && 'reg' in src) {
        return single({ opcode: code | Src.X | cls, dst, src: c.reg('src', src.reg), off });
      }
      if (typeof src === 'object' && src !== null && 'imm' in src) {
        return single({ opcode: code | Src.K | cls, dst, off, imm: c.int('imm', src.imm, 32) });
      }
      return c.fail('unknown_value', 'src must be { reg } or { imm }');
    }
    case 'ja':
      return single({ opcode: JmpCode.JA | Class.JMP, off: c.int('off', i.off, 16) });
    case 'gotol':
      return single({ opcode: JmpCode.JA | Class.JMP32, imm: c.int('imm', i.imm, 32) });
    case 'may_goto':
      return single({
        opcode: JmpCode.JCOND | Class.JMP,
        src: JCOND_MAY_GOTO,
        off: c.int('off', i.off, 16),
      });
    case 'call': {
      const src = c.lookup('target', CALL_PSEUDOS, i.target);
      const off = c.int('off', i.off, 16);
      if (i.target !== 'kfunc' && off !== 0) {
        c.fail('bad_combination', `off must be 0 for a ${i.target} call (only kfunc calls use it)`);
      }
      return single({ opcode: JmpCode.CALL | Class.JMP, src, off, imm: c.int('imm', i.imm, 32) });
    }
    case 'exit':
      return single({ opcode: JmpCode.EXIT | Class.JMP });
    case 'ldx': {
      const size = c.lookup('size', SIZES, i.size);
      const signed = c.bool('signed', i.signed);
      if (signed && i.size === 'dw') {
        c.fail('bad_combination', 'sign-extending loads exist for b, h and w only, not dw');
      }
      return single({
        opcode: (signed ? Mode.MEMSX : Mode.MEM) | size | Class.LDX,
        dst: c.reg('dst', i.dst),
        src: c.reg('src', i.src),
        off: c.int('off', i.off, 16),
      });
    }
    case 'st':
      return single({
        opcode: Mode.MEM | c.lookup('size', SIZES, i.size) | Class.ST,
        dst: c.reg('dst', i.dst),
        off: c.int('off', i.off, 16),
        imm: c.int('imm', i.imm, 32),
      });
    case 'stx':
      return single({
        opcode: Mode.MEM | c.lookup('size', SIZES, i.size) | Class.STX,
        dst: c.reg('dst', i.dst),
        src: c.reg('src', i.src),
        off: c.int('off', i.off, 16),
      });
    case 'atomic': {
      if (i.size !== 'w' && i.size !== 'dw') {
        c.fail(
          'bad_combination',
          `atomic operations exist for w and dw only, not ${String(i.size)}`,
        );
      }
      const opImm = c.lookup('op', ATOMIC_OPS, i.op);
      const fetch = c.bool('fetch', i.fetch);
      if ((i.op === 'xchg' || i.op === 'cmpxchg') && !fetch) {
        c.fail('bad_combination', `${i.op} always fetches: set fetch to true`);
      }
      return single({
        opcode: Mode.ATOMIC | SIZES[i.size] | Class.STX,
        dst: c.reg('dst', i.dst),
        src: c.reg('src', i.src),
        off: c.int('off', i.off, 16),
        imm: opImm | (fetch ? BPF_FETCH : 0),
      });
    }
    case 'load_acquire':
      return single({
        opcode: Mode.ATOMIC | c.lookup('size', SIZES, i.size) | Class.STX,
        dst: c.reg('dst', i.dst),
        src: c.reg('src', i.src),
        off: c.int('off', i.off, 16),
        imm: AtomicImm.LOAD_ACQ,
      });
    case 'store_release':
      return single({
        opcode: Mode.ATOMIC | c.lookup('size', SIZES, i.size) | Class.STX,
        dst: c.reg('dst', i.dst),
        src: c.reg('src', i.src),
        off: c.int('off', i.off, 16),
        imm: AtomicImm.STORE_REL,
      });
    case 'ld_imm64': {
      const pseudo = c.lookup('pseudo', LD_IMM64_PSEUDOS, i.pseudo);
      const dst = c.reg('dst', i.dst);
      const imm = i.imm as unknown;
      if (typeof imm !== 'bigint' || imm < S64_MIN || imm > S64_MAX) {
        return c.fail('out_of_range', `imm ${String(imm)} is not a signed 64-bit bigint`);
      }
      if (LD_IMM64_LOW_ONLY.has(i.pseudo) && (imm < 0n || imm > 0xffff_ffffn)) {
        c.fail(
          'out_of_range',
          `imm ${imm} of a ${i.pseudo} ld_imm64 must fit the first slot (0..0xffffffff, high half zero)`,
        );
      }
      const u = BigInt.asUintN(64, imm);
      return [
        { ...ZERO, opcode: LD_IMM64_OPCODE, dst, src: pseudo, imm: Number(BigInt.asIntN(32, u)) },
        { ...ZERO, imm: Number(BigInt.asIntN(32, u >> 32n)) },
      ];
    }
    case 'ld_abs': {
      if (i.size !== 'b' && i.size !== 'h' && i.size !== 'w') {
        c.fail('bad_combination', `ld_abs exists for b, h and w only, not ${String(i.size)}`);
      }
      return single({ opcode: Mode.ABS | SIZES[i.size] | Class.LD, imm: c.int('imm', i.imm, 32) });
    }
    case 'ld_ind': {
      if (i.size !== 'b' && i.size !== 'h' && i.size !== 'w') {
        c.fail('bad_combination', `ld_ind exists for b, h and w only, not ${String(i.size)}`);
      }
      return single({
        opcode: Mode.IND | SIZES[i.size] | Class.LD,
        src: c.reg('src', i.src),
        imm: c.int('imm', i.imm, 32),
      });
    }
    default:
      i satisfies never;
      return c.fail('unknown_value', `unknown instruction kind ${JSON.stringify(kind)}`);
  }
}

/**
 * Encodes one instruction into 8 bytes (16 for ld_imm64). `index` is only used in error messages.
 * Throws InsnEncodeError when a field is out of range or the combination has no encoding.
 */
export function encodeInsn(insn: Insn, index = 0): Uint8Array {
  const slots = toSlots(insn, index);
  const out = new Uint8Array(slots.length * SLOT_SIZE);
  const view = new DataView(out.buffer);
  slots.forEach((s, k) => {
    writeSlot(view, k * SLOT_SIZE, s);
  });
  return out;
}

/** Encodes a program: the concatenated slots of every instruction (errors name the list index). */
export function encodeInsns(insns: readonly Insn[]): Uint8Array {
  const all = insns.map((insn, index) => toSlots(insn, index));
  const total = all.reduce((n, s) => n + s.length, 0);
  const out = new Uint8Array(total * SLOT_SIZE);
  const view = new DataView(out.buffer);
  let slot = 0;
  for (const slots of all) {
    for (const s of slots) {
      writeSlot(view, slot * SLOT_SIZE, s);
      slot++;
    }
  }
  return out;
}
