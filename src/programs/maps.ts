/**
 * The maps of socket acceleration as DSL declarations (names, sizes and pinning from the options),
 * and typed encoders that turn configuration — CIDRs, service frontends, identities, policy
 * verdicts — into the exact key and value bytes the programs look up (docs/maps.md).
 */
import { match } from 'ts-pattern';
import { codec, type Layout, u32, u64 } from '../dsl/layout.js';
import { MapFlags, map } from '../dsl/maps.js';
import { parseAddress, parseCidr } from './addresses.js';
import {
  ENDPOINT_KEY_IPV4,
  ENDPOINT_KEY_IPV6,
  EndpointInfo,
  IPPROTO_TCP,
  LpmIpKey,
  PolicyEntry,
  PolicyKey,
  RemoteEndpointInfo,
  ScopedSockKey,
  ServiceInfo,
  ServiceKey,
  SockKey,
} from './layouts.js';
import type { ResolvedSockopsOptions } from './options.js';
import { STAT_NAMES } from './stats.js';

/** Declares every map the options call for (the cilium variant's lookups only for 'cilium'). */
export function declareSockopsMaps(o: ResolvedSockopsOptions) {
  const pinning = o.pin ? ('by_name' as const) : ('none' as const);
  const sockhash = map(o.names.sockhash, {
    type: 'sockhash',
    // Typed as any layout: which of the two keys depends on the options.
    key: (o.netnsScope ? ScopedSockKey : SockKey) as Layout,
    value: u32,
    maxEntries: o.sizes.sockhash,
    pinning,
  });
  const stats = o.stats
    ? map(o.names.stats, {
        type: 'percpu_array',
        key: u32,
        value: u64,
        maxEntries: STAT_NAMES.length,
        pinning,
      })
    : undefined;
  const cilium =
    o.variant === 'cilium'
      ? {
          endpoints: map(o.names.endpoints, {
            type: 'lpm_trie',
            key: LpmIpKey,
            value: EndpointInfo,
            maxEntries: o.sizes.endpoints,
            flags: MapFlags.NO_PREALLOC,
            pinning,
          }),
          services: map(o.names.services, {
            type: 'hash',
            key: ServiceKey,
            value: ServiceInfo,
            maxEntries: o.sizes.services,
            pinning,
          }),
          ipcache: map(o.names.ipcache, {
            type: 'lpm_trie',
            key: LpmIpKey,
            value: RemoteEndpointInfo,
            maxEntries: o.sizes.ipcache,
            flags: MapFlags.NO_PREALLOC,
            pinning,
          }),
          policy: map(o.names.policy, {
            type: 'hash',
            key: PolicyKey,
            value: PolicyEntry,
            maxEntries: o.sizes.policy,
            pinning,
          }),
        }
      : undefined;
  return { sockhash, stats, cilium };
}

/** The declared maps of one build. */
export type SockopsMapDefs = ReturnType<typeof declareSockopsMaps>;

/** The role of each map, for metadata and documentation. */
export type SockopsMapRole = 'sockhash' | 'endpoints' | 'services' | 'ipcache' | 'policy' | 'stats';

/** What goes wrong turning configuration into map bytes. */
export type MapEncodeErrorCode = 'EENC_CIDR' | 'EENC_ADDRESS' | 'EENC_PORT' | 'EENC_IDENTITY';

/** A configuration value that cannot be encoded; the message names it and what is expected. */
export class MapEncodeError extends Error {
  constructor(
    readonly code: MapEncodeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MapEncodeError';
  }
}

/** The IpAddr union input for 4 or 16 network-order bytes. */
function ipAddr(ip: Uint8Array): { ip4: number } | { ip6: number[] } {
  const view = new DataView(ip.buffer, ip.byteOffset, ip.byteLength);
  return ip.length === 4
    ? { ip4: view.getUint32(0, false) }
    : { ip6: [0, 4, 8, 12].map((o) => view.getUint32(o, false)) };
}

function familyOf(ip: Uint8Array): number {
  return ip.length === 4 ? ENDPOINT_KEY_IPV4 : ENDPOINT_KEY_IPV6;
}

function checkPort(what: string, port: number, allowZero: boolean): number {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new MapEncodeError(
      'EENC_PORT',
      `${what} ${port} is not a port; use an integer from ${allowZero ? 0 : 1} to 65535`,
    );
  }
  return port;
}

function checkIdentity(identity: number): number {
  if (!Number.isInteger(identity) || identity < 0 || identity > 0xffffffff) {
    throw new MapEncodeError(
      'EENC_IDENTITY',
      `identity ${identity} is not a u32; use an integer from 0 to 4294967295`,
    );
  }
  return identity;
}

/** The endpoints/ipcache key of a CIDR (`10.0.0.0/24`, `fd00::/64`, or a bare address). */
export function encodeLpmKey(cidr: string): Uint8Array {
  const parsed = parseCidr(cidr);
  if (!parsed) {
    throw new MapEncodeError(
      'EENC_CIDR',
      `${JSON.stringify(cidr)} is not a CIDR; write a.b.c.d/n, x:y::z/n or a single address`,
    );
  }
  return codec(LpmIpKey).encode({
    prefixlen: 32 + parsed.bits,
    family: familyOf(parsed.ip),
    addr: ipAddr(parsed.ip),
  });
}

