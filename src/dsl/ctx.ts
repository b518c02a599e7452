/**
 * Context schemas: the struct a program receives in r1, per program type, from the Linux 6.18
 * UAPI (`struct bpf_sock_ops` is 224 bytes there, 216 in the 6.1 headers installed on build
 * machines) and the access rules of `sock_ops_is_valid_access` / `sk_msg_is_valid_access` in
 * net/core/filter.c. Each field records its offset, the one load width the verifier accepts,
 * whether programs may write it, the byte order of its value, and the kernel that introduced it.
 *
 * The verifier rewrites every ctx access into loads from kernel structs, and it accepts only the
 * declared width for most fields: a 16-bit load of `remote_port` is rejected ("invalid bpf_context
 * access"), so the DSL always emits the full 32-bit load (clang may narrow it, cilium's READ_ONCE
 * workaround exists for that).
 *
 * `remote_port` is network order in the upper 16 bits of the u32 on little-endian hosts (the kernel
 * loads the 16-bit `skc_dport` and shifts it left by 16): `>> 16` yields the wire-order port.
 * `local_port` is host order (the port number itself). `b.ctx.loadPort` does these conversions.
 */

/** What a loaded ctx field holds, for the build-time checks. */
export type CtxValueKind = 'scalar' | 'packet' | 'packet_end' | 'sock_or_null';

/** One field of a context struct. */
export interface CtxField {
  /** Byte offset in the context struct. */
  readonly offset: number;
  /** Width in bytes of each element and of the only load the verifier accepts for it. */
  readonly size: 4 | 8;
  /** Number of elements for array fields (`remote_ip6[4]`); absent for single values. */
  readonly count?: number;
  /** 'rw' fields may also be stored to (with exactly `size` bytes). */
  readonly access: 'r' | 'rw';
  /** Byte order of the value: 'network' (big-endian, as on the wire) or 'host'. */
  readonly order: 'network' | 'host';
  /** Kernel version that introduced the field (older kernels reject the access). */
  readonly since: string;
  /** What the loaded value is; scalars unless noted. */
  readonly kind?: CtxValueKind;
  /** Narrower loads (1, 2 bytes at the field's start or aligned inside) are also accepted. */
  readonly narrow?: boolean;
  /** How to interpret the value, when it is not obvious. */
  readonly note?: string;
}

/** A context struct: name (the UAPI struct tag), size and fields. */
export interface CtxSchema {
  /** The UAPI struct name, used for the program's BTF FUNC_PROTO parameter. */
  readonly struct: string;
  /** Size in bytes on Linux 6.18; accesses at or beyond it are rejected. */
  readonly size: number;
  readonly fields: { readonly [name: string]: CtxField };
}

const sockOpsU32 = (offset: number, since: string, note?: string): CtxField => ({
  offset,
  size: 4,
  access: 'r',
  order: 'host',
  since,
  ...(note ? { note } : {}),
});

