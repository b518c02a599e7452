/**
 * Bytes → `Insn`, the exact inverse of `encode.ts`. Anything the kernel verifier (or RFC 9669)
 * treats as malformed is rejected with an InsnDecodeError naming the byte offset and the reason:
 * unknown opcodes, non-zero reserved fields, registers above r10, a truncated or corrupt ld_imm64,
 * END widths other than 16/32/64, unknown atomic operations, a length that is not a multiple of 8.
 * The decoder never throws anything else and never allocates more than the input's size.
 *
 * Reserved fields per class, as `check_*` in kernel/bpf/verifier.c enforces them:
 *
 *     class  mode/op          dst   src   off          imm
 *     LD     IMM|DW           reg   0-6   0            any (slot 2: opcode/regs/off 0)
 *     LD     ABS              0     0     0            any
 *     LD     IND              0     reg   0            any
 *     LDX    MEM, MEMSX(!dw)  reg   reg   any          0
 *     ST     MEM              reg   0     any          any
 *     STX    MEM              reg   reg   any          0
 *     STX    ATOMIC           reg   reg   any          op (w/dw) | 0x100 | 0x110
 *     ALU*   op|K             reg   0     0 (1: s/ %)  any
 *     ALU*   op|X             reg   reg   0 (1: s/ %)  0
 *     ALU*   MOV|X            reg   reg   0/8/16(/32)  0
 *     ALU*   NEG|K            reg   0     0            0
 *     ALU*   END              reg   0     0            16/32/64
 *     JMP*   cond|K           reg   0     any          any
 *     JMP*   cond|X           reg   reg   any          0
 *     JMP    JA|K             0     0     any          0
 *     JMP32  JA|K (gotol)     0     0     0            any
 *     JMP    CALL|K           0     0-2   0 (kfunc any) any
 *     JMP    EXIT|K           0     0     0            0
 *     JMP    JCOND|K          0     0     any          0
 *
 * Checked against Linux 6.18: each of these rejections is also a BPF_PROG_LOAD rejection ("...
 * uses reserved fields", "unknown opcode", "invalid bpf_ld_imm64 insn", ...) with one exception:
 * the kernel does not look at the offset of `exit`. The decoder still requires it to be zero
 * because `ExitInsn` has no field to carry it (decode must be the exact inverse of encode).
 */
import type {
  AluOp,
  AtomicOp,
  CallKind,
  Insn,
  JmpOp,
  LdImm64Kind,
  Reg,
  Size,
  Width,
} from './insn.js';
import { InsnDecodeError, type InsnDecodeErrorKind } from './insn-errors.js';
import {
  AluCode,
  AtomicImm,
  BPF_FETCH,
  CLASS_MASK,
  Class,
  EndianSrc,
  JCOND_MAY_GOTO,
  JmpCode,
  MAX_REG,
  MODE_MASK,
  Mode,
  OP_MASK,
  PseudoCall,
  SIGNED_DIVMOD_OFF,
  SIZE_MASK,
  SizeField,
  SLOT_SIZE,
  SRC_MASK,
  Src,
} from './opcodes.js';

/** Options of the decoder. */
export interface DecodeOptions {
  /** Added to every byte offset reported in errors (e.g. the program's offset in its ELF section). */
  readonly baseOffset?: number;
}

/** One decoded instruction and how many bytes it took (8, or 16 for ld_imm64). */
export interface DecodedInsn {
  readonly insn: Insn;
  readonly size: 8 | 16;
}

/** A decoded program with the slot index at which each instruction starts. */
export interface DecodedProgram {
  readonly insns: Insn[];
  /** `slots[i]` is the slot (8-byte unit) index of `insns[i]`; jump offsets count slots. */
  readonly slots: number[];
}

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

const SIZE_BY_FIELD: Readonly<Record<number, Size>> = {
  [SizeField.W]: 'w',
  [SizeField.H]: 'h',
  [SizeField.B]: 'b',
  [SizeField.DW]: 'dw',
};

