/**
 * Options of `buildSockops()`: what they are, their defaults, and their validation. Every option
 * is checked before any code is generated, and a bad one raises a SockopsOptionError that names
 * the option, the value and what is allowed.
 */
import { match } from 'ts-pattern';
import { readAddress } from './addresses.js';

/** `cilium`: Cilium v1.13's sockops logic with all maps; `minimal`: every established socket. */
export type SockopsVariant = 'cilium' | 'minimal';

/** `mapped`: IPv4 and v4-mapped IPv6 only (Cilium); `native`: native IPv6 keys as well. */
export type SockopsIpv6 = 'mapped' | 'native';

/** Names of the maps (kernel map names; also the pin names with `pin: true`). */
export interface SockopsMapNames {
  readonly sockhash: string;
  readonly endpoints: string;
  readonly services: string;
  readonly ipcache: string;
  readonly policy: string;
  readonly stats: string;
}

/** Names of the two programs (ELF symbols, kernel program names, bpftool pin names). */
export interface SockopsProgramNames {
  readonly sockops: string;
  readonly skMsg: string;
}

/** max_entries of the maps whose size is a choice (the stats map has one slot per counter). */
export interface SockopsMapSizes {
  readonly sockhash: number;
  readonly endpoints: number;
  readonly services: number;
  readonly ipcache: number;
  readonly policy: number;
}

/** What `buildSockops()` accepts; every field is optional. */
export interface SockopsOptions {
  /** Default 'cilium'. */
  readonly variant?: SockopsVariant;
  /** Default 'mapped'. */
  readonly ipv6?: SockopsIpv6;
  /** Put the netns cookie into the key (56-byte key). Default false. */
  readonly netnsScope?: boolean;
  /** Per-CPU counters. Default true for 'cilium', false for 'minimal'. */
  readonly stats?: boolean;
  /** Source address of keys rewritten for a proxy verdict (Cilium's IPV4_GATEWAY). Default 127.0.0.1. */
  readonly gatewayIp4?: string;
  /** The same for native IPv6 keys. Default ::1. */
  readonly gatewayIp6?: string;
  /** Map names, at most 15 characters of [A-Za-z0-9_]. */
  readonly names?: Partial<SockopsMapNames>;
  /** Program names, at most 15 characters of [A-Za-z0-9_]. */
  readonly programNames?: Partial<SockopsProgramNames>;
  /** max_entries per map. */
  readonly sizes?: Partial<SockopsMapSizes>;
  /** Mark every map LIBBPF_PIN_BY_NAME (pinned under its name by loaders). Default false. */
  readonly pin?: boolean;
}

/** Options with every default applied and every value checked. */
export interface ResolvedSockopsOptions {
  readonly variant: SockopsVariant;
  readonly ipv6: SockopsIpv6;
  readonly netnsScope: boolean;
  readonly stats: boolean;
  /** 4 bytes, network order. */
  readonly gatewayIp4: Uint8Array;
  /** 16 bytes, network order. */
  readonly gatewayIp6: Uint8Array;
  readonly names: SockopsMapNames;
  readonly programNames: SockopsProgramNames;
  readonly sizes: SockopsMapSizes;
  readonly pin: boolean;
}

/** Default map names. */
export const DEFAULT_MAP_NAMES: SockopsMapNames = {
  sockhash: 'tsbpf_sockhash',
  endpoints: 'tsbpf_endpoints',
  services: 'tsbpf_services',
  ipcache: 'tsbpf_ipcache',
  policy: 'tsbpf_policy',
  stats: 'tsbpf_stats',
};

/** Default program names: Cilium's pin names. */
export const DEFAULT_PROGRAM_NAMES: SockopsProgramNames = {
  sockops: 'bpf_sockops',
  skMsg: 'bpf_redir',
};

/** Default map sizes (the SOCKHASH as in Cilium: 65535). */
export const DEFAULT_MAP_SIZES: SockopsMapSizes = {
  sockhash: 65535,
  endpoints: 1024,
  services: 1024,
  ipcache: 16384,
  policy: 4096,
};

/** Largest max_entries accepted: the kernel's limit for hash maps is far above any sane size. */
export const MAX_MAP_SIZE = 1 << 24;

/** What went wrong with an option. */
export type SockopsOptionErrorCode =
  | 'EOPT_VARIANT'
  | 'EOPT_IPV6'
  | 'EOPT_NAME'
  | 'EOPT_DUPLICATE_NAME'
  | 'EOPT_SIZE'
  | 'EOPT_ADDRESS'
  | 'EOPT_UNKNOWN';

