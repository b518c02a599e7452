/**
 * The configuration file of `tsbpf accel enable --config FILE` (docs/accel-config.md): JSON that
 * restricts the endpoints and adds services, identities and policy for the cilium variant. Every
 * field is checked before anything touches the kernel; an error names the file and the field
 * (`services[1].port`) and says what is allowed.
 */
import { readFileSync } from 'node:fs';
import { match, P } from 'ts-pattern';
import {
  encodeEndpointInfo,
  encodeIdentity,
  encodeLpmKey,
  encodePolicyEntry,
  encodePolicyKey,
  encodeServiceInfo,
  encodeServiceKey,
  MapEncodeError,
  type PolicyDecision,
} from '../programs/maps.js';
import type { SockopsVariant } from '../programs/options.js';
import { AccelError } from './errors.js';

/** A service frontend: connections to it are not accelerated (Cilium's service skip). */
export interface AccelService {
  readonly address: string;
  readonly port: number;
}

/** A CIDR and the security identity of the peers in it (the ipcache). */
export interface AccelIdentity {
  readonly cidr: string;
  readonly identity: number;
}

/** A policy rule: destination identity and port (0: any) and what to do. */
export interface AccelPolicyRule {
  readonly identity: number;
  readonly port: number;
  readonly decision: PolicyDecision;
}

/** A validated configuration. */
export interface AccelConfig {
  /** The variant asked for by the file, if any (the command line wins). */
  readonly variant?: SockopsVariant;
  /** Endpoint CIDRs; undefined means the host's own addresses. */
  readonly endpoints?: readonly string[];
  readonly services: readonly AccelService[];
  readonly identities: readonly AccelIdentity[];
  readonly policy: readonly AccelPolicyRule[];
}

/** The configuration with nothing in it: host endpoints, no services, identities or policy. */
export const EMPTY_CONFIG: AccelConfig = { services: [], identities: [], policy: [] };

const TOP_LEVEL = ['variant', 'endpoints', 'services', 'identities', 'policy'];