const ALU_BY_CODE: Readonly<Record<number, AluOp>> = {
  [AluCode.ADD]: 'add',
  [AluCode.SUB]: 'sub',
  [AluCode.MUL]: 'mul',
  [AluCode.DIV]: 'div',
  [AluCode.OR]: 'or',
  [AluCode.AND]: 'and',
  [AluCode.LSH]: 'lsh',
  [AluCode.RSH]: 'rsh',
  [AluCode.MOD]: 'mod',
  [AluCode.XOR]: 'xor',
  [AluCode.MOV]: 'mov',
  [AluCode.ARSH]: 'arsh',
};

const JMP_BY_CODE: Readonly<Record<number, JmpOp>> = {
  [JmpCode.JEQ]: 'jeq',
  [JmpCode.JGT]: 'jgt',
  [JmpCode.JGE]: 'jge',
  [JmpCode.JSET]: 'jset',
  [JmpCode.JNE]: 'jne',
  [JmpCode.JSGT]: 'jsgt',
  [JmpCode.JSGE]: 'jsge',
  [JmpCode.JLT]: 'jlt',
  [JmpCode.JLE]: 'jle',
  [JmpCode.JSLT]: 'jslt',
  [JmpCode.JSLE]: 'jsle',
};

const ATOMIC_BY_IMM: Readonly<Record<number, { op: AtomicOp; fetch: boolean }>> = {
  [AtomicImm.ADD]: { op: 'add', fetch: false },
  [AtomicImm.ADD | BPF_FETCH]: { op: 'add', fetch: true },
  [AtomicImm.OR]: { op: 'or', fetch: false },
  [AtomicImm.OR | BPF_FETCH]: { op: 'or', fetch: true },
  [AtomicImm.AND]: { op: 'and', fetch: false },
  [AtomicImm.AND | BPF_FETCH]: { op: 'and', fetch: true },
  [AtomicImm.XOR]: { op: 'xor', fetch: false },
  [AtomicImm.XOR | BPF_FETCH]: { op: 'xor', fetch: true },
  [AtomicImm.XCHG | BPF_FETCH]: { op: 'xchg', fetch: true },
  [AtomicImm.CMPXCHG | BPF_FETCH]: { op: 'cmpxchg', fetch: true },
};

const LD_IMM64_BY_SRC: readonly LdImm64Kind[] = [
  'imm64',
  'map_fd',
  'map_value',
  'btf_id',
  'func',
  'map_idx',
  'map_idx_value',
];

const CALL_BY_SRC: Readonly<Record<number, CallKind>> = {
  [PseudoCall.HELPER]: 'helper',
  [PseudoCall.CALL]: 'bpf',
  [PseudoCall.KFUNC_CALL]: 'kfunc',
};

/** The raw fields of the slot being decoded, with helpers that reject bad values. */
class SlotReader {
  readonly opcode: number;
  readonly dstField: number;
  readonly srcField: number;
  readonly off: number;
  readonly imm: number;

  constructor(
    view: DataView,
    readonly pos: number,
    private readonly reportAt: number,
  ) {
    this.opcode = view.getUint8(pos);
    const regs = view.getUint8(pos + 1);
    this.dstField = regs & 0x0f;
    this.srcField = regs >> 4;
    this.off = view.getInt16(pos + 2, true);
    this.imm = view.getInt32(pos + 4, true);
  }

  fail(kind: InsnDecodeErrorKind, reason: string): never {
    throw new InsnDecodeError(this.reportAt, kind, reason);
  }

  unknown(what = ''): never {
    return this.fail('unknown_opcode', `unknown opcode ${hex(this.opcode)}${what}`);
  }

  reg(which: 'dst' | 'src'): Reg {
    const r = which === 'dst' ? this.dstField : this.srcField;
    if (r > MAX_REG) {
      this.fail(
        'bad_register',
        `${which} register r${r} does not exist (opcode ${hex(this.opcode)})`,
      );
    }
    return r as Reg;
  }

  /** Rejects a non-zero reserved field of the instruction `what`. */
  zero(what: string, field: 'dst' | 'src' | 'off' | 'imm'): void {
    const v =
      field === 'dst'
        ? this.dstField
        : field === 'src'
          ? this.srcField
          : field === 'off'
            ? this.off
            : this.imm;
    if (v !== 0) {
      this.fail(
        'reserved_field',
        `${what} (opcode ${hex(this.opcode)}) has reserved ${field} = ${v}, must be 0`,
      );
    }
  }
}

