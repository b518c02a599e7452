/**
 * The hand-written address parser (src/programs/addresses.ts) against node:net, its oracle: it
 * must accept exactly the text isIPv4/isIPv6 accept, give 4 bytes for IPv4 and 16 for IPv6, and the
 * bytes must be the address Node's URL parser reads from the same text.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAddress, readAddress } from '../../src/programs/addresses.js';
import { resolveSockopsOptions } from '../../src/programs/options.js';

/** Characters addresses are made of, plus a few that never belong in one. */
const ADDRESS_CHARS = [...'0123456789abcdefABCDEF:.%', ...'0:.', ...'gxZ- /'];

/** Address-like text: mostly valid forms, some mutated by one edit, some random. */
const addressLike = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
  fc
    .tuple(fc.ipV6(), fc.string({ unit: fc.constantFrom(...'az09-.:%'), maxLength: 6 }))
    .map(([ip, zone]) => `${ip}%${zone}`),
  fc
    .tuple(
      fc.oneof(fc.ipV4(), fc.ipV6()),
      fc.nat(),
      fc.constantFrom('insert', 'delete', 'replace'),
      fc.constantFrom(...ADDRESS_CHARS),
    )
    .map(([ip, at, edit, ch]) => {
      const i = at % (ip.length + 1);
      if (edit === 'insert') return ip.slice(0, i) + ch + ip.slice(i);
      if (edit === 'delete') return ip.slice(0, i) + ip.slice(i + 1);
      return ip.slice(0, i) + ch + ip.slice(i + 1);
    }),
  fc.string({ unit: fc.constantFrom(...ADDRESS_CHARS), maxLength: 45 }),
);

/** 16 bytes as eight full hex groups. */
const hexGroups = (b: Uint8Array) =>
  Array.from({ length: 8 }, (_, i) => (((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0)).toString(16));

describe('parseAddress', () => {
  it('accepts exactly what node:net accepts, with the address Node reads', () => {
    fc.assert(
      fc.property(addressLike, (text) => {
        const bytes = parseAddress(text);
        expect({ text, length: bytes?.length ?? 0 }).toEqual({
          text,
          length: isIPv4(text) ? 4 : isIPv6(text) ? 16 : 0,
        });
        expect(bytes !== undefined).toBe(isIP(text) !== 0);
        if (bytes?.length === 4) expect(Array.from(bytes).join('.')).toBe(text);
        if (bytes?.length === 16) {
          const withoutZone = text.replace(/%.*$/, '');
          expect(new URL(`http://[${hexGroups(bytes).join(':')}]/`).hostname).toBe(
            new URL(`http://[${withoutZone}]/`).hostname,
          );
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with node:net on edge cases of the grammar', () => {
    const cases = [
      '',
      ':',
      '::',
      ':::',
      '::1',
      '1::',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4::5:6:7:8',
      '1::2::3',
      ':1::2',
      '1::2:',
      '::1.2.3.4',
      '::ffff:1.2.3.4',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6::1.2.3.4',
      '1:2:3:4:5::1.2.3.4',
      '1.2.3.4::',
      '1.2.3.4:1::',
      '::1.2.3.04',
      '::1.2.3',
      'fe80::1%eth0',
      'fe80::1%',
      'fe80::1%a%b',
      'fe80::1%a:b.c-d',
      '0.0.0.0',
      '255.255.255.255',
      '256.0.0.0',
      '01.2.3.4',
      '1.2.3.4.',
      '1.2.3.4%eth0',
      ' 1.2.3.4',
      '12345::',
      'g::',
      'FFFF::ffff',
    ];
    for (const text of cases) {
      expect({ text, accepted: parseAddress(text)?.length ?? 0 }).toEqual({
        text,
        accepted: isIPv4(text) ? 4 : isIPv6(text) ? 16 : 0,
      });
    }
  });

  it('says why text is not an address', () => {
    const reason = (text: string) => {
      const r = readAddress(text);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason('10.0.0.256')).toBe('IPv4 part 256 is above 255');
    expect(reason('10.0.0')).toMatch(/has 3 dot-separated parts; IPv4 has 4/);
    expect(reason('10.0.0.01')).toMatch(/leading zero .*write 1$/);
    expect(reason('10.0.x.1')).toMatch(/part "x" is not a decimal number/);
    expect(reason('1::2::3')).toBe('"::" may appear only once');
    expect(reason('1:2:3')).toMatch(/it has 3 groups; IPv6 has 8/);
    expect(reason('12345::')).toMatch(/group "12345" is not 1 to 4 hex digits/);
    expect(reason('1.2.3.4::')).toMatch(/IPv4 part .* may only end an IPv6 address/);
    expect(reason('fe80::1%')).toMatch(/zone after "%"/);
    expect(reason(':1::2')).toMatch(/empty group/);
  });

  it('puts the reason into the option error', () => {
    expect(() => resolveSockopsOptions({ gatewayIp4: '10.0.0.300' })).toThrow(
      'gatewayIp4 "10.0.0.300" is not an IPv4 address: IPv4 part 300 is above 255',
    );
    expect(() => resolveSockopsOptions({ gatewayIp4: '::1' })).toThrow(
      'gatewayIp4 "::1" is not an IPv4 address: it is IPv6',
    );
    expect(() => resolveSockopsOptions({ gatewayIp6: '10.0.0.1' })).toThrow(
      'gatewayIp6 "10.0.0.1" is not an IPv6 address: it is IPv4',
    );
  });
});
