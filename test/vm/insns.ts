/**
 * Terse Insn constructors for the interpreter's tests (plain object literals of the Insn model, so
 * the tests depend on nothing but src/asm/insn.ts).
 */
import type { AluOp, Insn, JmpOp, Reg, Size, Width } from '../../src/asm/insn.js';

/** `dst op= imm` on `width` bits. */
export const aluImm = (op: AluOp, width: Width, dst: Reg, imm: number): Insn => ({
  kind: 'alu',
  op,
  width,
  dst,
  src: { imm },
});

/** `dst op= src` on `width` bits. */
export const aluReg = (op: AluOp, width: Width, dst: Reg, src: Reg): Insn => ({
  kind: 'alu',
  op,
  width,
  dst,
  src: { reg: src },
});

/** `dst = imm` (64-bit, sign-extended). */
export const mov = (dst: Reg, imm: number): Insn => aluImm('mov', 64, dst, imm);

/** `dst = src` (64-bit). */
export const movReg = (dst: Reg, src: Reg): Insn => aluReg('mov', 64, dst, src);

/** `dst = imm64` (two slots). */
export const ld64 = (dst: Reg, imm: bigint): Insn => ({
  kind: 'ld_imm64',
  pseudo: 'imm64',
  dst,
  imm: BigInt.asIntN(64, imm),
});

/** `if dst op imm goto +off`. */
export const jmpImm = (op: JmpOp, width: Width, dst: Reg, imm: number, off: number): Insn => ({
  kind: 'jump',
  op,
  width,
  dst,
  src: { imm },
  off,
});

/** `if dst op src goto +off`. */
export const jmpReg = (op: JmpOp, width: Width, dst: Reg, src: Reg, off: number): Insn => ({
  kind: 'jump',
  op,
  width,
  dst,
  src: { reg: src },
  off,
});

/** `dst = *(size *)(src + off)`. */
export const ldx = (size: Size, dst: Reg, src: Reg, off: number, signed = false): Insn => ({
  kind: 'ldx',
  size,
  signed,
  dst,
  src,
  off,
});

/** `*(size *)(dst + off) = src`. */
export const stx = (size: Size, dst: Reg, off: number, src: Reg): Insn => ({
  kind: 'stx',
  size,
  dst,
  src,
  off,
});

/** `*(size *)(dst + off) = imm`. */
export const st = (size: Size, dst: Reg, off: number, imm: number): Insn => ({
  kind: 'st',
  size,
  dst,
  off,
  imm,
});

/** `call helper#id`. */
export const call = (id: number): Insn => ({ kind: 'call', target: 'helper', imm: id, off: 0 });

/** `exit`. */
export const exit: Insn = { kind: 'exit' };
