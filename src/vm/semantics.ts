/**
 * The arithmetic of eBPF as pure functions on BigInt register values, exactly as the kernel defines
 * it on a little-endian 64-bit host (kernel/bpf/core.c interpreter plus the verifier's runtime
 * patches in do_misc_fixups):
 *
 * - Registers are unsigned 64-bit values (`0n <= v < 2n ** 64n`).
 * - ALU32 operates on the low 32 bits and zero-extends the result into the upper half.
 * - Immediates are s32: sign-extended to 64 bits for ALU64/JMP, taken as their 32-bit pattern
 *   for ALU32/JMP32.
 * - Shift amounts are masked by the operand width (`& 31`, `& 63`), as both the interpreter and the
 *   x86-64 JIT do for register shifts (the verifier rejects out-of-range immediate shifts).
 * - Division by a zero register gives 0; modulo by a zero register leaves dst (zero-extended for
 *   ALU32). Signed division overflow (MIN / -1) gives MIN, signed modulo by -1 gives 0.
 */
import { match } from 'ts-pattern';
import { ALU_OP_LIST, type AluOp, JMP_OP_LIST, type JmpOp, type Width } from '../asm/insn.js';

const MASK32 = 0xffff_ffffn;

/** A value reduced to an unsigned 64-bit register value. */
export function toU64(value: bigint): bigint {
  return BigInt.asUintN(64, value);
}

/** The low `width` bits of a register as an unsigned value. */
export function lowBits(value: bigint, width: Width): bigint {
  return width === 64 ? BigInt.asUintN(64, value) : value & MASK32;
}

/** The low `width` bits of a register read as a two's-complement signed value. */
export function signedBits(value: bigint, width: Width): bigint {
  return BigInt.asIntN(width, value);
}

/**
 * The register value an s32 immediate stands for as a second operand: sign-extended to 64 bits for
 * width 64, its 32-bit pattern for width 32. Accepts the immediate as signed or unsigned 32-bit.
 */
export function immOperand(imm: number, width: Width): bigint {
  const s32 = BigInt(imm | 0);
  return width === 64 ? BigInt.asUintN(64, s32) : BigInt.asUintN(32, s32);
}

/** An ALU operation specialised to one width: `(dst, src) => result`, both u64 register values. */
export type AluFn = (dst: bigint, src: bigint) => bigint;

/** Builds the function computing `op` on `width` bits (done once per op and width). */
function makeAluFn(op: AluOp, width: Width): AluFn {
  const low = width === 64 ? (v: bigint) => BigInt.asUintN(64, v) : (v: bigint) => v & MASK32;
  const wrap = (v: bigint): bigint => BigInt.asUintN(width, v);
  const signed = (v: bigint): bigint => BigInt.asIntN(width, v);
  const shiftMask = width === 64 ? 63n : 31n;
  return (
    match(op)
      .with('add', (): AluFn => (a, b) => wrap(a + b))
      .with('sub', (): AluFn => (a, b) => wrap(a - b))
      .with('mul', (): AluFn => (a, b) => wrap(low(a) * low(b)))
      .with('div', (): AluFn => (a, b) => (low(b) === 0n ? 0n : low(a) / low(b)))
      .with('mod', (): AluFn => (a, b) => (low(b) === 0n ? low(a) : low(a) % low(b)))
      // BigInt division truncates towards zero, as C does; MIN / -1 wraps back to MIN.
      .with('sdiv', (): AluFn => (a, b) => (low(b) === 0n ? 0n : wrap(signed(a) / signed(b))))
      // BigInt remainder takes the sign of the dividend, as C does; x % -1 is 0.
      .with('smod', (): AluFn => (a, b) => (low(b) === 0n ? low(a) : wrap(signed(a) % signed(b))))
      .with('or', (): AluFn => (a, b) => low(a | b))
      .with('and', (): AluFn => (a, b) => low(a & b))
      .with('xor', (): AluFn => (a, b) => low(a ^ b))
      .with('lsh', (): AluFn => (a, b) => wrap(low(a) << (b & shiftMask)))
      .with('rsh', (): AluFn => (a, b) => low(a) >> (b & shiftMask))
      .with('arsh', (): AluFn => (a, b) => wrap(signed(a) >> (b & shiftMask)))
      .with('mov', (): AluFn => (_a, b) => low(b))
      .exhaustive()
  );
}

