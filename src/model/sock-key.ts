/**
 * The SOCKHASH key, `struct sock_key` of Cilium's bpf_sockops.h, as a value and as bytes.
 *
 * The 44 packed bytes (offsets in bytes, every pad byte zero; the kernel hashes the raw bytes):
 *
 *      0               16              32  33  34  36      40      44
 *     +---------------+---------------+---+---+---+-------+-------+
 *     | sip (16)      | dip (16)      |fam|p7 |p8 | sport | dport |
 *     +---------------+---------------+---+---+---+-------+-------+
 *
 * - sip/dip: IPv4 in the first 4 bytes (network order) and 12 zero bytes; native IPv6 (ipv6
 *   'native' only) fills all 16 bytes, network order.
 * - family: 1 (ENDPOINT_KEY_IPV4) for IPv4 and v4-mapped sockets, 2 (ENDPOINT_KEY_IPV6) for native
 *   IPv6 keys.
 * - sport/dport: u32 fields whose low 16 bits hold the port in network order, so on little-endian
 *   the bytes are `[port >> 8, port & 0xff, 0, 0]` (port 8080 is `1f 90 00 00`). This is what
 *   `bpf_ntohl(local_port) >> 16` and `remote_port >> 16` produce in Cilium.
 *
 * With netnsScope the key grows to 56 bytes so that the cookie is naturally aligned (the verifier
 * insists on aligned stack accesses, and a u64 store at offset 44 would not be):
 *
 *     44      48                              56
 *     +-------+-------------------------------+
 *     | pad9  | netns_cookie (u64, host order) |
 *     +-------+-------------------------------+
 *
 * The cookie is `bpf_get_netns_cookie(ctx)` of the socket, stored little-endian like any u64 the
 * program writes on this host.
 */
import { match } from 'ts-pattern';

/** Size of Cilium's packed key. */
export const SOCK_KEY_SIZE = 44;

/** Size of the key with netnsScope: Cilium's 44 bytes, 4 pad bytes, the u64 netns cookie. */
export const SCOPED_SOCK_KEY_SIZE = 56;

/** Cilium's ENDPOINT_KEY_IPV4, the family byte of IPv4 (and v4-mapped) keys. */
export const ENDPOINT_KEY_IPV4 = 1;

/** Cilium's ENDPOINT_KEY_IPV6, the family byte of native IPv6 keys. */
export const ENDPOINT_KEY_IPV6 = 2;

/** Address family of a key: IPv4 (4-byte addresses) or native IPv6 (16-byte addresses). */
export type KeyFamily = 'ipv4' | 'ipv6';

/** One key: the tuple as the model reasons about it (ports as numbers, addresses as bytes). */
export interface SockKey {
  readonly family: KeyFamily;
  /** 4 bytes for ipv4, 16 for ipv6, network order. */
  readonly sip: Uint8Array;
  readonly dip: Uint8Array;
  /** Port numbers (0..65535); the encoding puts them in network order. */
  readonly sport: number;
  readonly dport: number;
  /** The netns cookie; present exactly when the options have netnsScope. */
  readonly netnsCookie?: bigint;
}

/** Key size in bytes for the given scoping. */
export function sockKeySize(netnsScope: boolean): number {
  return netnsScope ? SCOPED_SOCK_KEY_SIZE : SOCK_KEY_SIZE;
}

/** The key's family byte (offset 32). */
export function familyByte(family: KeyFamily): number {
  return match(family)
    .with('ipv4', () => ENDPOINT_KEY_IPV4)
    .with('ipv6', () => ENDPOINT_KEY_IPV6)
    .exhaustive();
}

/** The key as the bytes the programs put on the stack and the kernel hashes. */
export function encodeSockKey(key: SockKey): Uint8Array {
  const scoped = key.netnsCookie !== undefined;
  const out = new Uint8Array(sockKeySize(scoped));
  const view = new DataView(out.buffer);
  out.set(key.sip, 0);
  out.set(key.dip, 16);
  out[32] = familyByte(key.family);
  // Port in network order in the low 16 bits of a little-endian u32: bytes hi, lo, 0, 0.
  view.setUint16(36, key.sport, false);
  view.setUint16(40, key.dport, false);
  if (key.netnsCookie !== undefined) view.setBigUint64(48, key.netnsCookie, true);
  return out;
}

/** The reversed tuple: source and destination (address and port) swapped. */
export function reverseKey(key: SockKey): SockKey {
  return { ...key, sip: key.dip, dip: key.sip, sport: key.dport, dport: key.sport };
}
