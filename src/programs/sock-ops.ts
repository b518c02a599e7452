/**
 * The sock_ops program (Cilium's `bpf_sockmap` / `bpf_sock_ops_ipv4`, sockmap-reference.md §2.4):
 * on ACTIVE_ESTABLISHED and PASSIVE_ESTABLISHED it puts the socket into the SOCKHASH under its
 * reversed tuple, so that the peer's sk_msg, looking up its own forward tuple, finds it. Every
 * other callback does nothing, and the program always returns 0.
 *
 * The key is built reversed from the start (sip = remote, dip = local): Cilium builds the forward
 * key, consults the maps with its dip/dport, and reverses it at the end; looking up the remote
 * end at sip/sport instead gives the same result with fewer instructions, and Cilium's proxy
 * rewrite (dip = local ip, dport = local port, sip = gateway, sport = proxy port) then only has to
 * replace sip and sport.
 */
import { match } from 'ts-pattern';
import type { ProgramBuilder } from '../dsl/builder.js';
import { u32 } from '../dsl/layout.js';
import { BpfFlags, SockOpsOp } from '../dsl/program-types.js';
import { r0, r1, r6, r7, r10, w2 } from '../dsl/registers.js';
import {
  emitCount,
  emitIdentity,
  emitKeyTuple,
  emitLpmKeyFrom,
  emitNetnsCookie,
  emitPolicyVerdict,
  KEY,
  zeroStackObject,
} from './emit-common.js';
import {
  ENDPOINT_KEY_IPV4,
  LpmIpKey,
  PolicyKey,
  ScopedSockKey,
  ServiceKey,
  SockKey,
} from './layouts.js';
import type { SockopsMapDefs } from './maps.js';
import type { ResolvedSockopsOptions } from './options.js';

/** Emits the sock_ops program body into `b`. */
export function emitSockOps(
  b: ProgramBuilder<'sockops'>,
  maps: SockopsMapDefs,
  o: ResolvedSockopsOptions,
): void {
  const key = b.stack(o.netnsScope ? ScopedSockKey : SockKey, { zero: false });
  const slot = maps.stats ? b.stack(u32, { zero: false }) : undefined;
  const skipFamily = b.label('skip_family');

  b.mov(r6, r1);
  b.ctx.load(w2, 'op', { ctx: r6 });
  b.if(
    {
      kind: 'all',
      of: [w2.ne(SockOpsOp.ACTIVE_ESTABLISHED_CB), w2.ne(SockOpsOp.PASSIVE_ESTABLISHED_CB)],
    },
    () => b.ret(0),
  );
  // struct sock_key key = {};
  zeroStackObject(b, key);
  emitKeyTuple(b, key, 'reversed', o, skipFamily);
  if (o.netnsScope) emitNetnsCookie(b, key);

  const insert = b.label('insert');
  match(o.variant)
    .with('minimal', () => undefined)
    .with('cilium', () => {
      const m = maps.cilium;
      if (!m) throw new Error('cilium variant without its maps');
      const svc = b.stack(ServiceKey, { zero: false });
      const lpm = b.stack(LpmIpKey, { zero: false });
      const pkey = b.stack(PolicyKey, { zero: false });
      // Service frontend? {addr: remote address, dport: remote port, family}.
      zeroStackObject(b, svc);
      for (let i = 0; i < 4; i++) {
        b.ldx('w', w2, r10, key.offset + KEY.sip + 4 * i);
        b.stx('w', r10, svc.offset + 4 * i, w2);
      }
      b.ldx('h', w2, r10, key.offset + KEY.sport);
      b.stx('h', r10, svc.offset + 16, w2);
      b.ldx('b', w2, r10, key.offset + KEY.family);
      b.stx('b', r10, svc.offset + 18, w2);
      b.call.mapLookupElem(m.services, svc);
      b.if(r0.ne(0), () => {
        emitCount(b, maps, slot, 'skip_service');
        b.ret(0);
      });
      // Identity of the remote end, then the policy verdict for (identity, remote port).
      emitLpmKeyFrom(b, lpm, key, KEY.sip);
      emitIdentity(b, m, lpm);
      emitPolicyVerdict(b, m, pkey, key, KEY.sport);
      // verdict > 0: redirect to the proxy (Cilium: sip = IPV4_GATEWAY, sport = verdict).
      b.if(r7.sgt(0), () => {
        b.ldx('b', w2, r10, key.offset + KEY.family);
        b.if(
          w2.eq(ENDPOINT_KEY_IPV4),
          () => b.st('w', r10, key.offset + KEY.sip, leU32(o.gatewayIp4, 0)),
          () => {
            for (let i = 0; i < 4; i++)
              b.st('w', r10, key.offset + KEY.sip + 4 * i, leU32(o.gatewayIp6, 4 * i));
          },
        );
        b.stx('w', r10, key.offset + KEY.sport, r7);
        b.goto(insert);
      });
      // Only sockets whose remote end is a local endpoint are accelerated.
      b.call.mapLookupElem(m.endpoints, lpm);
      b.if(r0.eq(0), () => {
        emitCount(b, maps, slot, 'skip_remote');
        b.ret(0);
      });
    })
    .exhaustive();

  b.mark(insert);
  b.call.sockHashUpdate(r6, maps.sockhash, key, BpfFlags.NOEXIST);
  if (maps.stats) {
    b.if(
      r0.eq(0),
      () => emitCount(b, maps, slot, 'inserted'),
      () => emitCount(b, maps, slot, 'insert_failed'),
    );
  }
  b.ret(0);

  b.mark(skipFamily);
  emitCount(b, maps, slot, 'skip_family');
  b.ret(0);
}

/** The u32 whose little-endian bytes are bytes[at..at+4] (a network-order address word as loaded). */
function leU32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true) | 0;
}
