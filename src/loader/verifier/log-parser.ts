/**
 * A parser for the kernel verifier's log (BPF_PROG_LOAD with log_level 1, 2 and the stats bit 4),
 * as printed by kernel/bpf/verifier.c and kernel/bpf/log.c. Line shapes (6.18 spelling; older
 * spellings of the same lines are accepted too):
 *
 * ```
 * func#0 @0                                         subprogram 0 starts at insn 0 (level 2)
 * Live regs before insn:                            liveness table (level 2, 6.15+):
 *       0: .1........ (61) r1 = *(u32 *)(r1 +0)       insn 0 reads r1
 * 0: R1=ctx() R10=fp0                               state on entry to insn 0
 * ; __u32 key = skops->op; @ null_deref.c:15        source line from line_info (file:line on 6.x)
 * 0: (61) r1 = *(u32 *)(r1 +0)          ; R1=scalar(…)   insn, opcode, text, registers it touched
 * 2: (15) if r1 == 0x2 goto pc+1 4: R0=2 R1=2       level 1: a jump followed by the state at its target
 * from 2 to 4: R0=2 R1=2 R10=fp0                    level 2: a branch popped from the stack
 * mark_precise: frame0: regs=r0 stack= before 3: …  precision tracking (level 2)
 * R0 invalid mem access 'map_value_or_null'         the error: the lines after the last insn
 * verification time 76 usec                         stats (bit 4)
 * stack depth 8+0                                   per subprogram
 * processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
 * ```
 *
 * The parser never throws: a line it does not recognise becomes a note, and the error is what the
 * verifier printed after it stopped walking instructions. A log whose head was cut off (a rotating
 * buffer keeps the tail) still yields the error lines and the stats.
 */

import {
  looksLikeState,
  parseVerifierState,
  type RegisterEntry,
  type StackSlotEntry,
  type VerifierState,
} from './register-state.js';
import { isReportHeadline, parseVerifierReport, type VerifierReport } from './report.js';

/** An instruction the verifier walked: `7: (79) r1 = *(u64 *)(r0 +0) ; R0=…`. */
export interface InsnEntry {
  readonly kind: 'insn';
  /** 0-based line number in the log. */
  readonly line: number;
  /** Instruction index (of the original program, the same numbering as line_info). */
  readonly index: number;
  /** The opcode byte printed in parentheses. */
  readonly opcode: number;
  /** The instruction as the kernel disassembles it (`r1 = *(u64 *)(r0 +0)`). */
  readonly text: string;
  /** The registers and stack slots the instruction touched, after it ran (`; R1=…`). */
  readonly state?: VerifierState;
}

/** A full state on entry to an instruction (`0: R1=ctx() R10=fp0`). */
export interface StateEntry {
  readonly kind: 'state';
  readonly line: number;
  readonly index: number;
  readonly state: VerifierState;
}

/** A source line from line_info (`; text @ file:line`; older kernels print `; text` only). */
export interface SourceEntry {
  readonly kind: 'source';
  readonly line: number;
  readonly text: string;
  readonly file?: string;
  readonly sourceLine?: number;
}

/** A branch the verifier comes back to (`from 2 to 4: R0=2 …`). */
export interface BranchEntry {
  readonly kind: 'branch';
  readonly line: number;
  readonly from: number;
  readonly to: number;
  /** True for `(speculative execution)` paths. */
  readonly speculative: boolean;
  readonly state: VerifierState;
}

/** A subprogram boundary (`func#1 @17`). */
export interface FuncEntry {
  readonly kind: 'func';
  readonly line: number;
  readonly func: number;
  readonly start: number;
}

/** A row of the `Live regs before insn:` table (`  0: .1........ (61) r1 = …`). */
export interface LiveRegsEntry {
  readonly kind: 'live';
  readonly line: number;
  readonly index: number;
  /** One character per register r0–r9: the digit when live, `.` otherwise. */
  readonly live: string;
  readonly text: string;
}

/**
 * What a note is about: `precision` (mark_precise backtracking), `liveness` (stack liveness
 * updates), `call` (caller/callee frames), `loop` (SCC markers, loop states), `header`
 * (table headings), `fragment` (a cut-off first line), `other` (anything else).
 */
export type NoteCategory =
  | 'precision'
  | 'liveness'
  | 'call'
  | 'loop'
  | 'header'
  | 'fragment'
  | 'other';

