/**
 * Errors of the DSL. Every error names the TypeScript call site (file:line:col) of the DSL call it
 * is about, so a mistake in a program points at the line that made it, not at the DSL internals.
 */
import type { SourceLocation } from './source-location.js';
import { formatLocation } from './source-location.js';

/** What went wrong while declaring or building a program, a map or a struct. */
export type DslErrorCode =
  // declarations
  | 'INVALID_NAME'
  | 'INVALID_STRUCT'
  | 'INVALID_MAP'
  | 'INVALID_OPERAND'
  | 'VALUE_RANGE'
  | 'IMMEDIATE_RANGE'
  | 'UNKNOWN_FIELD'
  | 'READ_ONLY_FIELD'
  | 'HELPER_NOT_ALLOWED'
  | 'STACK_OVERFLOW'
  // assembly
  | 'UNBOUND_LABEL'
  | 'LABEL_REBOUND'
  | 'JUMP_OUT_OF_RANGE'
  | 'JUMP_INTO_LD_IMM64'
  | 'JUMP_OUT_OF_PROGRAM'
  // build-time checks (abstract interpretation)
  | 'UNINIT_REGISTER'
  | 'CLOBBERED_REGISTER'
  | 'NULL_DEREF'
  | 'WRITE_R10'
  | 'STACK_OUT_OF_BOUNDS'
  | 'UNINIT_STACK'
  | 'CTX_ACCESS'
  | 'FALL_OFF_END'
  | 'UNREACHABLE'
  | 'HELPER_ARG'
  | 'RETURN_RANGE'
  | 'BAD_POINTER'
  | 'EMPTY_PROGRAM'
  | 'INSN_NOT_ALLOWED'
  // objects
  | 'DUPLICATE_NAME';

/** One problem found in a program, at the DSL call that caused it. */
export interface Diagnostic {
  readonly code: DslErrorCode;
  /** What happened and what to do, without the location prefix. */
  readonly detail: string;
  /** The DSL call behind it (absent only for whole-program problems with no instruction). */
  readonly location?: SourceLocation;
  /** Index of the offending instruction, when there is one. */
  readonly insn?: number;
}

/** Renders a diagnostic as `file:line:col: detail`. */
export function formatDiagnostic(d: Diagnostic): string {
  return d.location ? `${formatLocation(d.location)}: ${d.detail}` : d.detail;
}

/** A mistake in the use of the DSL, reported at the TypeScript call site that made it. */
export class DslError extends Error {
  override readonly name: string = 'DslError';
  /** What went wrong, for programs that react to specific errors. */
  readonly code: DslErrorCode;
  /** The offending DSL call site. */
  readonly location: SourceLocation | undefined;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(code: DslErrorCode, detail: string, location?: SourceLocation) {
    super(location ? `${formatLocation(location)}: ${detail}` : detail);
    this.code = code;
    this.detail = detail;
    this.location = location;
  }
}

/**
 * A program rejected by the build-time checks. `diagnostics` lists every problem found (the
 * message shows them all); `code` and `location` are those of the first.
 */
export class ProgramCheckError extends DslError {
  override readonly name: string = 'ProgramCheckError';
  /** Every problem found, in instruction order. */
  readonly diagnostics: readonly Diagnostic[];
  /** Name of the rejected program. */
  readonly program: string;

  constructor(program: string, diagnostics: readonly Diagnostic[]) {
    const first = diagnostics[0];
    if (!first) throw new TypeError('ProgramCheckError needs at least one diagnostic');
    super(first.code, first.detail, first.location);
    this.program = program;
    this.diagnostics = diagnostics;
    this.message =
      diagnostics.length === 1
        ? `program ${program}: ${formatDiagnostic(first)}`
        : `program ${program}: ${diagnostics.length} problems:\n${diagnostics.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`;
  }
}
