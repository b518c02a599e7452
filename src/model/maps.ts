/**
 * The contents of the maps the cilium variant reads, as plain data, and their lookups with the
 * semantics of the kernel map types behind them:
 *
 * - endpoints: LPM trie of CIDRs; a remote address inside any of them is a local endpoint;
 * - services: hash of {address, port}; a destination equal to one is a service frontend;
 * - ipcache: LPM trie CIDR → security identity; the longest matching prefix wins;
 * - policy: hash {identity, port, protocol} → allow | deny | proxy port.
 *
 * IPv4 and IPv6 entries live in the same maps, told apart by the family byte of the key, so an
 * IPv4 address never matches an IPv6 CIDR or the other way round.
 */
import { match } from 'ts-pattern';
import { samePrefix } from './address.js';

/** A CIDR: network address (4 or 16 bytes) and prefix length in bits. */
export interface Cidr {
  readonly ip: Uint8Array;
  readonly bits: number;
}

/** A service frontend (Cilium's lb4_key without scope and backend slot). */
export interface ServiceFrontend {
  readonly ip: Uint8Array;
  readonly port: number;
}

/** An ipcache entry: every address in `cidr` has `identity`. */
export interface IpcacheEntry {
  readonly cidr: Cidr;
  readonly identity: number;
}

/** What a policy entry says about matching traffic. */
export type PolicyVerdict =
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny' }
  | { readonly kind: 'proxy'; readonly port: number };

/** A policy entry: identity 0 and port/protocol 0 are the wildcards of Cilium's lookup order. */
export interface PolicyEntry {
  readonly identity: number;
  readonly port: number;
  readonly protocol: number;
  readonly verdict: PolicyVerdict;
}

/** The four maps of the cilium variant. Later entries with the same key replace earlier ones. */
export interface ModelMaps {
  readonly endpoints: readonly Cidr[];
  readonly services: readonly ServiceFrontend[];
  readonly ipcache: readonly IpcacheEntry[];
  readonly policy: readonly PolicyEntry[];
}

/** Maps with nothing in them. */
export const EMPTY_MAPS: ModelMaps = { endpoints: [], services: [], ipcache: [], policy: [] };

/** Cilium's WORLD_ID: the identity of anything the ipcache does not know. */
export const WORLD_IDENTITY = 2;

/** IPPROTO_TCP, the protocol of every policy lookup the programs make. */
export const IPPROTO_TCP = 6;

/** Cilium's DROP_POLICY_DENY, returned as a negative verdict for a deny entry. */
export const DROP_POLICY_DENY = -181;

function contains(cidr: Cidr, ip: Uint8Array): boolean {
  return cidr.ip.length === ip.length && samePrefix(cidr.ip, ip, cidr.bits);
}

/** The longest-prefix match of `ip` among `entries` (last one wins among equal prefixes). */
function longestMatch<T>(
  entries: readonly T[],
  cidrOf: (t: T) => Cidr,
  ip: Uint8Array,
): T | undefined {
  let best: T | undefined;
  let bestBits = -1;
  for (const e of entries) {
    const c = cidrOf(e);
    if (contains(c, ip) && c.bits >= bestBits) {
      best = e;
      bestBits = c.bits;
    }
  }
  return best;
}

/** True when `ip` lies in one of the endpoint CIDRs (a local pod or a host address). */
export function isLocalEndpoint(maps: ModelMaps, ip: Uint8Array): boolean {
  return longestMatch(maps.endpoints, (c) => c, ip) !== undefined;
}

/** True when (ip, port) is a service frontend. */
export function isServiceFrontend(maps: ModelMaps, ip: Uint8Array, port: number): boolean {
  return maps.services.some(
    (s) => s.port === port && s.ip.length === ip.length && s.ip.every((b, i) => b === ip[i]),
  );
}

/** The identity of `ip`: the longest ipcache match, or the world identity on a miss or 0. */
export function identityOf(maps: ModelMaps, ip: Uint8Array): number {
  const hit = longestMatch(maps.ipcache, (e) => e.cidr, ip);
  return hit && hit.identity !== 0 ? hit.identity : WORLD_IDENTITY;
}

/**
 * The verdict for traffic to `identity` on TCP `port`, looked up in Cilium's order: exact
 * {identity, port, TCP}, then L4-only {0, port, TCP}, then L3-only {identity, 0, 0}, then allow-all
 * {0, 0, 0}. The first entry found decides; no entry at all allows (verdict 0).
 */
export function policyVerdict(maps: ModelMaps, identity: number, port: number): PolicyVerdict {
  const probes: [number, number, number][] = [
    [identity, port, IPPROTO_TCP],
    [0, port, IPPROTO_TCP],
    [identity, 0, 0],
    [0, 0, 0],
  ];
  for (const [id, p, proto] of probes) {
    let found: PolicyEntry | undefined;
    for (const e of maps.policy) {
      if (e.identity === id && e.port === p && e.protocol === proto) found = e;
    }
    if (found) return found.verdict;
  }
  return { kind: 'allow' };
}

/**
 * The verdict as the number Cilium's policy_sk_egress returns: negative for deny, 0 for allow, and
 * the proxy port as the program holds it — a be16 read into a register on little-endian, i.e.
 * the port with its bytes swapped (so a proxy port is never <= 0 and `verdict > 0` means proxy).
 */
export function verdictNumber(verdict: PolicyVerdict): number {
  return match(verdict)
    .with({ kind: 'allow' }, () => 0)
    .with({ kind: 'deny' }, () => DROP_POLICY_DENY)
    .with({ kind: 'proxy' }, (v) => ((v.port & 0xff) << 8) | (v.port >> 8))
    .exhaustive();
}