/** A line that is neither an instruction, a state, a source line nor the error. */
export interface NoteEntry {
  readonly kind: 'note';
  readonly line: number;
  readonly category: NoteCategory;
  readonly text: string;
}

/** A line of the error the verifier stopped with. */
export interface ErrorEntry {
  readonly kind: 'error';
  readonly line: number;
  readonly text: string;
}

/** A statistics line (`processed …`, `verification time …`, `stack depth …`). */
export interface StatsEntry {
  readonly kind: 'stats';
  readonly line: number;
  readonly text: string;
}

/** A line of the structured failure report (see report.ts). */
export interface ReportEntry {
  readonly kind: 'report';
  readonly line: number;
  readonly text: string;
}

/** One classified line of a verifier log. */
export type VerifierLogEntry =
  | InsnEntry
  | StateEntry
  | SourceEntry
  | BranchEntry
  | FuncEntry
  | LiveRegsEntry
  | NoteEntry
  | ErrorEntry
  | StatsEntry
  | ReportEntry;

/** The verifier's statistics (bit 4 of log_level adds time and stack depth). */
export interface VerifierStats {
  /** Instructions walked, counting each visit (`processed N insns`). */
  readonly processedInsns?: number;
  /** The complexity limit (`(limit 1000000)`). */
  readonly insnLimit?: number;
  readonly maxStatesPerInsn?: number;
  readonly totalStates?: number;
  readonly peakStates?: number;
  readonly markRead?: number;
  /** `verification time N usec`. */
  readonly verificationTimeUsec?: number;
  /** `stack depth 8+0`: bytes of stack per subprogram. */
  readonly stackDepth?: readonly number[];
  /** Every `name N` counter of the `processed` line, including ones newer kernels add. */
  readonly counters: Readonly<Record<string, number>>;
}

/** A parsed verifier log. */
export interface VerifierLog {
  /** Every non-blank line, classified, in log order. */
  readonly entries: readonly VerifierLogEntry[];
  /** The instruction lines, in the order walked (an index repeats when a path is re-walked). */
  readonly instructions: readonly InsnEntry[];
  /** The `; source` lines. */
  readonly sourceLines: readonly SourceEntry[];
  /** The `from X to Y:` branch headers. */
  readonly branches: readonly BranchEntry[];
  /** The error lines, in order (empty when the log shows no error, e.g. a program that passed). */
  readonly errorLines: readonly string[];
  /** The instruction the verifier stopped at: the last one walked before the error. */
  readonly failingInsn?: InsnEntry;
  /** The structured report of newer kernels, when printed. */
  readonly report?: VerifierReport;
  readonly stats: VerifierStats;
}

/** Options of `parseVerifierLog`. */
export interface ParseVerifierLogOptions {
  /**
   * The log's head is missing (a rotating log buffer kept only the tail): the first line is
   * treated as a cut-off fragment, never as part of the error.
   */
  readonly headTruncated?: boolean;
}

const INSN = /^(\d+): \(([0-9a-f]{2})\) (.*)$/s;
const STATE = /^(\d+): (.*)$/s;
const INLINE_TARGET =
  /^(.*?) (\d+): ((?:frame\d+: ?)?(?:R\d+(?:_[a-zA-Z]+)?|fp-\d+(?:_[a-zA-Z]+)?)=.*)$/s;
const SOURCE_WITH_FILE = /^; (.*) @ (\S+):(\d+)$/s;
const BRANCH = /^from (\d+) to (\d+)( \(speculative execution\))?: ?(.*)$/s;
const FUNC = /^func#(\d+) @(\d+)$/;
const LIVE = /^\s+(?:\d+\s+)?(\d+): ([.0-9]{2,}) \(([0-9a-f]{2})\) (.*)$/s;
const PROCESSED = /^processed (\d+) insns \(limit (\d+)\)(.*)$/s;
const VERIFICATION_TIME = /^verification time (\d+) usec$/;
const STACK_DEPTH = /^stack depth (\d+(?:\+\d+)*)$/;

