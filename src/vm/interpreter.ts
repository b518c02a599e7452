/**
 * The interpreter: runs an `Insn[]` (what the DSL emits, what the decoder reads back) with exact
 * 32/64-bit semantics, a 512-byte stack per frame, bpf-to-bpf calls, simulated helpers, maps and
 * contexts, and reports r0, every helper call and optionally a step-by-step trace.
 *
 * The program is first compiled into one closure per instruction (an exhaustive ts-pattern match
 * over `insn.kind`), so jumps are resolved and malformed programs rejected before the first step;
 * the closures are cached per `Insn[]` array. A run then only executes closures.
 *
 * What the kernel's verifier would reject statically and what would fault at run time both end the
 * run with a VmError carrying the instruction index: reads of unset registers (`R2 !read_ok`),
 * writes to r10, out-of-range immediate shifts, division by an immediate zero, jumps out of the
 * program, out-of-bounds / NULL / wild memory accesses, context accesses of the wrong width or to
 * read-only fields, reads of uninitialised stack, unknown helpers, too many instructions.
 */
import { match } from 'ts-pattern';
import { formatInsn } from '../asm/disasm.js';
import type { Insn, Reg, Size, Width } from '../asm/insn.js';
import type { MapReference, ProgramSpec } from '../asm/object-spec.js';
import { bpfSockAccess, type VmContext } from './context.js';
import { VmError } from './errors.js';
import {
  BUILTIN_HELPERS,
  type HelperCall,
  type HelperCallDetail,
  type HelperDef,
  type HelperEnv,
  type HelperState,
  helperName,
  type Redirect,
} from './helpers.js';
import type { VmMap } from './maps.js';
import { Memory, type Region } from './memory.js';
import { aluFn, endianResult, immOperand, jumpFn, movsxResult, negResult } from './semantics.js';

/** Stack bytes per frame (MAX_BPF_STACK). */
export const STACK_SIZE = 512;
/** Deepest bpf-to-bpf call nesting the kernel allows (MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;
/** may_goto iterations per frame before the jump is forced (BPF_MAX_LOOPS). */
export const MAY_GOTO_BUDGET = 8 * 1024 * 1024;
/** Default instruction limit of a run. */
export const DEFAULT_MAX_INSNS = 1_000_000;

/** Inputs of a run. Everything is optional: a pure ALU program needs none of it. */
export interface RunOptions {
  /** The context r1 points to on entry (sockOpsContext, skMsgContext, …); r1 is unset without one. */
  readonly ctx?: VmContext;
  /** Maps by name, for `mapRefs`. */
  readonly maps?: readonly VmMap[];
  /** Which ld_imm64 (by instruction index) loads which map (ProgramSpec.mapRefs). */
  readonly mapRefs?: readonly MapReference[];
  /** Maps by fd, for ld_imm64 with the map_fd / map_value pseudo sources. */
  readonly mapFds?: ReadonlyMap<number, VmMap>;
  /** Maps by index, for ld_imm64 with the map_idx / map_idx_value pseudo sources. */
  readonly fdArray?: readonly VmMap[];
  /** Extra or replacement helpers by id. */
  readonly helpers?: ReadonlyMap<number, HelperDef>;
  /** Instruction limit (default 1,000,000, the verifier's complexity limit). */
  readonly maxInsns?: number;
  /** Record every executed instruction with the registers after it. */
  readonly trace?: boolean;
  /** Treat never-written stack bytes as zero instead of failing with UNINIT_STACK. */
  readonly allowUninitStack?: boolean;
  /** The simulated CPU (bpf_get_smp_processor_id, per-CPU maps' current CPU). Default 0. */
  readonly cpu?: number;
  /** Seed of bpf_get_prandom_u32 (default 1). */
  readonly seed?: number;
  /** First bpf_ktime_get_ns value (default 1e9), advanced by `ktimeStepNs` (default 1000) per call. */
  readonly ktimeNs?: bigint;
  readonly ktimeStepNs?: bigint;
  /** bpf_get_current_pid_tgid value (default tgid 1000 << 32 | pid 1000). */
  readonly pidTgid?: bigint;
  /** may_goto budget per frame (default BPF_MAX_LOOPS = 8Mi). */
  readonly mayGotoBudget?: number;
}

