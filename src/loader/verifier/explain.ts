/**
 * A rejected program explained in one look: where in the source it failed (file:line:col from the
 * program's own line_info, so it works for DSL objects and clang -g objects alike), a code frame,
 * the failing instruction with the registers the verifier saw, and a plain-words hint.
 *
 * ```
 * error: program count_ops rejected: map value used without a NULL check
 *   --> null_deref.c:18:9
 *    |
 * 16 |   __u64 *value = bpf_map_lookup_elem(&counts, &key);
 * …
 *  = verifier: R0 invalid mem access 'map_value_or_null'
 *  = insn 7: r1 = *(u64 *)(r0 +0)     R0=map_value_or_null(id=1,map=counts,ks=4,vs=8)
 *  = why: …
 *  = hint: …
 * ```
 */
import { type CtxKind, ctxKindOfSection } from './ctx-fields.js';
import { diagnoseVerifierLog, type VerifierDiagnosis } from './hints.js';
import {
  type InsnEntry,
  parseVerifierLog,
  sourceForInsn,
  stateBeforeInsn,
  type VerifierLog,
  type VerifierStats,
} from './log-parser.js';
import type { RegisterEntry, StackSlotEntry, VerifierState } from './register-state.js';
import {
  formatCodeFrame,
  type LineInfoRecord,
  locateInsn,
  readSourceLines,
  type SourceLocation,
  type SourceSearch,
} from './source-map.js';

/** Logs longer than this are explained from their tail (see ExplainOptions.maxLogChars). */
export const DEFAULT_MAX_LOG_CHARS = 1 << 20;

/** BPF_PROG_TYPE numbers whose context layout is known (sock_ops 13, sk_msg 16). */
const CTX_KIND_OF_PROG_TYPE: Readonly<Record<number, CtxKind>> = { 13: 'sock_ops', 16: 'sk_msg' };

/** What `explainVerifierLog` may know besides the log. */
export interface ExplainOptions extends SourceSearch {
  /** The program's line_info in slot numbering (the loader's LoadedLineInfo). */
  readonly lineInfo?: readonly LineInfoRecord[];
  /** The program's name, for the headline. */
  readonly programName?: string;
  /** The errno name of the failed load (`EACCES`), for the headline. */
  readonly errno?: string;
  /** The ELF section or BPF_PROG_TYPE number, to name context fields. */
  readonly section?: string;
  readonly progType?: number;
  /** The log's head is missing (rotating buffer); see parseVerifierLog. */
  readonly headTruncated?: boolean;
  /**
   * Logs longer than this many characters are explained from their tail only (default 1 MiB):
   * the error, the failing instruction and the stats are at the end, and a complexity failure can
   * log 100 MB that would take a minute to parse. The whole log stays in `err.log`.
   */
  readonly maxLogChars?: number;
  /** Lines of source shown above and below the failing line (default 2). */
  readonly context?: number;
}

/** Where an instruction came from, with the code frame when the source could be shown. */
export interface LocatedInsn {
  readonly index: number;
  readonly location?: SourceLocation;
  /** The resolved source file path, when the file itself was read. */
  readonly path?: string;
  readonly codeFrame?: string;
}

/** A rejected program explained. */
export interface VerifierExplanation {
  readonly programName?: string;
  readonly errno?: string;
  /** The parsed log (`log.errorLines`, `log.stats`, every entry). */
  readonly log: VerifierLog;
  /** The mistake, explained, with a hint; undefined when the log shows no error. */
  readonly diagnosis?: VerifierDiagnosis;
  /** The instruction the verifier stopped at, as it printed it. */
  readonly failingInsn?: InsnEntry;
  /** Where the failing instruction came from. */
  readonly at?: LocatedInsn;
  /** Another instruction that matters (reference acquisition, loop head), located. */
  readonly related?: LocatedInsn & { readonly role: string };
  /** The verifier's state at the failing instruction. */
  readonly state?: VerifierState;
  /** The registers the failing instruction uses (and the one the error names), from `state`. */
  readonly registers: readonly RegisterEntry[];
  /** Stack slots that matter for the error (the failing access touches the stack). */
  readonly stackSlots: readonly StackSlotEntry[];
  /** One line: `file:line:col: <error> — <title>: <hint>`. */
  readonly summary: string;
  /** The whole annotated explanation, several lines. */
  readonly text: string;
  /** `text` without its first (headline) line, for callers that write their own headline. */
  readonly body: string;
}

