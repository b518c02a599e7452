/**
 * Struct, union and array layouts: computed offsets (natural alignment and packed), BTF for the
 * map definitions, member paths, and the JS codec (round trip property, byte order of be* types).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  array,
  be16,
  be32,
  codec,
  DslError,
  type JsInput,
  resolvePath,
  s16,
  s64,
  scalarRanges,
  struct,
  u8,
  u16,
  u32,
  u64,
  union,
} from '../../src/dsl/index.js';

describe('offsets', () => {
  it('aligns members naturally and pads the struct to its alignment', () => {
    const S = struct('s', { a: u8, b: u32, c: u16, d: u64, e: u8 });
    expect(S.members.map((m) => [m.name, m.offset])).toEqual([
      ['a', 0],
      ['b', 4],
      ['c', 8],
      ['d', 16],
      ['e', 24],
    ]);
    expect([S.size, S.align]).toEqual([32, 8]);
  });

  it('packs members back to back with { packed: true }', () => {
    const S = struct('s', { a: u8, b: u32, c: u16, d: u64 }, { packed: true });
    expect(S.members.map((m) => m.offset)).toEqual([0, 1, 5, 7]);
    expect([S.size, S.align]).toEqual([15, 1]);
  });

  it("lays out cilium's 44-byte sock_key: unions of address forms, arrays, nesting", () => {
    const V6 = array(be32, 4);
    const Addr = union('addr', { v4: be32, v6: V6 });
    const Key = struct(
      'sock_key',
      { sip: Addr, dip: Addr, family: u8, pad7: u8, pad8: u16, sport: u32, dport: u32 },
      { packed: true },
    );
    expect(Key.size).toBe(44);
    expect(Key.offsetOf('dip.v6[3]')).toBe(28);
    expect(Key.offsetOf('sport')).toBe(36);
    expect(resolvePath(Key, 'dip.v4')).toMatchObject({ offset: 16, layout: be32 });
    expect(Addr.size).toBe(16);
    expect(scalarRanges(Key).length).toBe(2 * 5 + 5);
  });

  it('rejects unknown members, indexes out of range and malformed paths', () => {
    const S = struct('s', { a: array(u32, 2) });
    expect(() => resolvePath(S, 'b')).toThrowError(/struct s has no member 'b'/);
    expect(() => resolvePath(S, 'a[2]')).toThrowError(/index 2 is outside the array of 2/);
    expect(() => resolvePath(S, 'a..x')).toThrowError(DslError);
  });

  it('rejects empty structs and non-identifier names where the struct is declared', () => {
    expect(() => struct('bad name', { a: u8 })).toThrowError(
      /layout\.test\.ts:\d+:\d+: struct name 'bad name'/,
    );
    expect(() => struct('empty', {})).toThrowError(/has no fields/);
    expect(() => array(u8, 0)).toThrowError(/positive integer/);
  });
});

describe('BTF', () => {
  it('describes structs with member bit offsets and C typedef names', () => {
    const S = struct('pair', { a: u16, b: be32 });
    expect(S.btf).toEqual({
      kind: 'struct',
      name: 'pair',
      size: 8,
      members: [
        { name: 'a', type: u16.btf, bitOffset: 0 },
        { name: 'b', type: be32.btf, bitOffset: 32 },
      ],
    });
    expect(be32.btf).toMatchObject({ kind: 'typedef', name: '__be32', target: { name: '__u32' } });
    expect(array(u8, 3).btf).toEqual({ kind: 'array', elem: u8.btf, length: 3 });
    expect(union('u', { x: u32, y: u64 }).btf).toMatchObject({ kind: 'union', size: 8 });
  });
});

describe('codec', () => {
  const Rec = struct('rec', {
    tag: u8,
    port: be16,
    addr: be32,
    n: s16,
    big: u64,
    signed: s64,
    list: array(u32, 3),
  });
  const recCodec = codec(Rec);

  it('writes host-order scalars little-endian and network-order ones big-endian', () => {
    const bytes = codec(struct('t', { p: be16, q: u16 }, { packed: true })).encode({
      p: 0x1f90,
      q: 0x1f90,
    });
    expect([...bytes]).toEqual([0x1f, 0x90, 0x90, 0x1f]);
  });

  it('zero-fills omitted members and padding', () => {
    const bytes = recCodec.encode({ tag: 1 });
    expect(bytes).toHaveLength(Rec.size);
    expect([...bytes].filter((b) => b !== 0)).toEqual([1]);
  });

  it('round-trips every value (property)', () => {
    const arb = fc.record({
      tag: fc.integer({ min: 0, max: 255 }),
      port: fc.integer({ min: 0, max: 0xffff }),
      addr: fc.integer({ min: 0, max: 0xffffffff }),
      n: fc.integer({ min: -32768, max: 32767 }),
      big: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      signed: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
      list: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 3, maxLength: 3 }),
    });
    fc.assert(
      fc.property(arb, (v) => {
        expect(recCodec.decode(recCodec.encode(v as JsInput<typeof Rec>))).toEqual(v);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects values out of range, wrong JS types, unknown members and short buffers', () => {
    expect(() => codec(u8).encode(256)).toThrowError(/256 is not a valid u8/);
    expect(() => codec(u64).encode(1 as never)).toThrowError(/not a valid u64/);
    expect(() => recCodec.encode({ nope: 1 } as never)).toThrowError(/rec has no field 'nope'/);
    expect(() => recCodec.decode(new Uint8Array(3))).toThrowError(/cannot decode/);
  });
});
