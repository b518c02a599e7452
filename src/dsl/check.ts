/**
 * Build-time checks: a small abstract interpreter over the program's control-flow graph, run
 * before the kernel sees anything. It tracks what each register holds (uninitialised, clobbered by
 * a call, scalar with an unsigned range, ctx pointer, stack pointer, map, map value or NULL, map
 * value, other kernel pointer) and which stack bytes are initialised, and reports, at the DSL call
 * behind the offending instruction:
 *
 * - reads of uninitialised registers, and of r1–r5 after a call clobbered them;
 * - dereferences of a map value that may be NULL (narrowed by `jeq/jne reg, 0`);
 * - writes to r10; stack accesses outside the 512-byte frame; reads of uninitialised stack bytes,
 *   and helper keys/buffers with uninitialised bytes;
 * - ctx accesses of the wrong width or offset, and stores to read-only ctx fields;
 * - falling off the end without exit, and unreachable instructions (structural, like the kernel's
 *   check_cfg);
 * - helper arguments of the wrong kind, and helpers the program type may not call;
 * - return values outside the range the program type requires (sock_ops: [0, 1]).
 *
 * Like the verifier it prunes branches whose outcome is known from the tracked ranges, and it joins
 * states where paths meet (widening scalar ranges on loops), so it accepts what the kernel accepts
 * for straight-line and structured code. It is a first line of defence with precise locations, not
 * a replacement for the verifier.
 */
import { match } from 'ts-pattern';
import { branchDelta } from '../asm/disasm.js';
import type { Insn, Reg, Size } from '../asm/insn.js';
import { sizeBytes, slotCount } from '../asm/insn.js';
import { type CtxSchema, checkCtxAccess } from './ctx.js';
import type { Diagnostic, DslErrorCode } from './errors.js';
import { type HelperDef, helperById } from './helpers.js';
import type { MapDef } from './maps.js';
import { PROGRAM_TYPES, type ProgramTypeName } from './program-types.js';
import { formatLocation, type SourceLocation } from './source-location.js';

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = (1n << 32n) - 1n;

/** What a register holds at one program point. */
type Val =
  | { readonly k: 'uninit' }
  | { readonly k: 'clobbered'; readonly by: number }
  | { readonly k: 'scalar'; readonly min: bigint; readonly max: bigint }
  | { readonly k: 'ctx'; readonly off: number }
  | { readonly k: 'stack'; readonly off: number | null }
  | { readonly k: 'map'; readonly map: MapDef | null }
  | {
      readonly k: 'value_or_null';
      readonly map: MapDef | null;
      readonly id: number;
      readonly off: number;
    }
  | { readonly k: 'value'; readonly map: MapDef | null; readonly off: number | null }
  | { readonly k: 'other'; readonly what: string }
  | { readonly k: 'mixed' };

const UNINIT: Val = { k: 'uninit' };
const MIXED: Val = { k: 'mixed' };
const ANY: Val = { k: 'scalar', min: 0n, max: U64_MAX };
/** Stands for a register already reported unreadable, so one mistake yields one diagnostic. */
const POISON: Val = { k: 'other', what: 'poison' };
const isPoison = (v: Val) => v.k === 'other' && v.what === 'poison';
// Math.min/max do not take bigints.
const bigMin = (a: bigint, b: bigint): bigint => (a <= b ? a : b);
const bigMax = (a: bigint, b: bigint): bigint => (a >= b ? a : b);
const scalar = (min: bigint, max: bigint): Val => ({ k: 'scalar', min, max });
const constant = (v: bigint): Val => scalar(BigInt.asUintN(64, v), BigInt.asUintN(64, v));

/**
 * 32-bit words of a stack-init bitmap (512 bits). A bitmap, not 512 byte flags: a 64-byte typed
 * array lives on the V8 heap (a 512-byte one gets a malloc'd backing store, and the checker copies
 * and joins these maps at every stack write and every join, so allocation and GC dominated).
 */
const INIT_WORDS = 16;

/** Whether stack byte r10+off (off in [-512, 0)) is marked initialised in `init`. */
function isInitByte(init: Uint32Array, off: number): boolean {
  const bit = 512 + off;
  return (((init[bit >>> 5] as number) >>> (bit & 31)) & 1) === 1;
}

interface State {
  readonly regs: readonly Val[];
  /** Bitmap, one bit per stack byte: bit i set = byte (r10 - 512 + i) initialised. */
  readonly init: Uint32Array;
  /** Pointer values spilled to 8-byte aligned stack slots, by r10-relative offset. */
  readonly spills: ReadonlyMap<number, Val>;
}