/** Which kind of note a line is, or undefined when it may be part of the error. */
function noteCategory(text: string): NoteCategory | undefined {
  if (
    /^mark_precise: |^\s*(?:last_idx \d|regs=|parent (?:didn't|already)|propagating |backtrack)/.test(
      text,
    )
  ) {
    return 'precision';
  }
  if (/^\(\d+\) (?:frame \d+ insn \d+|live stack update)/.test(text)) return 'liveness';
  if (
    /^(?:caller|callee|returning from callee):$|^to caller at \d+:$|^\s+(?:frame\d+: ?)?R\d+/.test(
      text,
    )
  ) {
    return 'call';
  }
  if (/^SCC (?:enter|exit)\b|^(?:cur|old) state: /.test(text)) return 'loop';
  if (/^Live regs before insn:$/.test(text)) return 'header';
  return undefined;
}

/** Splits `r1 = 2                ; R1=2` into the instruction text and its state text. */
function splitInsnText(rest: string): { text: string; state?: string } {
  const cut = rest.search(/\s+; /);
  if (cut < 0) return { text: rest.trimEnd() };
  const stateText = rest.slice(rest.indexOf('; ', cut) + 2).trim();
  return { text: rest.slice(0, cut).trimEnd(), state: stateText };
}

/** Adds the `processed …`, `verification time …` or `stack depth …` facts of one line. */
function readStatsLine(text: string, stats: MutableStats): boolean {
  // Kernels before 5.2 print "processed N insns (limit L), stack depth D" on one line.
  const parts = text.split(', ');
  let matched = false;
  for (const part of parts) {
    const processed = PROCESSED.exec(part);
    if (processed?.[1] !== undefined && processed[2] !== undefined) {
      stats.processedInsns = Number(processed[1]);
      stats.insnLimit = Number(processed[2]);
      for (const m of (processed[3] ?? '').matchAll(/([a-z_]+) (\d+)/g)) {
        if (m[1] !== undefined && m[2] !== undefined) stats.counters[m[1]] = Number(m[2]);
      }
      matched = true;
      continue;
    }
    const time = VERIFICATION_TIME.exec(part);
    if (time?.[1] !== undefined) {
      stats.verificationTimeUsec = Number(time[1]);
      matched = true;
      continue;
    }
    const depth = STACK_DEPTH.exec(part);
    if (depth?.[1] !== undefined) {
      stats.stackDepth = depth[1].split('+').map(Number);
      matched = true;
    }
  }
  return matched;
}

interface MutableStats {
  processedInsns?: number;
  insnLimit?: number;
  verificationTimeUsec?: number;
  stackDepth?: number[];
  counters: Record<string, number>;
}

function finishStats(stats: MutableStats): VerifierStats {
  const c = stats.counters;
  const pick = (name: string) => (c[name] === undefined ? {} : { [name]: c[name] });
  const named = {
    ...pick('max_states_per_insn'),
    ...pick('total_states'),
    ...pick('peak_states'),
    ...pick('mark_read'),
  } as Record<string, number>;
  return {
    ...(stats.processedInsns === undefined ? {} : { processedInsns: stats.processedInsns }),
    ...(stats.insnLimit === undefined ? {} : { insnLimit: stats.insnLimit }),
    ...(named.max_states_per_insn === undefined
      ? {}
      : { maxStatesPerInsn: named.max_states_per_insn }),
    ...(named.total_states === undefined ? {} : { totalStates: named.total_states }),
    ...(named.peak_states === undefined ? {} : { peakStates: named.peak_states }),
    ...(named.mark_read === undefined ? {} : { markRead: named.mark_read }),
    ...(stats.verificationTimeUsec === undefined
      ? {}
      : { verificationTimeUsec: stats.verificationTimeUsec }),
    ...(stats.stackDepth === undefined ? {} : { stackDepth: stats.stackDepth }),
    counters: { ...c },
  };
}

/** Classifies one line that is not a statistics or report line. */
function classifyLine(text: string, line: number): VerifierLogEntry[] {
  const insn = INSN.exec(text);
  if (insn?.[1] !== undefined && insn[2] !== undefined && insn[3] !== undefined) {
    const index = Number(insn[1]);
    const opcode = Number.parseInt(insn[2], 16);
    const { text: body, state } = splitInsnText(insn[3]);
    // Level 1 prints the state at a jump's target on the jump's own line: "… goto pc+1 4: R0=2".
    const inline = state === undefined ? INLINE_TARGET.exec(body) : null;
    if (inline?.[1] !== undefined && inline[2] !== undefined && inline[3] !== undefined) {
      return [
        { kind: 'insn', line, index, opcode, text: inline[1].trimEnd() },
        { kind: 'state', line, index: Number(inline[2]), state: parseVerifierState(inline[3]) },
      ];
    }
    const entry: InsnEntry =
      state === undefined
        ? { kind: 'insn', line, index, opcode, text: body }
        : { kind: 'insn', line, index, opcode, text: body, state: parseVerifierState(state) };
    return [entry];
  }
  const state = STATE.exec(text);
  if (state?.[1] !== undefined && state[2] !== undefined && looksLikeState(state[2])) {
    return [{ kind: 'state', line, index: Number(state[1]), state: parseVerifierState(state[2]) }];
  }
  if (text.startsWith(';')) {
    const withFile = SOURCE_WITH_FILE.exec(text);
    if (withFile?.[1] !== undefined && withFile[2] !== undefined && withFile[3] !== undefined) {
      return [
        {
          kind: 'source',
          line,
          text: withFile[1].trim(),
          file: withFile[2],
          sourceLine: Number(withFile[3]),
        },
      ];
    }
    return [{ kind: 'source', line, text: text.slice(1).trim() }];
  }
  const branch = BRANCH.exec(text);
  if (branch?.[1] !== undefined && branch[2] !== undefined) {
    return [
      {
        kind: 'branch',
        line,
        from: Number(branch[1]),
        to: Number(branch[2]),
        speculative: branch[3] !== undefined,
        state: parseVerifierState(branch[4] ?? ''),
      },
    ];
  }
  const func = FUNC.exec(text);
  if (func?.[1] !== undefined && func[2] !== undefined) {
    return [{ kind: 'func', line, func: Number(func[1]), start: Number(func[2]) }];
  }
  const live = LIVE.exec(text);
  if (live?.[1] !== undefined && live[2] !== undefined && live[4] !== undefined) {
    return [{ kind: 'live', line, index: Number(live[1]), live: live[2], text: live[4].trimEnd() }];
  }
  return [{ kind: 'note', line, category: noteCategory(text) ?? 'other', text }];
}

/** Entry kinds that show the verifier still walking the program (an error comes after them). */
function isProgress(entry: VerifierLogEntry): boolean {
  return (
    entry.kind === 'insn' ||
    entry.kind === 'state' ||
    entry.kind === 'branch' ||
    entry.kind === 'source'
  );
}

/** Parses a verifier log. Never throws, whatever the text. */
export function parseVerifierLog(text: string, options: ParseVerifierLogOptions = {}): VerifierLog {
  // The kernel NUL-terminates the buffer; a caller may pass the whole buffer.
  const nul = text.indexOf('\0');
  const body = nul < 0 ? text : text.slice(0, nul);
  const lines = body.split('\n').map((l) => l.replace(/\r$/, ''));
  const entries: VerifierLogEntry[] = [];
  const stats: MutableStats = { counters: {} };
  let report: VerifierReport | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const trimmed = raw.trimEnd();
    if (trimmed.trim() === '') continue;
    if (i === 0 && options.headTruncated) {
      entries.push({ kind: 'note', line: i, category: 'fragment', text: trimmed });
      continue;
    }
    if (readStatsLine(trimmed, stats)) {
      entries.push({ kind: 'stats', line: i, text: trimmed });
      continue;
    }
    if (isReportHeadline(trimmed)) {
      const parsed = parseVerifierReport(lines, i);
      report ??= parsed.report;
      for (let j = i; j < parsed.end; j++) {
        const reportLine = (lines[j] ?? '').trimEnd();
        if (reportLine.trim() !== '') entries.push({ kind: 'report', line: j, text: reportLine });
      }
      i = parsed.end - 1;
      continue;
    }
    entries.push(...classifyLine(trimmed, i));
  }

  // The error: the unclassified lines after the last sign of progress through the program.
  let lastProgress = -1;
  entries.forEach((e, i) => {
    if (isProgress(e)) lastProgress = i;
  });
  const errorLines: string[] = [];
  for (let i = lastProgress + 1; i < entries.length; i++) {
    const e = entries[i];
    if (e?.kind === 'note' && e.category === 'other') {
      entries[i] = { kind: 'error', line: e.line, text: e.text };
      errorLines.push(e.text);
    }
  }
  const instructions = entries.filter((e): e is InsnEntry => e.kind === 'insn');
  const firstError = entries.findIndex((e) => e.kind === 'error' || e.kind === 'report');
  const failingInsn = lastInsnBefore(entries, firstError < 0 ? entries.length : firstError);
  const hasError = errorLines.length > 0 || report !== undefined;
  return {
    entries,
    instructions,
    sourceLines: entries.filter((e): e is SourceEntry => e.kind === 'source'),
    branches: entries.filter((e): e is BranchEntry => e.kind === 'branch'),
    errorLines,
    ...(hasError && failingInsn !== undefined ? { failingInsn } : {}),
    ...(report === undefined ? {} : { report }),
    stats: finishStats(stats),
  };
}

