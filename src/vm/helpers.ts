/**
 * Simulated BPF helpers. Each helper reads its arguments the way the kernel's verifier types them
 * (map handles, key/value memory of the map's sizes, the ctx pointer), performs the kernel's
 * semantics on the simulated maps and sockets, and returns what the kernel returns (0 / negative
 * errno, SK_PASS / SK_DROP, pointers or NULL).
 *
 * Every call is reported by the run (`HelperCall`): the raw argument registers plus the decoded
 * details that matter when checking a program: the map, the key bytes, the value bytes, the flags,
 * the socket inserted or redirected to, output data and trace_printk text.
 */
import { match } from 'ts-pattern';
import type { VmSocket } from './connection.js';
import type { ProgramType, VmContext } from './context.js';
import { VmError } from './errors.js';
import {
  isSocketMap,
  isValueMap,
  type PerfEventArrayMap,
  type RingBufMap,
  type SocketMap,
  u32Key,
  type ValueMap,
  type VmMap,
} from './maps.js';
import type { Memory } from './memory.js';

/** What a helper call decoded from its arguments, reported alongside the raw registers. */
export interface HelperCallDetail {
  /** Name of the map argument. */
  map?: string;
  /** Key bytes read from memory (or the u32 index passed by value, as 4 little-endian bytes). */
  key?: Uint8Array;
  /** Value bytes read from memory. */
  value?: Uint8Array;
  /** The flags argument. */
  flags?: bigint;
  /** The socket inserted into or found in a sock map. */
  socket?: VmSocket;
  /** Bytes output (ringbuf/perf) . */
  data?: Uint8Array;
  /** trace_printk output line. */
  text?: string;
}

/** One helper call of a run. */
export interface HelperCall extends Readonly<HelperCallDetail> {
  /** Index of the call instruction. */
  readonly insnIndex: number;
  readonly id: number;
  readonly name: string;
  /** r1..rN as passed (N = the helper's argument count). */
  readonly args: readonly bigint[];
  /** r0 after the call. */
  readonly ret: bigint;
}

/** A redirect recorded by msg_redirect_hash / msg_redirect_map (the last one wins, as in the kernel). */
export interface Redirect {
  readonly map: string;
  readonly key: Uint8Array;
  readonly socket: VmSocket;
  /** BPF_F_INGRESS was set: deliver to the target's receive queue. */
  readonly ingress: boolean;
}

/** Mutable per-run state helpers read and update. */
export interface HelperState {
  ktimeNs: bigint;
  readonly ktimeStepNs: bigint;
  prandom: number;
  readonly pidTgid: bigint;
  readonly cpu: number;
  readonly printk: string[];
  redirect: Redirect | undefined;
  applyBytes: number | undefined;
  corkBytes: number | undefined;
}

/** What a helper implementation gets: memory, the run's ctx, map resolution and state. */
export interface HelperEnv {
  readonly memory: Memory;
  readonly ctx: VmContext | undefined;
  /** Address of the ctx region (what r1 held on entry), when there is a ctx. */
  readonly ctxAddress: bigint | undefined;
  readonly state: HelperState;
  /** Decoded details the helper wants reported with its call. */
  readonly detail: HelperCallDetail;
}

/** A helper implementation: r1..r5 in, r0 out. */
export type HelperImpl = (env: HelperEnv, args: readonly bigint[]) => bigint;

/** A helper: id, name, number of arguments, the program types that may call it, implementation. */
export interface HelperDef {
  readonly id: number;
  readonly name: string;
  /** Arguments read (r1..rN must be set). */
  readonly argCount: number;
  /** Program types the kernel lets call it; undefined = any. */
  readonly programTypes?: readonly ProgramType[];
  readonly impl: HelperImpl;
}

/** The map a handle argument refers to (from ld_imm64 with a map pseudo source or mapRefs). */
export function mapArg(env: HelperEnv, addr: bigint, what: string): VmMap {
  const map = env.memory.regionAt(addr)?.map;
  if (!map || env.memory.regionAt(addr)?.base !== addr) {
    throw new VmError('HELPER_ARGUMENT', `${what} is not a map (load it with ld_imm64 of a map)`);
  }
  env.detail.map = map.name;
  return map;
}