/** The endpoints value (an id for readers of the map). */
export function encodeEndpointInfo(endpointId = 1): Uint8Array {
  return codec(EndpointInfo).encode({ endpoint_id: checkIdentity(endpointId) });
}

/** The ipcache value for a security identity. */
export function encodeIdentity(identity: number): Uint8Array {
  return codec(RemoteEndpointInfo).encode({ sec_label: checkIdentity(identity) });
}

/** The services key of a frontend address and port. */
export function encodeServiceKey(address: string, port: number): Uint8Array {
  const ip = parseAddress(address);
  if (!ip) {
    throw new MapEncodeError('EENC_ADDRESS', `${JSON.stringify(address)} is not an IP address`);
  }
  return codec(ServiceKey).encode({
    addr: ipAddr(ip),
    dport: checkPort('service port', port, false),
    family: familyOf(ip),
  });
}

/** The services value (an id for readers of the map). */
export function encodeServiceInfo(serviceId = 1): Uint8Array {
  return codec(ServiceInfo).encode({ service_id: checkIdentity(serviceId) });
}

/** A policy key: destination identity and TCP port; 0 is the wildcard for either. */
export interface PolicySelector {
  readonly identity: number;
  /** TCP port; 0 matches any port (and then the protocol is 0 too, as in Cilium's L3-only key). */
  readonly port: number;
}

/** The policy key of a selector (protocol TCP, or 0 with a wildcard port). */
export function encodePolicyKey(s: PolicySelector): Uint8Array {
  const port = checkPort('policy port', s.port, true);
  return codec(PolicyKey).encode({
    sec_label: checkIdentity(s.identity),
    dport: port,
    protocol: port === 0 ? 0 : IPPROTO_TCP,
  });
}

/** What a policy entry decides. */
export type PolicyDecision =
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny' }
  | { readonly kind: 'proxy'; readonly port: number };

/** The policy value of a decision. */
export function encodePolicyEntry(d: PolicyDecision): Uint8Array {
  return match(d)
    .with({ kind: 'allow' }, () => codec(PolicyEntry).encode({}))
    .with({ kind: 'deny' }, () => codec(PolicyEntry).encode({ deny: 1 }))
    .with({ kind: 'proxy' }, (p) =>
      codec(PolicyEntry).encode({ proxy_port: checkPort('proxy port', p.port, false) }),
    )
    .exhaustive();
}

/** A SOCKHASH key as people read it. */
export interface SockTuple {
  /** Source and destination address text (IPv4 for family 1, IPv6 for family 2). */
  readonly sip: string;
  readonly dip: string;
  readonly sport: number;
  readonly dport: number;
  /** Present for 56-byte (netnsScope) keys. */
  readonly netnsCookie?: bigint;
}

const portField = (port: number) => ((port & 0xff) << 8) | (port >> 8);

/** The SOCKHASH key bytes of a tuple (44 bytes, or 56 with a netns cookie). */
export function encodeSockKey(t: SockTuple): Uint8Array {
  const sip = parseAddress(t.sip);
  const dip = parseAddress(t.dip);
  if (!sip || !dip || sip.length !== dip.length) {
    throw new MapEncodeError(
      'EENC_ADDRESS',
      `${t.sip} and ${t.dip} must be two IPv4 or two IPv6 addresses`,
    );
  }
  const fields = {
    sip: ipAddr(sip),
    dip: ipAddr(dip),
    family: familyOf(sip),
    // A port in network order in the low 16 bits of a host-order u32.
    sport: portField(checkPort('sport', t.sport, true)),
    dport: portField(checkPort('dport', t.dport, true)),
  };
  return t.netnsCookie === undefined
    ? codec(SockKey).encode(fields)
    : codec(ScopedSockKey).encode({ ...fields, netns_cookie: t.netnsCookie });
}

function formatAddr(bytes: Uint8Array, family: number): string {
  if (family === ENDPOINT_KEY_IPV4) return Array.from(bytes.subarray(0, 4)).join('.');
  const words = Array.from({ length: 8 }, (_, i) =>
    (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16),
  );
  // The WHATWG URL parser prints IPv6 hosts in RFC 5952 canonical form.
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

/** Reads SOCKHASH key bytes (44 or 56) back into a tuple. */
export function decodeSockKey(bytes: Uint8Array): SockTuple {
  const scoped = bytes.length === ScopedSockKey.size;
  if (!scoped && bytes.length !== SockKey.size) {
    throw new MapEncodeError(
      'EENC_ADDRESS',
      `a sock_key is ${SockKey.size} or ${ScopedSockKey.size} bytes, not ${bytes.length}`,
    );
  }
  const family = bytes[32] ?? 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    sip: formatAddr(bytes.subarray(0, 16), family),
    dip: formatAddr(bytes.subarray(16, 32), family),
    sport: view.getUint16(36, false),
    dport: view.getUint16(40, false),
    ...(scoped ? { netnsCookie: view.getBigUint64(48, true) } : {}),
  };
}
