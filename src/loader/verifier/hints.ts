/**
 * Classification of verifier errors into the common mistakes, each explained with what the
 * verifier saw (from the register and stack state at the failing instruction) and a hint in plain
 * words that says what to change. Messages are matched as the kernel prints them
 * (kernel/bpf/verifier.c on 6.18, with the spellings of older kernels where they differ).
 */
import { match } from 'ts-pattern';
import { type CtxKind, explainCtxAccess, sizedArticle } from './ctx-fields.js';
import { dslHint } from './dsl-terms.js';
import { type InsnEntry, stateBeforeInsn, type VerifierLog } from './log-parser.js';
import type { RegisterValue, StackSlotEntry, VerifierState } from './register-state.js';

/** The kinds of verifier error tsbpf explains. */
export type VerifierErrorKind =
  /** A pointer that may be NULL (a map lookup result) was dereferenced or passed on unchecked. */
  | 'nullable-pointer'
  /** Stack bytes never written were read (typically a map key passed to a helper). */
  | 'uninitialized-stack'
  /** A register was read before anything was written to it (other than R0 at exit). */
  | 'uninitialized-register'
  /** A context field accessed with the wrong width, at a bad offset, or written while read-only. */
  | 'ctx-access'
  /** A loop the verifier cannot prove ends, or a program with too many paths to walk. */
  | 'too-complex'
  /** R0 not set, or outside the allowed range, when the program exits. */
  | 'return-value'
  /** A helper the program type may not call (or that needs a GPL-compatible license). */
  | 'helper-not-allowed'
  /** A load or store at an address not aligned to its size. */
  | 'misaligned-access'
  /** A stack access outside the 512 bytes below the frame pointer. */
  | 'stack-out-of-bounds'
  /** A number (scalar) used as a pointer. */
  | 'scalar-dereference'
  /** A reference (ring buffer record, socket) still held at exit. */
  | 'unreleased-reference'
  /** Anything else: the error line is shown as the kernel printed it. */
  | 'other';

/** A verifier error explained. */
export interface VerifierDiagnosis {
  readonly kind: VerifierErrorKind;
  /** A few words naming the mistake ("map value used without a NULL check"). */
  readonly title: string;
  /** What the verifier saw, in plain words, with the concrete registers, offsets and fields. */
  readonly explanation: string;
  /** What to do about it, in tsbpf DSL terms where they apply. */
  readonly hint: string;
  /** The kernel's error line the diagnosis is based on. */
  readonly errorLine: string;
  /** The register the error is about (`R0`), when it names one. */
  readonly register?: string;
  /** Another instruction that matters (where a leaked reference was taken, the loop's head). */
  readonly relatedInsn?: { readonly index: number; readonly role: string };
}

/** What the classifier may know beyond the log. */
export interface DiagnoseOptions {
  /** The program's context layout (from its section name), to name ctx fields. */
  readonly ctxKind?: CtxKind;
}

/** A matched error line with the facts its pattern extracted. */
interface Match {
  readonly kind: VerifierErrorKind;
  readonly line: string;
  readonly groups: readonly string[];
  readonly variant: string;
}