/** What the checker needs to know about a program. */
export interface CheckInput {
  readonly name: string;
  readonly type: ProgramTypeName;
  readonly insns: readonly Insn[];
  readonly locs: readonly SourceLocation[];
  /** Map referenced by the ld_imm64 at an instruction index. */
  readonly maps: ReadonlyMap<number, MapDef>;
}

function sameVal(a: Val, b: Val): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'scalar':
      return a.min === (b as typeof a).min && a.max === (b as typeof a).max;
    case 'ctx':
    case 'stack':
      return a.off === (b as typeof a).off;
    case 'map':
      return a.map === (b as typeof a).map;
    case 'value_or_null':
      return (
        a.map === (b as typeof a).map &&
        a.id === (b as typeof a).id &&
        a.off === (b as typeof a).off
      );
    case 'value':
      return a.map === (b as typeof a).map && a.off === (b as typeof a).off;
    case 'clobbered':
      return a.by === (b as typeof a).by;
    case 'other':
      return a.what === (b as typeof a).what;
    default:
      return true;
  }
}

function joinVal(a: Val, b: Val, widen: boolean): Val {
  if (sameVal(a, b)) return a;
  if (a.k === 'uninit' || b.k === 'uninit') return UNINIT;
  if (a.k === 'clobbered') return a;
  if (b.k === 'clobbered') return b;
  if (a.k === 'scalar' && b.k === 'scalar') {
    if (widen) return ANY;
    return scalar(bigMin(a.min, b.min), bigMax(a.max, b.max));
  }
  if (a.k === 'stack' && b.k === 'stack') return { k: 'stack', off: null };
  if (a.k === 'value' && b.k === 'value' && a.map === b.map)
    return { k: 'value', map: a.map, off: null };
  if (
    (a.k === 'value' || a.k === 'value_or_null') &&
    (b.k === 'value' || b.k === 'value_or_null') &&
    a.map === b.map
  ) {
    return { k: 'value_or_null', map: a.map, id: -1, off: 0 };
  }
  return MIXED;
}

/**
 * The join of two states. Parts that the join leaves as they are in `a` are shared with `a`, not
 * copied (states are never mutated): most joins change a register or two, and sharing the
 * stack-init bitmap keeps both the join and the following sameState() cheap.
 */
function joinState(a: State, b: State, widen: boolean): State {
  let regs = a.regs;
  if (regs !== b.regs) {
    for (let r = 0; r < a.regs.length; r++) {
      const v = a.regs[r] as Val;
      const j = joinVal(v, b.regs[r] as Val, widen);
      if (j === v) continue;
      if (regs === a.regs) regs = [...a.regs];
      (regs as Val[])[r] = j;
    }
  }
  let init = a.init;
  if (init !== b.init) {
    for (let w = 0; w < INIT_WORDS; w++) {
      const v = ((a.init[w] as number) & (b.init[w] as number)) >>> 0;
      if (v === a.init[w]) continue;
      if (init === a.init) init = a.init.slice();
      init[w] = v;
    }
  }
  let spills = a.spills;
  if (spills !== b.spills && spills.size > 0) {
    const kept = new Map<number, Val>();
    for (const [off, v] of a.spills) {
      const w = b.spills.get(off);
      if (w && sameVal(v, w)) kept.set(off, v);
    }
    if (kept.size !== a.spills.size) spills = kept;
  }
  return regs === a.regs && init === a.init && spills === a.spills ? a : { regs, init, spills };
}

function sameState(a: State, b: State): boolean {
  if (a === b) return true;
  if (a.regs !== b.regs) {
    for (let r = 0; r < a.regs.length; r++) {
      const v = a.regs[r] as Val;
      const w = b.regs[r] as Val;
      if (v !== w && !sameVal(v, w)) return false;
    }
  }
  if (a.init !== b.init) {
    for (let w = 0; w < INIT_WORDS; w++) if (a.init[w] !== b.init[w]) return false;
  }
  if (a.spills === b.spills) return true;
  if (a.spills.size !== b.spills.size) return false;
  for (const [off, v] of a.spills) {
    const w = b.spills.get(off);
    if (!w || !sameVal(v, w)) return false;
  }
  return true;
}

const describe = (v: Val): string =>
  match(v)
    .with({ k: 'uninit' }, () => 'uninitialised')
    .with({ k: 'clobbered' }, () => 'clobbered by a call')
    .with({ k: 'scalar' }, (s) => (s.min === s.max ? `the scalar ${s.min}` : 'a scalar'))
    .with({ k: 'ctx' }, () => 'the context pointer')
    .with({ k: 'stack' }, () => 'a stack pointer')
    .with({ k: 'map' }, (m) => `map ${m.map?.name ?? '?'}`)
    .with({ k: 'value_or_null' }, () => 'a map value pointer that may be NULL')
    .with({ k: 'value' }, () => 'a map value pointer')
    .with({ k: 'other' }, (o) => `a ${o.what} pointer`)
    .with({ k: 'mixed' }, () => 'different kinds of values on different paths')
    .exhaustive();

