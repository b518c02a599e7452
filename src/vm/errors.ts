/**
 * The one error class of the interpreter. Every failure of a simulated run (a fault the kernel's
 * verifier would have rejected or that would crash at run time) and every bad input to the
 * simulation's builders is a VmError with a `code`, the instruction it happened at when there is
 * one, and a message that says what happened and what to do about it.
 */
import { match } from 'ts-pattern';

/** What went wrong. */
export type VmErrorCode =
  /** A load, store or helper access beyond the end (or before the start) of a memory region. */
  | 'OUT_OF_BOUNDS'
  /** A memory access through a NULL (or near-NULL) pointer, e.g. an unchecked map lookup result. */
  | 'NULL_DEREF'
  /** A memory access through a value that points into no region (a scalar used as a pointer). */
  | 'INVALID_POINTER'
  /** A context access the kernel rejects: wrong width, misaligned, unknown offset, or a write to a read-only field. */
  | 'CTX_ACCESS'
  /** A write into memory the program may only read (map handles, sockets, read-only values). */
  | 'READ_ONLY'
  /** A read of stack bytes the program never wrote. */
  | 'UNINIT_STACK'
  /** A read of a register that holds no value (never set, or clobbered by a call). */
  | 'UNINIT_REGISTER'
  /** The run executed more instructions than `maxInsns`. */
  | 'INSN_LIMIT'
  /** A call to a helper id the interpreter does not simulate. */
  | 'UNKNOWN_HELPER'
  /** A call to a helper the program type may not use. */
  | 'HELPER_NOT_ALLOWED'
  /** A helper argument the kernel's verifier would reject (wrong map type, bad pointer, size). */
  | 'HELPER_ARGUMENT'
  /** An instruction the kernel refuses to load (write to r10, shift or division by immediate out of range, …). */
  | 'INVALID_INSN'
  /** A jump or call whose target is outside the program or inside an ld_imm64. */
  | 'BAD_JUMP'
  /** bpf-to-bpf calls nested deeper than the kernel's 8 frames. */
  | 'CALL_DEPTH'
  /** A feature the interpreter does not simulate (kfuncs, BTF ids, …). */
  | 'UNSUPPORTED'
  /** Bad input to a builder or map operation from TypeScript (malformed address, wrong key size, …). */
  | 'BAD_INPUT';

/** Where a fault happened: the instruction index (ld_imm64 counts once) and its slot. */
export interface VmLocation {
  readonly insnIndex: number;
  readonly slot: number;
}

function hintFor(code: VmErrorCode): string {
  return match(code)
    .with(
      'OUT_OF_BOUNDS',
      () => 'check the offset and size against the object the pointer refers to',
    )
    .with(
      'NULL_DEREF',
      () => 'test the pointer against 0 (e.g. a map lookup result) before using it',
    )
    .with('INVALID_POINTER', () => 'only dereference r10, the ctx, map values and packet pointers')
    .with(
      'CTX_ACCESS',
      () => 'use the field offset and the load width the kernel allows (see spec §5.5)',
    )
    .with('READ_ONLY', () => 'this memory may only be read')
    .with('UNINIT_STACK', () => 'write (e.g. zero-fill) stack bytes before reading or passing them')
    .with('UNINIT_REGISTER', () => 'set the register first; calls clobber r1-r5')
    .with('INSN_LIMIT', () => 'the program loops or is too long; raise maxInsns if intended')
    .with('UNKNOWN_HELPER', () => 'pass an implementation in `helpers` or avoid this helper')
    .with('HELPER_NOT_ALLOWED', () => 'the kernel refuses this helper for this program type')
    .with('HELPER_ARGUMENT', () => 'pass arguments of the kind the helper expects')
    .with('INVALID_INSN', () => 'the kernel verifier rejects this instruction at load time')
    .with('BAD_JUMP', () => 'jump offsets count slots relative to the next instruction')
    .with('CALL_DEPTH', () => 'the kernel allows at most 8 nested frames')
    .with('UNSUPPORTED', () => 'the interpreter does not simulate this; test it in the kernel')
    .with('BAD_INPUT', () => 'fix the value passed to the simulation')
    .exhaustive();
}

/** A failed simulated run or a bad simulation input, with a code, location and actionable message. */
export class VmError extends Error {
  override readonly name = 'VmError';
  /** What went wrong. */
  readonly code: VmErrorCode;
  /** Instruction index (ld_imm64 counts once) of the faulting instruction, when in a run. */
  readonly insnIndex: number | undefined;
  /** Slot index (8-byte units) of the faulting instruction, when in a run. */
  readonly slot: number | undefined;
  /** The description of the fault without location and hint. */
  readonly detail: string;

  constructor(code: VmErrorCode, what: string, at?: VmLocation) {
    const where = at ? `insn ${at.insnIndex} (slot ${at.slot}): ` : '';
    super(`${where}${what}; ${hintFor(code)}`);
    this.code = code;
    this.detail = what;
    this.insnIndex = at?.insnIndex;
    this.slot = at?.slot;
  }

  /** This error located at an instruction (itself when it already has a location). */
  at(location: VmLocation): VmError {
    return this.insnIndex === undefined ? new VmError(this.code, this.detail, location) : this;
  }
}