function decodeLd(s: SlotReader, view: DataView, end: number): DecodedInsn {
  const mode = s.opcode & MODE_MASK;
  const sizeField = s.opcode & SIZE_MASK;
  if (mode === Mode.IMM) {
    if (sizeField !== SizeField.DW) s.unknown(' (LD IMM exists only with size dw: ld_imm64)');
    const pseudo = LD_IMM64_BY_SRC[s.srcField];
    if (pseudo === undefined) {
      s.fail('bad_operand', `ld_imm64 has unknown pseudo source ${s.srcField} (valid: 0-6)`);
    }
    s.zero('ld_imm64', 'off');
    const dst = s.reg('dst');
    const second = s.pos + SLOT_SIZE;
    if (second + SLOT_SIZE > end) {
      s.fail('truncated', 'ld_imm64 needs a second slot but the instructions end after its first');
    }
    const op2 = view.getUint8(second);
    const regs2 = view.getUint8(second + 1);
    const off2 = view.getInt16(second + 2, true);
    if (op2 !== 0)
      s.fail('bad_second_slot', `ld_imm64 second slot has non-zero opcode ${hex(op2)}`);
    if (regs2 !== 0) {
      s.fail('bad_second_slot', `ld_imm64 second slot has non-zero registers byte ${hex(regs2)}`);
    }
    if (off2 !== 0) s.fail('bad_second_slot', `ld_imm64 second slot has non-zero offset ${off2}`);
    const lo = view.getUint32(s.pos + 4, true);
    const hi = view.getUint32(second + 4, true);
    if (hi !== 0 && (pseudo === 'map_fd' || pseudo === 'map_idx' || pseudo === 'func')) {
      s.fail(
        'bad_second_slot',
        `ld_imm64 ${pseudo} must have a zero second-slot immediate, got 0x${hi.toString(16)}`,
      );
    }
    const imm = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
    return { insn: { kind: 'ld_imm64', pseudo, dst, imm }, size: 16 };
  }
  if (mode === Mode.ABS || mode === Mode.IND) {
    const size = SIZE_BY_FIELD[sizeField];
    if (size === undefined || size === 'dw')
      s.unknown(' (legacy packet loads exist for b, h, w only)');
    const what = mode === Mode.ABS ? 'ld_abs' : 'ld_ind';
    s.zero(what, 'dst');
    s.zero(what, 'off');
    if (mode === Mode.ABS) {
      s.zero(what, 'src');
      return { insn: { kind: 'ld_abs', size, imm: s.imm }, size: 8 };
    }
    return { insn: { kind: 'ld_ind', size, src: s.reg('src'), imm: s.imm }, size: 8 };
  }
  return s.unknown(' (LD class has modes IMM, ABS, IND only)');
}

function decodeLdx(s: SlotReader): DecodedInsn {
  const mode = s.opcode & MODE_MASK;
  const size = SIZE_BY_FIELD[s.opcode & SIZE_MASK] as Size;
  if (mode !== Mode.MEM && mode !== Mode.MEMSX) s.unknown(' (LDX class has modes MEM, MEMSX only)');
  if (mode === Mode.MEMSX && size === 'dw') s.unknown(' (no sign-extending load of dw)');
  s.zero('ldx', 'imm');
  return {
    insn: {
      kind: 'ldx',
      size,
      signed: mode === Mode.MEMSX,
      dst: s.reg('dst'),
      src: s.reg('src'),
      off: s.off,
    },
    size: 8,
  };
}

function decodeSt(s: SlotReader): DecodedInsn {
  if ((s.opcode & MODE_MASK) !== Mode.MEM) s.unknown(' (ST class has mode MEM only)');
  s.zero('st', 'src');
  const size = SIZE_BY_FIELD[s.opcode & SIZE_MASK] as Size;
  return { insn: { kind: 'st', size, dst: s.reg('dst'), off: s.off, imm: s.imm }, size: 8 };
}