function isPointer(v: Val): boolean {
  return v.k !== 'scalar' && v.k !== 'uninit' && v.k !== 'clobbered';
}

/** Truncates a scalar range to the low `bits` (exact for constants). */
function truncate(v: Val, bits: 32 | 64): Val {
  if (bits === 64 || v.k !== 'scalar') return v;
  if (v.min === v.max) return constant(BigInt.asUintN(32, v.min));
  return v.max <= U32_MAX ? v : scalar(0n, U32_MAX);
}

/**
 * `a op b` for constant operands (unsigned `a`, `b`; signed `sa`, `sb`), or null for an operation
 * not folded. A switch, not ts-pattern: called for every constant ALU instruction of every visit.
 */
function constantFold(
  op: string,
  a: bigint,
  b: bigint,
  sa: bigint,
  sb: bigint,
  bits: bigint,
): bigint | null {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return b === 0n ? 0n : a / b;
    case 'sdiv':
      return sb === 0n ? 0n : sa / sb;
    case 'mod':
      return b === 0n ? a : a % b;
    case 'smod':
      return sb === 0n ? sa : sa % sb;
    case 'or':
      return a | b;
    case 'and':
      return a & b;
    case 'xor':
      return a ^ b;
    case 'lsh':
      return a << (b & (bits - 1n));
    case 'rsh':
      return a >> (b & (bits - 1n));
    case 'arsh':
      return sa >> (b & (bits - 1n));
    default:
      return null;
  }
}

/**
 * The abstract interpreter's worklist: instruction indices, each queued at most once, taken
 * lowest first (so straight-line code is visited in order and joins happen before successors run).
 * A binary min-heap: taking the minimum of a Set was a linear scan per visit.
 */
class IndexQueue {
  readonly #heap: number[] = [];
  readonly #queued: Uint8Array;

  constructor(n: number) {
    this.#queued = new Uint8Array(n);
  }

  get size(): number {
    return this.#heap.length;
  }

  add(i: number): void {
    if (this.#queued[i]) return;
    this.#queued[i] = 1;
    const h = this.#heap;
    let k = h.push(i) - 1;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if ((h[parent] as number) <= i) break;
      h[k] = h[parent] as number;
      k = parent;
    }
    h[k] = i;
  }

  /** Removes and returns the smallest queued index (the queue must not be empty). */
  popMin(): number {
    const h = this.#heap;
    const top = h[0] as number;
    const last = h.pop() as number;
    if (h.length > 0) {
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && (h[r] as number) < (h[l] as number) ? r : l;
        if ((h[c] as number) >= last) break;
        h[k] = h[c] as number;
        k = c;
      }
      h[k] = last;
    }
    this.#queued[top] = 0;
    return top;
  }
}

