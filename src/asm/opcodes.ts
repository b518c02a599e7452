/**
 * The fields of an eBPF opcode byte and the values they take (RFC 9669 plus the kernel's later
 * additions: cpu v4, may_goto, load-acquire/store-release). Everything here is a small typed
 * constant; the encoder and decoder combine them, nothing else in the project should need the raw
 * numbers.
 *
 * The low three bits of every opcode select the instruction class:
 *
 *     msb      lsb
 *     +---------+---+
 *     |  ....   |cls|
 *     +---------+---+
 *      7       3 2 0
 */

/** Instruction classes (`opcode & 0x07`). */
export const Class = {
  /** Non-standard loads: ld_imm64 (IMM), legacy packet access (ABS, IND). */
  LD: 0x00,
  /** Register loads `dst = *(size *)(src + off)`. */
  LDX: 0x01,
  /** Immediate stores `*(size *)(dst + off) = imm`. */
  ST: 0x02,
  /** Register stores and atomics. */
  STX: 0x03,
  /** 32-bit arithmetic. */
  ALU: 0x04,
  /** 64-bit jumps, calls and exit. */
  JMP: 0x05,
  /** 32-bit conditional jumps and `gotol`. */
  JMP32: 0x06,
  /** 64-bit arithmetic. */
  ALU64: 0x07,
} as const;
/** An instruction class value. */
export type ClassValue = (typeof Class)[keyof typeof Class];
/** Mask of the class bits. */
export const CLASS_MASK = 0x07;

/*
 * Load and store classes (LD, LDX, ST, STX) split the rest of the opcode into size and mode:
 *
 *     msb                  lsb
 *     +--------+------+-----+
 *     |  mode  | size | cls |
 *     +--------+------+-----+
 *      7      5 4    3 2   0
 */

/** Access sizes (`opcode & 0x18`). */
export const SizeField = {
  /** 4 bytes. */
  W: 0x00,
  /** 2 bytes. */
  H: 0x08,
  /** 1 byte. */
  B: 0x10,
  /** 8 bytes. */
  DW: 0x18,
} as const;
/** An access size value. */
export type SizeFieldValue = (typeof SizeField)[keyof typeof SizeField];
/** Mask of the size bits. */
export const SIZE_MASK = 0x18;

/** Addressing modes (`opcode & 0xe0`). */
export const Mode = {
  /** 64-bit immediate (LD class, only with size DW: ld_imm64). */
  IMM: 0x00,
  /** Legacy packet load at a constant offset. */
  ABS: 0x20,
  /** Legacy packet load at a register plus constant offset. */
  IND: 0x40,
  /** Regular memory access. */
  MEM: 0x60,
  /** Sign-extending load (LDX only, cpu v4). */
  MEMSX: 0x80,
  /** Atomic operation (STX only); the operation is in the immediate. */
  ATOMIC: 0xc0,
} as const;
/** An addressing mode value. */
export type ModeValue = (typeof Mode)[keyof typeof Mode];
/** Mask of the mode bits. */
export const MODE_MASK = 0xe0;

/*
 * Arithmetic and jump classes (ALU, ALU64, JMP, JMP32) split it into operation and source:
 *
 *     msb                   lsb
 *     +-----------+-----+-----+
 *     | operation | src | cls |
 *     +-----------+-----+-----+
 *      7         4  3    2   0
 */

/** Source operand (`opcode & 0x08`). */
export const Src = {
  /** Use the 32-bit immediate. */
  K: 0x00,
  /** Use the source register. */
  X: 0x08,
} as const;
/** A source operand value. */
export type SrcValue = (typeof Src)[keyof typeof Src];
/** Mask of the source bit. */
export const SRC_MASK = 0x08;
/** Mask of the operation bits of ALU and JMP opcodes. */
export const OP_MASK = 0xf0;

/**
 * The source bit of BPF_END: in the ALU class it picks the target byte order (TO_LE = 0,
 * TO_BE = 1); in the ALU64 class only TO_LE is valid and means an unconditional swap (cpu v4 bswap).
 */
export const EndianSrc = {
  /** Convert to little endian (or bswap in ALU64). */
  TO_LE: 0x00,
  /** Convert to big endian. */
  TO_BE: 0x08,
} as const;