/** `struct bpf_sock_ops` (Linux 6.18, 224 bytes), the context of BPF_PROG_TYPE_SOCK_OPS programs. */
export const SOCK_OPS_CTX = {
  struct: 'bpf_sock_ops',
  size: 224,
  fields: {
    op: sockOpsU32(0, '4.13', 'BPF_SOCK_OPS_* callback (4 ACTIVE_ESTABLISHED_CB, 5 PASSIVE_…)'),
    args: { ...sockOpsU32(4, '4.16', 'callback arguments, meaning depends on op'), count: 4 },
    reply: {
      offset: 4,
      size: 4,
      access: 'rw',
      order: 'host',
      since: '4.13',
      note: 'answer to query callbacks (union with args[0]); the only writable u32 besides sk_txhash',
    },
    replylong: { ...sockOpsU32(4, '4.13', 'union with args and reply'), count: 4 },
    family: sockOpsU32(20, '4.13', 'AF_INET 2, AF_INET6 10'),
    remote_ip4: { ...sockOpsU32(24, '4.13'), order: 'network' },
    local_ip4: { ...sockOpsU32(28, '4.13'), order: 'network' },
    remote_ip6: { ...sockOpsU32(32, '4.13'), order: 'network', count: 4 },
    local_ip6: { ...sockOpsU32(48, '4.13'), order: 'network', count: 4 },
    remote_port: {
      ...sockOpsU32(64, '4.13', 'network order in the upper 16 bits on little-endian: >> 16'),
      order: 'network',
    },
    local_port: sockOpsU32(68, '4.13', 'host order: the port number'),
    is_fullsock: sockOpsU32(72, '4.16', 'the tcp_sock fields below read 0 unless set'),
    snd_cwnd: sockOpsU32(76, '4.16'),
    srtt_us: sockOpsU32(80, '4.16', 'smoothed RTT << 3, in microseconds'),
    bpf_sock_ops_cb_flags: sockOpsU32(84, '4.16', 'change with sock_ops_cb_flags_set'),
    state: sockOpsU32(88, '4.16', 'BPF_TCP_* state'),
    rtt_min: sockOpsU32(92, '4.16'),
    snd_ssthresh: sockOpsU32(96, '4.16'),
    rcv_nxt: sockOpsU32(100, '4.16'),
    snd_nxt: sockOpsU32(104, '4.16'),
    snd_una: sockOpsU32(108, '4.16'),
    mss_cache: sockOpsU32(112, '4.16'),
    ecn_flags: sockOpsU32(116, '4.16'),
    rate_delivered: sockOpsU32(120, '4.16'),
    rate_interval_us: sockOpsU32(124, '4.16'),
    packets_out: sockOpsU32(128, '4.16'),
    retrans_out: sockOpsU32(132, '4.16'),
    total_retrans: sockOpsU32(136, '4.16'),
    segs_in: sockOpsU32(140, '4.16'),
    data_segs_in: sockOpsU32(144, '4.16'),
    segs_out: sockOpsU32(148, '4.16'),
    data_segs_out: sockOpsU32(152, '4.16'),
    lost_out: sockOpsU32(156, '4.16'),
    sacked_out: sockOpsU32(160, '4.16'),
    sk_txhash: { ...sockOpsU32(164, '4.16'), access: 'rw' },
    bytes_received: { ...sockOpsU32(168, '4.16'), size: 8 },
    bytes_acked: { ...sockOpsU32(176, '4.16'), size: 8 },
    sk: {
      ...sockOpsU32(184, '5.3', 'struct bpf_sock *, may be NULL'),
      size: 8,
      kind: 'sock_or_null',
    },
    skb_data: {
      ...sockOpsU32(192, '5.10', 'start of the TCP header (header-option callbacks)'),
      size: 8,
      kind: 'packet',
    },
    skb_data_end: { ...sockOpsU32(200, '5.10'), size: 8, kind: 'packet_end' },
    skb_len: sockOpsU32(208, '5.10'),
    skb_tcp_flags: { ...sockOpsU32(212, '5.10'), narrow: true },
    skb_hwtstamp: { ...sockOpsU32(216, '6.2'), size: 8 },
  },
} as const satisfies CtxSchema;

/** `struct sk_msg_md` (80 bytes), the context of BPF_PROG_TYPE_SK_MSG programs; read-only. */
export const SK_MSG_CTX = {
  struct: 'sk_msg_md',
  size: 80,
  fields: {
    data: { offset: 0, size: 8, access: 'r', order: 'host', since: '4.17', kind: 'packet' },
    data_end: { offset: 8, size: 8, access: 'r', order: 'host', since: '4.17', kind: 'packet_end' },
    family: { offset: 16, size: 4, access: 'r', order: 'host', since: '4.18' },
    remote_ip4: { offset: 20, size: 4, access: 'r', order: 'network', since: '4.18' },
    local_ip4: { offset: 24, size: 4, access: 'r', order: 'network', since: '4.18' },
    remote_ip6: { offset: 28, size: 4, count: 4, access: 'r', order: 'network', since: '4.18' },
    local_ip6: { offset: 44, size: 4, count: 4, access: 'r', order: 'network', since: '4.18' },
    remote_port: {
      offset: 60,
      size: 4,
      access: 'r',
      order: 'network',
      since: '4.18',
      note: 'network order in the upper 16 bits on little-endian: >> 16',
    },
    local_port: {
      offset: 64,
      size: 4,
      access: 'r',
      order: 'host',
      since: '4.18',
      note: 'host order: the port number',
    },
    size: { offset: 68, size: 4, access: 'r', order: 'host', since: '5.0', note: 'message bytes' },
    sk: {
      offset: 72,
      size: 8,
      access: 'r',
      order: 'host',
      since: '5.8',
      kind: 'sock_or_null',
      note: 'struct bpf_sock *',
    },
  },
} as const satisfies CtxSchema;

