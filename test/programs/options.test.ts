import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskAddress, parseAddress, parseCidr } from '../../src/programs/addresses.js';
import {
  DEFAULT_MAP_NAMES,
  resolveSockopsOptions,
  SockopsOptionError,
  type SockopsOptions,
} from '../../src/programs/options.js';

const codeOf = (o: unknown) => {
  try {
    resolveSockopsOptions(o as SockopsOptions);
  } catch (e) {
    expect(e).toBeInstanceOf(SockopsOptionError);
    return { code: (e as SockopsOptionError).code, message: (e as Error).message };
  }
  throw new Error('expected a SockopsOptionError');
};

describe('buildSockops options', () => {
  it('defaults to the cilium variant, v4-mapped IPv6, no netns scope, stats on, Cilium sizes', () => {
    const o = resolveSockopsOptions();
    expect(o).toMatchObject({
      variant: 'cilium',
      ipv6: 'mapped',
      netnsScope: false,
      stats: true,
      pin: false,
    });
    expect(o.sizes.sockhash).toBe(65535);
    expect(o.names).toEqual(DEFAULT_MAP_NAMES);
    expect(o.programNames).toEqual({ sockops: 'bpf_sockops', skMsg: 'bpf_redir' });
    expect(Array.from(o.gatewayIp4)).toEqual([127, 0, 0, 1]);
    expect(Array.from(o.gatewayIp6)).toEqual([...new Array(15).fill(0), 1]);
  });

  it('minimal has no counters unless stats is set', () => {
    expect(resolveSockopsOptions({ variant: 'minimal' }).stats).toBe(false);
    expect(resolveSockopsOptions({ variant: 'minimal', stats: true }).stats).toBe(true);
    expect(resolveSockopsOptions({ stats: false }).stats).toBe(false);
  });

  it('rejects a name longer than 15 characters, saying the kernel would truncate it', () => {
    const e = codeOf({ names: { sockhash: 'cilium_sock_ops_map' } });
    expect(e.code).toBe('EOPT_NAME');
    expect(e.message).toMatch(/names\.sockhash "cilium_sock_ops_map" is 19 characters.*truncates/);
    expect(resolveSockopsOptions({ names: { sockhash: 'cilium_sock_ops' } }).names.sockhash).toBe(
      'cilium_sock_ops',
    );
  });

  it('rejects names with characters outside [A-Za-z0-9_], empty names and duplicates', () => {
    expect(codeOf({ names: { policy: 'my.policy' } }).code).toBe('EOPT_NAME');
    expect(codeOf({ programNames: { skMsg: '' } }).code).toBe('EOPT_NAME');
    expect(codeOf({ names: { policy: 'tsbpf_stats' } }).code).toBe('EOPT_DUPLICATE_NAME');
    expect(codeOf({ programNames: { sockops: 'tsbpf_ipcache' } }).code).toBe('EOPT_DUPLICATE_NAME');
  });

  it('rejects bad variants, ipv6 modes, sizes, addresses and unknown options', () => {
    expect(codeOf({ variant: 'full' }).code).toBe('EOPT_VARIANT');
    expect(codeOf({ ipv6: 'yes' }).code).toBe('EOPT_IPV6');
    for (const s of [0, -1, 1.5, 2 ** 30, Number.NaN]) {
      expect(codeOf({ sizes: { sockhash: s } }).code).toBe('EOPT_SIZE');
    }
    expect(codeOf({ gatewayIp4: '::1' }).code).toBe('EOPT_ADDRESS');
    expect(codeOf({ gatewayIp6: '10.0.0.1' }).code).toBe('EOPT_ADDRESS');
    expect(codeOf({ gatewayIp4: '10.0.0' }).code).toBe('EOPT_ADDRESS');
    expect(codeOf({ netnsScoped: true }).code).toBe('EOPT_UNKNOWN');
    expect(codeOf({ sizes: { stats: 3 } }).code).toBe('EOPT_UNKNOWN');
  });
});

describe('program-side address parsing', () => {
  it('parses IPv4, IPv6 and v4-mapped text into network-order bytes', () => {
    expect(Array.from(parseAddress('10.1.2.3') ?? [])).toEqual([10, 1, 2, 3]);
    expect(Array.from(parseAddress('::ffff:10.1.2.3') ?? [])).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3,
    ]);
    expect(Array.from(parseAddress('fd00::1') ?? [])).toEqual([
      0xfd,
      0,
      ...new Array(13).fill(0),
      1,
    ]);
    expect(parseAddress('300.1.1.1')).toBeUndefined();
    expect(parseAddress('1::2::3')).toBeUndefined();
  });

  it('parses CIDRs and clears host bits; rejects over-long prefixes', () => {
    expect(parseCidr('10.1.2.3/16')).toEqual({ ip: Uint8Array.from([10, 1, 0, 0]), bits: 16 });
    expect(parseCidr('10.1.2.3')).toEqual({ ip: Uint8Array.from([10, 1, 2, 3]), bits: 32 });
    expect(parseCidr('fd00::1/8')?.ip[0]).toBe(0xfd);
    expect(parseCidr('fd00::1/8')?.ip[15]).toBe(0);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('::/129')).toBeUndefined();
    expect(parseCidr('10.0.0.0/x')).toBeUndefined();
  });

  it('agrees with Node on every IPv6 address it formats', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = parseAddress(text);
        expect(bytes).toBeDefined();
        // Re-format by hand and let Node's URL parser canonicalise both forms.
        const words = Array.from({ length: 8 }, (_, i) =>
          (((bytes?.[2 * i] ?? 0) << 8) | (bytes?.[2 * i + 1] ?? 0)).toString(16),
        );
        expect(new URL(`http://[${words.join(':')}]/`).hostname).toBe(
          new URL(`http://[${text}]/`).hostname,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('masking keeps exactly the prefix bits', () => {
    expect(Array.from(maskAddress(Uint8Array.from([255, 255, 255, 255]), 13))).toEqual([
      255, 248, 0, 0,
    ]);
    expect(Array.from(maskAddress(Uint8Array.from([255, 255, 255, 255]), 0))).toEqual([0, 0, 0, 0]);
  });
});