const ALU_FNS = new Map<string, AluFn>(
  ALU_OP_LIST.flatMap((op) => ([32, 64] as const).map((w) => [`${op}${w}`, makeAluFn(op, w)])),
);

/** The function computing `op` on `width` bits (shared, precomputed). */
export function aluFn(op: AluOp, width: Width): AluFn {
  const fn = ALU_FNS.get(`${op}${width}`);
  if (!fn) throw new TypeError(`unknown ALU op ${op}/${width}`);
  return fn;
}

/**
 * `dst op src` for a binary ALU operation (`mov` returns the source). Both operands are register
 * values; only their low `width` bits take part. The result is a u64 register value (ALU32 results
 * are zero-extended).
 */
export function aluResult(op: AluOp, width: Width, dst: bigint, src: bigint): bigint {
  return aluFn(op, width)(dst, src);
}

/** `-dst` on `width` bits, zero-extended. */
export function negResult(width: Width, dst: bigint): bigint {
  return BigInt.asUintN(width, -lowBits(dst, width));
}

/**
 * Sign-extending move: the low `from` bits of src sign-extended to `width` bits (then
 * zero-extended to 64 for width 32).
 */
export function movsxResult(width: Width, from: 8 | 16 | 32, src: bigint): bigint {
  return BigInt.asUintN(width, BigInt.asIntN(from, src));
}

/** Reverses the byte order of the low `bits` of a value (the upper bits are dropped). */
export function byteSwap(value: bigint, bits: 16 | 32 | 64): bigint {
  let out = 0n;
  let v = BigInt.asUintN(bits, value);
  for (let i = 0; i < bits / 8; i++) {
    out = (out << 8n) | (v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * Byte-order conversion on a little-endian host: `le` only truncates to `bits` (no swap needed),
 * `be` and `bswap` swap the low `bits`; every form zero-extends the result.
 */
export function endianResult(
  order: 'le' | 'be' | 'bswap',
  bits: 16 | 32 | 64,
  dst: bigint,
): bigint {
  return order === 'le' ? BigInt.asUintN(bits, dst) : byteSwap(dst, bits);
}

/** A jump comparison specialised to one width: `(dst, src) => taken`. */
export type JumpFn = (dst: bigint, src: bigint) => boolean;

/** Builds the predicate of `op` on `width` bits (done once per op and width). */
function makeJumpFn(op: JmpOp, width: Width): JumpFn {
  const low = width === 64 ? (v: bigint) => BigInt.asUintN(64, v) : (v: bigint) => v & MASK32;
  const signed = (v: bigint): bigint => BigInt.asIntN(width, v);
  return match(op)
    .with('jeq', (): JumpFn => (a, b) => low(a) === low(b))
    .with('jne', (): JumpFn => (a, b) => low(a) !== low(b))
    .with('jgt', (): JumpFn => (a, b) => low(a) > low(b))
    .with('jge', (): JumpFn => (a, b) => low(a) >= low(b))
    .with('jlt', (): JumpFn => (a, b) => low(a) < low(b))
    .with('jle', (): JumpFn => (a, b) => low(a) <= low(b))
    .with('jset', (): JumpFn => (a, b) => low(a & b) !== 0n)
    .with('jsgt', (): JumpFn => (a, b) => signed(a) > signed(b))
    .with('jsge', (): JumpFn => (a, b) => signed(a) >= signed(b))
    .with('jslt', (): JumpFn => (a, b) => signed(a) < signed(b))
    .with('jsle', (): JumpFn => (a, b) => signed(a) <= signed(b))
    .exhaustive();
}

const JUMP_FNS = new Map<string, JumpFn>(
  JMP_OP_LIST.flatMap((op) => ([32, 64] as const).map((w) => [`${op}${w}`, makeJumpFn(op, w)])),
);

/** The predicate of a conditional jump `op` on `width` bits (shared, precomputed). */
export function jumpFn(op: JmpOp, width: Width): JumpFn {
  const fn = JUMP_FNS.get(`${op}${width}`);
  if (!fn) throw new TypeError(`unknown jump op ${op}/${width}`);
  return fn;
}

/** Whether a conditional jump `if dst op src` is taken, comparing the low `width` bits. */
export function jumpTaken(op: JmpOp, width: Width, dst: bigint, src: bigint): boolean {
  return jumpFn(op, width)(dst, src);
}