function valueMapArg(env: HelperEnv, addr: bigint, helper: string): ValueMap {
  const map = mapArg(env, addr, `${helper} r1`);
  if (isValueMap(map)) return map;
  if (isSocketMap(map)) {
    throw new VmError(
      'UNSUPPORTED',
      `${helper} on ${map.type} ${map.name}: socket references from sock maps are not simulated`,
    );
  }
  throw new VmError('HELPER_ARGUMENT', `${helper} cannot be used with ${map.type} ${map.name}`);
}

function socketMapArg(env: HelperEnv, addr: bigint, helper: string, type: SocketMap['type']) {
  const map = mapArg(env, addr, `${helper} map argument`);
  if (map.type !== type) {
    throw new VmError('HELPER_ARGUMENT', `${helper} needs a ${type}, got ${map.type} ${map.name}`);
  }
  return map as SocketMap;
}

function ctxArg(env: HelperEnv, addr: bigint, helper: string): VmContext {
  if (!env.ctx || addr !== env.ctxAddress) {
    throw new VmError('HELPER_ARGUMENT', `${helper} r1 must be the ctx pointer`);
  }
  return env.ctx;
}

function ctxSocket(env: HelperEnv, helper: string): VmSocket {
  const socket = env.ctx?.socket;
  if (!socket) throw new VmError('HELPER_ARGUMENT', `${helper}: the ctx has no socket`);
  return socket;
}

function readKey(env: HelperEnv, map: VmMap, addr: bigint): Uint8Array {
  const key = env.memory.readArg(addr, map.keySize, `key of ${map.name}`);
  env.detail.key = key;
  return key;
}

/** The kernel's return value for a negative errno, as a u64 register value. */
function errno(ret: number): bigint {
  return BigInt.asUintN(64, BigInt(ret));
}

const SK_DROP = 0n;
const SK_PASS = 1n;
const BPF_F_INGRESS = 1n;
/** BPF_SOCK_OPS_ALL_CB_FLAGS on 6.18 (RTO … WRITE_HDR_OPT). */
const SOCK_OPS_ALL_CB_FLAGS = 0x7fn;
/** BPF_F_CURRENT_CPU in perf_event_output flags. */
const BPF_F_INDEX_MASK = 0xffff_ffffn;

const SOCK_OPS: readonly ProgramType[] = ['sock_ops'];
const SK_MSG: readonly ProgramType[] = ['sk_msg'];
const SOCK_OPS_OR_SK_MSG: readonly ProgramType[] = ['sock_ops', 'sk_msg'];

/** The sock_ops callbacks from which sock_map/sock_hash updates are allowed (sock_map_op_okay). */
const SOCK_MAP_UPDATE_OPS = new Set([4, 5, 11]);

function sockUpdate(env: HelperEnv, map: SocketMap, key: Uint8Array, flags: bigint): bigint {
  env.detail.flags = flags;
  const ctx = env.ctx;
  const op = ctx ? new DataView(ctx.bytes.buffer, ctx.bytes.byteOffset).getUint32(0, true) : -1;
  const socket = ctxSocket(env, 'sock update');
  env.detail.socket = socket;
  if (!SOCK_MAP_UPDATE_OPS.has(op)) return errno(-95); // -EOPNOTSUPP
  return errno(map.updateSocket(key, socket, flags));
}

function redirect(env: HelperEnv, map: SocketMap, key: Uint8Array, flags: bigint): bigint {
  env.detail.flags = flags;
  if ((flags & ~BPF_F_INGRESS) !== 0n) return SK_DROP;
  const target = map.lookupSocket(key);
  if (!target || target.state === 'listen') return SK_DROP;
  const ingress = (flags & BPF_F_INGRESS) !== 0n;
  if (!ingress && (target.protocol ?? 'tcp') !== 'tcp') return SK_DROP;
  env.detail.socket = target;
  env.state.redirect = { map: map.name, key, socket: target, ingress };
  return SK_PASS;
}

