import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AddressError,
  formatIp4,
  formatIp6,
  hex,
  isV4Mapped,
  parseIp4,
  parseIp6,
  samePrefix,
  v4Mapped,
} from '../../src/model/address.js';

describe('model addresses', () => {
  it('parses IPv4 into network-order bytes', () => {
    expect(hex(parseIp4('10.0.0.1'))).toBe('0a 00 00 01');
    expect(hex(parseIp4('255.254.0.127'))).toBe('ff fe 00 7f');
  });

  it('parses IPv6 with ::, leading/trailing zero runs and a dotted quad', () => {
    expect(hex(parseIp6('::1'))).toBe(`${'00 '.repeat(15)}01`);
    expect(hex(parseIp6('fd00::1:2'))).toBe('fd 00 00 00 00 00 00 00 00 00 00 00 00 01 00 02');
    expect(hex(parseIp6('::ffff:10.0.0.1'))).toBe(
      '00 00 00 00 00 00 00 00 00 00 ff ff 0a 00 00 01',
    );
    expect(hex(parseIp6('1:2:3:4:5:6:7:8'))).toBe(
      '00 01 00 02 00 03 00 04 00 05 00 06 00 07 00 08',
    );
  });

  it('rejects malformed addresses with a typed error', () => {
    for (const bad of ['10.0.0', '10.0.0.256', 'a.b.c.d', '']) {
      expect(() => parseIp4(bad)).toThrow(AddressError);
    }
    for (const bad of [
      '1::2::3',
      '1:2:3:4:5:6:7',
      '12345::',
      'g::1',
      '1:2:3:4:5:6:7:8:9',
      '::1.2.3',
    ]) {
      expect(() => parseIp6(bad)).toThrow(AddressError);
    }
  });

  it('round-trips any address through format and parse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(parseIp6(formatIp6(b))).toEqual(b);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
        expect(parseIp4(formatIp4(b))).toEqual(b);
      }),
      { numRuns: 200 },
    );
  });

  it('recognises exactly the ::ffff:0:0/96 prefix as v4-mapped', () => {
    expect(isV4Mapped(v4Mapped(parseIp4('127.0.0.1')))).toBe(true);
    expect(isV4Mapped(parseIp6('::1'))).toBe(false);
    expect(isV4Mapped(parseIp6('::127.0.0.1'))).toBe(false); // deprecated v4-compatible form
    expect(isV4Mapped(parseIp6('::fffe:10.0.0.1'))).toBe(false);
    expect(isV4Mapped(parseIp6('1::ffff:10.0.0.1'))).toBe(false);
  });

  it('compares prefixes bit by bit', () => {
    expect(samePrefix(parseIp4('10.1.2.3'), parseIp4('10.1.255.0'), 16)).toBe(true);
    expect(samePrefix(parseIp4('10.1.2.3'), parseIp4('10.1.255.0'), 17)).toBe(false);
    expect(samePrefix(parseIp4('10.0.0.1'), parseIp4('11.0.0.1'), 7)).toBe(true);
    expect(samePrefix(parseIp4('10.0.0.1'), parseIp4('11.0.0.1'), 8)).toBe(false);
  });
});