/** One executed instruction of a traced run. */
export interface TraceStep {
  readonly insnIndex: number;
  readonly slot: number;
  /** Call depth (0 = main program). */
  readonly frame: number;
  readonly insn: Insn;
  /** The instruction as llvm-objdump prints it (src/asm formatInsn). */
  readonly text: string;
  /** r0..r10 after the instruction (undefined = unset). */
  readonly regs: readonly (bigint | undefined)[];
  /** Registers the instruction set to a new value (or unset, like a call's r1-r5). */
  readonly changed: readonly Reg[];
}

/** The outcome of a run. */
export interface RunResult {
  /** r0 at the final exit (u64). */
  readonly r0: bigint;
  /** Every helper call in order. */
  readonly calls: readonly HelperCall[];
  /** Instructions executed. */
  readonly insnsExecuted: number;
  /** The context bytes at exit (shows writes to `reply`, `sk_txhash`, cb flags). */
  readonly ctx: Uint8Array | undefined;
  /** The last msg_redirect_* that succeeded. */
  readonly redirect: Redirect | undefined;
  /** msg_apply_bytes / msg_cork_bytes arguments, when called. */
  readonly applyBytes: number | undefined;
  readonly corkBytes: number | undefined;
  /** trace_printk lines. */
  readonly printk: readonly string[];
  /** The executed instructions, when `trace` was set. */
  readonly trace: readonly TraceStep[] | undefined;
}

interface Frame {
  readonly returnPc: number;
  readonly saved: readonly (bigint | undefined)[];
  readonly stack: Region;
  mayGoto: number;
}

/** Mutable machine state of one run. */
class Machine {
  readonly regs: (bigint | undefined)[] = new Array<bigint | undefined>(11).fill(undefined);
  pc = 0;
  done = false;
  readonly frames: Frame[] = [];
  readonly calls: HelperCall[] = [];
  stack!: Region;
  mayGoto = 0;
  ctxAddress: bigint | undefined;
  runCtx: VmContext | undefined;

  constructor(
    readonly memory: Memory,
    readonly options: RunOptions,
    readonly helpers: ReadonlyMap<number, HelperDef>,
    readonly state: HelperState,
    readonly mapRefs: ReadonlyMap<number, VmMap>,
  ) {}

  get(reg: Reg): bigint {
    const v = this.regs[reg];
    if (v === undefined) throw new VmError('UNINIT_REGISTER', `R${reg} !read_ok`);
    return v;
  }

  set(reg: Reg, value: bigint): void {
    if (reg === 10) throw new VmError('INVALID_INSN', 'frame pointer is read only');
    this.regs[reg] = value;
  }

  newStack(depth: number): Region {
    const region = this.memory.addRegion(
      'stack',
      `stack of frame ${depth}`,
      new Uint8Array(STACK_SIZE),
      { writable: true, trackInit: !this.options.allowUninitStack },
    );
    return region;
  }
}

type Step = (m: Machine) => void;

interface Compiled {
  readonly steps: Step[];
  readonly slotOf: number[];
}

const SIZE_BYTES: Record<Size, 1 | 2 | 4 | 8> = { b: 1, h: 2, w: 4, dw: 8 };

/** Resolves `slot` to an instruction index, or throws BAD_JUMP. */
function targetIndex(slot: number, insnAtSlot: Int32Array, what: string): number {
  const index = slot >= 0 && slot < insnAtSlot.length ? (insnAtSlot[slot] ?? -1) : -1;
  if (index < 0) {
    throw new VmError(
      'BAD_JUMP',
      `${what} targets slot ${slot}, which is ${slot < 0 || slot >= insnAtSlot.length ? 'outside the program' : 'the second slot of an ld_imm64'}`,
    );
  }
  return index;
}

function checkRegWritable(dst: Reg): void {
  if (dst === 10) throw new VmError('INVALID_INSN', 'frame pointer is read only');
}

/**
 * `base + off` for a memory instruction. Like the verifier, refuses ctx and socket pointers that
 * were moved by arithmetic: their fields are reached only through the instruction's offset.
 */