/** Registers named in an instruction's text (`r1`, `w2` → R1, R2), in order of appearance. */
function registersOfInsn(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/\b[rw](\d+)\b/g)) {
    const name = `R${m[1]}`;
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** The registers worth showing for the failing instruction. */
function relevantRegisters(
  insn: InsnEntry | undefined,
  state: VerifierState | undefined,
  diagnosis: VerifierDiagnosis | undefined,
): RegisterEntry[] {
  if (state === undefined) return [];
  const names = insn === undefined ? [] : registersOfInsn(insn.text);
  // A helper call reads its arguments from R1–R5.
  if (insn !== undefined && /^call /.test(insn.text)) names.push('R1', 'R2', 'R3', 'R4', 'R5');
  if (insn?.text === 'exit') names.push('R0');
  if (diagnosis?.register !== undefined) names.push(diagnosis.register);
  return state.registers.filter((r) => names.includes(r.name));
}

/** Stack slots worth showing: those a stack pointer among the shown registers points into. */
function relevantStack(
  state: VerifierState | undefined,
  registers: readonly RegisterEntry[],
): StackSlotEntry[] {
  if (state === undefined) return [];
  const pointed = registers
    .map((r) => r.value.stackOffset)
    .filter((o): o is number => o !== undefined && o < 0)
    .map((o) => Math.floor(o / 8) * 8);
  return state.stack.filter((s) => pointed.includes(s.offset));
}

function locate(index: number, options: ExplainOptions, log: VerifierLog): LocatedInsn {
  const fromLineInfo =
    options.lineInfo === undefined ? undefined : locateInsn(options.lineInfo, index);
  // Without line_info, fall back to the `; source @ file:line` the kernel printed (no column).
  const fromLog = fromLineInfo === undefined ? sourceForInsn(log, index) : undefined;
  const location: SourceLocation | undefined =
    fromLineInfo ??
    (fromLog?.file !== undefined && fromLog.sourceLine !== undefined
      ? { file: fromLog.file, line: fromLog.sourceLine, column: 0, text: fromLog.text }
      : undefined);
  if (location === undefined) return { index };
  const source = readSourceLines(location.file, location, options);
  const frameOptions = options.context === undefined ? {} : { context: options.context };
  return {
    index,
    location,
    ...(source === undefined ? {} : { path: source.path }),
    codeFrame: formatCodeFrame(location, source?.lines, frameOptions),
  };
}

function where(location: SourceLocation | undefined): string {
  if (location === undefined) return '';
  return `${location.file}:${location.line}${location.column > 0 ? `:${location.column}` : ''}`;
}

/** `processed 7 insns (limit 1000000), 0 states (peak 0), 101 usec, stack 8` */
export function formatStats(stats: VerifierStats): string {
  const parts: string[] = [];
  if (stats.processedInsns !== undefined) {
    parts.push(
      `processed ${stats.processedInsns} insns${stats.insnLimit === undefined ? '' : ` (limit ${stats.insnLimit})`}`,
    );
  }
  if (stats.totalStates !== undefined) {
    parts.push(
      `${stats.totalStates} states${stats.peakStates === undefined ? '' : ` (peak ${stats.peakStates})`}`,
    );
  }
  if (stats.verificationTimeUsec !== undefined) parts.push(`${stats.verificationTimeUsec} usec`);
  if (stats.stackDepth !== undefined) parts.push(`stack ${stats.stackDepth.join('+')} bytes`);
  return parts.join(', ');
}

/** Explains a verifier log (text or parsed) with whatever else is known about the program. */
export function explainVerifierLog(
  logText: string | VerifierLog,
  options: ExplainOptions = {},
): VerifierExplanation {
  const maxChars = options.maxLogChars ?? DEFAULT_MAX_LOG_CHARS;
  const skipped = typeof logText === 'string' ? Math.max(0, logText.length - maxChars) : 0;
  const log =
    typeof logText === 'string'
      ? parseVerifierLog(
          skipped > 0 ? logText.slice(skipped) : logText,
          options.headTruncated || skipped > 0 ? { headTruncated: true } : {},
        )
      : logText;
  const ctxKind =
    (options.section === undefined ? undefined : ctxKindOfSection(options.section)) ??
    (options.progType === undefined ? undefined : CTX_KIND_OF_PROG_TYPE[options.progType]);
  const diagnosis = diagnoseVerifierLog(log, ctxKind === undefined ? {} : { ctxKind });
  const failingInsn = log.failingInsn;
  const reportInsn = log.report?.insn;
  const atIndex = failingInsn?.index ?? reportInsn;
  const at = atIndex === undefined ? undefined : locate(atIndex, options, log);
  const related =
    diagnosis?.relatedInsn === undefined
      ? undefined
      : { ...locate(diagnosis.relatedInsn.index, options, log), role: diagnosis.relatedInsn.role };
  const state = failingInsn === undefined ? undefined : stateBeforeInsn(log, failingInsn);
  const registers = relevantRegisters(failingInsn, state, diagnosis);
  const stackSlots = relevantStack(state, registers);

  const errorText = log.errorLines[0] ?? log.report?.headline ?? '(no error in the log)';
  const loc = where(at?.location);
  const summary =
    diagnosis === undefined
      ? `${loc === '' ? '' : `${loc}: `}${errorText}`
      : `${loc === '' ? '' : `${loc}: `}${errorText} — ${diagnosis.title}: ${diagnosis.hint}`;

  const out: string[] = [];
  const who = options.programName === undefined ? 'program' : `program ${options.programName}`;
  const errno = options.errno === undefined ? '' : ` (${options.errno})`;
  out.push(`error: ${who} rejected by the verifier${errno}: ${diagnosis?.title ?? errorText}`);
  if (at?.location !== undefined) out.push(`  --> ${where(at.location)}`);
  if (at?.codeFrame !== undefined) out.push(indent(at.codeFrame, '  '));
  for (const line of log.errorLines) out.push(`  = verifier: ${line}`);
  if (failingInsn !== undefined) {
    out.push(`  = insn ${failingInsn.index}: ${failingInsn.text}`);
    for (const r of registers) out.push(`      ${r.name}=${r.value.text}`);
    for (const s of stackSlots) out.push(`      fp${s.offset}=${s.text}`);
  }
  if (diagnosis !== undefined) {
    out.push(`  = why: ${diagnosis.explanation}`);
    out.push(`  = hint: ${diagnosis.hint}`);
  }
  if (log.report?.reason !== undefined && diagnosis?.kind !== 'other') {
    out.push(`  = kernel says: ${log.report.reason}`);
  }
  if (related !== undefined) {
    const rel = where(related.location);
    out.push(`  = note: ${related.role} at insn ${related.index}${rel === '' ? '' : ` (${rel})`}`);
    if (related.codeFrame !== undefined) out.push(indent(related.codeFrame, '    '));
  }
  const stats = formatStats(log.stats);
  if (stats !== '') out.push(`  = stats: ${stats}`);
  if (skipped > 0) {
    out.push(
      `  = log: ${typeof logText === 'string' ? logText.length : 0} characters; explained from its last ${maxChars}`,
    );
  }

  return {
    log,
    registers,
    stackSlots,
    summary,
    text: out.join('\n'),
    body: out.slice(1).join('\n'),
    ...(options.programName === undefined ? {} : { programName: options.programName }),
    ...(options.errno === undefined ? {} : { errno: options.errno }),
    ...(diagnosis === undefined ? {} : { diagnosis }),
    ...(failingInsn === undefined ? {} : { failingInsn }),
    ...(at === undefined ? {} : { at }),
    ...(related === undefined ? {} : { related }),
    ...(state === undefined ? {} : { state }),
  };
}

function indent(text: string, by: string): string {
  return text
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');
}

/** The parts of the loader's VerifierError this module reads (structural, to keep imports one-way). */
export interface VerifierErrorLike {
  readonly log: string;
  readonly progName?: string;
  readonly errno?: string;
  readonly lineInfo?: readonly LineInfoRecord[] | undefined;
  readonly progType?: number | undefined;
  readonly section?: string | undefined;
}

/** Explains a loader VerifierError: its log, program name, errno and line_info. */
export function explainVerifierError(
  err: VerifierErrorLike,
  options: Omit<ExplainOptions, 'lineInfo' | 'programName' | 'errno'> = {},
): VerifierExplanation {
  return explainVerifierLog(err.log, {
    ...(err.progType === undefined ? {} : { progType: err.progType }),
    ...(err.section === undefined ? {} : { section: err.section }),
    ...options,
    ...(err.lineInfo === undefined ? {} : { lineInfo: err.lineInfo }),
    ...(err.progName === undefined ? {} : { programName: err.progName }),
    ...(err.errno === undefined ? {} : { errno: err.errno }),
  });
}
