/**
 * Simulated program contexts: the bytes of `struct bpf_sock_ops` (224 bytes, the 6.18 layout) and
 * `struct sk_msg_md` (80 bytes) built from a connection description, with the kernel's byte
 * placement and access rules (net/core/filter.c `sock_ops_is_valid_access`,
 * `sk_msg_is_valid_access`, `bpf_sock_is_valid_access`; shared/spec/elf-btf-bpf.md §5.5).
 *
 * Byte order of the address fields, little-endian host (what `sock_ops_convert_ctx_access` yields):
 *
 *     remote_ip4 / local_ip4       u32 holding the 4 address bytes in wire order
 *     remote_ip6[4] / local_ip6[4] 16 address bytes in wire order
 *     remote_port                  u32 = be16(port) << 16   bytes: 00 00 hi lo
 *     local_port                   u32 = port (host order)  bytes: lo hi 00 00
 *
 * so `remote_port >> 16` and `bswap32(local_port) >> 16` both give the wire-order u16 of a port.
 */
import { SockOpsOp } from '../asm/uapi.js';
import { type Connection, connectionSocket, socketAddresses, type VmSocket } from './connection.js';
import { VmError } from './errors.js';
import type { CtxAccessCheck } from './memory.js';

/** Program types whose contexts the interpreter simulates. */
export type ProgramType = 'sock_ops' | 'sk_msg' | 'socket_filter';

/** A context field that holds a pointer, filled in when a run places the regions in memory. */
export interface CtxPointerField {
  /** Byte offset of the u64 pointer in the context. */
  readonly off: number;
  /** What it points to: packet start, packet end, or the `struct bpf_sock` of the socket. */
  readonly to: 'packet' | 'packet_end' | 'sock';
}

/** A program context ready to run: its bytes, its access rules and the facts helpers consult. */
export interface VmContext {
  readonly programType: ProgramType;
  /** The context struct (copied at the start of each run; the run result has the final bytes). */
  readonly bytes: Uint8Array;
  /** The kernel's rules for loads and stores into this context. */
  readonly check: CtxAccessCheck;
  /** Pointer fields patched at run time. */
  readonly pointers: readonly CtxPointerField[];
  /** The socket the program runs for (sock_ops, sk_msg). */
  readonly socket?: VmSocket;
  /** What bpf_get_netns_cookie returns. */
  readonly netnsCookie?: bigint;
  /** Packet bytes: the message for sk_msg, the skb data for socket filters. */
  readonly packet?: Uint8Array;
  /** `struct bpf_sock` bytes the ctx's `sk` field points to. */
  readonly sock?: Uint8Array;
}

/** Size of `struct bpf_sock_ops` on 6.18. */
export const SOCK_OPS_SIZE = 224;
/** Size of `struct sk_msg_md`. */
export const SK_MSG_MD_SIZE = 80;
/** Size of `struct bpf_sock`. */
export const BPF_SOCK_SIZE = 80;

/** BPF_SOCK_OPS_* callback numbers (the `op` field of bpf_sock_ops). */
export { SockOpsOp };

/** Byte offsets of `struct bpf_sock_ops` fields (6.18). */
export const SockOpsOffset = {
  op: 0,
  args: 4,
  reply: 4,
  family: 20,
  remote_ip4: 24,
  local_ip4: 28,
  remote_ip6: 32,
  local_ip6: 48,
  remote_port: 64,
  local_port: 68,
  is_fullsock: 72,
  snd_cwnd: 76,
  srtt_us: 80,
  bpf_sock_ops_cb_flags: 84,
  state: 88,
  rtt_min: 92,
  snd_ssthresh: 96,
  rcv_nxt: 100,
  snd_nxt: 104,
  snd_una: 108,
  mss_cache: 112,
  ecn_flags: 116,
  rate_delivered: 120,
  rate_interval_us: 124,
  packets_out: 128,
  retrans_out: 132,
  total_retrans: 136,
  segs_in: 140,
  data_segs_in: 144,
  segs_out: 148,
  data_segs_out: 152,
  lost_out: 156,
  sacked_out: 160,
  sk_txhash: 164,
  bytes_received: 168,
  bytes_acked: 176,
  sk: 184,
  skb_data: 192,
  skb_data_end: 200,
  skb_len: 208,
  skb_tcp_flags: 212,
  skb_hwtstamp: 216,
} as const;

