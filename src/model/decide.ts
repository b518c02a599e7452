/**
 * What each program does for one socket, decided from the socket's view, the map contents and the
 * options — Cilium's bpf_sockops.c / bpf_redir.c logic (sockmap-reference.md §2.4, §2.5) restated
 * as plain functions. The interpreter-run bytecode must agree with these byte for byte.
 */
import { match } from 'ts-pattern';
import { embeddedIp4, isV4Mapped } from './address.js';
import {
  AF_INET,
  AF_INET6,
  SOCK_OPS_ACTIVE_ESTABLISHED,
  SOCK_OPS_PASSIVE_ESTABLISHED,
  type SocketView,
} from './connection.js';
import {
  identityOf,
  isLocalEndpoint,
  isServiceFrontend,
  type ModelMaps,
  policyVerdict,
  verdictNumber,
} from './maps.js';
import type { ModelOptions } from './options.js';
import { type KeyFamily, reverseKey, type SockKey } from './sock-key.js';

/** A socket's own addresses and ports in the key's family. */
interface Tuple {
  readonly family: KeyFamily;
  readonly local: Uint8Array;
  readonly remote: Uint8Array;
  readonly localPort: number;
  readonly remotePort: number;
}

/**
 * The socket's tuple, or undefined when the options do not handle its family. AF_INET uses the
 * IPv4 fields. AF_INET6 with a remote address in ::ffff:0:0/96 is an IPv4 peer of a dual-stack
 * socket: its key is an IPv4 key built from the embedded addresses (the IPv4 fields are not
 * trusted). Other AF_INET6 sockets get native IPv6 keys with ipv6 'native' and nothing otherwise.
 */
function tupleOf(view: SocketView, options: ModelOptions): Tuple | undefined {
  const ports = { localPort: view.localPort, remotePort: view.remotePort };
  if (view.family === AF_INET) {
    return { family: 'ipv4', local: view.localIp4, remote: view.remoteIp4, ...ports };
  }
  if (view.family !== AF_INET6) return undefined;
  if (isV4Mapped(view.remoteIp6)) {
    const local = embeddedIp4(view.localIp6);
    return { family: 'ipv4', local, remote: embeddedIp4(view.remoteIp6), ...ports };
  }
  return match(options.ipv6)
    .with(
      'native',
      (): Tuple => ({
        family: 'ipv6',
        local: view.localIp6,
        remote: view.remoteIp6,
        ...ports,
      }),
    )
    .with('mapped', () => undefined)
    .exhaustive();
}

/** The forward key of a socket: its local end as source, its remote end as destination. */
function forwardKey(t: Tuple, view: SocketView, options: ModelOptions): SockKey {
  return {
    family: t.family,
    sip: t.local,
    dip: t.remote,
    sport: t.localPort,
    dport: t.remotePort,
    ...(options.netnsScope ? { netnsCookie: view.netnsCookie } : {}),
  };
}

/** Why sock_ops leaves an established socket out of the SOCKHASH. */
export type SkipReason =
  /** Not AF_INET, not a v4-mapped AF_INET6 socket, and not native IPv6 with ipv6 'native'. */
  | 'family'
  /** The destination is a service frontend (Cilium uses the normal stack for services). */
  | 'service'
  /** The remote end is not a local endpoint (not in the endpoints map). */
  | 'remote';

/** What sock_ops does for one callback. It always returns 0. */
export type SockOpsDecision =
  /** Not an *_ESTABLISHED callback: nothing at all. */
  | { readonly kind: 'ignored' }
  | { readonly kind: 'skipped'; readonly reason: SkipReason }
  /**
   * sock_hash_update(ctx, sockhash, key, BPF_NOEXIST). `via` says which rule chose the key:
   * 'endpoint' (reversed tuple, remote is local), 'proxy' (Cilium's rewrite for a proxy verdict),
   * 'any' (minimal variant: every handled socket).
   */
  | { readonly kind: 'insert'; readonly key: SockKey; readonly via: 'endpoint' | 'proxy' | 'any' };

/** The sock_ops program's decision for callback `op` on the socket `view`. */
export function decideSockOps(
  op: number,
  view: SocketView,
  maps: ModelMaps,
  options: ModelOptions,
): SockOpsDecision {
  if (op !== SOCK_OPS_ACTIVE_ESTABLISHED && op !== SOCK_OPS_PASSIVE_ESTABLISHED) {
    return { kind: 'ignored' };
  }
  const t = tupleOf(view, options);
  if (!t) return { kind: 'skipped', reason: 'family' };
  const key = forwardKey(t, view, options);
  return match(options.variant)
    .with('minimal', (): SockOpsDecision => ({ kind: 'insert', key: reverseKey(key), via: 'any' }))
    .with('cilium', (): SockOpsDecision => {
      if (isServiceFrontend(maps, t.remote, t.remotePort)) {
        return { kind: 'skipped', reason: 'service' };
      }
      const verdict = policyVerdict(maps, identityOf(maps, t.remote), t.remotePort);
      if (verdictNumber(verdict) > 0 && verdict.kind === 'proxy') {
        // Cilium: dip4 = sip4; dport = sport; sip4 = IPV4_GATEWAY; sport = verdict.
        const gateway = t.family === 'ipv4' ? options.gatewayIp4 : options.gatewayIp6;
        const proxied: SockKey = {
          ...key,
          dip: key.sip,
          dport: key.sport,
          sip: gateway,
          sport: verdict.port,
        };
        return { kind: 'insert', key: proxied, via: 'proxy' };
      }
      if (!isLocalEndpoint(maps, t.remote)) return { kind: 'skipped', reason: 'remote' };
      return { kind: 'insert', key: reverseKey(key), via: 'endpoint' };
    })
    .exhaustive();
}

/** What sk_msg does for one message. It always returns SK_PASS. */
export type SkMsgDecision =
  /** A socket whose family the options do not handle (sock_ops never inserts such a socket). */
  | { readonly kind: 'unsupported' }
  /**
   * The forward key and the policy verdict (a number as policy_sk_egress returns it; always 0 for
   * the minimal variant); `redirect` is `verdict >= 0`: msg_redirect_hash(key, BPF_F_INGRESS).
   */
  | {
      readonly kind: 'lookup';
      readonly key: SockKey;
      readonly verdict: number;
      readonly redirect: boolean;
    };

/** The sk_msg program's decision for a message sent on the socket `view`. */
export function decideSkMsg(
  view: SocketView,
  maps: ModelMaps,
  options: ModelOptions,
): SkMsgDecision {
  const t = tupleOf(view, options);
  if (!t) return { kind: 'unsupported' };
  const key = forwardKey(t, view, options);
  const verdict = match(options.variant)
    .with('minimal', () => 0)
    .with('cilium', () =>
      verdictNumber(policyVerdict(maps, identityOf(maps, t.remote), t.remotePort)),
    )
    .exhaustive();
  return { kind: 'lookup', key, verdict, redirect: verdict >= 0 };
}