/** Reads a NUL-terminated format of `size` bytes and renders it with up to 3 u64 arguments. */
function formatPrintk(env: HelperEnv, fmtAddr: bigint, size: number, args: bigint[]): string {
  if (size < 1) throw new VmError('HELPER_ARGUMENT', 'trace_printk format size must be > 0');
  const bytes = env.memory.readArg(fmtAddr, size, 'trace_printk format');
  const end = bytes.indexOf(0);
  if (end < 0) throw new VmError('HELPER_ARGUMENT', 'trace_printk format is not NUL-terminated');
  const fmt = Buffer.from(bytes.subarray(0, end)).toString('latin1');
  let next = 0;
  return fmt.replace(/%(%|l{0,2}[diuxXc]|p|s)/g, (_all, spec: string) => {
    if (spec === '%') return '%';
    const arg = args[next++];
    if (arg === undefined) {
      throw new VmError('HELPER_ARGUMENT', 'trace_printk format has more than 3 conversions');
    }
    const long = spec.startsWith('ll') ? 64 : spec.startsWith('l') ? 64 : 32;
    const conv = spec.slice(-1);
    return match(conv)
      .with('d', 'i', () => BigInt.asIntN(long, arg).toString())
      .with('u', () => BigInt.asUintN(long, arg).toString())
      .with('x', () => BigInt.asUintN(long, arg).toString(16))
      .with('X', () => BigInt.asUintN(long, arg).toString(16).toUpperCase())
      .with('c', () => String.fromCharCode(Number(arg & 0xffn)))
      .with('p', () => `0x${BigInt.asUintN(64, arg).toString(16)}`)
      .otherwise(() => {
        const ptr = env.memory.regionAt(arg);
        if (!ptr) throw new VmError('HELPER_ARGUMENT', 'trace_printk %s argument is not a pointer');
        const off = Number(arg - ptr.base);
        const rest = ptr.bytes.subarray(off);
        const nul = rest.indexOf(0);
        return Buffer.from(nul < 0 ? rest : rest.subarray(0, nul)).toString('latin1');
      });
  });
}

/** mulberry32: a small seeded PRNG for bpf_get_prandom_u32 (deterministic runs). */
function nextRandom(state: HelperState): bigint {
  state.prandom = (state.prandom + 0x6d2b79f5) | 0;
  let t = state.prandom;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return BigInt((t ^ (t >>> 14)) >>> 0);
}