function configError(source: string, field: string, message: string): AccelError {
  return new AccelError('ERR_CONFIG', `${source}: ${field}: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkFields(source: string, field: string, v: unknown, allowed: string[]): void {
  if (!isRecord(v)) throw configError(source, field, 'must be an object');
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) {
      throw configError(
        source,
        `${field}${field ? '.' : ''}${k}`,
        `unknown field; the fields are ${allowed.join(', ')}`,
      );
    }
  }
}

function arrayOf(source: string, field: string, v: unknown): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw configError(source, field, 'must be an array');
  return v;
}

/** Runs an encoder to validate a value; its MapEncodeError becomes a config error on `field`. */
function checkEncodes(source: string, field: string, encode: () => unknown): void {
  try {
    encode();
  } catch (err) {
    if (err instanceof MapEncodeError) throw configError(source, field, err.message);
    throw err;
  }
}

function integer(source: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw configError(source, field, `${JSON.stringify(v)} must be an integer`);
  }
  return v;
}

function decisionOf(source: string, field: string, rule: Record<string, unknown>): PolicyDecision {
  return match(rule.verdict)
    .with('allow', (): PolicyDecision => ({ kind: 'allow' }))
    .with('deny', (): PolicyDecision => ({ kind: 'deny' }))
    .with(
      'proxy',
      (): PolicyDecision => ({
        kind: 'proxy',
        port: integer(source, `${field}.proxyPort`, rule.proxyPort),
      }),
    )
    .otherwise((v) => {
      throw configError(
        source,
        `${field}.verdict`,
        `${JSON.stringify(v)} is not one of "allow", "deny", "proxy"`,
      );
    });
}

/**
 * Validates a parsed configuration (`source` names it in errors, e.g. the file path). Throws an
 * AccelError ERR_CONFIG naming the first bad field.
 */
export function parseAccelConfig(value: unknown, source = 'config'): AccelConfig {
  checkFields(source, '', value, TOP_LEVEL);
  const v = value as Record<string, unknown>;
  const variant = match(v.variant)
    .with(P.nullish, () => undefined)
    .with(P.union('cilium', 'minimal'), (x) => x)
    .otherwise((x) => {
      throw configError(
        source,
        'variant',
        `${JSON.stringify(x)} is not one of "cilium", "minimal"`,
      );
    });
  const endpoints =
    v.endpoints === undefined
      ? undefined
      : arrayOf(source, 'endpoints', v.endpoints).map((cidr, i) => {
          const field = `endpoints[${i}]`;
          if (typeof cidr !== 'string') throw configError(source, field, 'must be a CIDR string');
          checkEncodes(source, field, () => encodeLpmKey(cidr));
          return cidr;
        });
  const services = arrayOf(source, 'services', v.services).map((s, i): AccelService => {
    const field = `services[${i}]`;
    checkFields(source, field, s, ['address', 'port']);
    const r = s as Record<string, unknown>;
    if (typeof r.address !== 'string') {
      throw configError(source, `${field}.address`, 'must be an IP address string');
    }
    const service = { address: r.address, port: integer(source, `${field}.port`, r.port) };
    checkEncodes(source, field, () => encodeServiceKey(service.address, service.port));
    return service;
  });
  const identities = arrayOf(source, 'identities', v.identities).map((s, i): AccelIdentity => {
    const field = `identities[${i}]`;
    checkFields(source, field, s, ['cidr', 'identity']);
    const r = s as Record<string, unknown>;
    if (typeof r.cidr !== 'string')
      throw configError(source, `${field}.cidr`, 'must be a CIDR string');
    const entry = { cidr: r.cidr, identity: integer(source, `${field}.identity`, r.identity) };
    checkEncodes(source, `${field}.cidr`, () => encodeLpmKey(entry.cidr));
    checkEncodes(source, `${field}.identity`, () => encodeIdentity(entry.identity));
    return entry;
  });
  const policy = arrayOf(source, 'policy', v.policy).map((s, i): AccelPolicyRule => {
    const field = `policy[${i}]`;
    checkFields(source, field, s, ['identity', 'port', 'verdict', 'proxyPort']);
    const r = s as Record<string, unknown>;
    const rule = {
      identity: integer(source, `${field}.identity`, r.identity),
      port: integer(source, `${field}.port`, r.port),
      decision: decisionOf(source, field, r),
    };
    if (rule.decision.kind !== 'proxy' && r.proxyPort !== undefined) {
      throw configError(source, `${field}.proxyPort`, 'only a "proxy" verdict has a proxyPort');
    }
    checkEncodes(source, field, () => encodePolicyKey(rule));
    checkEncodes(source, field, () => encodePolicyEntry(rule.decision));
    return rule;
  });
  const config: AccelConfig = {
    ...(variant ? { variant } : {}),
    ...(endpoints ? { endpoints } : {}),
    services,
    identities,
    policy,
  };
  return config;
}

/** Reads and validates the JSON configuration file at `path`. */
export function readAccelConfig(path: string): AccelConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AccelError('ERR_CONFIG', `cannot read config ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AccelError('ERR_CONFIG', `${path}: not valid JSON: ${(err as Error).message}`);
  }
  return parseAccelConfig(parsed, path);
}

/**
 * Checks that `config` fits `variant`: services, identities, policy and endpoints are maps of the
 * cilium variant only (the minimal variant accelerates every socket and has no such maps).
 */
export function checkConfigForVariant(config: AccelConfig, variant: SockopsVariant): void {
  if (variant === 'cilium') return;
  for (const field of ['endpoints', 'services', 'identities', 'policy'] as const) {
    const v = config[field];
    if (v !== undefined && v.length > 0) {
      throw new AccelError(
        'ERR_CONFIG',
        `config: ${field}: the minimal variant has no ${field} map; use --variant cilium or remove ${field}`,
      );
    }
  }
}

/** One key/value pair to write into a map. */
export interface MapEntryBytes {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** The endpoints map entries of a list of CIDRs. */
export function endpointEntries(cidrs: readonly string[]): MapEntryBytes[] {
  return cidrs.map((cidr, i) => ({ key: encodeLpmKey(cidr), value: encodeEndpointInfo(i + 1) }));
}

/** The services, ipcache and policy entries of a configuration. */
export function configEntries(config: AccelConfig): {
  services: MapEntryBytes[];
  ipcache: MapEntryBytes[];
  policy: MapEntryBytes[];
} {
  return {
    services: config.services.map((s, i) => ({
      key: encodeServiceKey(s.address, s.port),
      value: encodeServiceInfo(i + 1),
    })),
    ipcache: config.identities.map((e) => ({
      key: encodeLpmKey(e.cidr),
      value: encodeIdentity(e.identity),
    })),
    policy: config.policy.map((r) => ({
      key: encodePolicyKey(r),
      value: encodePolicyEntry(r.decision),
    })),
  };
}