function lastInsnBefore(entries: readonly VerifierLogEntry[], end: number): InsnEntry | undefined {
  for (let i = end - 1; i >= 0; i--) {
    const e = entries[i];
    if (e?.kind === 'insn') return e;
  }
  return undefined;
}

/**
 * The `; source` line the log shows for instruction `index`: the kernel prints a line_info record
 * before the first instruction it covers, so this is the source printed right before an
 * instruction `index`, or else before the nearest lower instruction (the record that covers it).
 * Used when the program's own line_info is not at hand.
 */
export function sourceForInsn(log: VerifierLog, index: number): SourceEntry | undefined {
  let best: { index: number; source: SourceEntry } | undefined;
  let pending: SourceEntry | undefined;
  for (const e of log.entries) {
    if (e.kind === 'source') pending = e;
    else if (e.kind === 'insn') {
      if (
        pending !== undefined &&
        e.index <= index &&
        (best === undefined || e.index >= best.index)
      ) {
        best = { index: e.index, source: pending };
      }
      pending = undefined;
    } else if (e.kind !== 'note' && e.kind !== 'state') pending = undefined;
  }
  return best?.source;
}

/**
 * The register and stack state the verifier had when it reached `entry` (an instruction line).
 * The kernel prints mostly deltas (the registers an instruction touched), so the state is
 * replayed from where the current path starts: a `from X to Y:` header (level 2), a state line
 * that does not follow the instruction before it (level 1 prints one after popping a branch), or
 * the top of the log. Registers the log never mentioned on the path are absent.
 */
