/**
 * Instruction sequences both programs share: zeroing a stack object the way clang does for
 * `struct sock_key key = {}`, filling the key's tuple from the context (AF_INET, v4-mapped AF_INET6,
 * native IPv6), copying an address into a lookup key, the identity and policy lookups of Cilium's
 * `lookup_ip4_remote_endpoint` / `policy_sk_egress`, and counter increments.
 *
 * Register conventions of both programs: r6 holds the context for the whole program (r1 is
 * clobbered by every helper call), r7 the policy verdict, r8 the identity; r0–r5 are scratch.
 */
import { match } from 'ts-pattern';
import type { Label } from '../dsl/assemble.js';
import type { ProgramBuilder } from '../dsl/builder.js';
import type { Layout, u32 } from '../dsl/layout.js';
import type { StackObject } from '../dsl/refs.js';
import { r0, r1, r2, r6, r7, r8, r10, w2, w3, w4, w5 } from '../dsl/registers.js';
import {
  DROP_POLICY_DENY,
  ENDPOINT_KEY_IPV4,
  ENDPOINT_KEY_IPV6,
  IPPROTO_TCP,
  LPM_LOOKUP_PREFIXLEN,
  type LpmIpKey,
  type PolicyKey,
  WORLD_ID,
} from './layouts.js';
import type { SockopsMapDefs } from './maps.js';
import type { ResolvedSockopsOptions } from './options.js';
import { STAT_INDEX, type StatName } from './stats.js';

/** A builder of either socket program (their ctx share every field the key needs). */
export type SocketProgramBuilder = ProgramBuilder<'sockops'> | ProgramBuilder<'sk_msg'>;

/** Byte offsets in the sock key (the same in the 44- and 56-byte forms). */
export const KEY = { sip: 0, dip: 16, family: 32, sport: 36, dport: 40, netnsCookie: 48 } as const;

/** AF_INET / AF_INET6 as the ctx `family` field holds them. */
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * Bytes 0..11 of ::ffff:0:0/96 loaded as three little-endian u32 words: 0, 0, and `00 00 ff ff`
 * read as 0xffff0000.
 */
const V4_MAPPED_WORD2 = 0xffff0000;

/** Emits zero stores over the whole object (8-byte stores, then a 4-byte tail): `T x = {}`. */
export function zeroStackObject(b: SocketProgramBuilder, obj: StackObject<Layout>): void {
  let off = 0;
  for (; off + 8 <= obj.layout.size; off += 8) b.st('dw', r10, obj.offset + off, 0);
  for (; off + 4 <= obj.layout.size; off += 4) b.st('w', r10, obj.offset + off, 0);
  for (; off < obj.layout.size; off += 1) b.st('b', r10, obj.offset + off, 0);
}

/** Which way round the tuple goes into the key. */
export type KeyDirection =
  /** sip = local, dip = remote: the sending socket's own tuple (sk_msg lookup). */
  | 'forward'
  /** sip = remote, dip = local: how sock_ops stores a socket so its peer's forward tuple finds it. */
  | 'reversed';

/**
 * Fills the addresses, family and ports of a zeroed key from the ctx in r6. AF_INET reads the IPv4
 * fields; AF_INET6 whose remote address is in ::ffff:0:0/96 gets an IPv4 key from the last words
 * of the IPv6 fields; other AF_INET6 sockets get a native IPv6 key with ipv6 'native'. Anything
 * else jumps to `unsupported`. Ports: remote_port is loaded with 32 bits and shifted (`>> 16`),
 * local_port is byte-swapped (`be16`), both giving the network-order u16 Cilium stores.
 */
export function emitKeyTuple(
  b: SocketProgramBuilder,
  key: StackObject<Layout>,
  direction: KeyDirection,
  o: ResolvedSockopsOptions,
  unsupported: Label,
): void {
  const [localAt, remoteAt] = match(direction)
    .with('forward', () => [KEY.sip, KEY.dip] as const)
    .with('reversed', () => [KEY.dip, KEY.sip] as const)
    .exhaustive();
  const k = (off: number) => key.offset + off;
  const ctx = { ctx: r6 };
  const ipv4Done = b.label('tuple_ports');

  b.ctx.load(w2, 'family', ctx);
  b.if(w2.eq(AF_INET), () => {
    b.ctx.load(w3, 'local_ip4', ctx);
    b.stx('w', r10, k(localAt), w3);
    b.ctx.load(w3, 'remote_ip4', ctx);
    b.stx('w', r10, k(remoteAt), w3);
    b.st('b', r10, k(KEY.family), ENDPOINT_KEY_IPV4);
    b.goto(ipv4Done);
  });
  b.jumpIf(w2.ne(AF_INET6), unsupported);
  b.ctx.load(w3, 'remote_ip6', { ...ctx, index: 0 });
  b.ctx.load(w4, 'remote_ip6', { ...ctx, index: 1 });
  b.ctx.load(w5, 'remote_ip6', { ...ctx, index: 2 });
  const mapped = b.label('v4_mapped');
  b.jumpIf({ kind: 'all', of: [w3.eq(0), w4.eq(0), w5.eq(V4_MAPPED_WORD2)] }, mapped);
  match(o.ipv6)
    .with('mapped', () => b.goto(unsupported))
    .with('native', () => {
      for (let i = 0; i < 4; i++) {
        b.ctx.load(w3, 'local_ip6', { ...ctx, index: i });
        b.stx('w', r10, k(localAt + 4 * i), w3);
        b.ctx.load(w3, 'remote_ip6', { ...ctx, index: i });
        b.stx('w', r10, k(remoteAt + 4 * i), w3);
      }
      b.st('b', r10, k(KEY.family), ENDPOINT_KEY_IPV6);
      b.goto(ipv4Done);
    })
    .exhaustive();
  b.mark(mapped);
  b.ctx.load(w3, 'local_ip6', { ...ctx, index: 3 });
  b.stx('w', r10, k(localAt), w3);
  b.ctx.load(w3, 'remote_ip6', { ...ctx, index: 3 });
  b.stx('w', r10, k(remoteAt), w3);
  b.st('b', r10, k(KEY.family), ENDPOINT_KEY_IPV4);
  b.mark(ipv4Done);
  // Cilium: sport = bpf_ntohl(local_port) >> 16 and dport = READ_ONCE(remote_port) >> 16.
  const [localPortAt, remotePortAt] =
    direction === 'forward' ? [KEY.sport, KEY.dport] : [KEY.dport, KEY.sport];
  b.ctx.load(w3, 'local_port', ctx);
  b.be(w3, 16);
  b.stx('w', r10, k(localPortAt), w3);
  b.ctx.load(w3, 'remote_port', ctx);
  b.rsh(w3, 16);
  b.stx('w', r10, k(remotePortAt), w3);
}

