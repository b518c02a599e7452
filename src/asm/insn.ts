/**
 * The eBPF instruction model: one discriminated union over every instruction of the current ISA
 * (RFC 9669 plus the 6.x additions the kernel accepts: cpu v4, atomics, load-acquire/store-release,
 * may_goto). It is the contract between every room: the DSL emits `Insn[]`, the encoder turns them
 * into bytes, the disassembler prints them, the interpreter runs them.
 *
 * The model is semantic, not raw: each variant holds exactly the fields its encoding carries, so an
 * `Insn` value can always be encoded and `decode(encode(insn))` gives back an equal value. Reserved
 * fields of the encoding do not appear here; the decoder rejects encodings where they are non-zero.
 *
 * One instruction slot (8 bytes, little-endian host):
 *
 *     msb                                                        lsb
 *     +------------------------+----------------+----+----+--------+
 *     |immediate               |offset          |src |dst |opcode  |
 *     +------------------------+----------------+----+----+--------+
 *      63                    32 31            16 15 12 11  8 7     0
 *
 * byte 0 opcode, byte 1 = src << 4 | dst, bytes 2-3 offset (s16), bytes 4-7 immediate (s32).
 * `ld_imm64` takes two slots: the second has opcode, registers and offset zero and carries the
 * upper 32 bits of the constant in its immediate.
 */

/** A general-purpose register number: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10 frame pointer. */
export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