function effectiveAddress(m: Machine, base: Reg, off: number): bigint {
  const pointer = m.get(base);
  const region = m.memory.regionAt(pointer);
  if (region?.ctxCheck && pointer !== region.base) {
    throw new VmError(
      'CTX_ACCESS',
      `dereference of modified ${region.name} pointer R${base} (+${pointer - region.base}); use the unmodified pointer and put the field offset in the instruction`,
    );
  }
  return BigInt.asUintN(64, pointer + BigInt(off));
}

function helperEnv(m: Machine, detail: HelperCallDetail): HelperEnv {
  return {
    memory: m.memory,
    ctx: m.runCtx,
    ctxAddress: m.ctxAddress,
    state: m.state,
    detail,
  };
}

function compileCall(insn: Extract<Insn, { kind: 'call' }>, next: number, insnAtSlot: Int32Array) {
  return match(insn.target)
    .with('helper', (): Step => {
      const id = insn.imm;
      return (m) => {
        const helper = m.helpers.get(id);
        if (!helper) {
          throw new VmError('UNKNOWN_HELPER', `${helperName(id)} is not simulated`);
        }
        const type = m.runCtx?.programType;
        if (helper.programTypes && type && !helper.programTypes.includes(type)) {
          throw new VmError(
            'HELPER_NOT_ALLOWED',
            `program of type ${type} cannot use helper ${helperName(id)}`,
          );
        }
        const args: bigint[] = [];
        for (let r = 1; r <= helper.argCount; r++) args.push(m.get(r as Reg));
        // Optional trailing arguments (trace_printk's values) are read only when set.
        const all = [...args];
        for (let r = helper.argCount + 1; r <= 5; r++) all.push(m.regs[r] ?? 0n);
        const detail: HelperCallDetail = {};
        const ret = BigInt.asUintN(64, helper.impl(helperEnv(m, detail), all));
        m.calls.push({
          insnIndex: m.pc,
          id,
          name: helper.name,
          args,
          ret,
          ...detail,
        });
        for (let r = 1; r <= 5; r++) m.regs[r] = undefined;
        m.regs[0] = ret;
        m.pc += 1;
      };
    })
    .with('bpf', (): Step => {
      const target = targetIndex(next + insn.imm, insnAtSlot, 'bpf-to-bpf call');
      return (m) => {
        if (m.frames.length + 1 >= MAX_CALL_FRAMES) {
          throw new VmError('CALL_DEPTH', `call nesting exceeds ${MAX_CALL_FRAMES} frames`);
        }
        m.frames.push({
          returnPc: m.pc + 1,
          saved: m.regs.slice(),
          stack: m.stack,
          mayGoto: m.mayGoto,
        });
        m.stack = m.newStack(m.frames.length);
        m.mayGoto = m.options.mayGotoBudget ?? MAY_GOTO_BUDGET;
        // The callee sees r1-r5 (arguments) and its own frame pointer; r0 and r6-r9 are unset.
        for (const r of [0, 6, 7, 8, 9]) m.regs[r] = undefined;
        m.regs[10] = m.stack.base + BigInt(STACK_SIZE);
        m.pc = target;
      };
    })
    .with('kfunc', (): Step => {
      return () => {
        throw new VmError('UNSUPPORTED', `kfunc call (BTF id ${insn.imm}) is not simulated`);
      };
    })
    .exhaustive();
}

/** Resolves an ld_imm64 map pseudo source against the run's maps. */
type MapResolver = (m: Machine) => VmMap;