/** Stores `bpf_get_netns_cookie(ctx)` at the key's cookie slot (netnsScope). */
export function emitNetnsCookie(b: SocketProgramBuilder, key: StackObject<Layout>): void {
  b.call.getNetnsCookie(r6);
  b.stx('dw', r10, key.offset + KEY.netnsCookie, r0);
}

/**
 * Fills an LPM lookup key for the address at `addrAt` of the sock key: prefixlen 160 (the full
 * address), the key's family, the 16 address bytes. Entries of the other family never match,
 * because the family byte lies inside every entry's prefix.
 */
export function emitLpmKeyFrom(
  b: SocketProgramBuilder,
  lpm: StackObject<typeof LpmIpKey>,
  key: StackObject<Layout>,
  addrAt: number,
): void {
  zeroStackObject(b, lpm);
  b.st('w', r10, lpm.offset, LPM_LOOKUP_PREFIXLEN);
  b.ldx('b', w2, r10, key.offset + KEY.family);
  b.stx('b', r10, lpm.offset + 7, w2);
  for (let i = 0; i < 4; i++) {
    b.ldx('w', w2, r10, key.offset + addrAt + 4 * i);
    b.stx('w', r10, lpm.offset + 8 + 4 * i, w2);
  }
}

/**
 * r8 = identity of the LPM key's address from the ipcache; WORLD_ID on a miss or a 0 label
 * (Cilium: `info && info->sec_label ? info->sec_label : WORLD_ID`).
 */
export function emitIdentity(
  b: SocketProgramBuilder,
  maps: NonNullable<SockopsMapDefs['cilium']>,
  lpm: StackObject<typeof LpmIpKey>,
): void {
  b.call.mapLookupElem(maps.ipcache, lpm);
  b.mov(r8, WORLD_ID);
  b.if(r0.ne(0), () => {
    b.ldx('w', r2, r0, 0);
    b.if(r2.ne(0), () => b.mov(r8, r2));
  });
}

/**
 * r7 = Cilium's policy verdict for identity r8 and the destination port at `portAt` of the key:
 * the first policy entry found among {r8, port, TCP}, {0, port, TCP}, {r8, 0, 0}, {0, 0, 0}
 * decides — deny → DROP_POLICY_DENY (-181), else its proxy port as a be16 value (0 = allow). No
 * entry → 0.
 */
export function emitPolicyVerdict(
  b: SocketProgramBuilder,
  maps: NonNullable<SockopsMapDefs['cilium']>,
  pkey: StackObject<typeof PolicyKey>,
  key: StackObject<Layout>,
  portAt: number,
): void {
  const found = b.label('policy_found');
  const done = b.label('policy_done');
  const probes: [identity: boolean, port: boolean][] = [
    [true, true],
    [false, true],
    [true, false],
    [false, false],
  ];
  for (const [withIdentity, withPort] of probes) {
    if (withIdentity) b.stx('w', r10, pkey.offset, r8);
    else b.st('w', r10, pkey.offset, 0);
    if (withPort) {
      // The port register does not survive the lookup; reload it from the key.
      b.ldx('h', w2, r10, key.offset + portAt);
      b.stx('h', r10, pkey.offset + 4, w2);
      b.st('b', r10, pkey.offset + 6, IPPROTO_TCP);
    } else {
      b.st('h', r10, pkey.offset + 4, 0);
      b.st('b', r10, pkey.offset + 6, 0);
    }
    b.st('b', r10, pkey.offset + 7, 0);
    b.call.mapLookupElem(maps.policy, pkey);
    b.jumpIf(r0.ne(0), found);
  }
  b.mov(r7, 0);
  b.goto(done);
  b.mark(found);
  b.ldx('b', w2, r0, 2);
  b.mov(r7, DROP_POLICY_DENY);
  b.if(w2.eq(0), () => b.ldx('h', r7, r0, 0));
  b.mark(done);
}

/** Adds 1 (or the value of `amount`) to counter `name` when the build keeps stats. */
export function emitCount(
  b: SocketProgramBuilder,
  maps: SockopsMapDefs,
  slot: StackObject<typeof u32> | undefined,
  name: StatName,
  amount?: () => void,
): void {
  if (!maps.stats || !slot) return;
  b.st('w', r10, slot.offset, STAT_INDEX[name]);
  b.call.mapLookupElem(maps.stats, slot);
  b.if(r0.ne(0), () => {
    if (amount) amount();
    else b.mov(r1, 1);
    b.atomic('add', 'dw', r0, 0, r1);
  });
}
