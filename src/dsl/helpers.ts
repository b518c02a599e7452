/**
 * Helper functions with typed signatures and the program types allowed to call them.
 *
 * Each helper is described twice, once for each checker: `HelperSignatures` gives TypeScript the
 * operand types (a SOCKHASH where a SOCKHASH is needed, a key of the map's key layout), and
 * `HELPERS` gives the build-time checks the helper id, the argument kinds the verifier expects
 * in r1–r5, and the program types whose `func_proto` offers it (probed on Linux 6.18: e.g.
 * sock_hash_update from sk_msg fails with "program of this type cannot use helper").
 * `b.call` exposes only the helpers of the program's type, so a disallowed call does not compile.
 *
 * Operands are materialised into r1–r5 by the call: a register is moved there unless it already
 * is there (moves are ordered so no argument is overwritten before it is read; a cycle goes through
 * r0, which the call clobbers anyway), a number becomes `mov`, a map an `ld_imm64` relocated to the
 * map, a stack object `rN = r10; rN += off`.
 */
import type { Layout } from './layout.js';
import type { KeySpec, MapDef, MapTypeName } from './maps.js';
import type { ProgramTypeName } from './program-types.js';
import type { Ref } from './refs.js';
import type { Register } from './registers.js';

/** What the verifier expects in one argument register. */
export type ArgKind =
  /** The program's context pointer, unmodified. */
  | { readonly kind: 'ctx' }
  /** The context pointer or NULL. */
  | { readonly kind: 'ctx_or_null' }
  /** A map of one of these types. */
  | { readonly kind: 'map'; readonly types: readonly MapTypeName[] }
  /** Pointer to initialised memory of the (preceding) map argument's key size. */
  | { readonly kind: 'key' }
  /** Pointer to initialised memory of the map's value size. */
  | { readonly kind: 'value' }
  /** A scalar value. */
  | { readonly kind: 'scalar' }
  /** Pointer to memory whose size is argument `sizeArg`; `init` false for output buffers. */
  | { readonly kind: 'mem'; readonly sizeArg: number; readonly init: boolean };

/** What a helper returns in r0. */
export type RetKind = 'scalar' | 'map_value_or_null';

/** The build-time description of one helper. */
export interface HelperDef {
  /** BPF_FUNC_* id. */
  readonly id: number;
  /** C name (`bpf_sock_hash_update`). */
  readonly name: string;
  readonly args: readonly ArgKind[];
  readonly ret: RetKind;
  /** Program types allowed to call it. */
  readonly progTypes: readonly ProgramTypeName[];
  /** Kernel version that introduced the helper. */
  readonly since: string;
  /** Needs a GPL-compatible license. */
  readonly gplOnly?: boolean;
  /** Up to this many further scalar arguments the verifier does not check (trace_printk). */
  readonly varargs?: number;
}

/** A register or a 32-bit immediate (64-bit values are loaded with ld_imm64). */
export type ScalarArg = Register | number;
/** The context pointer, in any register (r1 at entry). */
export type CtxArg = Register;
/** Pointer to memory: a typed reference or a register holding one. */
export type MemArg = Ref | Register;
/** Pointer to a key (or value) of layout K: a reference to K, or a register holding one. */
export type KeyArg<K extends KeySpec> = (K extends Layout ? Ref<K> : Ref) | Register;

/** Maps `map_lookup_elem` / `map_update_elem` accept (data maps). */
export type DataMapType =
  | 'hash'
  | 'array'
  | 'percpu_hash'
  | 'percpu_array'
  | 'lru_hash'
  | 'lru_percpu_hash'
  | 'lpm_trie';

const DATA_MAPS: readonly MapTypeName[] = [
  'hash',
  'array',
  'percpu_hash',
  'percpu_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
];

