import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StringTable, StringTableBuilder, StringTableError } from '../../src/asm/string-table.js';

describe('StringTableBuilder', () => {
  it('starts with the empty string at offset 0 and lays strings out NUL-terminated in order', () => {
    const b = new StringTableBuilder();
    expect(b.add('')).toBe(0);
    expect(b.add('int')).toBe(1);
    expect(b.add('sk_msg')).toBe(5);
    expect([...b.encode()]).toEqual([
      0, 0x69, 0x6e, 0x74, 0, 0x73, 0x6b, 0x5f, 0x6d, 0x73, 0x67, 0,
    ]);
    expect(b.size).toBe(12);
  });

  it('stores a string once and returns the same offset for repeats', () => {
    const b = new StringTableBuilder();
    const first = b.add('.maps');
    b.add('license');
    expect(b.add('.maps')).toBe(first);
    expect(b.offsetOf('license')).toBe(7);
    expect(b.offsetOf('missing')).toBeUndefined();
    expect(b.size).toBe(1 + 6 + 8);
  });

  it('counts offsets in UTF-8 bytes', () => {
    const b = new StringTableBuilder();
    b.add('é');
    expect(b.add('x')).toBe(1 + 2 + 1);
  });

  it('rejects strings containing NUL with a typed error', () => {
    const b = new StringTableBuilder();
    expect(() => b.add('a\0b')).toThrow(StringTableError);
    try {
      b.add('a\0b');
    } catch (e) {
      expect((e as StringTableError).code).toBe('STRING_TABLE_NUL');
    }
  });

  it('round-trips arbitrary strings: get(add(s)) === s', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\0'))),
        (strs) => {
          const b = new StringTableBuilder();
          const offsets = strs.map((s) => b.add(s));
          const t = new StringTable(b.encode());
          expect(offsets.map((o) => t.get(o))).toEqual(strs);
          const bytes = b.encode();
          expect(bytes[0]).toBe(0);
          expect(bytes[bytes.length - 1]).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('StringTable', () => {
  it('returns undefined for offsets outside the table or strings without a terminating NUL', () => {
    const t = new StringTable(new Uint8Array([0, 0x61, 0, 0x62]));
    expect(t.get(0)).toBe('');
    expect(t.get(1)).toBe('a');
    expect(t.get(2)).toBe('');
    expect(t.get(3)).toBeUndefined();
    expect(t.get(4)).toBeUndefined();
    expect(t.get(-1)).toBeUndefined();
    expect(t.get(1.5)).toBeUndefined();
  });

  it('reads a suffix of a string when the offset points into it (as BTF allows)', () => {
    const t = new StringTable(new Uint8Array([0, 0x61, 0x62, 0x63, 0]));
    expect(t.get(2)).toBe('bc');
  });
});
