/**
 * The data layouts of socket acceleration, declared once with the DSL: the programs use them as
 * stack objects, the maps as key and value types (and their BTF), user space as codecs. Byte
 * layouts and who writes what are documented in docs/maps.md; the offsets below are asserted by
 * test/programs/layouts.test.ts.
 */
import { array, be16, be32, struct, u8, u16, u32, u64, union } from '../dsl/layout.js';

/**
 * A 16-byte address slot: IPv4 in the first 4 bytes (the rest zero) or a whole IPv6 address,
 * network order either way (Cilium's `union { struct { __u32 sip4, pad1, pad2, pad3; }; union
 * v6addr sip6; }`).
 */
export const IpAddr = union('ip_addr', { ip4: be32, ip6: array(be32, 4) });

/**
 * Cilium's `struct sock_key` (bpf_sockops.h), packed, 44 bytes:
 *
 *      0               16              32  33  34  36      40      44
 *     +---------------+---------------+---+---+---+-------+-------+
 *     | sip (16)      | dip (16)      |fam|p7 |p8 | sport | dport |
 *     +---------------+---------------+---+---+---+-------+-------+
 *
 * sport/dport are u32 whose low 16 bits hold the port in network order (bytes `hi lo 00 00`).
 */
export const SockKey = struct(
  'sock_key',
  {
    sip: IpAddr,
    dip: IpAddr,
    family: u8,
    pad7: u8,
    pad8: u16,
    sport: u32,
    dport: u32,
  },
  { packed: true },
);

/**
 * The netnsScope key: Cilium's 44 bytes, pad9, then the u64 netns cookie at 48 (8-aligned, as the
 * verifier requires of stack stores), 56 bytes.
 */
export const ScopedSockKey = struct('sock_key_netns', {
  sip: IpAddr,
  dip: IpAddr,
  family: u8,
  pad7: u8,
  pad8: u16,
  sport: u32,
  dport: u32,
  pad9: u32,
  netns_cookie: u64,
});

/**
 * Key of the endpoints and ipcache LPM tries (Cilium's `ipcache_key`), 24 bytes. prefixlen counts
 * from pad1: 32 + the CIDR length, so the family byte is always part of the match.
 */
export const LpmIpKey = struct('lpm_ip_key', {
  prefixlen: u32,
  pad1: u16,
  pad2: u8,
  family: u8,
  addr: IpAddr,
});

/** Value of the endpoints trie: an id for people reading the map; only presence matters. */
export const EndpointInfo = struct('endpoint_info', { endpoint_id: u32 });

/** Value of the ipcache trie: the security identity (0 reads as the world identity). */
export const RemoteEndpointInfo = struct('remote_endpoint_info', { sec_label: u32 });

/** Key of the services hash: a frontend address and port (Cilium's lb4_key for both families). */
export const ServiceKey = struct('service_key', {
  addr: IpAddr,
  dport: be16,
  family: u8,
  pad: u8,
});

/** Value of the services hash: an id for people reading the map; only presence matters. */
export const ServiceInfo = struct('service_info', { service_id: u32 });

/** Key of the policy hash (Cilium's policy_key without the egress bit): 8 bytes. */
export const PolicyKey = struct('policy_key', {
  sec_label: u32,
  dport: be16,
  protocol: u8,
  pad: u8,
});

/** Value of the policy hash: proxy port (network order, 0 = none) and the deny flag. */
export const PolicyEntry = struct('policy_entry', {
  proxy_port: be16,
  deny: u8,
  pad: u8,
});

/** Family byte of IPv4 keys (Cilium's ENDPOINT_KEY_IPV4). */
export const ENDPOINT_KEY_IPV4 = 1;

/** Family byte of IPv6 keys (Cilium's ENDPOINT_KEY_IPV6). */
export const ENDPOINT_KEY_IPV6 = 2;

/** Cilium's WORLD_ID: the identity of addresses the ipcache does not know. */
export const WORLD_ID = 2;

/** Cilium's DROP_POLICY_DENY, the verdict of a deny entry. */
export const DROP_POLICY_DENY = -181;

/** IPPROTO_TCP. */
export const IPPROTO_TCP = 6;

/** prefixlen of a full-address lookup: the 32 bits of pad1/pad2/family plus 128 address bits. */
export const LPM_LOOKUP_PREFIXLEN = 32 + 128;