/** Kernel error patterns, most specific first; `variant` tells patterns of one kind apart. */
const PATTERNS: readonly {
  kind: VerifierErrorKind;
  variant: string;
  re: RegExp;
  /** Further condition on the captured groups. */
  when?: (groups: readonly string[]) => boolean;
}[] = [
  {
    kind: 'nullable-pointer',
    variant: 'deref',
    re: /^R(\d+) invalid mem access '(\w*_or_null\w*)'/,
  },
  { kind: 'nullable-pointer', variant: 'arg', re: /^R(\d+) type=(\w*_or_null\w*) expected=(.+)$/ },
  { kind: 'scalar-dereference', variant: 'deref', re: /^R(\d+) invalid mem access '(scalar|inv)'/ },
  { kind: 'scalar-dereference', variant: 'arg', re: /^R(\d+) type=(scalar|inv) expected=(.+)$/ },
  {
    kind: 'uninitialized-stack',
    variant: 'helper',
    re: /^invalid (?:indirect )?read from stack R(\d+) off (-?\d+)\+(\d+) size (\d+)/,
  },
  {
    kind: 'uninitialized-stack',
    variant: 'load',
    re: /^invalid (?:indirect )?read from stack off (-?\d+)\+(\d+) size (\d+)/,
  },
  {
    // Without CAP_PERFMON a read may only touch stack written before (`allocated_stack`); a read
    // inside the 512-byte frame that fails the bounds check is a read of never-written stack.
    kind: 'uninitialized-stack',
    variant: 'unallocated',
    re: /^invalid (read from |indirect access to )stack R(\d+) off=(-\d+) size=(\d+)/,
    when: (g) => Number(g[2]) >= -512 && Number(g[2]) + Number(g[3]) <= 0,
  },
  {
    kind: 'stack-out-of-bounds',
    variant: 'fixed',
    re: /^invalid (write to |read from |indirect access to )?stack (?:R(\d+) )?off=(-?\d+) size=(\d+)/,
  },
  {
    kind: 'stack-out-of-bounds',
    variant: 'variable',
    re: /^invalid (?:unbounded )?variable-offset (write to |read from |indirect access to )?stack R(\d+)/,
  },
  {
    kind: 'stack-out-of-bounds',
    variant: 'combined',
    re: /^combined stack size of \d+ calls is (\d+)/,
  },
  {
    kind: 'ctx-access',
    variant: 'fixed',
    re: /^invalid bpf_context access off=(-?\d+) size=(\d+)/,
  },
  { kind: 'ctx-access', variant: 'modified', re: /^dereference of modified ctx ptr R(\d+)/ },
  { kind: 'ctx-access', variant: 'variable', re: /^variable ctx access var_off=/ },
  {
    kind: 'misaligned-access',
    variant: 'any',
    re: /^misaligned (\w+ )?access off (\S+) size (\d+)/,
  },
  { kind: 'return-value', variant: 'unset', re: /^R0 !read_ok/ },
  {
    kind: 'return-value',
    variant: 'range',
    re: /^At (?:program|subprogram|async callback|callback) (?:exit|return) the register (R\d+) (?:has|is) (.*?) should have been in (.*)$/,
  },
  { kind: 'uninitialized-register', variant: 'read', re: /^R(\d+) !read_ok/ },
  {
    kind: 'too-complex',
    variant: 'too-large',
    re: /^BPF program is too large\. Processed (\d+) insn/,
  },
  { kind: 'too-complex', variant: 'infinite', re: /^infinite loop detected at insn (\d+)/ },
  { kind: 'too-complex', variant: 'back-edge', re: /^back-edge from insn (\d+) to (\d+)/ },
  { kind: 'too-complex', variant: 'jumps', re: /^The sequence of (\d+) jumps is too complex/ },
  { kind: 'too-complex', variant: 'loop', re: /^loop detected at insn (\d+)/ },
  {
    kind: 'helper-not-allowed',
    variant: 'type',
    re: /^program of this type cannot use helper (\w+)#(\d+)/,
  },
  { kind: 'helper-not-allowed', variant: 'unknown', re: /^unknown func (\w+)#(\d+)/ },
  { kind: 'helper-not-allowed', variant: 'invalid', re: /^invalid func (\w+)#(\d+)/ },
  {
    kind: 'helper-not-allowed',
    variant: 'gpl',
    re: /^cannot call GPL-restricted function from non-GPL compatible program/,
  },
  {
    kind: 'unreleased-reference',
    variant: 'leak',
    re: /^Unreleased reference id=(\d+) alloc_insn=(\d+)/,
  },
];

/** Finds the first error line of the log a pattern knows. */
function matchError(lines: readonly string[]): Match | undefined {
  for (const line of lines) {
    for (const p of PATTERNS) {
      const m = p.re.exec(line);
      if (m && (p.when === undefined || p.when(m.slice(1).map((g) => g ?? ''))))
        return { kind: p.kind, variant: p.variant, line, groups: m.slice(1).map((g) => g ?? '') };
    }
  }
  return undefined;
}

/** A register's value in a state, by name (`R0`). */
function registerIn(state: VerifierState | undefined, name: string): RegisterValue | undefined {
  return state?.registers.find((r) => r.name === name)?.value;
}

/** Offsets (fp-relative) of bytes in [from, from+size) that the state shows as never written. */
function unwrittenBytes(state: VerifierState | undefined, from: number, size: number): number[] {
  const unwritten: number[] = [];
  for (let off = from; off < from + size; off++) {
    const slotOffset = Math.floor(off / 8) * 8;
    const slot: StackSlotEntry | undefined = state?.stack.find((s) => s.offset === slotOffset);
    if (slot === undefined) {
      unwritten.push(off);
      continue;
    }
    // Slot bytes print highest address first: character j is the byte at slotOffset + 7 - j; a
    // partial spill prints the leading bytes (`????`) and then the value, which fills the rest.
    const j = 7 - (off - slotOffset);
    const bytes = slot.bytes ?? '';
    if (j < bytes.length ? bytes[j] === '?' : slot.spilled === undefined) unwritten.push(off);
  }
  return unwritten;
}

/** `[-8, -7, -6, -5]` → `fp-8..fp-5`. */
function byteRanges(offsets: readonly number[]): string {
  const parts: string[] = [];
  let start = offsets[0];
  let prev = start;
  for (const off of [...offsets.slice(1), undefined]) {
    if (off !== undefined && prev !== undefined && off === prev + 1) {
      prev = off;
      continue;
    }
    if (start !== undefined && prev !== undefined) {
      parts.push(start === prev ? `fp${start}` : `fp${start}..fp${prev}`);
    }
    start = off;
    prev = off;
  }
  return parts.join(', ');
}

/** `map_value_or_null(id=1,map=counts,…)` → "a lookup in map `counts`" when the map is named. */
function describeNullable(value: RegisterValue | undefined, type: string): string {
  if (type.startsWith('map_value')) {
    const map = value?.fields.map;
    return map ? `the result of a lookup in map \`${map}\`` : 'the result of a map lookup';
  }
  return `a pointer of type ${type}`;
}

function isStore(insn: InsnEntry | undefined): boolean {
  // Stores are printed `*(u32 *)(r1 +24) = r2`; loads `r1 = *(u32 *)(r1 +24)`.
  return insn !== undefined && /^\*\(/.test(insn.text);
}

/** The release helpers for a reference taken by `helper`. */
function releaseFor(helper: string | undefined): string {
  if (helper === undefined) return 'the matching release helper';
  if (/ringbuf_reserve/.test(helper)) return 'bpf_ringbuf_submit or bpf_ringbuf_discard';
  if (/sk_lookup|skc_lookup|sk_fullsock|get_listener_sock/.test(helper)) return 'bpf_sk_release';
  return 'the matching release helper';
}

/**
 * Classifies the error of a parsed log. Returns a diagnosis of kind `other` (with the kernel's own
 * line) when no pattern knows the error, and undefined when the log shows no error at all.
 */
export function diagnoseVerifierLog(
  log: VerifierLog,
  options: DiagnoseOptions = {},
): VerifierDiagnosis | undefined {
  const lines =
    log.errorLines.length > 0 ? log.errorLines : log.report ? [log.report.headline] : [];
  if (lines.length === 0) return undefined;
  const found = matchError(lines);
  const insn = log.failingInsn;
  const state = insn === undefined ? undefined : stateBeforeInsn(log, insn);
  if (found === undefined) {
    const first = lines[0] ?? '';
    return {
      kind: 'other',
      title: 'rejected by the verifier',
      explanation: log.report?.reason ?? first,
      hint:
        log.report?.suggestion ??
        'read the error line with the register states of the failing instruction below; the whole log is in err.log',
      errorLine: first,
    };
  }
  const g = (i: number) => found.groups[i] ?? '';
  const base = { kind: found.kind, errorLine: found.line };
  const hint = dslHint(found.kind, found.variant);

  return match(found.kind)
    .with('nullable-pointer', (): VerifierDiagnosis => {
      const reg = `R${g(0)}`;
      const value = registerIn(state, reg);
      const what = describeNullable(value, g(1));
      const use =
        found.variant === 'arg' ? `passes it to a helper expecting ${g(2)}` : 'reads through it';
      return {
        ...base,
        register: reg,
        title: g(1).startsWith('map_value')
          ? 'map value used without a NULL check'
          : 'pointer used without a NULL check',
        explanation: `${reg} holds ${what}, which is NULL when there is nothing to return; the program ${use} before checking it against 0`,
        hint,
      };
    })
    .with('scalar-dereference', (): VerifierDiagnosis => {
      const reg = `R${g(0)}`;
      const value = registerIn(state, reg);
      const shown = value === undefined ? '' : ` (${reg}=${value.text})`;
      return {
        ...base,
        register: reg,
        title: 'a number used as a pointer',
        explanation: `${reg} holds a plain number${shown}, not a pointer the verifier can check, and the program ${found.variant === 'arg' ? `passes it where a helper expects ${g(2)}` : 'dereferences it'}`,
        hint,
      };
    })
    .with('uninitialized-stack', (): VerifierDiagnosis => {
      if (found.variant === 'unallocated') {
        const viaHelper = g(0).startsWith('indirect');
        return {
          ...base,
          register: `R${g(1)}`,
          title: viaHelper
            ? 'uninitialised stack memory passed to a helper'
            : 'uninitialised stack read',
          explanation: `${sizedArticle(Number(g(3)))}-byte ${viaHelper ? 'helper access' : 'read'} at fp${g(2)} (through R${g(1)}) touches stack that nothing on this path wrote (privileged loaders with CAP_PERFMON may read such bytes; this one may not)`,
          hint,
        };
      }
      const helper = found.variant === 'helper';
      const reg = helper ? `R${g(0)}` : undefined;
      const start = Number(helper ? g(1) : g(0)) + Number(helper ? g(2) : g(1));
      const size = Number(helper ? g(3) : g(2));
      const missing = unwrittenBytes(state, start, size);
      const which = missing.length > 0 ? byteRanges(missing) : `fp${start}..fp${start + size - 1}`;
      const callee = helper && insn !== undefined ? /call (\w+)/.exec(insn.text)?.[1] : undefined;
      return {
        ...base,
        ...(reg === undefined ? {} : { register: reg }),
        title: helper
          ? 'uninitialised stack memory passed to a helper'
          : 'uninitialised stack read',
        explanation: `${helper ? `${reg} points at ${size} stack bytes at fp${start}${callee ? ` passed to ${callee}` : ''}` : `${sizedArticle(size)}-byte load from fp${start}`}, but ${which} ${missing.length === 1 ? 'was' : 'were'} never written (privileged loaders with CAP_PERFMON may read such bytes; this one may not)`,
        hint,
      };
    })
    .with(
      'uninitialized-register',
      (): VerifierDiagnosis => ({
        ...base,
        register: `R${g(0)}`,
        title: 'register read before it was written',
        explanation: `R${g(0)} is read but holds nothing on this path${Number(g(0)) >= 1 && Number(g(0)) <= 5 ? '; R1–R5 are cleared by every helper call' : ''}`,
        hint,
      }),
    )
    .with('ctx-access', (): VerifierDiagnosis => {
      if (found.variant !== 'fixed') {
        return {
          ...base,
          title: 'invalid context access',
          explanation:
            found.variant === 'modified'
              ? `R${g(0)} is the context pointer moved by arithmetic; the verifier only allows ctx + constant offset in the load itself`
              : 'the context is accessed at an offset only known at run time',
          hint,
        };
      }
      const offset = Number(g(0));
      const size = Number(g(1));
      const write = isStore(insn);
      const known =
        options.ctxKind === undefined
          ? undefined
          : explainCtxAccess(options.ctxKind, offset, size, write);
      const title = match(known?.problem)
        .with('read-only', () => 'write to a read-only context field')
        .with('width', () => 'context field accessed with the wrong width')
        .with('offset', 'beyond-end', () => 'context access at an invalid offset')
        .with(undefined, () => 'invalid context access')
        .exhaustive();
      return {
        ...base,
        title,
        explanation:
          known?.text ??
          `${sizedArticle(size)}-byte ${write ? 'write' : 'read'} at context offset ${offset} is not allowed for this program type`,
        hint: dslHint('ctx-access', known?.problem ?? 'fixed', known?.field?.name),
      };
    })
    .with('too-complex', (): VerifierDiagnosis => {
      const explanation = match(found.variant)
        .with(
          'too-large',
          () =>
            `the verifier walked ${g(0)} instructions (each path separately, each loop iteration again) and stopped at its limit of 1,000,000`,
        )
        .with(
          'infinite',
          () =>
            `the loop through insn ${g(0)} comes back to the same state, so the verifier cannot see it ever end`,
        )
        .with(
          'back-edge',
          () =>
            `a jump back from insn ${g(0)} to insn ${g(1)}: loops are refused by this kernel or for this loader's privileges`,
        )
        .with(
          'jumps',
          () => `${g(0)} conditional jumps are pending on one path; the verifier gives up at 8192`,
        )
        .otherwise(() => `a loop at insn ${g(0)}`);
      const related =
        found.variant === 'infinite' || found.variant === 'loop'
          ? { relatedInsn: { index: Number(g(0)), role: 'loop head' } }
          : found.variant === 'back-edge'
            ? { relatedInsn: { index: Number(g(1)), role: 'loop head' } }
            : {};
      return {
        ...base,
        ...related,
        title:
          found.variant === 'too-large' || found.variant === 'jumps'
            ? 'program too complex for the verifier'
            : 'loop the verifier cannot bound',
        explanation,
        hint,
      };
    })
    .with('return-value', (): VerifierDiagnosis => {
      if (found.variant === 'unset') {
        const atExit = insn?.text === 'exit';
        return {
          ...base,
          register: 'R0',
          title: atExit ? 'program exits without setting R0' : 'R0 read before it was written',
          explanation: atExit
            ? 'R0 is the return value, and on this path nothing was written to it before exit'
            : 'R0 is read but holds nothing on this path',
          hint,
        };
      }
      return {
        ...base,
        register: g(0),
        title: 'return value out of range',
        explanation: `at exit ${g(0)} has ${g(1)}, but this program type must return a value in ${g(2)}`,
        hint,
      };
    })
    .with('helper-not-allowed', (): VerifierDiagnosis => {
      const name = g(0);
      const explanation = match(found.variant)
        .with(
          'gpl',
          () => 'the program calls a GPL-only helper but its license is not GPL-compatible',
        )
        .with(
          'invalid',
          () =>
            `the call is to ${name}#${g(1)}, which is no helper this kernel has (libbpf poisons unresolved calls this way)`,
        )
        .with(
          'unknown',
          () => `${name}#${g(1)} is unknown to this kernel or not offered to this program type`,
        )
        .otherwise(
          () =>
            `${name} (helper #${g(1)}) is not offered to this program type${options.ctxKind ? ` (${options.ctxKind})` : ''}`,
        );
      return {
        ...base,
        title:
          found.variant === 'gpl'
            ? 'GPL-only helper in a non-GPL program'
            : 'helper not allowed for this program type',
        explanation,
        hint,
      };
    })
    .with('misaligned-access', (): VerifierDiagnosis => {
      const region = g(0).trim() || 'memory';
      // `off` prints var_off + reg->off + insn off, e.g. "0+-13+0" → fp-13 for the stack.
      const parts = g(1).split('+').map(Number);
      const address = parts.every((n) => Number.isFinite(n))
        ? parts.reduce((a, b) => a + b, 0)
        : undefined;
      const where =
        region === 'stack' && address !== undefined ? ` at fp${address}` : ` at offset ${g(1)}`;
      return {
        ...base,
        title: 'misaligned access',
        explanation: `${sizedArticle(Number(g(2)))}-byte ${region} access${where} is not aligned to ${g(2)} bytes${region === 'stack' ? '; stack accesses must be aligned to their size on every architecture' : ''}`,
        hint,
      };
    })
    .with('stack-out-of-bounds', (): VerifierDiagnosis => {
      const explanation = match(found.variant)
        .with('fixed', () => {
          const reg = g(1) === '' ? 'the pointer' : `R${g(1)}`;
          return `${reg} points at fp${Number(g(2)) >= 0 ? '+' : ''}${g(2)} for ${g(3)} bytes, outside the stack frame (the 512 bytes fp-512..fp-1 below r10)`;
        })
        .with(
          'combined',
          () => `the stacks of the calling chain add up to ${g(0)} bytes, over the 512-byte limit`,
        )
        .otherwise(
          () =>
            `R${g(1)} points into the stack at an offset known only at run time, and some of its values fall outside the frame`,
        );
      return {
        ...base,
        ...(found.variant === 'fixed' && g(1) !== '' ? { register: `R${g(1)}` } : {}),
        title: 'stack access out of bounds',
        explanation,
        hint,
      };
    })
    .with('unreleased-reference', (): VerifierDiagnosis => {
      const alloc = Number(g(1));
      const taken = log.instructions.find((i) => i.index === alloc);
      const helper = taken === undefined ? undefined : /call (\w+)/.exec(taken.text)?.[1];
      return {
        ...base,
        title: 'reference not released before exit',
        relatedInsn: {
          index: alloc,
          role: `reference ${g(0)} acquired${helper ? ` by ${helper}` : ''}`,
        },
        explanation: `the reference (id ${g(0)}) taken at insn ${alloc}${helper ? ` (${helper})` : ''} is still held when the program exits; every path must release it with ${releaseFor(helper)}`,
        hint,
      };
    })
    .with(
      'other',
      (): VerifierDiagnosis => ({
        ...base,
        title: 'rejected by the verifier',
        explanation: found.line,
        hint,
      }),
    )
    .exhaustive();
}
