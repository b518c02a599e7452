/**
 * The map layouts and typed encoders: offsets as docs/maps.md gives them, golden bytes, errors, and
 * agreement with the model's independent key encoder.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIp4,
  formatIp6,
  encodeSockKey as modelEncode,
  STAT_COUNTERS,
} from '../../src/model/index.js';
import {
  IpAddr,
  LpmIpKey,
  PolicyEntry,
  PolicyKey,
  ScopedSockKey,
  ServiceKey,
  SockKey,
} from '../../src/programs/layouts.js';
import {
  decodeSockKey,
  encodeEndpointInfo,
  encodeIdentity,
  encodeLpmKey,
  encodePolicyEntry,
  encodePolicyKey,
  encodeServiceKey,
  encodeSockKey,
  MapEncodeError,
} from '../../src/programs/maps.js';
import { STAT_INDEX, STAT_NAMES, sumStats } from '../../src/programs/stats.js';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const z = (n: number) => new Array(n).fill('00').join(' ');

describe('map layouts (docs/maps.md)', () => {
  it('sock_key: 44 packed bytes, Cilium offsets; the netns form: 56 bytes, cookie at 48', () => {
    expect(IpAddr.size).toBe(16);
    expect(SockKey.size).toBe(44);
    expect(
      ['sip', 'dip', 'family', 'pad7', 'pad8', 'sport', 'dport'].map((f) =>
        SockKey.offsetOf(f as never),
      ),
    ).toEqual([0, 16, 32, 33, 34, 36, 40]);
    expect(ScopedSockKey.size).toBe(56);
    expect(ScopedSockKey.offsetOf('pad9')).toBe(44);
    expect(ScopedSockKey.offsetOf('netns_cookie')).toBe(48);
  });

  it('lookup keys and values have the documented sizes and offsets', () => {
    expect([LpmIpKey.size, LpmIpKey.offsetOf('family'), LpmIpKey.offsetOf('addr')]).toEqual([
      24, 7, 8,
    ]);
    expect([ServiceKey.size, ServiceKey.offsetOf('dport'), ServiceKey.offsetOf('family')]).toEqual([
      20, 16, 18,
    ]);
    expect([PolicyKey.size, PolicyKey.offsetOf('dport'), PolicyKey.offsetOf('protocol')]).toEqual([
      8, 4, 6,
    ]);
    expect([PolicyEntry.size, PolicyEntry.offsetOf('deny')]).toEqual([4, 2]);
  });

  it('the program counters and the model counters are the same list', () => {
    expect([...STAT_NAMES]).toEqual([...STAT_COUNTERS]);
    expect(STAT_INDEX.msg_bytes).toBe(6);
    expect(sumStats([[1n, 2n], [], [5n]])).toMatchObject({
      inserted: 3n,
      insert_failed: 0n,
      skip_family: 5n,
    });
  });
});

describe('typed encoders', () => {
  it('encodes the golden key of sockmap-reference §8 (10.0.0.1:40000 → 10.0.0.2:8080)', () => {
    expect(
      hex(encodeSockKey({ sip: '10.0.0.1', sport: 40000, dip: '10.0.0.2', dport: 8080 })),
    ).toBe(`0a 00 00 01 ${z(12)} 0a 00 00 02 ${z(12)} 01 00 00 00 9c 40 00 00 1f 90 00 00`);
  });

  it('agrees byte for byte with the model for any tuple, IPv4 or IPv6, with or without a cookie', () => {
    const ip4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
    const ip6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
    const port = fc.integer({ min: 0, max: 65535 });
    const cookie = fc.option(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { nil: undefined });
    const tuple = fc.oneof(
      fc.record({ v6: fc.constant(false), sip: ip4, dip: ip4, sport: port, dport: port, cookie }),
      fc.record({ v6: fc.constant(true), sip: ip6, dip: ip6, sport: port, dport: port, cookie }),
    );
    fc.assert(
      fc.property(tuple, (t) => {
        const text = t.v6 ? formatIp6 : formatIp4;
        const ours = encodeSockKey({
          sip: text(t.sip),
          dip: text(t.dip),
          sport: t.sport,
          dport: t.dport,
          ...(t.cookie === undefined ? {} : { netnsCookie: t.cookie }),
        });
        const model = modelEncode({
          family: t.v6 ? 'ipv6' : 'ipv4',
          sip: t.sip,
          dip: t.dip,
          sport: t.sport,
          dport: t.dport,
          ...(t.cookie === undefined ? {} : { netnsCookie: t.cookie }),
        });
        expect(hex(ours)).toBe(hex(model));
        const back = decodeSockKey(ours);
        expect([back.sport, back.dport, back.netnsCookie]).toEqual([t.sport, t.dport, t.cookie]);
        expect(encodeSockKey(back)).toEqual(ours);
      }),
      { numRuns: 1000 },
    );
  });

  it('LPM keys: prefixlen counts the family byte (32 + CIDR bits), host bits are cleared', () => {
    expect(hex(encodeLpmKey('10.1.2.3/16'))).toBe(`30 00 00 00 00 00 00 01 0a 01 00 00 ${z(12)}`);
    expect(hex(encodeLpmKey('::1'))).toBe(`a0 00 00 00 00 00 00 02 ${z(15)} 01`);
    expect(hex(encodeLpmKey('0.0.0.0/0'))).toBe(`20 00 00 00 00 00 00 01 ${z(16)}`);
    expect(hex(encodeIdentity(0x01020304))).toBe('04 03 02 01');
    expect(hex(encodeEndpointInfo(7))).toBe('07 00 00 00');
  });

  it('service and policy keys carry ports in network order; entries encode allow, deny, proxy', () => {
    expect(hex(encodeServiceKey('10.0.0.9', 80))).toBe(`0a 00 00 09 ${z(12)} 00 50 01 00`);
    expect(hex(encodeServiceKey('fd00::1', 443)).slice(-11)).toBe('01 bb 02 00');
    expect(hex(encodePolicyKey({ identity: 1234, port: 8080 }))).toBe('d2 04 00 00 1f 90 06 00');
    expect(hex(encodePolicyKey({ identity: 0, port: 0 }))).toBe('00 00 00 00 00 00 00 00');
    expect(hex(encodePolicyEntry({ kind: 'allow' }))).toBe('00 00 00 00');
    expect(hex(encodePolicyEntry({ kind: 'deny' }))).toBe('00 00 01 00');
    expect(hex(encodePolicyEntry({ kind: 'proxy', port: 15001 }))).toBe('3a 99 00 00');
  });

  it('bad configuration raises MapEncodeError naming the value', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(MapEncodeError);
        return (e as MapEncodeError).code;
      }
      return 'none';
    };
    expect(code(() => encodeLpmKey('10.0.0.0/40'))).toBe('EENC_CIDR');
    expect(code(() => encodeLpmKey('pods'))).toBe('EENC_CIDR');
    expect(code(() => encodeServiceKey('10.0.0', 80))).toBe('EENC_ADDRESS');
    expect(code(() => encodeServiceKey('10.0.0.1', 0))).toBe('EENC_PORT');
    expect(code(() => encodePolicyKey({ identity: -1, port: 1 }))).toBe('EENC_IDENTITY');
    expect(code(() => encodePolicyEntry({ kind: 'proxy', port: 70000 }))).toBe('EENC_PORT');
    expect(code(() => encodeSockKey({ sip: '10.0.0.1', dip: '::1', sport: 1, dport: 2 }))).toBe(
      'EENC_ADDRESS',
    );
    expect(code(() => decodeSockKey(new Uint8Array(10)))).toBe('EENC_ADDRESS');
  });
});
