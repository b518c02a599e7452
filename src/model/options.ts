/**
 * The option set the model is evaluated under. It mirrors the options of `buildSockops()` that
 * change behaviour (not names or sizes): the program variant, how IPv6 is handled, whether keys are
 * scoped by network namespace, whether counters are kept, and the host address proxy keys use.
 */
import { match } from 'ts-pattern';
import { type Ip4, type Ip6, parseIp4, parseIp6 } from './address.js';

/** `cilium`: Cilium v1.13's logic with all its maps; `minimal`: every established IPv4 socket. */
export type Variant = 'cilium' | 'minimal';

/** `mapped`: only IPv4 and v4-mapped sockets (Cilium); `native`: native IPv6 keys as well. */
export type Ipv6Mode = 'mapped' | 'native';

/** Behavioural options of the socket acceleration programs, fully resolved. */
export interface ModelOptions {
  readonly variant: Variant;
  readonly ipv6: Ipv6Mode;
  /** Append the socket's network-namespace cookie to every key (56-byte key instead of 44). */
  readonly netnsScope: boolean;
  /** Keep the per-CPU counters. */
  readonly stats: boolean;
  /** Cilium's IPV4_GATEWAY: the source address of keys rewritten for a proxy verdict. */
  readonly gatewayIp4: Ip4;
  /** The IPv6 counterpart of gatewayIp4, for native IPv6 keys rewritten for a proxy verdict. */
  readonly gatewayIp6: Ip6;
  /** max_entries of the SOCKHASH (an insert into a full map fails). */
  readonly sockhashSize: number;
}

/** Defaults: Cilium's variant, v4-mapped IPv6 only, no netns scope, counters per variant. */
export function modelOptions(partial: Partial<ModelOptions> = {}): ModelOptions {
  const variant = partial.variant ?? 'cilium';
  return {
    variant,
    ipv6: partial.ipv6 ?? 'mapped',
    netnsScope: partial.netnsScope ?? false,
    stats:
      partial.stats ??
      match(variant)
        .with('cilium', () => true)
        .with('minimal', () => false)
        .exhaustive(),
    gatewayIp4: partial.gatewayIp4 ?? parseIp4('127.0.0.1'),
    gatewayIp6: partial.gatewayIp6 ?? parseIp6('::1'),
    sockhashSize: partial.sockhashSize ?? 65535,
  };
}
