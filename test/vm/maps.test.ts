import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ArrayMap,
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  Errno,
  HashMap,
  LpmTrieMap,
  lpmKey,
  PerCpuArrayMap,
  RingBufMap,
  SockArrayMap,
  SockHashMap,
  u32Key,
  VmError,
  type VmSocket,
} from '../../src/vm/index.js';

const k = (...b: number[]) => new Uint8Array(b);
const ANY = BigInt(BPF_ANY);
const NOEXIST = BigInt(BPF_NOEXIST);
const EXIST = BigInt(BPF_EXIST);

describe('hash map', () => {
  it('follows BPF_ANY / BPF_NOEXIST / BPF_EXIST and rejects other flags', () => {
    const map = new HashMap({ name: 'h', keySize: 2, valueSize: 1, maxEntries: 4 });
    expect(map.updateElem(k(1, 1), k(1), EXIST)).toBe(-Errno.ENOENT);
    expect(map.updateElem(k(1, 1), k(1), NOEXIST)).toBe(0);
    expect(map.updateElem(k(1, 1), k(2), NOEXIST)).toBe(-Errno.EEXIST);
    expect(map.updateElem(k(1, 1), k(3), EXIST)).toBe(0);
    expect(map.updateElem(k(1, 1), k(4), 4n)).toBe(-Errno.EINVAL);
    expect(map.get(k(1, 1))).toEqual(k(3));
  });

  it('refuses new keys beyond max_entries with -E2BIG but still replaces existing ones', () => {
    const map = new HashMap({ name: 'h', keySize: 1, valueSize: 1, maxEntries: 2 });
    expect(map.updateElem(k(1), k(1), ANY)).toBe(0);
    expect(map.updateElem(k(2), k(2), ANY)).toBe(0);
    expect(map.updateElem(k(3), k(3), ANY)).toBe(-Errno.E2BIG);
    expect(map.updateElem(k(2), k(9), ANY)).toBe(0);
    expect(map.size).toBe(2);
  });

  it('deletes existing keys and returns -ENOENT for missing ones', () => {
    const map = new HashMap({ name: 'h', keySize: 1, valueSize: 1, maxEntries: 2 });
    map.set(k(1), k(1));
    expect(map.deleteElem(k(1))).toBe(0);
    expect(map.deleteElem(k(1))).toBe(-Errno.ENOENT);
    expect(() => map.delete(k(1))).toThrow(/ENOENT/);
  });

  it('behaves like a Map with a capacity (model-based property)', () => {
    const op = fc.record({
      kind: fc.constantFrom('update', 'delete'),
      key: fc.integer({ min: 0, max: 5 }),
      value: fc.integer({ min: 0, max: 255 }),
      flags: fc.constantFrom(0n, 1n, 2n),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const map = new HashMap({ name: 'h', keySize: 1, valueSize: 1, maxEntries: 3 });
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'delete') {
            expect(map.deleteElem(k(o.key))).toBe(model.delete(o.key) ? 0 : -Errno.ENOENT);
            continue;
          }
          const has = model.has(o.key);
          const expected =
            has && o.flags === 1n
              ? -Errno.EEXIST
              : !has && o.flags === 2n
                ? -Errno.ENOENT
                : !has && model.size >= 3
                  ? -Errno.E2BIG
                  : 0;
          expect(map.updateElem(k(o.key), k(o.value), o.flags)).toBe(expected);
          if (expected === 0) model.set(o.key, o.value);
        }
        for (let key = 0; key <= 5; key++) {
          const v = model.get(key);
          expect(map.get(k(key))).toEqual(v === undefined ? undefined : k(v));
        }
      }),
    );
  });

  it('checks key and value sizes on the TypeScript side', () => {
    const map = new HashMap({ name: 'h', keySize: 2, valueSize: 1, maxEntries: 2 });
    expect(() => map.set(k(1), k(1))).toThrow(VmError);
    expect(() => map.set(k(1, 2), k(1, 2))).toThrow(/value of 2 bytes/);
  });
});

describe('array maps', () => {
  it('have every element from the start; NOEXIST fails, out of range is -E2BIG, delete -EINVAL', () => {
    const map = new ArrayMap({ name: 'a', valueSize: 4, maxEntries: 2 });
    expect(map.get(u32Key(1))).toEqual(new Uint8Array(4));
    expect(map.get(u32Key(2))).toBeUndefined();
    expect(map.updateElem(u32Key(1), k(1, 2, 3, 4), NOEXIST)).toBe(-Errno.EEXIST);
    expect(map.updateElem(u32Key(1), k(1, 2, 3, 4), EXIST)).toBe(0);
    expect(map.updateElem(u32Key(2), k(1, 2, 3, 4), ANY)).toBe(-Errno.E2BIG);
    expect(map.deleteElem()).toBe(-Errno.EINVAL);
    expect(map.get(u32Key(1))).toEqual(k(1, 2, 3, 4));
  });

  it('keep one value per simulated CPU for per-CPU arrays', () => {
    const map = new PerCpuArrayMap({ name: 'p', valueSize: 1, maxEntries: 1, cpus: 3 });
    map.currentCpu = 1;
    map.set(u32Key(0), k(7));
    map.currentCpu = 2;
    map.set(u32Key(0), k(9));
    expect(map.perCpu(0)).toEqual([k(0), k(7), k(9)]);
    expect(() => new PerCpuArrayMap({ name: 'p', valueSize: 1, maxEntries: 1, cpus: 0 })).toThrow(
      VmError,
    );
  });
});