/** Every register number, in order. */
export const REGS: readonly Reg[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** Access width of loads and stores: b = 1 byte, h = 2, w = 4, dw = 8. */
export type Size = 'b' | 'h' | 'w' | 'dw';

/** Operand width of ALU and conditional-jump instructions (ALU/JMP32 = 32, ALU64/JMP = 64). */
export type Width = 32 | 64;

/** Second operand of an ALU or jump instruction: a register (BPF_X) or a 32-bit immediate (BPF_K). */
export type Source = { readonly reg: Reg } | { readonly imm: number };

/**
 * Binary ALU operations. `sdiv`/`smod` are the cpu v4 signed forms (encoded as div/mod with
 * offset 1); `mov` with a register source and width 64 is also the base of `movsx` (see MovsxInsn).
 */
export type AluOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'sdiv'
  | 'or'
  | 'and'
  | 'lsh'
  | 'rsh'
  | 'mod'
  | 'smod'
  | 'xor'
  | 'mov'
  | 'arsh';

/** Presence table of AluOp: the compiler checks it names every operation exactly once. */
const ALU_OP_TABLE: Readonly<Record<AluOp, true>> = {
  add: true,
  sub: true,
  mul: true,
  div: true,
  sdiv: true,
  or: true,
  and: true,
  lsh: true,
  rsh: true,
  mod: true,
  smod: true,
  xor: true,
  mov: true,
  arsh: true,
};

/** Every binary ALU operation (for generators and dispatch tables). */
export const ALU_OP_LIST: readonly AluOp[] = Object.keys(ALU_OP_TABLE) as AluOp[];

/** Conditional jump comparisons (unsigned: gt ge lt le; signed: sgt sge slt sle; set = bitwise AND non-zero). */
export type JmpOp =
  | 'jeq'
  | 'jgt'
  | 'jge'
  | 'jset'
  | 'jne'
  | 'jsgt'
  | 'jsge'
  | 'jlt'
  | 'jle'
  | 'jslt'
  | 'jsle';

/** Presence table of JmpOp: the compiler checks it names every comparison exactly once. */
const JMP_OP_TABLE: Readonly<Record<JmpOp, true>> = {
  jeq: true,
  jgt: true,
  jge: true,
  jset: true,
  jne: true,
  jsgt: true,
  jsge: true,
  jlt: true,
  jle: true,
  jslt: true,
  jsle: true,
};

/** Every conditional jump comparison (for generators and dispatch tables). */
export const JMP_OP_LIST: readonly JmpOp[] = Object.keys(JMP_OP_TABLE) as JmpOp[];

/** Atomic read-modify-write operations (BPF_ATOMIC mode). `fetch` returns the old value in src. */
export type AtomicOp = 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg';

/**
 * What the immediate of an `ld_imm64` means (the src_reg field):
 * 0 `imm64` plain constant, 1 `map_fd`, 2 `map_value` (fd + value offset), 3 `btf_id`,
 * 4 `func` (slot delta to a subprogram), 5 `map_idx` (index into fd_array), 6 `map_idx_value`.
 */
export type LdImm64Kind =
  | 'imm64'
  | 'map_fd'
  | 'map_value'
  | 'btf_id'
  | 'func'
  | 'map_idx'
  | 'map_idx_value';

/** What a `call` targets (src_reg 0 helper id, 1 bpf-to-bpf slot delta, 2 kfunc BTF id). */
export type CallKind = 'helper' | 'bpf' | 'kfunc';

/** `dst op= src` on 32 or 64 bits (ALU / ALU64 classes). 32-bit results are zero-extended. */
export interface AluInsn {
  readonly kind: 'alu';
  readonly width: Width;
  readonly op: AluOp;
  readonly dst: Reg;
  readonly src: Source;
}

/** `dst = -dst` (BPF_NEG, no source operand). */
export interface NegInsn {
  readonly kind: 'neg';
  readonly width: Width;
  readonly dst: Reg;
}

/**
 * Sign-extending register move (cpu v4): `dst = (s8|s16|s32) src`, encoded as MOV|X with
 * offset 8, 16 or 32. `from: 32` exists only with width 64.
 */
export interface MovsxInsn {
  readonly kind: 'movsx';
  readonly width: Width;
  readonly from: 8 | 16 | 32;
  readonly dst: Reg;
  readonly src: Reg;
}

/**
 * Byte-order conversion of the low `bits` of dst. `le`/`be` are ALU-class BPF_END (to little or big
 * endian, a swap only when the host differs); `bswap` is the cpu v4 unconditional swap (ALU64 class).
 */
export interface EndianInsn {
  readonly kind: 'endian';
  readonly order: 'le' | 'be' | 'bswap';
  readonly bits: 16 | 32 | 64;
  readonly dst: Reg;
}

/** Conditional jump: `if dst op src goto +off` comparing 64 bits (JMP) or 32 bits (JMP32). */
export interface JumpInsn {
  readonly kind: 'jump';
  readonly width: Width;
  readonly op: JmpOp;
  readonly dst: Reg;
  readonly src: Source;
  /** Slots relative to the next instruction, s16. */
  readonly off: number;
}

/** Unconditional jump with a 16-bit offset: `goto +off` (JMP|JA). */
export interface JaInsn {
  readonly kind: 'ja';
  /** Slots relative to the next instruction, s16. */
  readonly off: number;
}

/** Unconditional jump with a 32-bit offset in the immediate: `gotol +imm` (JMP32|JA, cpu v4). */
export interface GotolInsn {
  readonly kind: 'gotol';
  /** Slots relative to the next instruction, s32. */
  readonly imm: number;
}

/** `may_goto +off` (JMP|JCOND, src 0): a bounded-loop escape the verifier counts (kernel 6.9+). */
export interface MayGotoInsn {
  readonly kind: 'may_goto';
  /** Slots relative to the next instruction, s16. */
  readonly off: number;
}

/** Function call: a helper by id, a bpf-to-bpf call by slot delta, or a kfunc by BTF id. */
export interface CallInsn {
  readonly kind: 'call';
  readonly target: CallKind;
  /** Helper id, slot delta (relative to the next slot), or kfunc BTF id. */
  readonly imm: number;
  /** kfunc only: index into fd_array of the module BTF (0 = vmlinux). Zero for the other kinds. */
  readonly off: number;
}

/** Return from the program or subprogram with r0. */
export interface ExitInsn {
  readonly kind: 'exit';
}

/** `dst = *(size *)(src + off)`; `signed` is the cpu v4 sign-extending load (BPF_MEMSX, not for dw). */
export interface LoadInsn {
  readonly kind: 'ldx';
  readonly size: Size;
  readonly signed: boolean;
  readonly dst: Reg;
  readonly src: Reg;
  readonly off: number;
}

/** `*(size *)(dst + off) = imm` (BPF_ST|BPF_MEM). */
export interface StoreImmInsn {
  readonly kind: 'st';
  readonly size: Size;
  readonly dst: Reg;
  readonly off: number;
  readonly imm: number;
}

/** `*(size *)(dst + off) = src` (BPF_STX|BPF_MEM). */
export interface StoreInsn {
  readonly kind: 'stx';
  readonly size: Size;
  readonly dst: Reg;
  readonly src: Reg;
  readonly off: number;
}

/**
 * Atomic read-modify-write on `*(size *)(dst + off)` with src (BPF_STX|BPF_ATOMIC, w or dw).
 * `xchg` and `cmpxchg` always fetch (their `fetch` is true); cmpxchg compares with r0.
 */
export interface AtomicInsn {
  readonly kind: 'atomic';
  readonly size: 'w' | 'dw';
  readonly op: AtomicOp;
  readonly fetch: boolean;
  readonly dst: Reg;
  readonly src: Reg;
  readonly off: number;
}

/** Load-acquire `dst = load_acquire((size *)(src + off))` (BPF_STX|BPF_ATOMIC, imm 0x100; 6.15+). */
export interface LoadAcquireInsn {
  readonly kind: 'load_acquire';
  readonly size: Size;
  readonly dst: Reg;
  readonly src: Reg;
  readonly off: number;
}

/** Store-release `store_release((size *)(dst + off), src)` (BPF_STX|BPF_ATOMIC, imm 0x110; 6.15+). */
export interface StoreReleaseInsn {
  readonly kind: 'store_release';
  readonly size: Size;
  readonly dst: Reg;
  readonly src: Reg;
  readonly off: number;
}

/**
 * The two-slot 64-bit immediate load (BPF_LD|BPF_IMM|BPF_DW). `imm` holds both halves as a signed
 * 64-bit value: low 32 bits from the first slot, high 32 bits from the second (for `map_value` and
 * `map_idx_value` the high half is the value offset; for `map_fd`, `map_idx`, `func` it is zero).
 */
export interface LdImm64Insn {
  readonly kind: 'ld_imm64';
  readonly pseudo: LdImm64Kind;
  readonly dst: Reg;
  readonly imm: bigint;
}

/** Legacy packet access (socket filters): `r0 = ntoh(*(size *)(skb->data + imm))` (BPF_LD|BPF_ABS). */
export interface LdAbsInsn {
  readonly kind: 'ld_abs';
  readonly size: 'b' | 'h' | 'w';
  readonly imm: number;
}

/** Legacy packet access: `r0 = ntoh(*(size *)(skb->data + src + imm))` (BPF_LD|BPF_IND). */
export interface LdIndInsn {
  readonly kind: 'ld_ind';
  readonly size: 'b' | 'h' | 'w';
  readonly src: Reg;
  readonly imm: number;
}

/** One eBPF instruction of any class. `ld_imm64` occupies two slots, every other kind one. */
export type Insn =
  | AluInsn
  | NegInsn
  | MovsxInsn
  | EndianInsn
  | JumpInsn
  | JaInsn
  | GotolInsn
  | MayGotoInsn
  | CallInsn
  | ExitInsn
  | LoadInsn
  | StoreImmInsn
  | StoreInsn
  | AtomicInsn
  | LoadAcquireInsn
  | StoreReleaseInsn
  | LdImm64Insn
  | LdAbsInsn
  | LdIndInsn;

/** The `kind` tags of Insn. */
export type InsnKind = Insn['kind'];

/** Number of 8-byte slots an instruction occupies (2 for ld_imm64, else 1). */
export function slotCount(insn: Insn): 1 | 2 {
  return insn.kind === 'ld_imm64' ? 2 : 1;
}

/** Byte width of a load/store size. */
export function sizeBytes(size: Size): 1 | 2 | 4 | 8 {
  return size === 'b' ? 1 : size === 'h' ? 2 : size === 'w' ? 4 : 8;
}