function compileLdImm64(insn: Extract<Insn, { kind: 'ld_imm64' }>, index: number): Step {
  const dst = insn.dst;
  checkRegWritable(dst);
  const low = Number(BigInt.asUintN(32, insn.imm));
  const high = Number(BigInt.asUintN(32, insn.imm >> 32n));
  const byFd =
    (what: string): MapResolver =>
    (m) => {
      const map = m.options.mapFds?.get(low);
      if (!map) throw new VmError('BAD_INPUT', `${what}: fd ${low} is not pointing to a map`);
      return map;
    };
  const byIdx =
    (what: string): MapResolver =>
    (m) => {
      const map = m.options.fdArray?.[low];
      if (!map) throw new VmError('BAD_INPUT', `${what}: fd_array[${low}] holds no map`);
      return map;
    };
  const valuePointer =
    (resolve: MapResolver, off: number): Step =>
    (m) => {
      const map = resolve(m);
      if (map.type !== 'array') {
        throw new VmError(
          'BAD_INPUT',
          `no direct value access support for ${map.type} ${map.name}`,
        );
      }
      const buffer = map.valueBuffer(0);
      if (!buffer || off >= map.valueSize) {
        throw new VmError('BAD_INPUT', `direct value offset ${off} beyond ${map.name}'s value`);
      }
      const region = m.memory.regionForBuffer(
        'map_value',
        `value of map ${map.name}`,
        buffer,
        true,
      );
      m.set(dst, region.base + BigInt(off));
      m.pc += 1;
    };
  const handle =
    (resolve: MapResolver): Step =>
    (m) => {
      m.set(dst, m.memory.mapHandle(resolve(m)));
      m.pc += 1;
    };
  const pseudo = match(insn.pseudo)
    .with('imm64', (): Step => {
      const value = BigInt.asUintN(64, insn.imm);
      return (m) => {
        m.set(dst, value);
        m.pc += 1;
      };
    })
    .with('map_fd', () => handle(byFd('ld_imm64 map_fd')))
    .with('map_value', () => valuePointer(byFd('ld_imm64 map_value'), high))
    .with('map_idx', () => handle(byIdx('ld_imm64 map_idx')))
    .with('map_idx_value', () => valuePointer(byIdx('ld_imm64 map_idx_value'), high))
    .with('btf_id', 'func', (kind): Step => {
      return () => {
        throw new VmError('UNSUPPORTED', `ld_imm64 with pseudo source ${kind} is not simulated`);
      };
    })
    .exhaustive();
  // A relocation (ProgramSpec.mapRefs) overrides what the instruction itself encodes.
  return (m) => {
    const referenced = m.mapRefs.get(index);
    if (referenced) {
      m.set(dst, m.memory.mapHandle(referenced));
      m.pc += 1;
    } else {
      pseudo(m);
    }
  };
}

function compileAtomic(insn: Extract<Insn, { kind: 'atomic' }>): Step {
  const size = SIZE_BYTES[insn.size];
  const width: Width = insn.size === 'w' ? 32 : 64;
  /** Applies the operation to memory holding `old` at `addr`, updating registers as it fetches. */
  type Apply = (m: Machine, addr: bigint, old: bigint, src: bigint) => void;
  const apply = match(insn.op)
    .with('cmpxchg', (): Apply => {
      const low = aluFn('mov', width);
      return (m, addr, old, src) => {
        if (low(0n, m.get(0)) === old) m.memory.store(addr, size, src);
        m.regs[0] = old;
      };
    })
    .with(
      'xchg',
      (): Apply => (m, addr, old, src) => {
        m.memory.store(addr, size, src);
        m.set(insn.src, old);
      },
    )
    .with('add', 'or', 'and', 'xor', (op): Apply => {
      const fn = aluFn(op, width);
      return (m, addr, old, src) => {
        m.memory.store(addr, size, fn(old, src));
        if (insn.fetch) m.set(insn.src, old);
      };
    })
    .exhaustive();
  return (m) => {
    const addr = effectiveAddress(m, insn.dst, insn.off);
    const { region } = m.memory.resolve(addr, size, 'atomic');
    if (region.kind !== 'stack' && region.kind !== 'map_value') {
      throw new VmError('INVALID_INSN', `BPF_ATOMIC into ${region.name} is not allowed`);
    }
    apply(m, addr, m.memory.load(addr, size), m.get(insn.src));
    m.pc += 1;
  };
}

function compileLegacyPacketLoad(insn: Extract<Insn, { kind: 'ld_abs' | 'ld_ind' }>): Step {
  const size = SIZE_BYTES[insn.size];
  return (m) => {
    const packet = m.runCtx?.packet;
    if (!packet || m.runCtx?.programType !== 'socket_filter') {
      throw new VmError('UNSUPPORTED', `${insn.kind} needs a socket filter ctx with packet data`);
    }
    if (m.get(6) !== m.ctxAddress) {
      throw new VmError('INVALID_INSN', `${insn.kind} uses r6 as the ctx, but r6 is not the ctx`);
    }
    const base = insn.kind === 'ld_ind' ? BigInt.asIntN(32, m.get(insn.src)) : 0n;
    const off = base + BigInt(insn.imm | 0);
    for (let r = 1; r <= 5; r++) m.regs[r] = undefined;
    if (off < 0n || off + BigInt(size) > BigInt(packet.length)) {
      // Out of range: the kernel ends the program with return value 0.
      m.regs[0] = 0n;
      m.done = true;
      return;
    }
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(packet[Number(off) + i] ?? 0);
    m.regs[0] = v;
    m.pc += 1;
  };
}