function decodeStx(s: SlotReader): DecodedInsn {
  const mode = s.opcode & MODE_MASK;
  const size = SIZE_BY_FIELD[s.opcode & SIZE_MASK] as Size;
  if (mode === Mode.MEM) {
    s.zero('stx', 'imm');
    return {
      insn: { kind: 'stx', size, dst: s.reg('dst'), src: s.reg('src'), off: s.off },
      size: 8,
    };
  }
  if (mode !== Mode.ATOMIC) s.unknown(' (STX class has modes MEM, ATOMIC only)');
  const dst = s.reg('dst');
  const src = s.reg('src');
  if (s.imm === AtomicImm.LOAD_ACQ) {
    return { insn: { kind: 'load_acquire', size, dst, src, off: s.off }, size: 8 };
  }
  if (s.imm === AtomicImm.STORE_REL) {
    return { insn: { kind: 'store_release', size, dst, src, off: s.off }, size: 8 };
  }
  const rmw = ATOMIC_BY_IMM[s.imm];
  if (rmw === undefined) {
    s.fail('bad_operand', `unknown atomic operation imm 0x${(s.imm >>> 0).toString(16)}`);
  }
  if (size !== 'w' && size !== 'dw') {
    s.fail('bad_operand', `atomic ${rmw.op} exists for sizes w and dw only, not ${size}`);
  }
  return {
    insn: { kind: 'atomic', size, op: rmw.op, fetch: rmw.fetch, dst, src, off: s.off },
    size: 8,
  };
}

function decodeAlu(s: SlotReader, width: Width): DecodedInsn {
  const code = s.opcode & OP_MASK;
  const isX = (s.opcode & SRC_MASK) === Src.X;
  if (code === AluCode.NEG) {
    if (isX) s.unknown(' (neg has no register source)');
    s.zero('neg', 'src');
    s.zero('neg', 'off');
    s.zero('neg', 'imm');
    return { insn: { kind: 'neg', width, dst: s.reg('dst') }, size: 8 };
  }
  if (code === AluCode.END) {
    const toBe = (s.opcode & SRC_MASK) === EndianSrc.TO_BE;
    if (width === 64 && toBe) s.unknown(' (ALU64 END exists only as bswap, source bit 0)');
    s.zero('endian', 'src');
    s.zero('endian', 'off');
    if (s.imm !== 16 && s.imm !== 32 && s.imm !== 64) {
      s.fail('bad_operand', `byte swap width imm ${s.imm} is not 16, 32 or 64`);
    }
    const order = width === 64 ? 'bswap' : toBe ? 'be' : 'le';
    return { insn: { kind: 'endian', order, bits: s.imm, dst: s.reg('dst') }, size: 8 };
  }
  const op = ALU_BY_CODE[code];
  if (op === undefined) s.unknown(' (no such ALU operation)');
  const dst = s.reg('dst');
  if (op === 'mov' && isX && s.off !== 0) {
    if (s.off === 8 || s.off === 16 || (s.off === 32 && width === 64)) {
      s.zero('movsx', 'imm');
      return { insn: { kind: 'movsx', width, from: s.off, dst, src: s.reg('src') }, size: 8 };
    }
    return s.fail(
      'bad_operand',
      `mov offset ${s.off} is not a sign extension (8, 16${width === 64 ? ', 32' : ''}); ` +
        'addr_space_cast (offset 1) is not supported',
    );
  }
  let aluOp: AluOp = op;
  if (s.off !== 0) {
    if (s.off === SIGNED_DIVMOD_OFF && (op === 'div' || op === 'mod')) {
      aluOp = op === 'div' ? 'sdiv' : 'smod';
    } else {
      s.zero(op, 'off');
    }
  }
  if (isX) {
    s.zero(aluOp, 'imm');
    return { insn: { kind: 'alu', width, op: aluOp, dst, src: { reg: s.reg('src') } }, size: 8 };
  }
  s.zero(aluOp, 'src');
  return { insn: { kind: 'alu', width, op: aluOp, dst, src: { imm: s.imm } }, size: 8 };
}