describe('LPM trie', () => {
  const ip = (a: number, b: number, c: number, d: number) => k(a, b, c, d);
  const trie = () => {
    const map = new LpmTrieMap({ name: 'cidr', keySize: 8, valueSize: 1, maxEntries: 3 });
    map.set(lpmKey(8, ip(10, 0, 0, 0)), k(8));
    map.set(lpmKey(24, ip(10, 1, 2, 0)), k(24));
    map.set(lpmKey(0, ip(0, 0, 0, 0)), k(0));
    return map;
  };

  it('returns the longest matching prefix', () => {
    const map = trie();
    expect(map.get(lpmKey(32, ip(10, 1, 2, 3)))).toEqual(k(24));
    expect(map.get(lpmKey(32, ip(10, 1, 3, 3)))).toEqual(k(8));
    expect(map.get(lpmKey(32, ip(11, 0, 0, 1)))).toEqual(k(0));
  });

  it('ignores entries longer than the lookup key prefixlen', () => {
    expect(trie().get(lpmKey(16, ip(10, 1, 2, 3)))).toEqual(k(8));
  });

  it('identifies entries by prefixlen and the prefix bits only', () => {
    const map = trie();
    expect(map.updateElem(lpmKey(24, ip(10, 1, 2, 99)), k(1), NOEXIST)).toBe(-Errno.EEXIST);
    expect(map.deleteElem(lpmKey(24, ip(10, 1, 2, 77)))).toBe(0);
    expect(map.deleteElem(lpmKey(24, ip(10, 1, 2, 0)))).toBe(-Errno.ENOENT);
  });

  it('returns -ENOSPC when full and -EINVAL for prefixes longer than the data', () => {
    const map = trie();
    expect(map.updateElem(lpmKey(16, ip(10, 2, 0, 0)), k(1), ANY)).toBe(-Errno.ENOSPC);
    expect(map.updateElem(lpmKey(33, ip(10, 2, 0, 0)), k(1), ANY)).toBe(-Errno.EINVAL);
  });

  it('matches a brute-force longest-prefix reference (property)', () => {
    const entry = fc.record({
      len: fc.integer({ min: 0, max: 16 }),
      a: fc.integer({ min: 0, max: 255 }),
      b: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 10 }),
        fc.integer({ min: 0, max: 0xffff }),
        (entries, q) => {
          const map = new LpmTrieMap({ name: 'l', keySize: 6, valueSize: 1, maxEntries: 64 });
          const ref = new Map<string, number>();
          entries.forEach((e, i) => {
            map.set(lpmKey(e.len, k(e.a, e.b)), k(i));
            const bits = ((e.a << 8) | e.b) >>> (16 - e.len);
            ref.set(`${e.len}/${e.len === 0 ? 0 : bits}`, i);
          });
          let best: number | undefined;
          for (let len = 16; len >= 0 && best === undefined; len--) {
            best = ref.get(`${len}/${len === 0 ? 0 : q >>> (16 - len)}`);
          }
          expect(map.get(lpmKey(16, k(q >> 8, q & 0xff)))).toEqual(
            best === undefined ? undefined : k(best),
          );
        },
      ),
    );
  });
});

describe('sock maps', () => {
  const s1: VmSocket = { id: 1, cookie: 11n };
  const s2: VmSocket = { id: 2, cookie: 22n };

  it('sockhash follows the update flags and max_entries', () => {
    const map = new SockHashMap({ name: 'sh', keySize: 2, maxEntries: 1 });
    expect(map.updateSocket(k(1, 0), s1, EXIST)).toBe(-Errno.ENOENT);
    expect(map.updateSocket(k(1, 0), s1, NOEXIST)).toBe(0);
    expect(map.updateSocket(k(1, 0), s2, NOEXIST)).toBe(-Errno.EEXIST);
    expect(map.updateSocket(k(2, 0), s2, ANY)).toBe(-Errno.E2BIG);
    expect(map.updateSocket(k(1, 0), s2, ANY)).toBe(0);
    expect(map.get(k(1, 0))).toBe(s2);
    expect(map.deleteElem(k(1, 0))).toBe(0);
    expect(map.deleteElem(k(1, 0))).toBe(-Errno.ENOENT);
  });

  it('sockmap is indexed by u32 keys', () => {
    const map = new SockArrayMap({ name: 'sm', maxEntries: 2 });
    expect(map.updateSocket(u32Key(1), s1, ANY)).toBe(0);
    expect(map.updateSocket(u32Key(2), s1, ANY)).toBe(-Errno.E2BIG);
    expect(map.updateSocket(u32Key(1), s2, NOEXIST)).toBe(-Errno.EEXIST);
    expect(map.get(u32Key(1))).toBe(s1);
  });
});

describe('ring buffer', () => {
  it('captures records until the buffer is full', () => {
    const rb = new RingBufMap({ name: 'rb', maxEntries: 32 });
    expect(rb.output(k(1, 2, 3), 0n)).toBe(0); // 8 header + 8 data
    expect(rb.output(k(4), 0n)).toBe(0); // 16 more: full
    expect(rb.output(k(5), 0n)).toBe(-11);
    expect(rb.records.map((r) => [...r.data])).toEqual([[1, 2, 3], [4]]);
  });
});