/** Byte offsets of `struct sk_msg_md` fields. */
export const SkMsgOffset = {
  data: 0,
  data_end: 8,
  family: 16,
  remote_ip4: 20,
  local_ip4: 24,
  remote_ip6: 28,
  local_ip6: 44,
  remote_port: 60,
  local_port: 64,
  size: 68,
  sk: 72,
} as const;

/** Byte offsets of `struct bpf_sock` fields. */
export const BpfSockOffset = {
  bound_dev_if: 0,
  family: 4,
  type: 8,
  protocol: 12,
  mark: 16,
  priority: 20,
  src_ip4: 24,
  src_ip6: 28,
  src_port: 44,
  dst_port: 48,
  dst_ip4: 52,
  dst_ip6: 56,
  state: 72,
  rx_queue_mapping: 76,
} as const;

/** bpf_sock_ops fields that are read with 8-byte loads only. */
const SOCK_OPS_U64_READS = new Set<number>([
  SockOpsOffset.bytes_received,
  SockOpsOffset.bytes_acked,
  SockOpsOffset.sk,
  SockOpsOffset.skb_data,
  SockOpsOffset.skb_data_end,
  SockOpsOffset.skb_hwtstamp,
]);

/** `sock_ops_is_valid_access` of 6.18. */
export const sockOpsAccess: CtxAccessCheck = (off, size, write) => {
  if (off < 0 || off >= SOCK_OPS_SIZE) return 'invalid bpf_context access: beyond bpf_sock_ops';
  if (off % size !== 0) return 'invalid bpf_context access: misaligned';
  if (write) {
    if (off !== SockOpsOffset.reply && off !== SockOpsOffset.sk_txhash) {
      return 'invalid bpf_context access: only reply and sk_txhash are writable';
    }
    return size === 4 ? undefined : 'invalid bpf_context access: write reply/sk_txhash as u32';
  }
  // Every u64 field (bytes_received, bytes_acked, sk, skb_data, skb_data_end, skb_hwtstamp) is
  // read whole: no 4-byte read of either half (checked against the 6.18 verifier).
  const u64Field = off - (off % 8);
  if (SOCK_OPS_U64_READS.has(u64Field)) {
    return size === 8 && off === u64Field
      ? undefined
      : 'invalid bpf_context access: this field is read as a whole u64';
  }
  if (off === SockOpsOffset.skb_tcp_flags) return undefined; // narrow loads allowed
  return size === 4 ? undefined : 'invalid bpf_context access: u32 fields need 4-byte loads';
};

/** `sk_msg_is_valid_access`: read only, u64 pointers, u32 fields with 4-byte loads. */
export const skMsgAccess: CtxAccessCheck = (off, size, write) => {
  if (write) return 'invalid bpf_context access: sk_msg_md is read-only';
  if (off < 0 || off >= SK_MSG_MD_SIZE) return 'invalid bpf_context access: beyond sk_msg_md';
  if (off % size !== 0) return 'invalid bpf_context access: misaligned';
  if (off === SkMsgOffset.data || off === SkMsgOffset.data_end || off === SkMsgOffset.sk) {
    return size === 8 ? undefined : 'invalid bpf_context access: pointer fields are u64';
  }
  if (off >= SkMsgOffset.family && off < SkMsgOffset.sk) {
    return size === 4 ? undefined : 'invalid bpf_context access: u32 fields need 4-byte loads';
  }
  return 'invalid bpf_context access: no field here';
};

/** Fields of bpf_sock that allow narrow (1/2-byte) loads at exactly their start. */
const BPF_SOCK_NARROW_AT = new Set<number>([
  BpfSockOffset.state,
  BpfSockOffset.family,
  BpfSockOffset.type,
  BpfSockOffset.protocol,
  BpfSockOffset.src_port,
  BpfSockOffset.rx_queue_mapping,
]);