/** Compiles one instruction into its step closure. */
function compileInsn(insn: Insn, index: number, slot: number, insnAtSlot: Int32Array): Step {
  const next = slot + (insn.kind === 'ld_imm64' ? 2 : 1);
  const jumpTo = (off: number): number => targetIndex(next + off, insnAtSlot, 'jump');
  return match(insn)
    .with({ kind: 'alu' }, (i): Step => {
      checkRegWritable(i.dst);
      if ('imm' in i.src) {
        const imm = i.src.imm | 0;
        if ((i.op === 'lsh' || i.op === 'rsh' || i.op === 'arsh') && (imm < 0 || imm >= i.width)) {
          throw new VmError('INVALID_INSN', `invalid shift ${imm}`);
        }
        if ((i.op === 'div' || i.op === 'mod' || i.op === 'sdiv' || i.op === 'smod') && imm === 0) {
          throw new VmError('INVALID_INSN', 'division by zero');
        }
      }
      const { op, width, dst, src } = i;
      const fn = aluFn(op, width);
      if ('imm' in src) {
        const imm = immOperand(src.imm, width);
        if (op === 'mov') {
          return (m) => {
            m.set(dst, imm);
            m.pc += 1;
          };
        }
        return (m) => {
          m.set(dst, fn(m.get(dst), imm));
          m.pc += 1;
        };
      }
      const from = src.reg;
      if (op === 'mov') {
        return (m) => {
          m.set(dst, fn(0n, m.get(from)));
          m.pc += 1;
        };
      }
      return (m) => {
        m.set(dst, fn(m.get(dst), m.get(from)));
        m.pc += 1;
      };
    })
    .with({ kind: 'neg' }, (i): Step => {
      checkRegWritable(i.dst);
      return (m) => {
        m.set(i.dst, negResult(i.width, m.get(i.dst)));
        m.pc += 1;
      };
    })
    .with({ kind: 'movsx' }, (i): Step => {
      checkRegWritable(i.dst);
      return (m) => {
        m.set(i.dst, movsxResult(i.width, i.from, m.get(i.src)));
        m.pc += 1;
      };
    })
    .with({ kind: 'endian' }, (i): Step => {
      checkRegWritable(i.dst);
      return (m) => {
        m.set(i.dst, endianResult(i.order, i.bits, m.get(i.dst)));
        m.pc += 1;
      };
    })
    .with({ kind: 'jump' }, (i): Step => {
      const target = jumpTo(i.off);
      const { dst, src } = i;
      const taken = jumpFn(i.op, i.width);
      if ('imm' in src) {
        const imm = immOperand(src.imm, i.width);
        return (m) => {
          m.pc = taken(m.get(dst), imm) ? target : m.pc + 1;
        };
      }
      const from = src.reg;
      return (m) => {
        m.pc = taken(m.get(dst), m.get(from)) ? target : m.pc + 1;
      };
    })
    .with({ kind: 'ja' }, (i): Step => {
      const target = jumpTo(i.off);
      return (m) => {
        m.pc = target;
      };
    })
    .with({ kind: 'gotol' }, (i): Step => {
      const target = jumpTo(i.imm);
      return (m) => {
        m.pc = target;
      };
    })
    .with({ kind: 'may_goto' }, (i): Step => {
      const target = jumpTo(i.off);
      return (m) => {
        if (m.mayGoto === 0) {
          m.pc = target;
        } else {
          m.mayGoto -= 1;
          m.pc += 1;
        }
      };
    })
    .with({ kind: 'call' }, (i) => compileCall(i, next, insnAtSlot))
    .with({ kind: 'exit' }, (): Step => {
      return (m) => {
        const r0 = m.get(0);
        const frame = m.frames.pop();
        if (!frame) {
          m.done = true;
          return;
        }
        m.regs.splice(0, 11, ...frame.saved);
        for (let r = 1; r <= 5; r++) m.regs[r] = undefined;
        m.regs[0] = r0;
        m.stack = frame.stack;
        m.mayGoto = frame.mayGoto;
        m.pc = frame.returnPc;
      };
    })
    .with({ kind: 'ldx' }, (i): Step => {
      checkRegWritable(i.dst);
      const size = SIZE_BYTES[i.size];
      if (i.signed && size === 8) throw new VmError('INVALID_INSN', 'no sign-extending u64 load');
      const bits = size * 8;
      return (m) => {
        const v = m.memory.load(effectiveAddress(m, i.src, i.off), size);
        m.set(i.dst, i.signed ? BigInt.asUintN(64, BigInt.asIntN(bits, v)) : v);
        m.pc += 1;
      };
    })
    .with({ kind: 'load_acquire' }, (i): Step => {
      checkRegWritable(i.dst);
      const size = SIZE_BYTES[i.size];
      return (m) => {
        m.set(i.dst, m.memory.load(effectiveAddress(m, i.src, i.off), size));
        m.pc += 1;
      };
    })
    .with({ kind: 'st' }, (i): Step => {
      const size = SIZE_BYTES[i.size];
      const value = immOperand(i.imm, 64);
      return (m) => {
        m.memory.store(effectiveAddress(m, i.dst, i.off), size, value);
        m.pc += 1;
      };
    })
    .with({ kind: 'stx' }, { kind: 'store_release' }, (i): Step => {
      const size = SIZE_BYTES[i.size];
      return (m) => {
        m.memory.store(effectiveAddress(m, i.dst, i.off), size, m.get(i.src));
        m.pc += 1;
      };
    })
    .with({ kind: 'atomic' }, (i) => compileAtomic(i))
    .with({ kind: 'ld_imm64' }, (i) => compileLdImm64(i, index))
    .with({ kind: 'ld_abs' }, { kind: 'ld_ind' }, (i) => compileLegacyPacketLoad(i))
    .exhaustive();
}