/** Names of the fields of a schema. */
export type CtxFieldName<S extends CtxSchema> = keyof S['fields'] & string;

/** Names of the fields programs may store to. */
export type WritableCtxField<S extends CtxSchema> = {
  [K in keyof S['fields'] & string]: S['fields'][K] extends { readonly access: 'rw' } ? K : never;
}[keyof S['fields'] & string];

/** Names of array fields (which take an element index). */
export type CtxArrayField<S extends CtxSchema> = {
  [K in keyof S['fields'] & string]: S['fields'][K] extends { readonly count: number } ? K : never;
}[keyof S['fields'] & string];

/** Names of the port fields, which `loadPort` converts to a chosen byte order. */
export type CtxPortField<S extends CtxSchema> = Extract<
  CtxFieldName<S>,
  'remote_port' | 'local_port'
>;

/** The field and element at a ctx offset, or why an access there is rejected. */
export type CtxAccessVerdict =
  | { readonly ok: true; readonly field: string; readonly info: CtxField }
  | { readonly ok: false; readonly reason: string };

/**
 * Decides whether the verifier accepts a ctx access of `size` bytes at `offset`, mirroring the
 * `*_is_valid_access` rules: in bounds, aligned to its size, inside one field, of the field's exact
 * width (or narrower where the field allows it), and to a writable field when storing.
 */
export function checkCtxAccess(
  schema: CtxSchema,
  offset: number,
  size: number,
  write: boolean,
): CtxAccessVerdict {
  // The checker asks this at every visit of every ctx load and store, always about the same few
  // (schema, offset, size) triples: verdicts are pure (schemas are readonly constants), so each is
  // worked out once.
  let verdicts = verdictCache.get(schema);
  if (verdicts === undefined) {
    verdicts = new Map();
    verdictCache.set(schema, verdicts);
  }
  const key = `${offset}:${size}:${write ? 'w' : 'r'}`;
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = ctxAccessVerdict(schema, offset, size, write);
    verdicts.set(key, verdict);
  }
  return verdict;
}

/** Verdicts already worked out, by schema and `offset:size:r|w`. */
const verdictCache = new WeakMap<CtxSchema, Map<string, CtxAccessVerdict>>();

function ctxAccessVerdict(
  schema: CtxSchema,
  offset: number,
  size: number,
  write: boolean,
): CtxAccessVerdict {
  const where = `${schema.struct} offset ${offset} size ${size}`;
  if (offset < 0 || offset + size > schema.size) {
    return { ok: false, reason: `${where} is outside the ${schema.size}-byte context` };
  }
  if (offset % size !== 0) {
    return { ok: false, reason: `${where} is not aligned to its size` };
  }
  // Prefer a writable field when storing (reply shares offset 4 with args[0]).
  const candidates = Object.entries(schema.fields).filter(([, f]) => {
    const end = f.offset + f.size * (f.count ?? 1);
    return offset >= f.offset && offset < end;
  });
  candidates.sort(([, a], [, b]) =>
    write ? Number(b.access === 'rw') - Number(a.access === 'rw') : 0,
  );
  const found = candidates[0];
  if (!found) return { ok: false, reason: `${where} is not a field` };
  const [name, f] = found;
  const elemStart = f.offset + Math.floor((offset - f.offset) / f.size) * f.size;
  if (write) {
    if (f.access !== 'rw') {
      return { ok: false, reason: `${schema.struct}.${name} is read-only (${where})` };
    }
    if (offset !== elemStart || size !== f.size) {
      return { ok: false, reason: `${schema.struct}.${name} must be stored with ${f.size} bytes` };
    }
    return { ok: true, field: name, info: f };
  }
  const exact = offset === elemStart && size === f.size;
  const narrowOk = f.narrow === true && size < f.size && offset + size <= elemStart + f.size;
  if (!exact && !narrowOk) {
    return {
      ok: false,
      reason: `${schema.struct}.${name} must be loaded with exactly ${f.size} bytes at offset ${elemStart} (${where})`,
    };
  }
  return { ok: true, field: name, info: f };
}