/** `bpf_sock_is_valid_access`: read only; narrow loads for addresses, family, ports and state. */
export const bpfSockAccess: CtxAccessCheck = (off, size, write) => {
  if (write) return 'invalid bpf_sock access: struct bpf_sock is read-only';
  if (off < 0 || off >= BPF_SOCK_SIZE) return 'invalid bpf_sock access: beyond bpf_sock';
  if (off % size !== 0) return 'invalid bpf_sock access: misaligned';
  if (size > 4) return 'invalid bpf_sock access: no u64 fields';
  const inAddress =
    (off >= BpfSockOffset.src_ip4 && off < BpfSockOffset.src_port) ||
    (off >= BpfSockOffset.dst_ip4 && off < BpfSockOffset.state);
  if (BPF_SOCK_NARROW_AT.has(off) || inAddress) return undefined;
  if (off >= BpfSockOffset.dst_port && off < BpfSockOffset.dst_ip4) {
    // dst_port is a __be16 followed by 16 bits of padding: u32 at 48, or u16/u8 inside the port.
    if (size === 4) return undefined;
    return off < BpfSockOffset.dst_port + 2 ? undefined : 'invalid bpf_sock access: padding';
  }
  return size === 4 ? undefined : 'invalid bpf_sock access: u32 fields need 4-byte loads';
};

const TCP_ESTABLISHED = 1;
const TCP_SYN_SENT = 2;
const TCP_SYN_RECV = 3;
const TCP_LISTEN = 10;

/**
 * The TCP state the socket is in when callback `op` runs: PASSIVE_ESTABLISHED_CB runs before
 * tcp_rcv_state_process() moves the socket out of SYN_RECV (verified on 6.18), TCP_CONNECT_CB in
 * SYN_SENT, TCP_LISTEN_CB in LISTEN, the rest in ESTABLISHED.
 */
function tcpStateAt(op: number, socket: VmSocket): number {
  if (op === SockOpsOp.TCP_LISTEN_CB || socket.state === 'listen') return TCP_LISTEN;
  if (op === SockOpsOp.PASSIVE_ESTABLISHED_CB) return TCP_SYN_RECV;
  if (op === SockOpsOp.TCP_CONNECT_CB) return TCP_SYN_SENT;
  return TCP_ESTABLISHED;
}

function putU32(view: DataView, off: number, value: number): void {
  view.setUint32(off, value >>> 0, true);
}

/** The u32 value of remote_port as the kernel presents it on little-endian: be16(port) << 16. */
export function remotePortField(port: number): number {
  return ((((port & 0xff) << 8) | (port >> 8)) << 16) >>> 0;
}

/** Builds `struct bpf_sock` for a connection's socket. */
function bpfSockBytes(conn: Connection, socket: VmSocket): Uint8Array {
  const a = socketAddresses(conn);
  const bytes = new Uint8Array(BPF_SOCK_SIZE);
  const view = new DataView(bytes.buffer);
  putU32(view, BpfSockOffset.family, a.family);
  putU32(view, BpfSockOffset.type, socket.protocol === 'udp' ? 2 : 1);
  putU32(view, BpfSockOffset.protocol, socket.protocol === 'udp' ? 17 : 6);
  bytes.set(a.localIp4, BpfSockOffset.src_ip4);
  bytes.set(a.localIp6, BpfSockOffset.src_ip6);
  putU32(view, BpfSockOffset.src_port, conn.localPort);
  view.setUint16(BpfSockOffset.dst_port, conn.remotePort, false);
  bytes.set(a.remoteIp4, BpfSockOffset.dst_ip4);
  bytes.set(a.remoteIp6, BpfSockOffset.dst_ip6);
  putU32(view, BpfSockOffset.state, socket.state === 'listen' ? TCP_LISTEN : TCP_ESTABLISHED);
  putU32(view, BpfSockOffset.rx_queue_mapping, -1);
  return bytes;
}

/** Extra, optional sock_ops inputs: the callback's args and any numeric TCP field by name. */
export interface SockOpsExtras {
  /** args[0..3] of the callback (e.g. old and new state for STATE_CB). */
  readonly args?: readonly number[];
  /** Values for u32 fields such as `snd_cwnd`, `srtt_us`, `state`, `skb_len`. */
  readonly fields?: Partial<Record<keyof typeof SockOpsOffset, number>>;
  /** bytes_received and bytes_acked (u64). */
  readonly bytesReceived?: bigint;
  readonly bytesAcked?: bigint;
}

/**
 * A sock_ops context for `conn` at callback `op` (see SockOpsOp): a full socket in
 * TCP_ESTABLISHED (TCP_LISTEN for TCP_LISTEN_CB), is_fullsock = 1, addresses and ports placed as
 * the kernel does. Only `reply` and `sk_txhash` are writable.
 */
