/** fd ownership, raw and typed map access, and pinned-map reuse, through the fake kernel. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BpfCmd, MapType, UpdateFlags } from '../../src/loader/constants.js';
import { LoaderError } from '../../src/loader/errors.js';
import { Fd } from '../../src/loader/fd.js';
import {
  BpfMap,
  bytesCodec,
  createMap,
  createOrReuseMap,
  type MapCodec,
  openPinnedMap,
  pinnedMapMismatch,
  u32Codec,
  u64Codec,
} from '../../src/loader/maps.js';
import { FakeKernel } from './fake-kernel.js';

describe('Fd', () => {
  it('closes exactly once, however often close/dispose are called', () => {
    const k = new FakeKernel();
    const raw = k.openDirectory('/cg');
    const fd = new Fd(k, raw, 'cgroup /cg');
    fd.close();
    fd.close();
    fd[Symbol.dispose]();
    expect(k.closed).toEqual([raw]);
    expect(fd.closed).toBe(true);
  });

  it('refuses to hand out a closed fd number, naming what it was', () => {
    const k = new FakeKernel();
    const fd = new Fd(k, k.openDirectory('/cg'), 'map sock_ops_map');
    fd.close();
    expect(() => fd.value).toThrow(/map sock_ops_map is closed/);
  });

  it('closes at the end of a using block', () => {
    const k = new FakeKernel();
    let raw = -1;
    {
      using fd = new Fd(k, k.openDirectory('/cg'), 'x');
      raw = fd.value;
    }
    expect(k.closed).toEqual([raw]);
    expect(k.openFds).toEqual([]);
  });
});

/** A 3-field struct codec like the DSL's struct declarations produce. */
interface Key {
  ip: number;
  port: number;
  family: number;
}
const keyCodec: MapCodec<Key> = {
  size: 8,
  encode(k) {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setUint32(0, k.ip, true);
    v.setUint16(4, k.port, true);
    v.setUint8(6, k.family);
    return b;
  },
  decode(b) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { ip: v.getUint32(0, true), port: v.getUint16(4, true), family: v.getUint8(6) };
  },
};

describe('BpfMap', () => {
  const def = { name: 'conns', type: MapType.HASH, keySize: 8, valueSize: 8, maxEntries: 64 };

  it('stores, reads, iterates and deletes typed entries like a JavaScript Map', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            ip: fc.nat({ max: 0xffffffff }),
            port: fc.nat({ max: 0xffff }),
            family: fc.constantFrom(2, 10),
          }),
          { maxLength: 20, selector: (k) => `${k.ip}/${k.port}/${k.family}` },
        ),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 20, maxLength: 20 }),
        (keys, values) => {
          const k = new FakeKernel();
          using map = createMap(k, def);
          const typed = map.typed(keyCodec, u64Codec);
          const model = new Map<string, bigint>();
          keys.forEach((key, i) => {
            typed.set(key, values[i]!);
            model.set(JSON.stringify(key), values[i]!);
          });
          expect(new Map([...typed.entries()].map(([kk, v]) => [JSON.stringify(kk), v]))).toEqual(
            model,
          );
          for (const key of keys) expect(typed.get(key)).toBe(model.get(JSON.stringify(key)));
          for (const key of keys.slice(0, 3)) expect(typed.delete(key)).toBe(true);
          expect([...typed.keys()]).toHaveLength(Math.max(0, keys.length - 3));
          expect(k.liveAllocations).toBe(0);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('checks key sizes and codec sizes before calling the kernel', () => {
    const k = new FakeKernel();
    using map = createMap(k, def);
    expect(() => map.lookup(new Uint8Array(4))).toThrow(/key has 4 bytes, the map's key_size is 8/);
    expect(() => map.typed(u32Codec, u64Codec)).toThrow(/codecs have 4 \/ 8/);
    expect(() => bytesCodec(3).encode(new Uint8Array(2))).toThrow(/expected 3 bytes/);
  });

  it('honours NOEXIST and EXIST update flags with the kernel errors', () => {
    const k = new FakeKernel();
    using map = createMap(k, def).typed(u64Codec, u64Codec).map;
    const t = map.typed(u64Codec, u64Codec);
    t.set(1n, 2n, UpdateFlags.NOEXIST);
    expect(() => t.set(1n, 3n, UpdateFlags.NOEXIST)).toThrow(/exists already/);
    expect(() => t.set(9n, 3n, UpdateFlags.EXIST)).toThrow(/does not exist/);
  });
});

describe('pinning by name', () => {
  const def = {
    name: 'sock_ops_map',
    type: MapType.SOCKHASH,
    keySize: 20,
    valueSize: 4,
    maxEntries: 65535,
  };

  it('creates and pins when nothing is pinned, then reuses the pinned map', () => {
    const k = new FakeKernel();
    const first = createOrReuseMap(k, def, '/sys/fs/bpf/t/sock_ops_map');
    expect(first.reused).toBe(false);
    expect(k.pins.has('/sys/fs/bpf/t/sock_ops_map')).toBe(true);
    const second = createOrReuseMap(k, def, '/sys/fs/bpf/t/sock_ops_map');
    expect(second.reused).toBe(true);
    expect(second.map.info().id).toBe(first.map.info().id);
    expect(k.callsOf(BpfCmd.MAP_CREATE)).toHaveLength(1);
    first.map.close();
    second.map.close();
    expect(k.openFds).toEqual([]);
  });

  it('refuses an incompatible pinned map, naming the field that differs', () => {
    const k = new FakeKernel();
    createOrReuseMap(k, def, '/p').map.close();
    for (const [change, re] of [
      [{ maxEntries: 1024 }, /max_entries is 65535 in the pinned map but 1024 in the object/],
      [{ valueSize: 8 }, /value_size is 4 in the pinned map but 8/],
      [
        { type: MapType.SOCKMAP, keySize: 4 },
        /type is SOCKHASH \(18\) in the pinned map but SOCKMAP \(15\)/,
      ],
      [{ flags: 4 }, /map_flags is 0x0 in the pinned map but 0x4/],
    ] as const) {
      let err: unknown;
      try {
        createOrReuseMap(k, { ...def, ...change }, '/p');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LoaderError);
      expect(err).toMatchObject({ code: 'ERR_PINNED_MAP_INCOMPATIBLE' });
      expect((err as Error).message).toMatch(re);
    }
    expect(k.openFds).toEqual([]);
  });

  it('pinnedMapMismatch compares exactly the six fields libbpf compares', () => {
    const info = {
      type: 1,
      id: 3,
      keySize: 4,
      valueSize: 4,
      maxEntries: 8,
      mapFlags: 0,
      name: 'other_name',
      ifindex: 0,
      btfId: 9,
      btfKeyTypeId: 1,
      btfValueTypeId: 2,
      mapExtra: 0n,
    };
    expect(
      pinnedMapMismatch({ name: 'm', type: 1, keySize: 4, valueSize: 4, maxEntries: 8 }, info),
    ).toBeUndefined();
    expect(
      pinnedMapMismatch(
        { name: 'm', type: 1, keySize: 4, valueSize: 4, maxEntries: 8, mapExtra: 1n },
        info,
      ),
    ).toMatch(/map_extra/);
  });

  it('opens a pinned map with its definition read from the kernel', () => {
    const k = new FakeKernel();
    createOrReuseMap(k, def, '/q').map.close();
    using m = openPinnedMap(k, '/q');
    expect(m).toBeInstanceOf(BpfMap);
    expect(m).toMatchObject({
      name: 'sock_ops_map',
      type: 18,
      keySize: 20,
      valueSize: 4,
      pinnedAt: '/q',
    });
  });
});