function decodeJmp(s: SlotReader, width: Width): DecodedInsn {
  const code = s.opcode & OP_MASK;
  const isX = (s.opcode & SRC_MASK) === Src.X;
  if (code === JmpCode.JA) {
    if (isX) s.unknown(' (ja has no register source)');
    s.zero('ja', 'dst');
    s.zero('ja', 'src');
    if (width === 64) {
      s.zero('ja', 'imm');
      return { insn: { kind: 'ja', off: s.off }, size: 8 };
    }
    s.zero('gotol', 'off');
    return { insn: { kind: 'gotol', imm: s.imm }, size: 8 };
  }
  if (code === JmpCode.CALL) {
    if (isX || width === 32) s.unknown(' (call exists only as JMP|CALL|K, 0x85)');
    s.zero('call', 'dst');
    const target = CALL_BY_SRC[s.srcField];
    if (target === undefined) {
      s.fail('bad_operand', `call has unknown source ${s.srcField} (0 helper, 1 bpf, 2 kfunc)`);
    }
    if (target !== 'kfunc') s.zero('call', 'off');
    return { insn: { kind: 'call', target, imm: s.imm, off: s.off }, size: 8 };
  }
  if (code === JmpCode.EXIT) {
    if (isX || width === 32) s.unknown(' (exit exists only as JMP|EXIT|K, 0x95)');
    s.zero('exit', 'dst');
    s.zero('exit', 'src');
    s.zero('exit', 'off');
    s.zero('exit', 'imm');
    return { insn: { kind: 'exit' }, size: 8 };
  }
  if (code === JmpCode.JCOND) {
    if (isX || width === 32) s.unknown(' (JCOND exists only as JMP|JCOND|K, 0xe5)');
    if (s.srcField !== JCOND_MAY_GOTO) {
      s.fail('bad_operand', `JCOND with source ${s.srcField} is not may_goto (source 0)`);
    }
    s.zero('may_goto', 'dst');
    s.zero('may_goto', 'imm');
    return { insn: { kind: 'may_goto', off: s.off }, size: 8 };
  }
  const op = JMP_BY_CODE[code];
  if (op === undefined) s.unknown(' (no such jump operation)');
  const dst = s.reg('dst');
  if (isX) {
    s.zero(op, 'imm');
    return {
      insn: { kind: 'jump', width, op, dst, src: { reg: s.reg('src') }, off: s.off },
      size: 8,
    };
  }
  s.zero(op, 'src');
  return { insn: { kind: 'jump', width, op, dst, src: { imm: s.imm }, off: s.off }, size: 8 };
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes the instruction starting at byte `offset` of `bytes` (which must leave at least 8 bytes).
 * Throws InsnDecodeError for an invalid encoding; errors report `offset + baseOffset`.
 */
export function decodeInsnAt(
  bytes: Uint8Array,
  offset: number,
  opts: DecodeOptions = {},
): DecodedInsn {
  const base = opts.baseOffset ?? 0;
  if (!Number.isInteger(offset) || offset < 0 || offset + SLOT_SIZE > bytes.length) {
    throw new InsnDecodeError(
      base + Math.max(0, offset),
      'truncated',
      `an instruction needs 8 bytes but only ${Math.max(0, bytes.length - offset)} remain`,
    );
  }
  const view = viewOf(bytes);
  const s = new SlotReader(view, offset, base + offset);
  switch (s.opcode & CLASS_MASK) {
    case Class.LD:
      return decodeLd(s, view, bytes.length);
    case Class.LDX:
      return decodeLdx(s);
    case Class.ST:
      return decodeSt(s);
    case Class.STX:
      return decodeStx(s);
    case Class.ALU:
      return decodeAlu(s, 32);
    case Class.ALU64:
      return decodeAlu(s, 64);
    case Class.JMP:
      return decodeJmp(s, 64);
    default:
      return decodeJmp(s, 32);
  }
}

/** Decodes a whole instruction stream and records the slot index of each instruction. */
export function decodeInsnSlots(bytes: Uint8Array, opts: DecodeOptions = {}): DecodedProgram {
  const base = opts.baseOffset ?? 0;
  if (bytes.length % SLOT_SIZE !== 0) {
    throw new InsnDecodeError(
      base + bytes.length - (bytes.length % SLOT_SIZE),
      'misaligned',
      `length ${bytes.length} is not a multiple of 8 (${bytes.length % SLOT_SIZE} trailing bytes)`,
    );
  }
  const insns: Insn[] = [];
  const slots: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const { insn, size } = decodeInsnAt(bytes, pos, opts);
    insns.push(insn);
    slots.push(pos / SLOT_SIZE);
    pos += size;
  }
  return { insns, slots };
}

/** Decodes a whole instruction stream (length a multiple of 8) into instructions. */
export function decodeInsns(bytes: Uint8Array, opts: DecodeOptions = {}): Insn[] {
  return decodeInsnSlots(bytes, opts).insns;
}