export function stateBeforeInsn(log: VerifierLog, entry: InsnEntry): VerifierState | undefined {
  const at = log.entries.indexOf(entry);
  if (at < 0) return undefined;
  const frames = new Map<
    number,
    { regs: Map<string, RegisterEntry>; stack: Map<number, StackSlotEntry> }
  >();
  let refs: readonly number[] = [];
  let frame = 0;
  let seen = false;
  let previous: VerifierLogEntry | undefined;
  let previousInsn: InsnEntry | undefined;
  const apply = (state: VerifierState) => {
    let f = frames.get(state.frame);
    if (f === undefined) {
      f = { regs: new Map(), stack: new Map() };
      frames.set(state.frame, f);
    }
    for (const r of state.registers) f.regs.set(r.name, r);
    for (const s of state.stack) f.stack.set(s.offset, s);
    if (state.refs.length > 0) refs = state.refs;
    frame = state.frame;
    seen = true;
  };
  for (let i = 0; i < at; i++) {
    const e = log.entries[i];
    if (e === undefined) continue;
    if (e.kind === 'branch') {
      frames.clear();
      refs = [];
      apply(e.state);
    } else if (e.kind === 'state') {
      const repeatsBranch = previous?.kind === 'branch' && previous.to === e.index;
      const follows = previousInsn === undefined || previousInsn.index + 1 === e.index;
      if (!repeatsBranch && !follows) {
        frames.clear();
        refs = [];
      }
      apply(e.state);
    } else if (e.kind === 'insn') {
      // A call (opcode 0x85) clobbers the argument registers R1–R5 of the calling frame.
      if (e.opcode === 0x85) {
        for (let r = 1; r <= 5; r++) frames.get(frame)?.regs.delete(`R${r}`);
      }
      if (e.state !== undefined) apply(e.state);
      previousInsn = e;
    }
    if (e.kind !== 'note') previous = e;
  }
  if (!seen) return undefined;
  const current = frames.get(frame);
  return {
    frame,
    registers: [...(current?.regs.values() ?? [])].sort((a, b) => a.regno - b.regno),
    stack: [...(current?.stack.values() ?? [])].sort((a, b) => b.offset - a.offset),
    refs,
    other: [],
  };
}
