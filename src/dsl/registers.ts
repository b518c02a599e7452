/**
 * Registers as typed operands, and the conditions built from them.
 *
 * `r0`–`r10` are the 64-bit registers; `w0`–`w9` are their 32-bit views (LLVM's assembler syntax):
 * an ALU instruction or a comparison takes its width from its destination operand, so
 * `b.add(w2, 1)` is an ALU32 add and `w2.eq(4)` a JMP32 comparison. `r10`, the read-only frame
 * pointer, has its own type, so it cannot be passed where a destination is expected.
 */
import type { JmpOp, Reg, Width } from '../asm/insn.js';

/** Register numbers an instruction may write: every register but the frame pointer r10. */
export type WritableReg = Exclude<Reg, 10>;

/** A register operand: number `n` seen at `width` bits. */
export class Register<N extends Reg = Reg, W extends Width = Width> {
  /** Register number. */
  readonly n: N;
  /** Operand width: 64 for `rN`, 32 for `wN`. */
  readonly width: W;

  /** Use the exported `r0`…`r10` / `w0`…`w9` (or `reg(n)`) instead of constructing registers. */
  constructor(n: N, width: W) {
    this.n = n;
    this.width = width;
  }

  /** `this == x` (JEQ). */
  eq(x: Operand<W>): Comparison {
    return compare(this, 'jeq', x);
  }
  /** `this != x` (JNE). */
  ne(x: Operand<W>): Comparison {
    return compare(this, 'jne', x);
  }
  /** Unsigned `this > x` (JGT). */
  gt(x: Operand<W>): Comparison {
    return compare(this, 'jgt', x);
  }
  /** Unsigned `this >= x` (JGE). */
  ge(x: Operand<W>): Comparison {
    return compare(this, 'jge', x);
  }
  /** Unsigned `this < x` (JLT). */
  lt(x: Operand<W>): Comparison {
    return compare(this, 'jlt', x);
  }
  /** Unsigned `this <= x` (JLE). */
  le(x: Operand<W>): Comparison {
    return compare(this, 'jle', x);
  }
  /** Signed `this > x` (JSGT). */
  sgt(x: Operand<W>): Comparison {
    return compare(this, 'jsgt', x);
  }
  /** Signed `this >= x` (JSGE). */
  sge(x: Operand<W>): Comparison {
    return compare(this, 'jsge', x);
  }
  /** Signed `this < x` (JSLT). */
  slt(x: Operand<W>): Comparison {
    return compare(this, 'jslt', x);
  }
  /** Signed `this <= x` (JSLE). */
  sle(x: Operand<W>): Comparison {
    return compare(this, 'jsle', x);
  }
  /** `(this & x) != 0` (JSET). */
  anyBits(x: Operand<W>): Comparison {
    return compare(this, 'jset', x);
  }

  /** LLVM-style name: `r3` or `w3`. */
  toString(): string {
    return `${this.width === 64 ? 'r' : 'w'}${this.n}`;
  }
}

/** A register of any number seen at width W, or a 32-bit signed immediate. */
export type Operand<W extends Width = Width> = Register<Reg, W> | number;

/** A register an instruction may write (any but r10), at either width. */
export type DstRegister<W extends Width = Width> = Register<WritableReg, W>;

/** r0: return value of helpers and of the program. */
export const r0 = new Register(0, 64);
/** r1: first helper argument; holds the context pointer at program entry. */
export const r1 = new Register(1, 64);
/** r2: second helper argument. */
export const r2 = new Register(2, 64);
/** r3: third helper argument. */
export const r3 = new Register(3, 64);
/** r4: fourth helper argument. */
export const r4 = new Register(4, 64);
/** r5: fifth helper argument. */
export const r5 = new Register(5, 64);
/** r6: callee-saved (survives helper calls). */
export const r6 = new Register(6, 64);
/** r7: callee-saved (survives helper calls). */
export const r7 = new Register(7, 64);
/** r8: callee-saved (survives helper calls). */
export const r8 = new Register(8, 64);
/** r9: callee-saved (survives helper calls). */
export const r9 = new Register(9, 64);
/** r10: the read-only frame pointer; the 512-byte stack lies below it. */
export const r10 = new Register(10, 64);
/** 32-bit view of r0. */
export const w0 = new Register(0, 32);
/** 32-bit view of r1. */
export const w1 = new Register(1, 32);
/** 32-bit view of r2. */
export const w2 = new Register(2, 32);
/** 32-bit view of r3. */
export const w3 = new Register(3, 32);
/** 32-bit view of r4. */
export const w4 = new Register(4, 32);
/** 32-bit view of r5. */
export const w5 = new Register(5, 32);
/** 32-bit view of r6. */
export const w6 = new Register(6, 32);
/** 32-bit view of r7. */
export const w7 = new Register(7, 32);
/** 32-bit view of r8. */
export const w8 = new Register(8, 32);
/** 32-bit view of r9. */
export const w9 = new Register(9, 32);

/** The 64-bit register numbered `n` (for generated code; prefer the named constants). */
export function reg<N extends Reg>(n: N): Register<N, 64> {
  return new Register(n, 64);
}

/** A single comparison, lowered to one conditional jump. */
export interface Comparison {
  readonly kind: 'cmp';
  readonly op: JmpOp;
  readonly width: Width;
  readonly dst: Register;
  readonly src: Operand;
}

/**
 * A condition for `b.if`, `b.jumpIf`: a comparison, or `all`/`any`/`not` of conditions. Compound
 * conditions lower to short-circuit jump chains, as clang would emit them.
 */
export type Condition =
  | Comparison
  | { readonly kind: 'all'; readonly of: readonly Condition[] }
  | { readonly kind: 'any'; readonly of: readonly Condition[] }
  | { readonly kind: 'not'; readonly of: Condition };

function compare(dst: Register, op: JmpOp, src: Operand): Comparison {
  return { kind: 'cmp', op, width: dst.width, dst, src };
}

/** True when every condition holds (short-circuit AND). */
export function all(...of: Condition[]): Condition {
  return { kind: 'all', of };
}

/** True when at least one condition holds (short-circuit OR). */
export function any(...of: Condition[]): Condition {
  return { kind: 'any', of };
}

/** The negation of a condition. */
export function not(of: Condition): Condition {
  return { kind: 'not', of };
}

/** The jump op testing the opposite of `op`, or null for JSET (which has no negated form). */
export function negateOp(op: JmpOp): JmpOp | null {
  switch (op) {
    case 'jeq':
      return 'jne';
    case 'jne':
      return 'jeq';
    case 'jgt':
      return 'jle';
    case 'jle':
      return 'jgt';
    case 'jge':
      return 'jlt';
    case 'jlt':
      return 'jge';
    case 'jsgt':
      return 'jsle';
    case 'jsle':
      return 'jsgt';
    case 'jsge':
      return 'jslt';
    case 'jslt':
      return 'jsge';
    case 'jset':
      return null;
  }
}