/** Slot layout of a program: slot of each insn and insn of each slot (-1 inside ld_imm64). */
function layout(insns: readonly Insn[]): { slotOf: number[]; insnAtSlot: Int32Array } {
  const slotOf: number[] = [];
  let slots = 0;
  for (const insn of insns) {
    slotOf.push(slots);
    slots += insn.kind === 'ld_imm64' ? 2 : 1;
  }
  const insnAtSlot = new Int32Array(slots).fill(-1);
  slotOf.forEach((slot, i) => {
    insnAtSlot[slot] = i;
  });
  return { slotOf, insnAtSlot };
}

const compiledCache = new WeakMap<readonly Insn[], Compiled>();

function compile(insns: readonly Insn[]): Compiled {
  const cached = compiledCache.get(insns);
  if (cached) return cached;
  const { slotOf, insnAtSlot } = layout(insns);
  const steps = insns.map((insn, index) => {
    const slot = slotOf[index] ?? 0;
    try {
      return compileInsn(insn, index, slot, insnAtSlot);
    } catch (e) {
      throw e instanceof VmError ? e.at({ insnIndex: index, slot }) : e;
    }
  });
  const compiled = { steps, slotOf };
  compiledCache.set(insns, compiled);
  return compiled;
}

/** The maps `mapRefs` binds to ld_imm64 instructions, by instruction index. */
function resolveMapRefs(options: RunOptions): Map<number, VmMap> {
  const refs = new Map<number, VmMap>();
  for (const ref of options.mapRefs ?? []) {
    const map = options.maps?.find((m) => m.name === ref.map);
    if (!map) {
      throw new VmError('BAD_INPUT', `mapRefs names map ${ref.map}, which is not in options.maps`);
    }
    refs.set(ref.insn, map);
  }
  return refs;
}