/** ALU and ALU64 operation codes (`opcode & 0xf0`). */
export const AluCode = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  /** Unsigned division; signed (sdiv) when the offset field is 1. */
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  /** `dst = -dst`, no source operand. */
  NEG: 0x80,
  /** Unsigned modulo; signed (smod) when the offset field is 1. */
  MOD: 0x90,
  XOR: 0xa0,
  /** Move; with BPF_X and offset 8/16/32 a sign-extending move (movsx). */
  MOV: 0xb0,
  /** Arithmetic (sign-propagating) right shift. */
  ARSH: 0xc0,
  /** Byte order conversion; the immediate is the width (16, 32, 64). */
  END: 0xd0,
} as const;
/** An ALU operation code value. */
export type AluCodeValue = (typeof AluCode)[keyof typeof AluCode];

/** JMP and JMP32 operation codes (`opcode & 0xf0`). */
export const JmpCode = {
  /** Unconditional jump: offset in `off` (JMP) or in `imm` (JMP32, gotol). */
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  /** Jump if `dst & src` is non-zero. */
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  /** Call a helper, a BPF subprogram or a kfunc (JMP class only). */
  CALL: 0x80,
  /** Return (JMP class only). */
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
  /** Conditional pseudo-jump decided by the verifier; src 0 = may_goto (kernel 6.9+). */
  JCOND: 0xe0,
} as const;
/** A jump operation code value. */
export type JmpCodeValue = (typeof JmpCode)[keyof typeof JmpCode];

/** The src_reg value of a JCOND instruction that makes it `may_goto`. */
export const JCOND_MAY_GOTO = 0;

/*
 * Atomic operations (STX | ATOMIC) keep the operation in the immediate:
 *
 *     msb                              lsb
 *     +----------------------+---------+-------+
 *     |        zero          |   op    | fetch |
 *     +----------------------+---------+-------+
 *      31                   8 7       4  3    0
 *
 * with fetch = 0x01 (return the old value in src). Load-acquire and store-release use bits 8+ and
 * leave the low byte as 0x00 / 0x10.
 */

/** The FETCH flag of an atomic immediate: the old value is written back to src (r0 for cmpxchg). */
export const BPF_FETCH = 0x01;

/** Atomic immediates (`imm` of STX|ATOMIC). */
export const AtomicImm = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  /** Exchange; only valid with BPF_FETCH (0xe1). */
  XCHG: 0xe0,
  /** Compare-and-exchange with r0; only valid with BPF_FETCH (0xf1). */
  CMPXCHG: 0xf0,
  /** `dst = load_acquire(src + off)`, any size (kernel 6.15+). */
  LOAD_ACQ: 0x100,
  /** `store_release(dst + off, src)`, any size (kernel 6.15+). */
  STORE_REL: 0x110,
} as const;
/** An atomic immediate value (without the FETCH flag). */
export type AtomicImmValue = (typeof AtomicImm)[keyof typeof AtomicImm];

/** The src_reg of an ld_imm64 (how the loader and verifier interpret its immediate). */
export const PseudoLd = {
  /** Plain 64-bit constant. */
  IMM64: 0,
  /** BPF_PSEUDO_MAP_FD: the low immediate is a map fd. */
  MAP_FD: 1,
  /** BPF_PSEUDO_MAP_VALUE: map fd plus offset into the value (high immediate). */
  MAP_VALUE: 2,
  /** BPF_PSEUDO_BTF_ID: a kernel variable's BTF id (high immediate: BTF object fd). */
  BTF_ID: 3,
  /** BPF_PSEUDO_FUNC: slot delta to a subprogram (a callback pointer). */
  FUNC: 4,
  /** BPF_PSEUDO_MAP_IDX: index into fd_array. */
  MAP_IDX: 5,
  /** BPF_PSEUDO_MAP_IDX_VALUE: fd_array index plus value offset. */
  MAP_IDX_VALUE: 6,
} as const;

/** The src_reg of a call (what the immediate means). */
export const PseudoCall = {
  /** Helper function id. */
  HELPER: 0,
  /** BPF_PSEUDO_CALL: slot delta to a BPF subprogram. */
  CALL: 1,
  /** BPF_PSEUDO_KFUNC_CALL: kernel function BTF id; `off` picks the module BTF in fd_array. */
  KFUNC_CALL: 2,
} as const;

/** The offset field of DIV/MOD that selects the signed variant (cpu v4 sdiv/smod). */
export const SIGNED_DIVMOD_OFF = 1;

/** Opcode of the first ld_imm64 slot: LD | IMM | DW (0x18). */
export const LD_IMM64_OPCODE = Class.LD | Mode.IMM | SizeField.DW;

/** Size of one instruction slot in bytes. */
export const SLOT_SIZE = 8;

/** Highest valid register number (r10, the read-only frame pointer). */
export const MAX_REG = 10;