/** TypeScript signatures of the helpers (the operands the DSL call takes). */
export interface HelperSignatures {
  /** `bpf_map_lookup_elem(map, key)`: r0 = pointer to the value or NULL (compare with 0 first). */
  mapLookupElem<K extends KeySpec, V extends KeySpec>(
    map: MapDef<DataMapType, K, V>,
    key: KeyArg<NoInfer<K>>,
  ): Ref<V extends Layout ? V : Layout>;
  /** `bpf_map_update_elem(map, key, value, flags)`: flags BPF_ANY/NOEXIST/EXIST; r0 = 0 or -errno. */
  mapUpdateElem<K extends KeySpec, V extends KeySpec>(
    map: MapDef<DataMapType, K, V>,
    key: KeyArg<NoInfer<K>>,
    value: KeyArg<NoInfer<V>>,
    flags: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_map_delete_elem(map, key)`: r0 = 0 or -errno. */
  mapDeleteElem<K extends KeySpec>(
    map: MapDef<DataMapType | 'sockmap' | 'sockhash', K, KeySpec>,
    key: KeyArg<NoInfer<K>>,
  ): Register<0, 64>;
  /** `bpf_ktime_get_ns()`: r0 = monotonic time in ns. */
  ktimeGetNs(): Register<0, 64>;
  /** `bpf_trace_printk(fmt, fmt_size, ...)`: up to three scalar arguments; GPL-only. */
  tracePrintk(
    fmt: MemArg,
    fmtSize: ScalarArg,
    ...args: [] | [ScalarArg] | [ScalarArg, ScalarArg] | [ScalarArg, ScalarArg, ScalarArg]
  ): Register<0, 64>;
  /** `bpf_get_prandom_u32()`: r0 = pseudo-random u32. */
  getPrandomU32(): Register<0, 64>;
  /** `bpf_get_current_pid_tgid()`: r0 = tgid << 32 | pid. */
  getCurrentPidTgid(): Register<0, 64>;
  /** `bpf_perf_event_output(ctx, map, flags, data, size)`. */
  perfEventOutput(
    ctx: CtxArg,
    map: MapDef<'perf_event_array', KeySpec, KeySpec>,
    flags: ScalarArg,
    data: MemArg,
    size: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_get_socket_cookie(ctx)`: r0 = the socket's cookie. */
  getSocketCookie(ctx: CtxArg): Register<0, 64>;
  /** `bpf_setsockopt(ctx, level, optname, optval, optlen)`. */
  setsockopt(
    ctx: CtxArg,
    level: ScalarArg,
    optname: ScalarArg,
    optval: MemArg,
    optlen: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_getsockopt(ctx, level, optname, optval, optlen)`: writes optval. */
  getsockopt(
    ctx: CtxArg,
    level: ScalarArg,
    optname: ScalarArg,
    optval: MemArg,
    optlen: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_sock_map_update(ctx, sockmap, key, flags)`: adds the ctx socket to a SOCKMAP. */
  sockMapUpdate<K extends KeySpec>(
    ctx: CtxArg,
    map: MapDef<'sockmap', K, KeySpec>,
    key: KeyArg<NoInfer<K>>,
    flags: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_sock_ops_cb_flags_set(ctx, flags)`: enables optional sock_ops callbacks. */
  sockOpsCbFlagsSet(ctx: CtxArg, flags: ScalarArg): Register<0, 64>;
  /** `bpf_msg_redirect_map(msg, sockmap, index, flags)`: r0 = SK_PASS or SK_DROP. */
  msgRedirectMap(
    msg: CtxArg,
    map: MapDef<'sockmap', KeySpec, KeySpec>,
    index: ScalarArg,
    flags: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_msg_apply_bytes(msg, bytes)`: the verdict applies to the next `bytes` bytes. */
  msgApplyBytes(msg: CtxArg, bytes: ScalarArg): Register<0, 64>;
  /** `bpf_msg_cork_bytes(msg, bytes)`: wait for `bytes` bytes before running again. */
  msgCorkBytes(msg: CtxArg, bytes: ScalarArg): Register<0, 64>;
  /** `bpf_msg_pull_data(msg, start, end, flags)`: makes [start, end) directly readable. */
  msgPullData(msg: CtxArg, start: ScalarArg, end: ScalarArg, flags: ScalarArg): Register<0, 64>;
  /** `bpf_sock_hash_update(ctx, sockhash, key, flags)`: adds the ctx socket to a SOCKHASH. */
  sockHashUpdate<K extends KeySpec>(
    ctx: CtxArg,
    map: MapDef<'sockhash', K, KeySpec>,
    key: KeyArg<NoInfer<K>>,
    flags: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_msg_redirect_hash(msg, sockhash, key, flags)`: flags 0 or BPF_F_INGRESS; r0 = SK_PASS/SK_DROP. */
  msgRedirectHash<K extends KeySpec>(
    msg: CtxArg,
    map: MapDef<'sockhash', K, KeySpec>,
    key: KeyArg<NoInfer<K>>,
    flags: ScalarArg,
  ): Register<0, 64>;
  /** `bpf_msg_push_data(msg, start, len, flags)`: inserts `len` bytes at `start`. */
  msgPushData(msg: CtxArg, start: ScalarArg, len: ScalarArg, flags: ScalarArg): Register<0, 64>;
  /** `bpf_msg_pop_data(msg, start, len, flags)`: removes `len` bytes at `start`. */
  msgPopData(msg: CtxArg, start: ScalarArg, len: ScalarArg, flags: ScalarArg): Register<0, 64>;
  /** `bpf_get_netns_cookie(ctx)`: r0 = cookie of the socket's network namespace. */
  getNetnsCookie(ctx: CtxArg): Register<0, 64>;
  /** `bpf_ringbuf_output(ringbuf, data, size, flags)`: copies `size` bytes into the ring buffer. */
  ringbufOutput(
    map: MapDef<'ringbuf', KeySpec, KeySpec>,
    data: MemArg,
    size: ScalarArg,
    flags: ScalarArg,
  ): Register<0, 64>;
}

/** Names of the typed helpers. */
export type HelperName = keyof HelperSignatures;

const BOTH = ['sockops', 'sk_msg'] as const;
const SOCK_OPS = ['sockops'] as const;
const SK_MSG = ['sk_msg'] as const;
const ctx = { kind: 'ctx' } as const;
const scalar = { kind: 'scalar' } as const;
const key = { kind: 'key' } as const;
const mapOf = (...types: MapTypeName[]) => ({ kind: 'map', types }) as const;

/** The helpers: ids, argument kinds, allowed program types (Linux 6.18), introducing kernel. */
export const HELPERS = {
  mapLookupElem: {
    id: 1,
    name: 'bpf_map_lookup_elem',
    args: [mapOf(...DATA_MAPS), key],
    ret: 'map_value_or_null',
    progTypes: BOTH,
    since: '3.19',
  },
  mapUpdateElem: {
    id: 2,
    name: 'bpf_map_update_elem',
    args: [mapOf(...DATA_MAPS), key, { kind: 'value' }, scalar],
    ret: 'scalar',
    progTypes: BOTH,
    since: '3.19',
  },
  mapDeleteElem: {
    id: 3,
    name: 'bpf_map_delete_elem',
    args: [mapOf(...DATA_MAPS, 'sockmap', 'sockhash'), key],
    ret: 'scalar',
    progTypes: BOTH,
    since: '3.19',
  },
  ktimeGetNs: {
    id: 5,
    name: 'bpf_ktime_get_ns',
    args: [],
    ret: 'scalar',
    progTypes: BOTH,
    since: '4.1',
  },
  tracePrintk: {
    id: 6,
    name: 'bpf_trace_printk',
    args: [{ kind: 'mem', sizeArg: 1, init: true }, scalar],
    varargs: 3,
    ret: 'scalar',
    progTypes: BOTH,
    since: '4.1',
    gplOnly: true,
  },
  getPrandomU32: {
    id: 7,
    name: 'bpf_get_prandom_u32',
    args: [],
    ret: 'scalar',
    progTypes: BOTH,
    since: '4.1',
  },
  getCurrentPidTgid: {
    id: 14,
    name: 'bpf_get_current_pid_tgid',
    args: [],
    ret: 'scalar',
    progTypes: BOTH,
    since: '4.2',
  },
  perfEventOutput: {
    id: 25,
    name: 'bpf_perf_event_output',
    args: [ctx, mapOf('perf_event_array'), scalar, { kind: 'mem', sizeArg: 4, init: true }, scalar],
    ret: 'scalar',
    progTypes: BOTH,
    since: '4.4',
  },
  getSocketCookie: {
    id: 46,
    name: 'bpf_get_socket_cookie',
    args: [ctx],
    ret: 'scalar',
    progTypes: SOCK_OPS,
    since: '4.12',
  },
  setsockopt: {
    id: 49,
    name: 'bpf_setsockopt',
    args: [ctx, scalar, scalar, { kind: 'mem', sizeArg: 4, init: true }, scalar],
    ret: 'scalar',
    progTypes: SOCK_OPS,
    since: '4.13',
  },
  sockMapUpdate: {
    id: 53,
    name: 'bpf_sock_map_update',
    args: [ctx, mapOf('sockmap'), key, scalar],
    ret: 'scalar',
    progTypes: SOCK_OPS,
    since: '4.14',
  },
  getsockopt: {
    id: 57,
    name: 'bpf_getsockopt',
    args: [ctx, scalar, scalar, { kind: 'mem', sizeArg: 4, init: false }, scalar],
    ret: 'scalar',
    progTypes: SOCK_OPS,
    since: '4.15',
  },
  sockOpsCbFlagsSet: {
    id: 59,
    name: 'bpf_sock_ops_cb_flags_set',
    args: [ctx, scalar],
    ret: 'scalar',
    progTypes: SOCK_OPS,
    since: '4.16',
  },
  msgRedirectMap: {
    id: 60,
    name: 'bpf_msg_redirect_map',
    args: [ctx, mapOf('sockmap'), scalar, scalar],
    ret: 'scalar',
    progTypes: SK_MSG,
    since: '4.17',
  },
  msgApplyBytes: {
    id: 61,
    name: 'bpf_msg_apply_bytes',
    args: [ctx, scalar],
    ret: 'scalar',
    progTypes: SK_MSG,
    since: '4.17',
  },
  msgCorkBytes: {
    id: 62,
    name: 'bpf_msg_cork_bytes',
    args: [ctx, scalar],
    ret: 'scalar',
    progTypes: SK_MSG,
    since: '4.17',
  },
  msgPullData: {
    id: 63,
    name: 'bpf_msg_pull_data',
    args: [ctx, scalar, scalar, scalar],
    ret: 'scalar',
    progTypes: SK_MSG,
    since: '4.17',
  },
  sockHashUpdate: {
    id: 70,
    name: 'bpf_sock_hash_update',
    args: [ctx, mapOf('sockhash'), key, scalar],
    ret: 'scalar',
    progTypes: SOCK_OPS,
    since: '4.18',
  },
  msgRedirectHash: {
    id: 71,
    name: 'bpf_msg_redirect_hash',
    args: [ctx, mapOf('sockhash'), key, scalar],
    ret: 'scalar',
    progTypes: SK_MSG,
    since: '4.18',
  },
  msgPushData: {
    id: 90,
    name: 'bpf_msg_push_data',
    args: [ctx, scalar, scalar, scalar],
    ret: 'scalar',
    progTypes: SK_MSG,
    since: '5.0',
  },
  msgPopData: {
    id: 91,
    name: 'bpf_msg_pop_data',
    args: [ctx, scalar, scalar, scalar],
    ret: 'scalar',
    progTypes: SK_MSG,
    since: '5.0',
  },
  getNetnsCookie: {
    id: 122,
    name: 'bpf_get_netns_cookie',
    args: [{ kind: 'ctx_or_null' }],
    ret: 'scalar',
    progTypes: BOTH,
    since: '5.7',
  },
  ringbufOutput: {
    id: 130,
    name: 'bpf_ringbuf_output',
    args: [mapOf('ringbuf'), { kind: 'mem', sizeArg: 2, init: true }, scalar, scalar],
    ret: 'scalar',
    progTypes: BOTH,
    since: '5.8',
  },
} as const satisfies Record<HelperName, HelperDef>;

/** Names of the helpers program type P may call. */
export type AllowedHelper<P extends ProgramTypeName> = {
  [K in HelperName]: P extends (typeof HELPERS)[K]['progTypes'][number] ? K : never;
}[HelperName];

/** The `b.call` object of a program of type P: only the helpers P may call. */
export type HelperCalls<P extends ProgramTypeName> = Pick<HelperSignatures, AllowedHelper<P>>;

const byId = new Map<number, HelperDef & { readonly key: HelperName }>(
  Object.entries(HELPERS).map(([k, d]) => [d.id, { ...d, key: k as HelperName }]),
);

/** The helper with BPF_FUNC id `id`, when the DSL knows it. */
export function helperById(id: number): (HelperDef & { readonly key: HelperName }) | undefined {
  return byId.get(id);
}
