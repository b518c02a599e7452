/**
 * Errors of the instruction layer: an `Insn` that cannot be encoded, and bytes that are not a
 * valid instruction stream. Both name where (instruction index or byte offset) and why.
 */

/** Why an instruction could not be encoded. */
export type InsnEncodeErrorKind =
  /** A number does not fit its field (off s16, imm s32, ld_imm64 s64, ...). */
  | 'out_of_range'
  /** A register is not one of r0-r10. */
  | 'bad_register'
  /** A field holds a value the variant does not have (e.g. size 'q', op 'nand'). */
  | 'unknown_value'
  /** The fields are valid on their own but not together (e.g. bswap is not le/be, movsx from 32 at width 32). */
  | 'bad_combination';

/** An `Insn` that has no encoding; `index` is its position in the instruction list. */
export class InsnEncodeError extends Error {
  /** Stable error code for programmatic handling. */
  readonly code = 'INSN_ENCODE' as const;
  /** Index of the instruction in the list given to the encoder. */
  readonly index: number;
  /** The instruction's kind tag (or `unknown`). */
  readonly insnKind: string;
  /** Category of the problem. */
  readonly kind: InsnEncodeErrorKind;
  /** What is wrong, in words. */
  readonly reason: string;

  constructor(index: number, insnKind: string, kind: InsnEncodeErrorKind, reason: string) {
    super(
      `cannot encode instruction ${index} (${insnKind}): ${reason}; fix the instruction before encoding`,
    );
    this.name = 'InsnEncodeError';
    this.index = index;
    this.insnKind = insnKind;
    this.kind = kind;
    this.reason = reason;
  }
}

/** Why bytes are not a valid instruction (the verifier's or RFC 9669's reason). */
export type InsnDecodeErrorKind =
  /** The byte length is not a multiple of 8. */
  | 'misaligned'
  /** An ld_imm64 first slot is the last slot. */
  | 'truncated'
  /** No instruction has this opcode byte. */
  | 'unknown_opcode'
  /** A field the opcode does not use is non-zero. */
  | 'reserved_field'
  /** A register number above r10. */
  | 'bad_register'
  /** The second slot of an ld_imm64 has a non-zero opcode, register or offset. */
  | 'bad_second_slot'
  /** A used field holds a value the opcode does not define (END width, atomic op, pseudo source, ...). */
  | 'bad_operand';

/** Bytes that do not decode to an instruction; `offset` is the byte offset of the bad slot. */
export class InsnDecodeError extends Error {
  /** Stable error code for programmatic handling. */
  readonly code = 'INVALID_INSN' as const;
  /** Byte offset of the offending slot (relative to the start of the decoded range plus `baseOffset`). */
  readonly offset: number;
  /** Category of the problem. */
  readonly kind: InsnDecodeErrorKind;
  /** What is wrong, in words. */
  readonly reason: string;

  constructor(offset: number, kind: InsnDecodeErrorKind, reason: string) {
    super(`invalid instruction at byte 0x${offset.toString(16)}: ${reason}`);
    this.name = 'InsnDecodeError';
    this.offset = offset;
    this.kind = kind;
    this.reason = reason;
  }
}