export function sockOpsContext(
  conn: Connection,
  op: number,
  extras: SockOpsExtras = {},
): VmContext {
  const side = conn.side ?? (op === SockOpsOp.PASSIVE_ESTABLISHED_CB ? 'passive' : 'active');
  const sided: Connection = { ...conn, side };
  const a = socketAddresses(sided);
  const socket = connectionSocket(conn);
  const bytes = new Uint8Array(SOCK_OPS_SIZE);
  const view = new DataView(bytes.buffer);
  putU32(view, SockOpsOffset.op, op);
  (extras.args ?? []).slice(0, 4).forEach((arg, i) => {
    putU32(view, SockOpsOffset.args + 4 * i, arg);
  });
  putU32(view, SockOpsOffset.family, a.family);
  bytes.set(a.remoteIp4, SockOpsOffset.remote_ip4);
  bytes.set(a.localIp4, SockOpsOffset.local_ip4);
  bytes.set(a.remoteIp6, SockOpsOffset.remote_ip6);
  bytes.set(a.localIp6, SockOpsOffset.local_ip6);
  putU32(view, SockOpsOffset.remote_port, remotePortField(conn.remotePort));
  putU32(view, SockOpsOffset.local_port, conn.localPort);
  putU32(view, SockOpsOffset.is_fullsock, 1);
  putU32(view, SockOpsOffset.state, tcpStateAt(op, socket));
  for (const [name, value] of Object.entries(extras.fields ?? {})) {
    const off = SockOpsOffset[name as keyof typeof SockOpsOffset];
    if (value === undefined) continue;
    if (SOCK_OPS_U64_READS.has(off)) {
      throw new VmError('BAD_INPUT', `sock_ops field ${name} is not a u32 field`);
    }
    putU32(view, off, value);
  }
  view.setBigUint64(SockOpsOffset.bytes_received, extras.bytesReceived ?? 0n, true);
  view.setBigUint64(SockOpsOffset.bytes_acked, extras.bytesAcked ?? 0n, true);
  return {
    programType: 'sock_ops',
    bytes,
    check: sockOpsAccess,
    pointers: [{ off: SockOpsOffset.sk, to: 'sock' }],
    socket,
    netnsCookie: conn.netnsCookie ?? 1n,
    sock: bpfSockBytes(sided, socket),
  };
}

/**
 * An sk_msg context for a message sent on `conn`'s socket: `data`..`data_end` cover `message`
 * (or `size` zero bytes when a number is given). The whole struct is read-only.
 */
export function skMsgContext(conn: Connection, message: Uint8Array | number): VmContext {
  const a = socketAddresses(conn);
  const socket = connectionSocket(conn);
  const packet = typeof message === 'number' ? new Uint8Array(message) : message.slice();
  const bytes = new Uint8Array(SK_MSG_MD_SIZE);
  const view = new DataView(bytes.buffer);
  putU32(view, SkMsgOffset.family, a.family);
  bytes.set(a.remoteIp4, SkMsgOffset.remote_ip4);
  bytes.set(a.localIp4, SkMsgOffset.local_ip4);
  bytes.set(a.remoteIp6, SkMsgOffset.remote_ip6);
  bytes.set(a.localIp6, SkMsgOffset.local_ip6);
  putU32(view, SkMsgOffset.remote_port, remotePortField(conn.remotePort));
  putU32(view, SkMsgOffset.local_port, conn.localPort);
  putU32(view, SkMsgOffset.size, packet.length);
  return {
    programType: 'sk_msg',
    bytes,
    check: skMsgAccess,
    pointers: [
      { off: SkMsgOffset.data, to: 'packet' },
      { off: SkMsgOffset.data_end, to: 'packet_end' },
      { off: SkMsgOffset.sk, to: 'sock' },
    ],
    socket,
    netnsCookie: conn.netnsCookie ?? 1n,
    packet,
    sock: bpfSockBytes(conn, socket),
  };
}

/**
 * A minimal socket-filter context for the legacy packet loads (`ld_abs`/`ld_ind`): `packet` is the
 * skb data; of `struct __sk_buff` only `len` (offset 0, u32) is simulated, other fields are refused.
 */
export function socketFilterContext(packet: Uint8Array): VmContext {
  const bytes = new Uint8Array(4);
  putU32(new DataView(bytes.buffer), 0, packet.length);
  return {
    programType: 'socket_filter',
    bytes,
    check: (off, size, write) =>
      write
        ? 'invalid bpf_context access: __sk_buff len is read-only'
        : off === 0 && size === 4
          ? undefined
          : 'invalid bpf_context access: only __sk_buff len (off 0, u32) is simulated',
    pointers: [],
    packet: packet.slice(),
  };
}
