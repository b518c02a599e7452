/**
 * Map declarations: validation at the declaration's call site, the MapSpec the object writer
 * takes, and the codecs for user-space access.
 */
import { describe, expect, it } from 'vitest';
import { DslError, MapFlags, map, struct, u8, u32, u64 } from '../../src/dsl/index.js';
import { SockKey, sockMap } from './sockmap-pair.js';

function declarationError(f: () => unknown): DslError {
  try {
    f();
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('map declarations', () => {
  it('produce the MapSpec with the BTF key/value types', () => {
    expect(sockMap.toSpec()).toEqual({
      name: 'sock_ops_map',
      type: 18,
      key: SockKey.btf,
      value: u32.btf,
      maxEntries: 65535,
    });
    const pinned = map('pinned', {
      type: 'hash',
      key: 8,
      value: u64,
      maxEntries: 4,
      flags: MapFlags.NO_PREALLOC,
      pinning: 'by_name',
    });
    expect(pinned.toSpec()).toEqual({
      name: 'pinned',
      type: 1,
      key: 8,
      value: u64.btf,
      maxEntries: 4,
      flags: 1,
      pinning: 'by_name',
    });
    expect(map('events', { type: 'ringbuf', maxEntries: 4096 }).toSpec()).toMatchObject({
      key: 0,
      value: 0,
    });
  });

  it('validate names: at most 15 characters of [A-Za-z0-9_], at the declaring line', () => {
    const e = declarationError(() =>
      map('sixteen_chars_xx', { type: 'hash', key: u32, value: u32, maxEntries: 1 }),
    );
    expect(e.code).toBe('INVALID_NAME');
    expect(e.message).toMatch(
      /^test\/dsl\/maps\.test\.ts:\d+:\d+: map name 'sixteen_chars_xx' must be 1-15 characters/,
    );
    expect(
      declarationError(() => map('a.b', { type: 'hash', key: u32, value: u32, maxEntries: 1 }))
        .code,
    ).toBe('INVALID_NAME');
  });

  it('validate type-specific sizes', () => {
    const cases: [() => unknown, RegExp][] = [
      [
        () => map('m', { type: 'sockhash', key: SockKey, value: u8, maxEntries: 1 }),
        /socket fds: 4 or 8 bytes, not 1/,
      ],
      [
        () => map('m', { type: 'sockmap', key: u64, value: u32, maxEntries: 1 }),
        /sockmap keys are 4 bytes \(u32\), not 8/,
      ],
      [() => map('m', { type: 'hash', value: u32, maxEntries: 1 }), /a key .* is required/],
      [
        () => map('m', { type: 'hash', key: u32, value: u32, maxEntries: 0 }),
        /maxEntries must be a positive/,
      ],
      [() => map('m', { type: 'ringbuf', maxEntries: 5000 }), /power of 2 and a multiple of 4096/],
      [() => map('m', { type: 'ringbuf', key: u32, maxEntries: 4096 }), /ringbuf maps have no key/],
      [
        () => map('m', { type: 'sockhash', key: 513, value: u32, maxEntries: 1 }),
        /at most 512 bytes/,
      ],
    ];
    for (const [f, message] of cases) {
      const e = declarationError(f);
      expect(e.code).toBe('INVALID_MAP');
      expect(e.message).toMatch(message);
    }
  });

  it('carry codecs for keys and values, raw bytes for size-only ones', () => {
    const key = sockMap.keyCodec.encode({ sip4: 0x0100007f, family: 1, sport: 0x901f });
    expect(key).toHaveLength(20);
    expect(sockMap.keyCodec.decode(key)).toMatchObject({
      sip4: 0x0100007f,
      family: 1,
      sport: 0x901f,
      dport: 0,
    });
    const raw = map('raw', { type: 'hash', key: 3, value: struct('v', { n: u64 }), maxEntries: 1 });
    expect([...raw.keyCodec.encode(Uint8Array.of(1, 2, 3))]).toEqual([1, 2, 3]);
    expect(() => raw.keyCodec.encode(Uint8Array.of(1))).toThrowError(/expected 3 bytes/);
    expect(raw.valueCodec.decode(new Uint8Array(8))).toEqual({ n: 0n });
  });
});