/** Places the ctx, its packet and socket in memory and patches the ctx's pointer fields. */
function placeContext(m: Machine, ctx: VmContext): void {
  const bytes = ctx.bytes.slice();
  const runCtx: VmContext = { ...ctx, bytes };
  const region = m.memory.addRegion('ctx', `${ctx.programType} ctx`, bytes, {
    writable: true,
    ctxCheck: ctx.check,
  });
  const view = new DataView(bytes.buffer);
  const packet = ctx.packet
    ? m.memory.addRegion('packet', 'packet data', runCtx.packet ?? new Uint8Array(0), {
        writable: true,
      })
    : undefined;
  const sock = ctx.sock
    ? m.memory.addRegion('socket', 'struct bpf_sock', ctx.sock.slice(), {
        writable: false,
        ctxCheck: bpfSockAccess,
      })
    : undefined;
  for (const field of ctx.pointers) {
    const value = match(field.to)
      .with('packet', () => packet?.base ?? 0n)
      .with('packet_end', () => (packet ? packet.base + BigInt(packet.bytes.length) : 0n))
      .with('sock', () => sock?.base ?? 0n)
      .exhaustive();
    view.setBigUint64(field.off, value, true);
  }
  m.runCtx = runCtx;
  m.ctxAddress = region.base;
  m.regs[1] = region.base;
}

/**
 * Runs a program to its final `exit` and reports r0, the helper calls and the final ctx bytes.
 * Throws a VmError (with the instruction index) for anything the kernel would reject or fault on.
 * The program is compiled once per `insns` array and cached: treat the array as immutable.
 */
export function runProgram(insns: readonly Insn[], options: RunOptions = {}): RunResult {
  const { steps, slotOf } = compile(insns);
  const helpers = new Map(BUILTIN_HELPERS);
  for (const [id, def] of options.helpers ?? []) helpers.set(id, def);
  for (const map of [...(options.maps ?? []), ...(options.mapFds?.values() ?? [])]) {
    if (map.type === 'percpu_array' && options.cpu !== undefined) map.currentCpu = options.cpu;
  }
  const state: HelperState = {
    ktimeNs: options.ktimeNs ?? 1_000_000_000n,
    ktimeStepNs: options.ktimeStepNs ?? 1000n,
    prandom: options.seed ?? 1,
    pidTgid: options.pidTgid ?? (1000n << 32n) | 1000n,
    cpu: options.cpu ?? 0,
    printk: [],
    redirect: undefined,
    applyBytes: undefined,
    corkBytes: undefined,
  };
  const m = new Machine(new Memory(), options, helpers, state, resolveMapRefs(options));
  m.stack = m.newStack(0);
  m.mayGoto = options.mayGotoBudget ?? MAY_GOTO_BUDGET;
  m.regs[10] = m.stack.base + BigInt(STACK_SIZE);
  if (options.ctx) placeContext(m, options.ctx);
  const maxInsns = options.maxInsns ?? DEFAULT_MAX_INSNS;
  const trace: TraceStep[] | undefined = options.trace ? [] : undefined;
  let executed = 0;
  while (!m.done) {
    const pc = m.pc;
    const step = steps[pc];
    const location = { insnIndex: pc, slot: slotOf[pc] ?? -1 };
    if (!step) {
      throw new VmError('BAD_JUMP', 'execution ran past the last instruction without exit', {
        insnIndex: pc,
        slot: slotOf[pc - 1] !== undefined ? (slotOf[pc - 1] ?? 0) + 1 : 0,
      });
    }
    if (executed >= maxInsns) {
      throw new VmError('INSN_LIMIT', `more than ${maxInsns} instructions executed`, location);
    }
    executed += 1;
    const depth = m.frames.length;
    const before = trace ? m.regs.slice() : undefined;
    try {
      step(m);
    } catch (e) {
      throw e instanceof VmError ? e.at(location) : e;
    }
    const insn = insns[pc];
    if (trace && before && insn) {
      const regs = m.regs.slice();
      const changed = regs.flatMap((v, r) => (v !== before[r] ? [r as Reg] : []));
      trace.push({ ...location, frame: depth, insn, text: formatInsn(insn), regs, changed });
    }
  }
  return {
    r0: m.get(0),
    calls: m.calls,
    insnsExecuted: executed,
    ctx: m.runCtx?.bytes,
    redirect: state.redirect,
    applyBytes: state.applyBytes,
    corkBytes: state.corkBytes,
    printk: state.printk,
    trace,
  };
}

/**
 * Runs a ProgramSpec (what the DSL's object builder produces): its instructions, with its mapRefs
 * bound by name to `options.maps`.
 */
export function runProgramSpec(program: ProgramSpec, options: RunOptions = {}): RunResult {
  return runProgram(program.insns, {
    ...options,
    mapRefs: [...program.mapRefs, ...(options.mapRefs ?? [])],
  });
}
