/**
 * The sk_msg program (Cilium's `bpf_redir_proxy`, sockmap-reference.md §2.5): for every message a
 * socket in the SOCKHASH sends, build the socket's forward tuple — the key sock_ops stored its peer
 * under — and, when the policy verdict allows (>= 0), redirect the message to the peer's ingress
 * queue with `msg_redirect_hash(..., BPF_F_INGRESS)`. It returns SK_PASS in every case, so a
 * missing peer or a denied message simply goes through the TCP stack.
 */
import { match } from 'ts-pattern';
import type { ProgramBuilder } from '../dsl/builder.js';
import { u32 } from '../dsl/layout.js';
import { BpfFlags, SkAction } from '../dsl/program-types.js';
import { r0, r1, r6, r7 } from '../dsl/registers.js';
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
import { LpmIpKey, PolicyKey, ScopedSockKey, SockKey } from './layouts.js';
import type { SockopsMapDefs } from './maps.js';
import type { ResolvedSockopsOptions } from './options.js';

/** Emits the sk_msg program body into `b`. */
export function emitSkMsg(
  b: ProgramBuilder<'sk_msg'>,
  maps: SockopsMapDefs,
  o: ResolvedSockopsOptions,
): void {
  const key = b.stack(o.netnsScope ? ScopedSockKey : SockKey, { zero: false });
  const slot = maps.stats ? b.stack(u32, { zero: false }) : undefined;
  const pass = b.label('pass');

  b.mov(r6, r1);
  // struct sock_key key = {};
  zeroStackObject(b, key);
  emitKeyTuple(b, key, 'forward', o, pass);
  if (o.netnsScope) emitNetnsCookie(b, key);

  match(o.variant)
    .with('minimal', () => undefined)
    .with('cilium', () => {
      const m = maps.cilium;
      if (!m) throw new Error('cilium variant without its maps');
      const lpm = b.stack(LpmIpKey, { zero: false });
      const pkey = b.stack(PolicyKey, { zero: false });
      emitLpmKeyFrom(b, lpm, key, KEY.dip);
      emitIdentity(b, m, lpm);
      emitPolicyVerdict(b, m, pkey, key, KEY.dport);
      // verdict < 0: no redirect, the message takes the TCP path.
      b.if(r7.slt(0), () => {
        emitCount(b, maps, slot, 'policy_denied');
        b.goto(pass);
      });
    })
    .exhaustive();

  b.call.msgRedirectHash(r6, maps.sockhash, key, BpfFlags.F_INGRESS);
  if (maps.stats) {
    b.if(
      r0.eq(SkAction.PASS),
      () => {
        emitCount(b, maps, slot, 'msg_redirected');
        emitCount(b, maps, slot, 'msg_bytes', () => b.ctx.load(r1, 'size', { ctx: r6 }));
      },
      () => emitCount(b, maps, slot, 'redirect_miss'),
    );
  }
  b.mark(pass);
  b.ret(SkAction.PASS);
}
