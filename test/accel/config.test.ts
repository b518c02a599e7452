import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkConfigForVariant,
  configEntries,
  endpointEntries,
  parseAccelConfig,
} from '../../src/accel/config.js';
import { AccelError } from '../../src/accel/errors.js';
import { encodeLpmKey, encodePolicyEntry, encodeServiceKey } from '../../src/programs/maps.js';

const full = {
  variant: 'cilium',
  endpoints: ['10.0.0.0/24', '127.0.0.1', 'fd00::/64'],
  services: [{ address: '10.96.0.10', port: 53 }],
  identities: [{ cidr: '10.1.0.0/16', identity: 1234 }],
  policy: [
    { identity: 1234, port: 80, verdict: 'deny' },
    { identity: 2, port: 0, verdict: 'proxy', proxyPort: 15001 },
    { identity: 7, port: 443, verdict: 'allow' },
  ],
};

function errorOf(value: unknown): string {
  try {
    parseAccelConfig(value, 'accel.json');
  } catch (err) {
    expect(err).toBeInstanceOf(AccelError);
    expect((err as AccelError).code).toBe('ERR_CONFIG');
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('accel config', () => {
  it('accepts a complete config and turns it into the exact map bytes', () => {
    const c = parseAccelConfig(full);
    expect(c.variant).toBe('cilium');
    expect(c.endpoints).toEqual(full.endpoints);
    expect(c.policy.map((r) => r.decision)).toEqual([
      { kind: 'deny' },
      { kind: 'proxy', port: 15001 },
      { kind: 'allow' },
    ]);
    const e = configEntries(c);
    expect(e.services[0]?.key).toEqual(encodeServiceKey('10.96.0.10', 53));
    expect(e.ipcache[0]?.key).toEqual(encodeLpmKey('10.1.0.0/16'));
    expect(e.policy[1]?.value).toEqual(encodePolicyEntry({ kind: 'proxy', port: 15001 }));
    expect(endpointEntries(c.endpoints ?? []).map((x) => x.key)).toEqual(
      full.endpoints.map(encodeLpmKey),
    );
  });

  it('an empty object means host endpoints and no services, identities or policy', () => {
    expect(parseAccelConfig({})).toEqual({ services: [], identities: [], policy: [] });
  });

  it('names the file and the bad field in every error', () => {
    expect(errorOf([])).toBe('accel.json: : must be an object');
    expect(errorOf({ endpoint: [] })).toMatch(
      /^accel\.json: endpoint: unknown field; the fields are variant, endpoints/,
    );
    expect(errorOf({ variant: 'fast' })).toMatch(
      /^accel\.json: variant: "fast" is not one of "cilium", "minimal"$/,
    );
    expect(errorOf({ endpoints: '10.0.0.0/8' })).toBe('accel.json: endpoints: must be an array');
    expect(errorOf({ endpoints: ['10.0.0.0/8', '10.0.0.0/33'] })).toMatch(
      /^accel\.json: endpoints\[1\]: "10\.0\.0\.0\/33" is not a CIDR/,
    );
    expect(errorOf({ services: [{ address: '10.0.0.1', port: 70000 }] })).toMatch(
      /^accel\.json: services\[0\]: service port 70000 is not a port/,
    );
    expect(errorOf({ services: [{ address: 'db', port: 5432 }] })).toMatch(
      /^accel\.json: services\[0\]: "db" is not an IP address/,
    );
    expect(errorOf({ services: [{ address: '10.0.0.1', port: 1, proto: 'tcp' }] })).toMatch(
      /^accel\.json: services\[0\]\.proto: unknown field/,
    );
    expect(errorOf({ identities: [{ cidr: '10.0.0.0/8', identity: -1 }] })).toMatch(
      /^accel\.json: identities\[0\]\.identity: identity -1 is not a u32/,
    );
    expect(errorOf({ policy: [{ identity: 1, port: 80, verdict: 'maybe' }] })).toMatch(
      /^accel\.json: policy\[0\]\.verdict: "maybe" is not one of "allow", "deny", "proxy"$/,
    );
    expect(errorOf({ policy: [{ identity: 1, port: 80, verdict: 'proxy' }] })).toMatch(
      /^accel\.json: policy\[0\]\.proxyPort: undefined must be an integer$/,
    );
    expect(errorOf({ policy: [{ identity: 1, port: 80, verdict: 'deny', proxyPort: 1 }] })).toMatch(
      /^accel\.json: policy\[0\]\.proxyPort: only a "proxy" verdict has a proxyPort$/,
    );
    expect(errorOf({ policy: [{ identity: 1, port: 1.5, verdict: 'allow' }] })).toMatch(
      /^accel\.json: policy\[0\]\.port: 1\.5 must be an integer$/,
    );
  });

  it('refuses cilium-only maps for the minimal variant', () => {
    expect(() => checkConfigForVariant(parseAccelConfig(full), 'minimal')).toThrow(
      /the minimal variant has no endpoints map; use --variant cilium/,
    );
    expect(() => checkConfigForVariant(parseAccelConfig({}), 'minimal')).not.toThrow();
  });

  it('never crashes on arbitrary JSON: it accepts or names a field', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        for (const value of [a, { policy: [a], services: [b] }, { endpoints: a, identities: b }]) {
          try {
            parseAccelConfig(value, 'f');
          } catch (err) {
            expect(err).toBeInstanceOf(AccelError);
            expect((err as Error).message).toMatch(/^f: /);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