/** The helpers the interpreter simulates, by id. */
export const BUILTIN_HELPERS: ReadonlyMap<number, HelperDef> = new Map(
  (
    [
      {
        id: 1,
        name: 'map_lookup_elem',
        argCount: 2,
        impl: (env, [m = 0n, k = 0n]) => {
          const map = valueMapArg(env, m, 'map_lookup_elem');
          const value = map.lookupElem(readKey(env, map, k));
          if (!value) return 0n;
          return env.memory.regionForBuffer('map_value', `value of map ${map.name}`, value, true)
            .base;
        },
      },
      {
        id: 2,
        name: 'map_update_elem',
        argCount: 4,
        impl: (env, [m = 0n, k = 0n, v = 0n, flags = 0n]) => {
          const map = valueMapArg(env, m, 'map_update_elem');
          const key = readKey(env, map, k);
          const value = env.memory.readArg(v, map.valueSize, `value for ${map.name}`);
          env.detail.value = value;
          env.detail.flags = flags;
          return errno(map.updateElem(key, value, flags));
        },
      },
      {
        id: 3,
        name: 'map_delete_elem',
        argCount: 2,
        impl: (env, [m = 0n, k = 0n]) => {
          const map = mapArg(env, m, 'map_delete_elem r1');
          if (!isValueMap(map) && !isSocketMap(map)) {
            throw new VmError('HELPER_ARGUMENT', `map_delete_elem on ${map.type} ${map.name}`);
          }
          return errno(map.deleteElem(readKey(env, map, k)));
        },
      },
      {
        id: 5,
        name: 'ktime_get_ns',
        argCount: 0,
        impl: (env) => {
          const now = env.state.ktimeNs;
          env.state.ktimeNs += env.state.ktimeStepNs;
          return now;
        },
      },
      {
        id: 6,
        name: 'trace_printk',
        argCount: 2,
        impl: (env, [fmt = 0n, size = 0n, a = 0n, b = 0n, c = 0n]) => {
          const text = formatPrintk(env, fmt, Number(size & 0xffff_ffffn), [a, b, c]);
          env.detail.text = text;
          env.state.printk.push(text);
          return BigInt(Buffer.byteLength(text, 'latin1'));
        },
      },
      { id: 7, name: 'get_prandom_u32', argCount: 0, impl: (env) => nextRandom(env.state) },
      { id: 8, name: 'get_smp_processor_id', argCount: 0, impl: (env) => BigInt(env.state.cpu) },
      {
        id: 14,
        name: 'get_current_pid_tgid',
        argCount: 0,
        impl: (env) => env.state.pidTgid,
      },
      {
        id: 25,
        name: 'perf_event_output',
        argCount: 5,
        impl: (env, [ctx = 0n, m = 0n, flags = 0n, data = 0n, size = 0n]) => {
          ctxArg(env, ctx, 'perf_event_output');
          const map = mapArg(env, m, 'perf_event_output r2');
          if (map.type !== 'perf_event_array') {
            throw new VmError('HELPER_ARGUMENT', `perf_event_output needs a perf_event_array`);
          }
          const bytes = env.memory.readArg(data, Number(size), 'perf_event_output data');
          env.detail.data = bytes;
          env.detail.flags = flags;
          const index = flags & BPF_F_INDEX_MASK;
          const cpu = index === BPF_F_INDEX_MASK ? env.state.cpu : Number(index);
          if (cpu >= map.maxEntries) return errno(-7); // -E2BIG
          (map as PerfEventArrayMap).records.push({ data: bytes, flags, cpu });
          return 0n;
        },
      },
      {
        id: 46,
        name: 'get_socket_cookie',
        argCount: 1,
        programTypes: ['sock_ops', 'socket_filter'],
        impl: (env, [ctx = 0n]) => {
          ctxArg(env, ctx, 'get_socket_cookie');
          return ctxSocket(env, 'get_socket_cookie').cookie;
        },
      },
      {
        id: 53,
        name: 'sock_map_update',
        argCount: 4,
        programTypes: SOCK_OPS,
        impl: (env, [ctx = 0n, m = 0n, k = 0n, flags = 0n]) => {
          ctxArg(env, ctx, 'sock_map_update');
          const map = socketMapArg(env, m, 'sock_map_update', 'sockmap');
          return sockUpdate(env, map, readKey(env, map, k), flags);
        },
      },
      {
        id: 59,
        name: 'sock_ops_cb_flags_set',
        argCount: 2,
        programTypes: SOCK_OPS,
        impl: (env, [ctx = 0n, flags = 0n]) => {
          const c = ctxArg(env, ctx, 'sock_ops_cb_flags_set');
          env.detail.flags = flags;
          // The field reads through the socket, so the program sees the new value at once.
          const cbFlags = Number(BigInt.asUintN(32, flags) & SOCK_OPS_ALL_CB_FLAGS);
          new DataView(c.bytes.buffer, c.bytes.byteOffset).setUint32(84, cbFlags, true);
          return BigInt.asUintN(64, BigInt.asIntN(32, flags) & ~SOCK_OPS_ALL_CB_FLAGS);
        },
      },
      {
        id: 60,
        name: 'msg_redirect_map',
        argCount: 4,
        programTypes: SK_MSG,
        impl: (env, [msg = 0n, m = 0n, index = 0n, flags = 0n]) => {
          ctxArg(env, msg, 'msg_redirect_map');
          const map = socketMapArg(env, m, 'msg_redirect_map', 'sockmap');
          const key = u32Key(Number(index & 0xffff_ffffn));
          env.detail.key = key;
          return redirect(env, map, key, flags);
        },
      },
      {
        id: 61,
        name: 'msg_apply_bytes',
        argCount: 2,
        programTypes: SK_MSG,
        impl: (env, [msg = 0n, bytes = 0n]) => {
          ctxArg(env, msg, 'msg_apply_bytes');
          env.state.applyBytes = Number(bytes & 0xffff_ffffn);
          return 0n;
        },
      },
      {
        id: 62,
        name: 'msg_cork_bytes',
        argCount: 2,
        programTypes: SK_MSG,
        impl: (env, [msg = 0n, bytes = 0n]) => {
          ctxArg(env, msg, 'msg_cork_bytes');
          env.state.corkBytes = Number(bytes & 0xffff_ffffn);
          return 0n;
        },
      },
      {
        id: 70,
        name: 'sock_hash_update',
        argCount: 4,
        programTypes: SOCK_OPS,
        impl: (env, [ctx = 0n, m = 0n, k = 0n, flags = 0n]) => {
          ctxArg(env, ctx, 'sock_hash_update');
          const map = socketMapArg(env, m, 'sock_hash_update', 'sockhash');
          return sockUpdate(env, map, readKey(env, map, k), flags);
        },
      },
      {
        id: 71,
        name: 'msg_redirect_hash',
        argCount: 4,
        programTypes: SK_MSG,
        impl: (env, [msg = 0n, m = 0n, k = 0n, flags = 0n]) => {
          ctxArg(env, msg, 'msg_redirect_hash');
          const map = socketMapArg(env, m, 'msg_redirect_hash', 'sockhash');
          return redirect(env, map, readKey(env, map, k), flags);
        },
      },
      {
        id: 122,
        name: 'get_netns_cookie',
        argCount: 1,
        programTypes: SOCK_OPS_OR_SK_MSG,
        impl: (env, [ctx = 0n]) => {
          // sock_ops may pass NULL, which means the initial namespace (cookie 1 here).
          if (ctx === 0n && env.ctx?.programType === 'sock_ops') return 1n;
          return ctxArg(env, ctx, 'get_netns_cookie').netnsCookie ?? 1n;
        },
      },
      {
        id: 130,
        name: 'ringbuf_output',
        argCount: 4,
        impl: (env, [m = 0n, data = 0n, size = 0n, flags = 0n]) => {
          const map = mapArg(env, m, 'ringbuf_output r1');
          if (map.type !== 'ringbuf') {
            throw new VmError('HELPER_ARGUMENT', `ringbuf_output needs a ringbuf, got ${map.type}`);
          }
          const bytes = env.memory.readArg(data, Number(size), 'ringbuf_output data');
          env.detail.data = bytes;
          env.detail.flags = flags;
          return errno((map as RingBufMap).output(bytes, flags));
        },
      },
    ] satisfies HelperDef[]
  ).map((h) => [h.id, h]),
);

/** Names of well-known helper ids, for messages about helpers that are not simulated. */
const HELPER_NAMES: Readonly<Record<number, string>> = {
  4: 'probe_read',
  9: 'skb_store_bytes',
  12: 'tail_call',
  15: 'get_current_uid_gid',
  16: 'get_current_comm',
  23: 'redirect',
  26: 'skb_load_bytes',
  49: 'setsockopt',
  51: 'redirect_map',
  52: 'sk_redirect_map',
  57: 'getsockopt',
  63: 'msg_pull_data',
  72: 'sk_redirect_hash',
  80: 'get_current_cgroup_id',
  90: 'msg_push_data',
  91: 'msg_pop_data',
  131: 'ringbuf_reserve',
  132: 'ringbuf_submit',
  133: 'ringbuf_discard',
  142: 'load_hdr_opt',
  143: 'store_hdr_opt',
  144: 'reserve_hdr_opt',
  181: 'loop',
};

/** A printable name for a helper id (`bpf_<name>#<id>` as the verifier prints it). */
export function helperName(id: number): string {
  const name = BUILTIN_HELPERS.get(id)?.name ?? HELPER_NAMES[id];
  return name ? `bpf_${name}#${id}` : `helper #${id}`;
}