/** Runs the checks; returns every problem found, in instruction order. */
export function checkProgram(input: CheckInput): Diagnostic[] {
  const { insns, locs } = input;
  const n = insns.length;
  const diags = new Map<string, Diagnostic>();
  const report = (i: number, code: DslErrorCode, detail: string) => {
    const key = `${i}:${code}`;
    if (!diags.has(key))
      diags.set(key, { code, detail, insn: i, location: locs[i] as SourceLocation });
  };
  if (n === 0) {
    return [
      {
        code: 'EMPTY_PROGRAM',
        detail: `program ${input.name} has no instructions; end it with b.ret()`,
      },
    ];
  }
  const schema: CtxSchema = PROGRAM_TYPES[input.type].ctx;
  const returnRange = PROGRAM_TYPES[input.type].returnRange;

  // Slot layout and successors.
  const slotOf: number[] = [];
  const indexOfSlot = new Map<number, number>();
  let slot = 0;
  insns.forEach((insn, i) => {
    slotOf.push(slot);
    indexOfSlot.set(slot, i);
    slot += slotCount(insn);
  });
  const targetOf = (i: number): number | undefined => {
    const d = branchDelta(insns[i] as Insn);
    return d === undefined ? undefined : indexOfSlot.get((slotOf[i] as number) + 1 + d);
  };
  const succs = (i: number): number[] => {
    const insn = insns[i] as Insn;
    const t = targetOf(i);
    switch (insn.kind) {
      case 'exit':
        return [];
      case 'ja':
      case 'gotol':
        return t === undefined ? [] : [t];
      case 'jump':
      case 'may_goto':
        return t === undefined ? [i + 1] : [i + 1, t];
      default:
        return [i + 1];
    }
  };

  // Structural pass: jump targets, reachability and falling off the end.
  insns.forEach((insn, i) => {
    const d = branchDelta(insn);
    if (d === undefined) return;
    const target = (slotOf[i] as number) + 1 + d;
    if (target < 0 || target >= slot) {
      report(
        i,
        'JUMP_OUT_OF_PROGRAM',
        `jump offset ${d} lands on slot ${target}, outside the program's ${slot} slots`,
      );
    } else if (!indexOfSlot.has(target)) {
      report(
        i,
        'JUMP_INTO_LD_IMM64',
        `jump offset ${d} lands on slot ${target}, the second half of an ld_imm64`,
      );
    }
  });
  const reachable = new Uint8Array(n);
  const stack = [0];
  reachable[0] = 1;
  while (stack.length > 0) {
    const i = stack.pop() as number;
    for (const s of succs(i)) {
      if (s >= n) {
        report(
          i,
          'FALL_OFF_END',
          'execution falls off the end of the program here: end every path with b.ret() or b.exit()',
        );
        continue;
      }
      if (!reachable[s]) {
        reachable[s] = 1;
        stack.push(s);
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (!reachable[i] && (i === 0 || reachable[i - 1])) {
      report(
        i,
        'UNREACHABLE',
        'this instruction can never run (the kernel rejects unreachable code); remove it or the jump around it',
      );
    }
  }

  // Abstract interpretation.
  const initial: State = {
    regs: [
      UNINIT,
      { k: 'ctx', off: 0 },
      UNINIT,
      UNINIT,
      UNINIT,
      UNINIT,
      UNINIT,
      UNINIT,
      UNINIT,
      UNINIT,
      { k: 'stack', off: 0 },
    ],
    init: new Uint32Array(INIT_WORDS),
    spills: new Map(),
  };
  const states: (State | undefined)[] = new Array(n);
  const visits = new Uint32Array(n);
  states[0] = initial;
  const work = new IndexQueue(n);
  work.add(0);
  const loc = (i: number) => formatLocation(locs[i] as SourceLocation);

  const propagate = (to: number, st: State) => {
    if (to >= n) return;
    const old = states[to];
    if (!old) {
      states[to] = st;
      work.add(to);
      return;
    }
    const joined = joinState(old, st, (visits[to] as number) > 8);
    if (!sameState(joined, old)) {
      states[to] = joined;
      work.add(to);
    }
  };

  // The state of the instruction being visited. The helpers below read and write these; they are
  // defined once, not per visit (closures made per visit were a measurable share of the checker).
  // Copy-on-write: a visit starts with the stored state's own arrays and copies one only before
  // its first write (most instructions write one register and no stack byte); stored states are
  // never mutated. A working array is this visit's copy exactly when it is no longer st's.
  let i = 0;
  let st: State = initial;
  let regs = initial.regs as Val[];
  let init = initial.init;
  let spills = initial.spills as Map<number, Val>;
  let insn = insns[0] as Insn;
  const ownRegs = () => {
    if (regs === st.regs) regs = [...regs];
  };
  const ownInit = () => {
    if (init === st.init) init = init.slice();
  };
  const ownSpills = () => {
    if (spills === st.spills) spills = new Map(spills);
  };

  const read = (r: Reg): Val => {
    const v = regs[r] as Val;
    if (v.k === 'uninit') {
      report(i, 'UNINIT_REGISTER', `r${r} is read before any instruction writes it`);
      return POISON;
    }
    if (v.k === 'clobbered') {
      report(
        i,
        'CLOBBERED_REGISTER',
        `r${r} is read after the helper call at ${loc(v.by)} clobbered it (calls overwrite r1-r5): keep the value in r6-r9 across calls`,
      );
      return POISON;
    }
    return v;
  };
  const write = (r: Reg, v: Val) => {
    if (r === 10) {
      report(
        i,
        'WRITE_R10',
        'r10 is the read-only frame pointer; copy it to another register first (b.mov(r2, r10))',
      );
      return;
    }
    ownRegs();
    regs[r] = v;
  };
  const stackRange = (off: number, size: number, what: string): boolean => {
    if (off < -512 || off + size > 0) {
      report(
        i,
        'STACK_OUT_OF_BOUNDS',
        `${what} at r10${off >= 0 ? '+' : ''}${off} (${size} bytes) is outside the 512-byte stack frame [r10-512, r10)`,
      );
      return false;
    }
    return true;
  };
  const stackInit = (off: number, size: number): boolean => {
    for (let k = off; k < off + size; k++) if (!isInitByte(init, k)) return false;
    return true;
  };
  const markInit = (off: number, size: number) => {
    if (!stackInit(off, size)) {
      ownInit();
      for (let k = off; k < off + size; k++) {
        const bit = 512 + k;
        init[bit >>> 5] = (init[bit >>> 5] as number) | (1 << (bit & 31));
      }
    }
    if (spills.size === 0) return;
    for (const s of [...spills.keys()]) {
      if (s < off + size && s + 8 > off) {
        ownSpills();
        spills.delete(s);
      }
    }
  };

  /** Checks a memory access through `base`; returns the loaded value for loads. */
  const access = (
    baseReg: Reg,
    off: number,
    size: Size,
    kind: 'load' | 'store' | 'store_imm' | 'atomic',
    src?: Val,
  ): Val => {
    const base = read(baseReg);
    const bytes = sizeBytes(size);
    // A switch, not ts-pattern: every load and store of every visit comes here, and match()'s
    // per-call pattern objects were a hot spot of buildSockops(). `never` keeps it exhaustive.
    switch (base.k) {
      case 'ctx': {
        const c = base;
        if (c.off !== 0) {
          report(
            i,
            'CTX_ACCESS',
            `r${baseReg} is the context pointer moved by ${c.off}; the verifier only allows ctx accesses through the unmodified pointer plus a constant offset`,
          );
          return ANY;
        }
        if (kind === 'atomic') {
          report(i, 'CTX_ACCESS', 'atomic operations on the context are rejected');
          return ANY;
        }
        if (kind === 'store_imm') {
          report(
            i,
            'CTX_ACCESS',
            `an immediate store (BPF_ST) into the context is rejected; store a register with b.ctx.store()`,
          );
        }
        const v = checkCtxAccess(schema, off, bytes, kind !== 'load');
        if (!v.ok) {
          report(i, 'CTX_ACCESS', `invalid context access: ${v.reason}`);
          return ANY;
        }
        const fk = v.info.kind ?? 'scalar';
        if (kind !== 'load') return ANY;
        if (fk === 'scalar') return bytes === 8 ? ANY : scalar(0n, (1n << BigInt(bytes * 8)) - 1n);
        return { k: 'other', what: fk } as Val;
      }
      case 'stack': {
        const s = base;
        if (s.off === null) return ANY;
        const at = s.off + off;
        if (!stackRange(at, bytes, kind === 'load' ? 'load' : 'store')) return ANY;
        if (kind === 'load' || kind === 'atomic') {
          if (!stackInit(at, bytes)) {
            report(
              i,
              'UNINIT_STACK',
              `reads stack bytes r10${at}..r10${at + bytes - 1} before they are written`,
            );
          }
          if (kind === 'atomic') return ANY;
          const spilled = bytes === 8 ? spills.get(at) : undefined;
          return spilled ?? (bytes === 8 ? ANY : scalar(0n, (1n << BigInt(bytes * 8)) - 1n));
        }
        markInit(at, bytes);
        if (bytes === 8 && at % 8 === 0 && src && isPointer(src) && !isPoison(src)) {
          ownSpills();
          spills.set(at, src);
        }
        return ANY;
      }
      case 'value_or_null': {
        const v = base;
        report(
          i,
          'NULL_DEREF',
          `r${baseReg} holds the result of a map lookup${v.map ? ` on ${v.map.name}` : ''}, which may be NULL: test it first, e.g. b.if(r${baseReg}.eq(0), () => b.ret(0))`,
        );
        return ANY;
      }
      case 'value': {
        const v = base;
        if (v.map && v.off !== null) {
          const at = v.off + off;
          if (at < 0 || at + bytes > v.map.valueSize) {
            report(
              i,
              'BAD_POINTER',
              `access at offset ${at} (${bytes} bytes) is outside the ${v.map.valueSize}-byte value of map ${v.map.name}`,
            );
          }
        }
        return ANY;
      }
      case 'other':
        return ANY;
      case 'scalar':
      case 'map':
      case 'mixed':
        report(
          i,
          'BAD_POINTER',
          `r${baseReg} is ${describe(base)}, not a pointer that can be dereferenced`,
        );
        return ANY;
      case 'uninit':
      case 'clobbered':
        return ANY;
      default:
        return base satisfies never;
    }
  };

  const checkHelper = (def: HelperDef | undefined, id: number) => {
    if (!def) return;
    if (!(def.progTypes as readonly string[]).includes(input.type)) {
      report(
        i,
        'HELPER_NOT_ALLOWED',
        `${def.name} (#${id}) cannot be called from ${input.type} programs (allowed in: ${def.progTypes.join(', ')})`,
      );
    }
    let mapArg: MapDef | null = null;
    def.args.forEach((a, idx) => {
      const r = (idx + 1) as Reg;
      const v = read(r);
      const bad = (want: string) =>
        isPoison(v) ||
        report(
          i,
          'HELPER_ARG',
          `argument ${idx + 1} (r${r}) of ${def.name} must be ${want}, but r${r} is ${describe(v)}`,
        );
      const memCheck = (size: number | null, needInit: boolean, what: string) => {
        if (v.k === 'stack') {
          if (v.off === null || size === null) return;
          if (!stackRange(v.off, size, `${what} for ${def.name}`)) return;
          if (needInit && !stackInit(v.off, size)) {
            report(
              i,
              'UNINIT_STACK',
              `${what} passed to ${def.name} (r${r}, r10${v.off}, ${size} bytes) includes uninitialised stack bytes, so it holds whatever was on the stack (privileged loads pass the verifier, but lookups then miss); store every byte (padding too) or allocate it with b.stack(layout), which zero-fills`,
            );
          }
          if (!needInit) markInit(v.off, size);
        } else if (v.k === 'value') {
          return;
        } else if (v.k === 'other') {
          return;
        } else {
          bad(`a pointer to ${what} (stack or map value)`);
        }
      };
      // A switch, not ts-pattern: every argument of every helper call of every visit comes here
      // (a measured hot spot of buildSockops()). `never` keeps it exhaustive.
      switch (a.kind) {
        case 'ctx':
          if (v.k !== 'ctx' || v.off !== 0) bad('the context pointer');
          break;
        case 'ctx_or_null':
          if (!(v.k === 'ctx' && v.off === 0) && !(v.k === 'scalar' && v.max === 0n))
            bad('the context pointer or 0');
          break;
        case 'map': {
          const m = a;
          if (v.k !== 'map') {
            bad(`a map (${m.types.join(' or ')})`);
            break;
          }
          mapArg = v.map;
          if (v.map && !m.types.includes(v.map.type)) {
            report(
              i,
              'HELPER_ARG',
              `argument ${idx + 1} of ${def.name} must be a ${m.types.join(' or ')} map, but ${v.map.name} is a ${v.map.type}`,
            );
          }
          break;
        }
        case 'key':
          memCheck((mapArg as MapDef | null)?.keySize ?? null, true, 'the key');
          break;
        case 'value':
          memCheck((mapArg as MapDef | null)?.valueSize ?? null, true, 'the value');
          break;
        case 'scalar':
          if (v.k !== 'scalar') bad('a scalar');
          break;
        case 'mem': {
          const m = a;
          const sizeVal = regs[m.sizeArg + 1] as Val;
          const size =
            sizeVal.k === 'scalar' && sizeVal.min === sizeVal.max ? Number(sizeVal.min) : null;
          memCheck(size, m.init, 'the buffer');
          break;
        }
        default:
          a satisfies never;
      }
    });
  };

  const afterCall = (ret: Val) => {
    ownRegs();
    for (let r = 1; r <= 5; r++) regs[r] = { k: 'clobbered', by: i };
    regs[0] = ret;
  };

  const aluResult = (op: string, width: 32 | 64, dv: Val, sv: Val): Val => {
    if (isPoison(dv) || isPoison(sv)) return ANY;
    if (op === 'mov') return truncate(width === 64 ? sv : sv.k === 'scalar' ? sv : ANY, width);
    if (isPointer(dv) || isPointer(sv)) {
      const ptr = isPointer(dv) ? dv : sv;
      if ((op === 'add' || op === 'sub') && width === 64 && isPointer(dv) && sv.k === 'scalar') {
        const delta = sv.min === sv.max ? Number(BigInt.asIntN(64, sv.min)) : null;
        const sign = op === 'add' ? 1 : -1;
        // Switches, not ts-pattern, here and below: aluResult runs for every ALU instruction of
        // every visit (pointer arithmetic builds every stack key), a measured hot spot.
        switch (dv.k) {
          case 'stack':
            return {
              k: 'stack',
              off: dv.off === null || delta === null ? null : dv.off + sign * delta,
            };
          case 'ctx':
            return { k: 'ctx', off: delta === null ? Number.NaN : dv.off + sign * delta };
          case 'value':
            return {
              k: 'value',
              map: dv.map,
              off: dv.off === null || delta === null ? null : dv.off + sign * delta,
            };
          case 'value_or_null':
            report(
              i,
              'NULL_DEREF',
              'arithmetic on a map value pointer that may be NULL: test it against 0 first',
            );
            return ANY;
          default:
            return dv;
        }
      }
      if (op === 'sub' && isPointer(dv) && isPointer(sv)) return ANY;
      report(
        i,
        'BAD_POINTER',
        `${op}${width === 32 ? '32' : ''} on ${describe(ptr)} is not allowed (only 64-bit add/sub of a scalar to a pointer)`,
      );
      return ANY;
    }
    if (dv.k !== 'scalar' || sv.k !== 'scalar') return ANY;
    const mask = width === 64 ? U64_MAX : U32_MAX;
    const a = dv.min & mask;
    const b = sv.min & mask;
    if (dv.min === dv.max && sv.min === sv.max) {
      const bits = BigInt(width);
      const sa = BigInt.asIntN(width, a);
      const sb = BigInt.asIntN(width, b);
      const r = constantFold(op, a, b, sa, sb, bits);
      if (r !== null) return constant(BigInt.asUintN(width, r));
    }
    const lo = width === 32 ? truncate(dv, 32) : dv;
    if (lo.k !== 'scalar') return ANY;
    const full = scalar(0n, mask);
    switch (op) {
      case 'and':
        return sv.min === sv.max
          ? scalar(0n, bigMin(lo.max, b))
          : scalar(0n, bigMin(lo.max, sv.max & mask));
      case 'rsh':
        return sv.min === sv.max ? scalar(lo.min >> b, lo.max >> b) : full;
      case 'mod':
        return sv.min === sv.max && b > 0n ? scalar(0n, b - 1n) : full;
      case 'add':
        return sv.min === sv.max && lo.max + b <= mask ? scalar(lo.min + b, lo.max + b) : full;
      case 'lsh':
        return sv.min === sv.max && lo.max << b <= mask ? scalar(lo.min << b, lo.max << b) : full;
      default:
        return full;
    }
  };

  /** Narrows the registers of a comparison for the branch where it is `taken`; null = infeasible. */
  const branch = (taken: boolean): Val[] | null => {
    if (insn.kind !== 'jump') return regs;
    const out = [...regs];
    const dv = regs[insn.dst] as Val;
    const sv: Val =
      'reg' in insn.src
        ? (regs[insn.src.reg] as Val)
        : constant(BigInt(insn.width === 32 ? insn.src.imm >>> 0 : insn.src.imm));
    const op = insn.op;
    // NULL narrowing of map lookup results.
    if (
      (op === 'jeq' || op === 'jne') &&
      dv.k === 'value_or_null' &&
      sv.k === 'scalar' &&
      sv.min === 0n &&
      sv.max === 0n
    ) {
      const isNull = (op === 'jeq') === taken;
      for (let r = 0; r < out.length; r++) {
        const v = out[r] as Val;
        if (v.k === 'value_or_null' && (v === dv || (v.id === dv.id && dv.id !== -1))) {
          out[r] = isNull ? constant(0n) : { k: 'value', map: v.map, off: v.off };
        }
      }
      return out;
    }
    if (dv.k !== 'scalar' || sv.k !== 'scalar' || sv.min !== sv.max) return out;
    if (insn.width === 32 && dv.max > U32_MAX) return out;
    const k = insn.width === 32 ? sv.min & U32_MAX : sv.min;
    let { min, max } = dv;
    const effective = taken
      ? op
      : (
          { jeq: 'jne', jne: 'jeq', jgt: 'jle', jle: 'jgt', jge: 'jlt', jlt: 'jge' } as Record<
            string,
            string
          >
        )[op];
    switch (effective) {
      case 'jeq':
        if (k < min || k > max) return null;
        min = k;
        max = k;
        break;
      case 'jne':
        if (min === max && min === k) return null;
        if (min === k) min += 1n;
        else if (max === k) max -= 1n;
        break;
      case 'jgt':
        if (max <= k) return null;
        if (min <= k) min = k + 1n;
        break;
      case 'jge':
        if (max < k) return null;
        if (min < k) min = k;
        break;
      case 'jlt':
        if (min >= k) return null;
        if (max >= k) max = k - 1n;
        break;
      case 'jle':
        if (min > k) return null;
        if (max > k) max = k;
        break;
      default:
        if (op === 'jset' && min === max) {
          const hit = (min & k) !== 0n;
          if (hit !== taken) return null;
        }
        return out;
    }
    for (let r = 0; r < out.length; r++) if (out[r] === dv) out[r] = scalar(min, max);
    return out;
  };

  // The state after the visited instruction, handed to its successors without copying: nothing
  // writes to the working arrays once the instruction's effect is applied, and stored states are
  // never mutated (joins build new ones).
  const next = (): State => ({ regs, init, spills });

  while (work.size > 0) {
    i = work.popMin();
    visits[i] = (visits[i] as number) + 1;
    st = states[i] as State;
    regs = st.regs as Val[];
    init = st.init;
    spills = st.spills as Map<number, Val>;
    insn = insns[i] as Insn;

    // A switch, not ts-pattern: this runs for every visit of every instruction, and match()'s
    // per-call pattern objects dominated the checker's profile. `never` keeps it exhaustive.
    switch (insn.kind) {
      case 'alu': {
        const a = insn;
        const sv =
          'reg' in a.src
            ? read(a.src.reg)
            : constant(BigInt(a.width === 32 ? a.src.imm >>> 0 : a.src.imm));
        const dv = a.op === 'mov' ? ANY : read(a.dst);
        write(a.dst, aluResult(a.op, a.width, dv, sv));
        break;
      }
      case 'neg': {
        const v = read(insn.dst);
        if (isPointer(v) && !isPoison(v))
          report(i, 'BAD_POINTER', `negating ${describe(v)} is not allowed`);
        write(
          insn.dst,
          v.k === 'scalar' && v.min === v.max ? constant(BigInt.asUintN(insn.width, -v.min)) : ANY,
        );
        break;
      }
      case 'movsx':
        read(insn.src);
        write(insn.dst, ANY);
        break;
      case 'endian': {
        const v = read(insn.dst);
        if (isPointer(v) && !isPoison(v))
          report(i, 'BAD_POINTER', `byte-swapping ${describe(v)} is not allowed`);
        write(insn.dst, insn.bits === 64 ? ANY : scalar(0n, (1n << BigInt(insn.bits)) - 1n));
        break;
      }
      case 'ldx': {
        const v = access(insn.src, insn.off, insn.size, 'load');
        write(insn.dst, insn.signed ? ANY : v);
        break;
      }
      case 'load_acquire':
        write(insn.dst, access(insn.src, insn.off, insn.size, 'load'));
        break;
      case 'st':
        access(insn.dst, insn.off, insn.size, 'store_imm');
        break;
      case 'stx':
      case 'store_release': {
        const v = read(insn.src);
        access(insn.dst, insn.off, insn.size, 'store', v);
        break;
      }
      case 'atomic': {
        const a = insn;
        read(a.src);
        if (a.op === 'cmpxchg') read(0);
        access(a.dst, a.off, a.size, 'atomic');
        if (a.op === 'cmpxchg') write(0, ANY);
        else if (a.fetch) write(a.src, ANY);
        break;
      }
      case 'ld_imm64': {
        const l = insn;
        const m = input.maps.get(i);
        if (m) write(l.dst, { k: 'map', map: m });
        else if (l.pseudo === 'map_fd' || l.pseudo === 'map_idx')
          write(l.dst, { k: 'map', map: null });
        else if (l.pseudo === 'imm64') write(l.dst, constant(l.imm));
        else write(l.dst, { k: 'other', what: l.pseudo });
        break;
      }
      case 'ld_abs':
      case 'ld_ind': {
        const l = insn;
        report(
          i,
          'INSN_NOT_ALLOWED',
          `${l.kind} (legacy packet access) is not allowed in ${input.type} programs`,
        );
        if (l.kind === 'ld_ind') read(l.src);
        afterCall(ANY);
        break;
      }
      case 'call': {
        const c = insn;
        if (c.target === 'helper') {
          const def = helperById(c.imm);
          checkHelper(def, c.imm);
          if (def?.ret === 'map_value_or_null') {
            // The map was in r1 before the call: the value pointer remembers it for bounds checks.
            const mapVal = st.regs[1] as Val;
            const map = mapVal.k === 'map' ? mapVal.map : null;
            afterCall({ k: 'value_or_null', map, id: i + 1, off: 0 });
          } else {
            afterCall(ANY);
          }
        } else {
          afterCall(ANY);
        }
        break;
      }
      case 'exit': {
        const v = read(0);
        if (isPoison(v)) break;
        if (isPointer(v)) {
          report(i, 'BAD_POINTER', `r0 at exit is ${describe(v)}; programs must return a scalar`);
        } else if (returnRange && v.k === 'scalar') {
          const [lo, hi] = returnRange.map(BigInt) as [bigint, bigint];
          if (v.min < lo || v.max > hi) {
            const got = v.min === v.max ? `${v.min}` : `a value in [${v.min}, ${v.max}]`;
            report(
              i,
              'RETURN_RANGE',
              `${input.type} programs must return a value in [${lo}, ${hi}], but r0 may be ${got}`,
            );
          }
        }
        break;
      }
      case 'jump':
        read(insn.dst);
        if ('reg' in insn.src) read(insn.src.reg);
        break;
      case 'ja':
      case 'gotol':
      case 'may_goto':
        break;
      default:
        insn satisfies never;
    }

    const t = targetOf(i);
    switch (insn.kind) {
      case 'exit':
        break;
      case 'ja':
      case 'gotol':
        if (t !== undefined) propagate(t, next());
        break;
      case 'may_goto':
        propagate(i + 1, next());
        if (t !== undefined) propagate(t, next());
        break;
      case 'jump': {
        const base = next();
        const taken = branch(true);
        const fall = branch(false);
        if (fall) propagate(i + 1, { ...base, regs: fall });
        if (taken && t !== undefined) propagate(t, { ...base, regs: taken });
        break;
      }
      default:
        propagate(i + 1, next());
    }
  }

  return [...diags.values()].sort((a, b) => (a.insn ?? 0) - (b.insn ?? 0));
}
