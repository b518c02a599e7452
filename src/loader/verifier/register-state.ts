/**
 * The register and stack state the verifier prints next to instructions, parsed into values.
 *
 * The kernel prints a state as space-separated `name=value` tokens (kernel/bpf/log.c,
 * `print_verifier_state`), optionally after a `frameN: ` prefix for a subprogram's frame:
 *
 * ```
 *   frame1: R0_w=map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0) R1=ctx() R10=fp0 fp-8=mmmm???? refs=2
 *   └─────┘ └┬─┘└┬┘└──────────────────┬───────────────────────┘                └─┬┘ └──┬───┘ └─┬──┘
 *   frame   reg  liveness (pre-6.6)  type(fields)                         stack slot  bytes   acquired refs
 * ```
 *
 * Values: `scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))` (a key chain `a=b=v`
 * sets both keys), known constants `0x100007f` / `-1` / `P0` (P = precise), stack pointers `fp-4`,
 * typed pointers `ctx()`, `map_ptr(map=counts,ks=4,vs=8)`, older spellings `inv(id=0)`, `invP5`.
 * A stack slot holds per-byte slot types (`m` misc, `0` zero, `?` uninitialised, …) or a spilled
 * register (`fp-16=ctx()`, `fp-8=????scalar(id=1)`). Fields keep their printed text: parsing must
 * never fail on a spelling a future kernel adds, it only understands less of it.
 */

/** One register or spilled value as the verifier printed it. */
export interface RegisterValue {
  /** The printed text, e.g. `map_value_or_null(id=1,map=counts,ks=4,vs=8)`. */
  readonly text: string;
  /**
   * The value's type: the name before the parentheses (`scalar`, `ctx`, `map_value_or_null`,
   * `map_ptr`, …), `scalar` for a printed constant, `fp` for a pointer into the stack.
   */
  readonly type: string;
  /** True when printed with the precision mark `P` (`P0`, `Pscalar(…)`). */
  readonly precise: boolean;
  /** The `key=value` fields inside the parentheses, with chains (`smax=umax=…`) expanded. */
  readonly fields: Readonly<Record<string, string>>;
  /** The value of a known constant scalar (`0x100007f`, `-1`, `P0`). */
  readonly constant?: bigint;
  /** For a stack pointer (`fp-8`): its offset from the frame pointer. */
  readonly stackOffset?: number;
}

/** A register in a printed state. */
export interface RegisterEntry {
  /** The register's name without liveness suffix: `R0` … `R10`. */
  readonly name: string;
  /** Register number 0–10. */
  readonly regno: number;
  /** Liveness suffix of kernels before 6.6 (`w`, `r`, `rw`, `D`), if printed. */
  readonly liveness?: string;
  readonly value: RegisterValue;
}

/** A stack slot in a printed state (`fp-8=mmmm????`, `fp-16=ctx()`). */
export interface StackSlotEntry {
  /** Offset of the slot from the frame pointer, e.g. -8. */
  readonly offset: number;
  /** Liveness suffix of kernels before 6.6, if printed. */
  readonly liveness?: string;
  /** The printed text after `=`. */
  readonly text: string;
  /**
   * Per-byte slot types, highest address first as printed (`m` misc, `0` zero, `?` invalid,
   * `r` spilled, `d` dynptr, `i` iterator, `f` irq flag), including the leading bytes of a
   * partial spill (`????` in `????scalar(…)`).
   */
  readonly bytes?: string;
  /** The spilled register value, when the slot holds one. */
  readonly spilled?: RegisterValue;
}

/** One printed verifier state: registers, stack slots and held references of one frame. */
export interface VerifierState {
  /** The call frame (0 = the main program), from a `frameN:` prefix. */
  readonly frame: number;
  readonly registers: readonly RegisterEntry[];
  readonly stack: readonly StackSlotEntry[];
  /** Ids of acquired references (`refs=2,3`) still held. */
  readonly refs: readonly number[];
  /** Tokens the parser does not model (kept so nothing printed is lost). */
  readonly other: readonly string[];
}

/** Splits on `sep` characters at parenthesis depth 0 (`var_off=(0x0; 0xff)` stays one piece). */
export function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p !== '');
}