/** A bad `buildSockops()` option; the message names it and says what is allowed. */
export class SockopsOptionError extends Error {
  constructor(
    readonly code: SockopsOptionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SockopsOptionError';
  }
}

const NAME = /^[A-Za-z0-9_]{1,15}$/;

/** Checks a kernel object name: 1 to 15 characters of [A-Za-z0-9_] (the kernel keeps 15 + NUL). */
export function checkObjectName(option: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    const why =
      typeof name === 'string' && name.length > 15
        ? `is ${name.length} characters; the kernel truncates names to 15, and lookups by name then fail`
        : 'may hold only 1 to 15 characters of [A-Za-z0-9_]';
    throw new SockopsOptionError('EOPT_NAME', `${option} ${JSON.stringify(name)} ${why}`);
  }
  return name;
}

const KNOWN = new Set([
  'variant',
  'ipv6',
  'netnsScope',
  'stats',
  'gatewayIp4',
  'gatewayIp6',
  'names',
  'programNames',
  'sizes',
  'pin',
]);

function checkKeys(what: string, obj: object, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new SockopsOptionError(
        'EOPT_UNKNOWN',
        `unknown option ${what}${k}; the options are ${allowed.join(', ')}`,
      );
    }
  }
}

function gateway(option: string, text: string, bytes: 4 | 16): Uint8Array {
  const family = bytes === 4 ? 'IPv4' : 'IPv6';
  const read = readAddress(text);
  if (!read.ok || read.bytes.length !== bytes) {
    const why = read.ok ? `it is ${bytes === 4 ? 'IPv6' : 'IPv4'}` : read.reason;
    throw new SockopsOptionError(
      'EOPT_ADDRESS',
      `${option} ${JSON.stringify(text)} is not an ${family} address: ${why}`,
    );
  }
  return read.bytes;
}

/** Applies the defaults and validates every option. */
export function resolveSockopsOptions(options: SockopsOptions = {}): ResolvedSockopsOptions {
  checkKeys('', options, [...KNOWN]);
  const variant = options.variant ?? 'cilium';
  if (variant !== 'cilium' && variant !== 'minimal') {
    throw new SockopsOptionError(
      'EOPT_VARIANT',
      `variant ${JSON.stringify(variant)} is not one of 'cilium', 'minimal'`,
    );
  }
  const ipv6 = options.ipv6 ?? 'mapped';
  if (ipv6 !== 'mapped' && ipv6 !== 'native') {
    throw new SockopsOptionError(
      'EOPT_IPV6',
      `ipv6 ${JSON.stringify(ipv6)} is not one of 'mapped', 'native'`,
    );
  }
  checkKeys('names.', options.names ?? {}, Object.keys(DEFAULT_MAP_NAMES));
  checkKeys('programNames.', options.programNames ?? {}, Object.keys(DEFAULT_PROGRAM_NAMES));
  checkKeys('sizes.', options.sizes ?? {}, Object.keys(DEFAULT_MAP_SIZES));
  const names = { ...DEFAULT_MAP_NAMES, ...options.names };
  const programNames = { ...DEFAULT_PROGRAM_NAMES, ...options.programNames };
  for (const [k, v] of Object.entries(names)) checkObjectName(`names.${k}`, v);
  for (const [k, v] of Object.entries(programNames)) checkObjectName(`programNames.${k}`, v);
  const all = [...Object.values(names), ...Object.values(programNames)];
  const dup = all.find((n, i) => all.indexOf(n) !== i);
  if (dup !== undefined) {
    throw new SockopsOptionError(
      'EOPT_DUPLICATE_NAME',
      `name ${JSON.stringify(dup)} is used twice; every map and program needs its own name`,
    );
  }
  const sizes = { ...DEFAULT_MAP_SIZES, ...options.sizes };
  for (const [k, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_MAP_SIZE) {
      throw new SockopsOptionError(
        'EOPT_SIZE',
        `sizes.${k} ${JSON.stringify(v)} must be an integer from 1 to ${MAX_MAP_SIZE}`,
      );
    }
  }
  return {
    variant,
    ipv6,
    netnsScope: options.netnsScope ?? false,
    stats:
      options.stats ??
      match(variant)
        .with('cilium', () => true)
        .with('minimal', () => false)
        .exhaustive(),
    gatewayIp4: gateway('gatewayIp4', options.gatewayIp4 ?? '127.0.0.1', 4),
    gatewayIp6: gateway('gatewayIp6', options.gatewayIp6 ?? '::1', 16),
    names,
    programNames,
    sizes,
    pin: options.pin ?? false,
  };
}
