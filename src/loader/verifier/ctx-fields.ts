/**
 * The context structs of the flagship program types as the 6.18 verifier checks them
 * (net/core/filter.c `sock_ops_is_valid_access`, `sk_msg_is_valid_access`; shared/spec/elf-btf-bpf.md
 * §5.5), so that `invalid bpf_context access off=24 size=8` can be told in field names: which field
 * sits at that offset, and whether the access was too wide, misplaced or a write to a read-only field.
 * The loader reads ELF and knows nothing of the DSL's ctx schemas, hence this small table of its own.
 */

/** The program types whose context layout is known here. */
export type CtxKind = 'sock_ops' | 'sk_msg';

/** One field of a context struct. */
export interface CtxField {
  readonly name: string;
  readonly offset: number;
  /** Bytes the field spans (an array spans all its elements). */
  readonly size: number;
  /** Bytes of one load: 4 for u32 fields and u32 arrays, 8 for u64 and pointers. */
  readonly loadSize: number;
  /** Narrower loads (1, 2 bytes) the verifier also accepts (`skb_tcp_flags`). */
  readonly narrowLoads?: boolean;
  readonly writable: boolean;
}

const u32 = (name: string, offset: number, writable = false): CtxField => ({
  name,
  offset,
  size: 4,
  loadSize: 4,
  writable,
});
const u64 = (name: string, offset: number): CtxField => ({
  name,
  offset,
  size: 8,
  loadSize: 8,
  writable: false,
});
const u32Array = (name: string, offset: number, length: number): CtxField => ({
  name,
  offset,
  size: 4 * length,
  loadSize: 4,
  writable: false,
});

const SOCK_OPS_COUNTERS = [
  'snd_cwnd',
  'srtt_us',
  'bpf_sock_ops_cb_flags',
  'state',
  'rtt_min',
  'snd_ssthresh',
  'rcv_nxt',
  'snd_nxt',
  'snd_una',
  'mss_cache',
  'ecn_flags',
  'rate_delivered',
  'rate_interval_us',
  'packets_out',
  'retrans_out',
  'total_retrans',
  'segs_in',
  'data_segs_in',
  'segs_out',
  'data_segs_out',
  'lost_out',
  'sacked_out',
] as const;

/** struct bpf_sock_ops (224 bytes on 6.18). Only `reply` and `sk_txhash` may be written. */
const SOCK_OPS: readonly CtxField[] = [
  u32('op', 0),
  // A union at 4: `reply` (writable u32) overlays args[0]; the lookup finds `reply` first.
  u32('reply', 4, true),
  u32Array('args', 4, 4),
  u32('family', 20),
  u32('remote_ip4', 24),
  u32('local_ip4', 28),
  u32Array('remote_ip6', 32, 4),
  u32Array('local_ip6', 48, 4),
  u32('remote_port', 64),
  u32('local_port', 68),
  u32('is_fullsock', 72),
  ...SOCK_OPS_COUNTERS.map((name, i) => u32(name, 76 + 4 * i)),
  u32('sk_txhash', 164, true),
  u64('bytes_received', 168),
  u64('bytes_acked', 176),
  u64('sk', 184),
  u64('skb_data', 192),
  u64('skb_data_end', 200),
  u32('skb_len', 208),
  { ...u32('skb_tcp_flags', 212), narrowLoads: true },
  u64('skb_hwtstamp', 216),
];

/** struct sk_msg_md (80 bytes), entirely read-only. */
const SK_MSG: readonly CtxField[] = [
  u64('data', 0),
  u64('data_end', 8),
  u32('family', 16),
  u32('remote_ip4', 20),
  u32('local_ip4', 24),
  u32Array('remote_ip6', 28, 4),
  u32Array('local_ip6', 44, 4),
  u32('remote_port', 60),
  u32('local_port', 64),
  u32('size', 68),
  u64('sk', 72),
];

const LAYOUTS: Record<
  CtxKind,
  { readonly struct: string; readonly size: number; readonly fields: readonly CtxField[] }
> = {
  sock_ops: { struct: 'struct bpf_sock_ops', size: 224, fields: SOCK_OPS },
  sk_msg: { struct: 'struct sk_msg_md', size: 80, fields: SK_MSG },
};

/** The context kind of a program, from its ELF section name (`sockops`, `sk_msg`, `sockops/x`). */
export function ctxKindOfSection(section: string): CtxKind | undefined {
  const base = section.split('/')[0];
  if (base === 'sockops') return 'sock_ops';
  if (base === 'sk_msg') return 'sk_msg';
  return undefined;
}

/** "a 4" / "an 8": the article for a byte count written in digits. */
export function sizedArticle(size: number): string {
  return `${/^(8|11|18)/.test(String(size)) && !/^1\d{3}$/.test(String(size)) ? 'an' : 'a'} ${size}`;
}

/** What was wrong with a context access. */
export type CtxAccessProblem = 'read-only' | 'width' | 'offset' | 'beyond-end';

/** A context access the verifier refused, explained in field names. */
export interface CtxAccessExplanation {
  readonly problem: CtxAccessProblem;
  /** The field at the offset, when there is one. */
  readonly field?: CtxField;
  /** One sentence: what the access was and why it is refused. */
  readonly text: string;
}

/**
 * Explains `invalid bpf_context access off=OFF size=SIZE` for a program of `kind`, knowing whether
 * the failing instruction stored (`write`) or loaded.
 */
export function explainCtxAccess(
  kind: CtxKind,
  offset: number,
  size: number,
  write: boolean,
): CtxAccessExplanation {
  const layout = LAYOUTS[kind];
  const verb = `${sizedArticle(size)}-byte ${write ? 'write' : 'read'}`;
  if (offset < 0 || offset + size > layout.size) {
    return {
      problem: 'beyond-end',
      text: `${verb} at offset ${offset} is outside ${layout.struct} (${layout.size} bytes)`,
    };
  }
  const field = layout.fields.find((f) => offset >= f.offset && offset < f.offset + f.size);
  if (field === undefined) {
    return {
      problem: 'offset',
      text: `${verb} at offset ${offset} hits no field of ${layout.struct}`,
    };
  }
  const inner = offset - field.offset;
  const isArray = field.size > field.loadSize;
  const where =
    inner === 0 && !isArray
      ? field.name
      : isArray && inner % field.loadSize === 0
        ? `${field.name}[${inner / field.loadSize}]`
        : `${field.name} + ${inner}`;
  if (write && !field.writable) {
    const writable = layout.fields.filter((f) => f.writable).map((f) => f.name);
    const allowed =
      writable.length === 0
        ? `every field of ${layout.struct} is read-only`
        : `only ${writable.join(' and ')} may be written`;
    return {
      problem: 'read-only',
      field,
      text: `${verb} to ${kind}.${where}, which is read-only (${allowed})`,
    };
  }
  if (size !== field.loadSize && !(field.narrowLoads === true && size < field.loadSize)) {
    return {
      problem: 'width',
      field,
      text: `${verb} of ${kind}.${where}, which must be accessed ${field.loadSize} bytes at a time`,
    };
  }
  if (inner % field.loadSize !== 0) {
    return {
      problem: 'offset',
      field,
      text: `${verb} at ${kind}.${where}, not on a ${field.loadSize}-byte boundary of the field`,
    };
  }
  return {
    problem: 'offset',
    field,
    text: `${verb} of ${kind}.${where} that this kernel refuses (the field may be newer than the kernel)`,
  };
}