const CONSTANT = /^(?:inv)?(P)?(-?(?:0x[0-9a-fA-F]+|\d+))$/;
const STACK_POINTER = /^(P)?fp(-?\d+)$/;
const TYPED = /^(P)?([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/s;

/** Parses one printed value (`scalar(smin=0)`, `0x7f`, `fp-8`, `ctx()`, `invP0`). */
export function parseRegisterValue(text: string): RegisterValue {
  const constant = CONSTANT.exec(text);
  if (constant?.[2] !== undefined) {
    return {
      text,
      type: 'scalar',
      precise: constant[1] === 'P',
      fields: {},
      constant: parseBigInt(constant[2]),
    };
  }
  const fp = STACK_POINTER.exec(text);
  if (fp?.[2] !== undefined) {
    return { text, type: 'fp', precise: fp[1] === 'P', fields: {}, stackOffset: Number(fp[2]) };
  }
  const typed = TYPED.exec(text);
  if (typed?.[2] !== undefined) {
    return { text, type: typed[2], precise: typed[1] === 'P', fields: parseFields(typed[3] ?? '') };
  }
  return { text, type: 'unknown', precise: false, fields: {} };
}

/** `-0x10` and `0x10` and `16` as a bigint; undefined when the text is no integer. */
function parseBigInt(text: string): bigint | undefined {
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  try {
    const value = BigInt(digits);
    return negative ? -value : value;
  } catch {
    return undefined;
  }
}

/** `smin=0,smax=umax=0xff,var_off=(0x0; 0xff)` → {smin: '0', smax: '0xff', umax: '0xff', var_off: …}. */
function parseFields(inner: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of splitTopLevel(inner, ',')) {
    const pieces = splitTopLevel(part, '=');
    if (part.endsWith('=')) pieces.push('');
    if (pieces.length === 1) {
      fields[part.trim()] = '';
      continue;
    }
    const value = pieces[pieces.length - 1] ?? '';
    for (const key of pieces.slice(0, -1)) fields[key.trim()] = value;
  }
  return fields;
}

const REGISTER_TOKEN = /^R(\d+)(?:_([a-zA-Z]+))?=(.*)$/s;
const STACK_TOKEN = /^fp(-\d+)(?:_([a-zA-Z]+))?=(.*)$/s;
/** Per-byte slot type characters; a byte string is printed for all 8 bytes of a slot. */
const SLOT_BYTES = /^[m0?rdifs]{8}$/;

/** Parses a printed stack slot value (`mmmm????`, `????scalar(id=1)`, `????0`, `ctx()`). */
function parseStackSlot(
  offset: number,
  liveness: string | undefined,
  text: string,
): StackSlotEntry {
  const base = liveness === undefined ? { offset, text } : { offset, liveness, text };
  if (SLOT_BYTES.test(text)) return { ...base, bytes: text };
  const partial = /^(\?+)(.+)$/s.exec(text);
  if (partial?.[1] !== undefined && partial[2] !== undefined) {
    return { ...base, bytes: partial[1], spilled: parseRegisterValue(partial[2]) };
  }
  return { ...base, spilled: parseRegisterValue(text) };
}

/**
 * Parses a printed state such as `frame1: R1=ctx() R10=fp0 fp-8=mmmm???? refs=2`.
 * Never throws: unknown tokens land in `other`.
 */
export function parseVerifierState(text: string): VerifierState {
  let rest = text.trim();
  let frame = 0;
  const framePrefix = /^frame(\d+):\s*/.exec(rest);
  if (framePrefix?.[1] !== undefined) {
    frame = Number(framePrefix[1]);
    rest = rest.slice(framePrefix[0].length);
  }
  const registers: RegisterEntry[] = [];
  const stack: StackSlotEntry[] = [];
  const refs: number[] = [];
  const other: string[] = [];
  for (const token of splitTopLevel(rest, ' ')) {
    const reg = REGISTER_TOKEN.exec(token);
    if (reg?.[1] !== undefined && reg[3] !== undefined) {
      const regno = Number(reg[1]);
      const value = parseRegisterValue(reg[3]);
      registers.push(
        reg[2] === undefined
          ? { name: `R${regno}`, regno, value }
          : { name: `R${regno}`, regno, liveness: reg[2], value },
      );
      continue;
    }
    const slot = STACK_TOKEN.exec(token);
    if (slot?.[1] !== undefined && slot[3] !== undefined) {
      stack.push(parseStackSlot(Number(slot[1]), slot[2], slot[3]));
      continue;
    }
    const held = /^refs=([\d,]+)$/.exec(token);
    if (held?.[1] !== undefined) {
      for (const id of held[1].split(',')) if (id !== '') refs.push(Number(id));
      continue;
    }
    other.push(token);
  }
  return { frame, registers, stack, refs, other };
}

/** True when `text` looks like the start of a printed state (`R1=…`, `fp-8=…`, `frame1: R…`). */
export function looksLikeState(text: string): boolean {
  return /^(?:frame\d+: ?)?(?:R\d+(?:_[a-zA-Z]+)?=|fp-\d+(?:_[a-zA-Z]+)?=|refs=)/.test(text);
}

/** A state printed back in the kernel's own spelling (for code frames and JSON consumers). */
export function formatVerifierState(state: VerifierState): string {
  const parts: string[] = [];
  for (const r of state.registers) parts.push(`${r.name}=${r.value.text}`);
  for (const s of state.stack) parts.push(`fp${s.offset}=${s.text}`);
  if (state.refs.length > 0) parts.push(`refs=${state.refs.join(',')}`);
  parts.push(...state.other);
  const body = parts.join(' ');
  return state.frame === 0 ? body : `frame${state.frame}: ${body}`;
}
