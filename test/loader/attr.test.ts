/**
 * Every bpf(2) attr layout, checked byte by byte at the offsets of shared/spec/elf-btf-bpf.md §4
 * as the commands pass them through the fake syscall layer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMapInfo,
  decodeProgInfo,
  encodeBtfLoad,
  encodeLinkCreate,
  encodeMapCreate,
  encodeProgLoad,
  encodeProgTestRun,
  MAP_INFO_SIZE,
  PROG_INFO_SIZE,
} from '../../src/loader/attr.js';
import * as cmd from '../../src/loader/commands.js';
import { BpfCmd } from '../../src/loader/constants.js';
import { FakeKernel } from './fake-kernel.js';

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The attr of the only recorded call of `c`. */
function onlyAttr(k: FakeKernel, c: number): Uint8Array {
  const calls = k.callsOf(c);
  expect(calls).toHaveLength(1);
  return calls[0]!.attr;
}

/** Asserts every byte outside `used` [offset, size] ranges is zero. */
function expectZeroOutside(attr: Uint8Array, used: [number, number][]): void {
  attr.forEach((byte, i) => {
    if (!used.some(([o, s]) => i >= o && i < o + s)) expect(byte, `byte ${i}`).toBe(0);
  });
}

describe('MAP_CREATE attr', () => {
  it('puts type, sizes, flags, name, btf ids and map_extra at their offsets in 72 bytes', () => {
    const k = new FakeKernel();
    cmd.mapCreate(k, {
      mapType: 18,
      keySize: 20,
      valueSize: 4,
      maxEntries: 65535,
      mapFlags: 4,
      innerMapFd: 7,
      numaNode: 1,
      name: 'sock_ops_map',
      btfFd: 9,
      btfKeyTypeId: 3,
      btfValueTypeId: 5,
      mapExtra: 0x1122334455667788n,
    });
    const a = onlyAttr(k, BpfCmd.MAP_CREATE);
    expect(a.length).toBe(72);
    const v = dv(a);
    expect([0, 4, 8, 12, 16, 20, 24].map((o) => v.getUint32(o, true))).toEqual([
      18, 20, 4, 65535, 4, 7, 1,
    ]);
    expect(Buffer.from(a.subarray(28, 44)).toString('latin1')).toBe('sock_ops_map\0\0\0\0');
    expect([48, 52, 56].map((o) => v.getUint32(o, true))).toEqual([9, 3, 5]);
    expect(v.getBigUint64(64, true)).toBe(0x1122334455667788n);
    expectZeroOutside(a, [
      [0, 44],
      [48, 12],
      [64, 8],
    ]);
  });

  it('truncates names to 15 characters and keeps a NUL in the 16-byte field', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_]{0,40}$/), (name) => {
        const a = encodeMapCreate({ mapType: 1, keySize: 4, valueSize: 4, maxEntries: 1, name });
        const field = a.subarray(28, 44);
        expect(field[15]).toBe(0);
        expect(Buffer.from(field).toString('latin1').replace(/\0+$/, '')).toBe(name.slice(0, 15));
      }),
      { numRuns: 200 },
    );
  });
});

describe('encoders as properties', () => {
  const u32 = fc.nat({ max: 0xffffffff });
  const ptr = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

  it('MAP_CREATE: every field reads back from its offset, nothing else is set', () => {
    fc.assert(
      fc.property(fc.tuple(u32, u32, u32, u32, u32, u32, u32, u32, u32), ptr, (f, extra) => {
        const [
          mapType,
          keySize,
          valueSize,
          maxEntries,
          mapFlags,
          innerMapFd,
          btfFd,
          btfKey,
          btfValue,
        ] = f;
        const a = encodeMapCreate({
          mapType,
          keySize,
          valueSize,
          maxEntries,
          mapFlags,
          innerMapFd,
          btfFd,
          btfKeyTypeId: btfKey,
          btfValueTypeId: btfValue,
          mapExtra: extra,
        });
        const v = dv(a);
        expect([0, 4, 8, 12, 16, 20, 48, 52, 56].map((o) => v.getUint32(o, true))).toEqual(f);
        expect(v.getBigUint64(64, true)).toBe(extra);
        expectZeroOutside(a, [
          [0, 24],
          [48, 12],
          [64, 8],
        ]);
      }),
      { numRuns: 200 },
    );
  });

  it('PROG_LOAD: pointers and counts read back from their offsets; log_true_size stays zero', () => {
    fc.assert(
      fc.property(
        ptr,
        ptr,
        ptr,
        ptr,
        ptr,
        u32,
        u32,
        u32,
        (insns, license, log, func, line, n, fc1, lc) => {
          const a = encodeProgLoad({
            progType: 13,
            insnCnt: n,
            insns,
            license,
            logBuf: log,
            logLevel: 1,
            logSize: 4096,
            funcInfo: func,
            funcInfoCnt: fc1,
            funcInfoRecSize: 8,
            lineInfo: line,
            lineInfoCnt: lc,
            lineInfoRecSize: 16,
          });
          const v = dv(a);
          expect([8, 16, 32, 80, 96].map((o) => v.getBigUint64(o, true))).toEqual([
            insns,
            license,
            log,
            func,
            line,
          ]);
          expect([4, 88, 104].map((o) => v.getUint32(o, true))).toEqual([n, fc1, lc]);
          expect(v.getUint32(140, true)).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('element command attrs', () => {
  it('UPDATE passes map_fd @0, key @8, value @16 and flags @24 pointing at the bytes given', () => {
    const k = new FakeKernel();
    const fd = cmd.mapCreate(k, { mapType: 1, keySize: 4, valueSize: 8, maxEntries: 4 });
    cmd.mapUpdate(k, fd, Uint8Array.of(1, 2, 3, 4), Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2), 1);
    const a = onlyAttr(k, BpfCmd.MAP_UPDATE_ELEM);
    const v = dv(a);
    expect(a.length).toBe(32);
    expect(v.getUint32(0, true)).toBe(fd);
    expect(v.getUint32(4, true)).toBe(0);
    expect(v.getBigUint64(24, true)).toBe(1n);
    expect(cmd.mapLookup(k, fd, Uint8Array.of(1, 2, 3, 4), 8)).toEqual(
      Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2),
    );
  });

  it('DELETE leaves value and flags zero (the kernel refuses a value pointer with EINVAL)', () => {
    const k = new FakeKernel();
    const fd = cmd.mapCreate(k, { mapType: 1, keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(cmd.mapDelete(k, fd, Uint8Array.of(1, 0, 0, 0))).toBe(false);
    const a = onlyAttr(k, BpfCmd.MAP_DELETE_ELEM);
    expect(dv(a).getBigUint64(8, true)).not.toBe(0n);
    expectZeroOutside(a, [
      [0, 4],
      [8, 8],
    ]);
  });

  it('GET_NEXT_KEY passes key 0 for the first key and next_key @16, and walks every key', () => {
    const k = new FakeKernel();
    const fd = cmd.mapCreate(k, { mapType: 1, keySize: 2, valueSize: 1, maxEntries: 8 });
    for (const x of [5, 6, 7]) cmd.mapUpdate(k, fd, Uint8Array.of(x, 0), Uint8Array.of(x));
    const keys: number[] = [];
    for (
      let key = cmd.mapGetNextKey(k, fd, undefined, 2);
      key;
      key = cmd.mapGetNextKey(k, fd, key, 2)
    ) {
      keys.push(key[0]!);
    }
    expect(keys).toEqual([5, 6, 7]);
    const first = k.callsOf(BpfCmd.MAP_GET_NEXT_KEY)[0]!.attr;
    expect(dv(first).getBigUint64(8, true)).toBe(0n);
    expect(dv(first).getBigUint64(16, true)).not.toBe(0n);
    expect(dv(first).getBigUint64(24, true)).toBe(0n);
  });
});

describe('PROG_LOAD attr', () => {
  it('is 144 bytes with every field at its offset (log_true_size @140 left for the kernel)', () => {
    const a = encodeProgLoad({
      progType: 13,
      insnCnt: 3,
      insns: 0x1000n,
      license: 0x2000n,
      logLevel: 1,
      logSize: 4096,
      logBuf: 0x3000n,
      kernVersion: 0x60000,
      progFlags: 0x40,
      name: 'bpf_sockops',
      expectedAttachType: 3,
      progBtfFd: 11,
      funcInfoRecSize: 8,
      funcInfo: 0x4000n,
      funcInfoCnt: 1,
      lineInfoRecSize: 16,
      lineInfo: 0x5000n,
      lineInfoCnt: 7,
    });
    expect(a.length).toBe(144);
    const v = dv(a);
    expect(v.getUint32(0, true)).toBe(13);
    expect(v.getUint32(4, true)).toBe(3);
    expect(v.getBigUint64(8, true)).toBe(0x1000n);
    expect(v.getBigUint64(16, true)).toBe(0x2000n);
    expect(v.getUint32(24, true)).toBe(1);
    expect(v.getUint32(28, true)).toBe(4096);
    expect(v.getBigUint64(32, true)).toBe(0x3000n);
    expect(v.getUint32(40, true)).toBe(0x60000);
    expect(v.getUint32(44, true)).toBe(0x40);
    expect(Buffer.from(a.subarray(48, 64)).toString('latin1')).toBe('bpf_sockops\0\0\0\0\0');
    expect(v.getUint32(64, true)).toBe(0);
    expect(v.getUint32(68, true)).toBe(3);
    expect(v.getUint32(72, true)).toBe(11);
    expect(v.getUint32(76, true)).toBe(8);
    expect(v.getBigUint64(80, true)).toBe(0x4000n);
    expect(v.getUint32(88, true)).toBe(1);
    expect(v.getUint32(92, true)).toBe(16);
    expect(v.getBigUint64(96, true)).toBe(0x5000n);
    expect(v.getUint32(104, true)).toBe(7);
    expectZeroOutside(a, [
      [0, 64],
      [68, 40],
    ]);
  });

  it('loads first without a log, then retries with a log grown to log_true_size', () => {
    const k = new FakeKernel();
    const log = `0: (b7) r0 = 0\n${'x'.repeat(300_000)}\n1: (61) r2 = *(u32 *)(r1 +24)\ninvalid bpf_context access off=24 size=4\n`;
    k.failNext(BpfCmd.PROG_LOAD, { errno: 13 });
    k.failNext(BpfCmd.PROG_LOAD, { errno: 13, log, times: 2 });
    let caught: unknown;
    try {
      cmd.progLoad(k, {
        progType: 13,
        name: 'p',
        insns: new Uint8Array(16),
        license: 'GPL',
      });
    } catch (err) {
      caught = err;
    }
    const loads = k.callsOf(BpfCmd.PROG_LOAD).map((c) => dv(c.attr));
    expect(loads).toHaveLength(3);
    expect(loads[0]!.getUint32(24, true)).toBe(0);
    expect(loads[0]!.getBigUint64(32, true)).toBe(0n);
    expect(loads[1]!.getUint32(24, true)).toBe(1);
    expect(loads[1]!.getUint32(28, true)).toBe(cmd.INITIAL_LOG_SIZE);
    // The second retry uses exactly the size the kernel asked for (log + NUL).
    expect(loads[2]!.getUint32(28, true)).toBe(new TextEncoder().encode(log).length + 1);
    expect(caught).toMatchObject({ name: 'VerifierError', errno: 'EACCES', insnIndex: 1, log });
    expect(k.liveAllocations).toBe(0);
  });

  it('retries EAGAIN and passes func/line info only with a BTF fd', () => {
    const k = new FakeKernel();
    k.failNext(BpfCmd.PROG_LOAD, { errno: 11, times: 2 });
    const { fd } = cmd.progLoad(k, {
      progType: 16,
      name: 'redir',
      insns: new Uint8Array(16),
      license: 'GPL',
      btfFd: 5,
      funcInfo: { records: new Uint8Array(8), recSize: 8 },
      lineInfo: { records: new Uint8Array(32), recSize: 16 },
    });
    expect(fd).toBeGreaterThan(0);
    const last = dv(k.callsOf(BpfCmd.PROG_LOAD).at(-1)!.attr);
    expect(k.callsOf(BpfCmd.PROG_LOAD)).toHaveLength(3);
    expect(last.getUint32(72, true)).toBe(5);
    expect(last.getUint32(88, true)).toBe(1);
    expect(last.getUint32(104, true)).toBe(2);
    expect(k.fds.get(fd)).toMatchObject({ kind: 'prog', license: 'GPL', name: 'redir' });
    expect(k.liveAllocations).toBe(0);

    const k2 = new FakeKernel();
    cmd.progLoad(k2, {
      progType: 16,
      name: 'redir',
      insns: new Uint8Array(16),
      license: 'GPL',
      funcInfo: { records: new Uint8Array(8), recSize: 8 },
    });
    const noBtf = dv(k2.callsOf(BpfCmd.PROG_LOAD)[0]!.attr);
    expect([72, 76, 88].map((o) => noBtf.getUint32(o, true))).toEqual([0, 0, 0]);
    expect(noBtf.getBigUint64(80, true)).toBe(0n);
  });

  it('throws a plain BpfError for EPERM without retrying with a log', () => {
    const k = new FakeKernel();
    k.failNext(BpfCmd.PROG_LOAD, { errno: 1 });
    expect(() =>
      cmd.progLoad(k, { progType: 13, name: 'p', insns: new Uint8Array(8), license: 'GPL' }),
    ).toThrow(/PROG_LOAD \(p\) failed with EPERM: operation not permitted.*CAP_BPF/);
    expect(k.callsOf(BpfCmd.PROG_LOAD)).toHaveLength(1);
  });
});

describe('OBJ_PIN / OBJ_GET attrs', () => {
  it('point pathname @0 at the NUL-terminated path, bpf_fd @8, file_flags @12, in 20 bytes', () => {
    const k = new FakeKernel();
    const fd = cmd.mapCreate(k, { mapType: 1, keySize: 4, valueSize: 4, maxEntries: 1 });
    cmd.objPin(k, fd, '/sys/fs/bpf/x/m');
    const pin = onlyAttr(k, BpfCmd.OBJ_PIN);
    expect(pin.length).toBe(20);
    expect(dv(pin).getUint32(8, true)).toBe(fd);
    expectZeroOutside(pin, [
      [0, 8],
      [8, 4],
    ]);
    const got = cmd.objGet(k, '/sys/fs/bpf/x/m', 8);
    const get = onlyAttr(k, BpfCmd.OBJ_GET);
    expect(dv(get).getUint32(8, true)).toBe(0);
    expect(dv(get).getUint32(12, true)).toBe(8);
    expect(k.fds.get(got)).toBe(k.fds.get(fd));
    expect(() => cmd.objPin(k, fd, '/sys/fs/bpf/x/m')).toThrow(/already pinned/);
    expect(() => cmd.objGet(k, '/sys/fs/bpf/nope')).toThrow(/nothing at \/sys\/fs\/bpf\/nope/);
  });
});

describe('attach, query and link attrs', () => {
  it('PROG_ATTACH puts target @0, prog @4, type @8, flags @12, replace @16 in 32 bytes', () => {
    const k = new FakeKernel();
    const target = k.openDirectory('/cg');
    const prog = cmd.progLoad(k, {
      progType: 13,
      name: 'p',
      insns: new Uint8Array(8),
      license: 'GPL',
    }).fd;
    cmd.progAttach(k, target, prog, 3, 2, 0);
    const a = onlyAttr(k, BpfCmd.PROG_ATTACH);
    expect(a.length).toBe(32);
    expect([0, 4, 8, 12, 16].map((o) => dv(a).getUint32(o, true))).toEqual([target, prog, 3, 2, 0]);
    cmd.progDetach(k, target, prog, 3);
    const d = onlyAttr(k, BpfCmd.PROG_DETACH);
    expect([0, 4, 8, 12].map((o) => dv(d).getUint32(o, true))).toEqual([target, prog, 3, 0]);
  });

  it('PROG_QUERY asks for the count, then fills prog_ids @16 with prog_cnt @24 capacity', () => {
    const k = new FakeKernel();
    const target = k.openDirectory('/cg');
    const p1 = cmd.progLoad(k, {
      progType: 13,
      name: 'a',
      insns: new Uint8Array(8),
      license: 'GPL',
    }).fd;
    const p2 = cmd.progLoad(k, {
      progType: 13,
      name: 'b',
      insns: new Uint8Array(8),
      license: 'GPL',
    }).fd;
    cmd.progAttach(k, target, p1, 3, 2);
    cmd.progAttach(k, target, p2, 3, 2);
    const q = cmd.progQuery(k, target, 3, 1);
    expect(q.ids).toEqual([cmd.progInfo(k, p1).id, cmd.progInfo(k, p2).id]);
    const calls = k.callsOf(BpfCmd.PROG_QUERY).map((c) => dv(c.attr));
    expect(calls[0]!.getBigUint64(16, true)).toBe(0n);
    expect(calls[0]!.getUint32(8, true)).toBe(1);
    expect(calls[1]!.getUint32(24, true)).toBe(2);
    expect(calls[1]!.getBigUint64(16, true)).not.toBe(0n);
    expect(k.callsOf(BpfCmd.PROG_QUERY)[0]!.attr.length).toBe(64);
  });

  it('LINK_CREATE puts prog @0, target @4, attach type @8, flags @12', () => {
    const a = encodeLinkCreate({ progFd: 4, targetFd: 5, attachType: 7, flags: 0 });
    expect(a.length).toBe(32);
    expect([0, 4, 8, 12].map((o) => dv(a).getUint32(o, true))).toEqual([4, 5, 7, 0]);
    expectZeroOutside(a, [[0, 12]]);
  });
});

describe('info, ids, BTF and test-run attrs', () => {
  it('OBJ_GET_INFO_BY_FD passes bpf_fd @0, info_len @4 and info @8; bpf_map_info decodes', () => {
    const k = new FakeKernel();
    const fd = cmd.mapCreate(k, {
      mapType: 18,
      keySize: 20,
      valueSize: 8,
      maxEntries: 100,
      name: 'hash',
      mapExtra: 5n,
    });
    const info = cmd.mapInfo(k, fd);
    const a = onlyAttr(k, BpfCmd.OBJ_GET_INFO_BY_FD);
    expect(a.length).toBe(16);
    expect(dv(a).getUint32(0, true)).toBe(fd);
    expect(dv(a).getUint32(4, true)).toBe(MAP_INFO_SIZE);
    expect(info).toMatchObject({
      type: 18,
      keySize: 20,
      valueSize: 8,
      maxEntries: 100,
      name: 'hash',
      mapExtra: 5n,
    });
  });

  it('decodes bpf_map_info and bpf_prog_info at the 6.18 offsets', () => {
    const m = new Uint8Array(MAP_INFO_SIZE);
    const mv = dv(m);
    [15, 42, 4, 8, 16, 1].forEach((x, i) => {
      mv.setUint32(4 * i, x, true);
    });
    m.set(new TextEncoder().encode('sockmap'), 24);
    mv.setUint32(64, 77, true);
    mv.setBigUint64(80, 9n, true);
    expect(decodeMapInfo(m)).toMatchObject({
      type: 15,
      id: 42,
      keySize: 4,
      valueSize: 8,
      maxEntries: 16,
      mapFlags: 1,
      name: 'sockmap',
      btfId: 77,
      mapExtra: 9n,
    });
    const p = new Uint8Array(PROG_INFO_SIZE);
    const pv = dv(p);
    pv.setUint32(0, 16, true);
    pv.setUint32(4, 99, true);
    p.set([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3], 8);
    pv.setUint32(20, 160, true);
    pv.setUint32(52, 1, true);
    p.set(new TextEncoder().encode('bpf_redir'), 64);
    pv.setUint32(84, 1, true);
    pv.setUint32(128, 12, true);
    pv.setUint32(144, 1, true);
    pv.setUint32(148, 6, true);
    pv.setUint32(216, 20, true);
    expect(decodeProgInfo(p)).toMatchObject({
      type: 16,
      id: 99,
      tag: 'deadbeef00010203',
      xlatedProgLen: 160,
      nrMapIds: 1,
      name: 'bpf_redir',
      gplCompatible: true,
      btfId: 12,
      nrFuncInfo: 1,
      nrLineInfo: 6,
      verifiedInsns: 20,
    });
  });

  it('GET_FD_BY_ID and GET_NEXT_ID put the id @0 and read next_id @4', () => {
    const k = new FakeKernel();
    const fd = cmd.mapCreate(k, { mapType: 1, keySize: 4, valueSize: 4, maxEntries: 1 });
    const id = cmd.mapInfo(k, fd).id;
    const again = cmd.mapGetFdById(k, id);
    const a = onlyAttr(k, BpfCmd.MAP_GET_FD_BY_ID);
    expect(a.length).toBe(12);
    expect(dv(a).getUint32(0, true)).toBe(id);
    expect(k.fds.get(again)).toBe(k.fds.get(fd));
    expect(() => cmd.progGetFdById(k, 12345)).toThrow(/no object with this id/);
  });

  it('PROG/MAP_GET_NEXT_ID walk every id in order, starting from 0', () => {
    const k = new FakeKernel();
    const fds = [1, 2, 3].map(() =>
      cmd.mapCreate(k, { mapType: 1, keySize: 4, valueSize: 4, maxEntries: 1 }),
    );
    const ids: number[] = [];
    for (
      let id = cmd.getNextId(k, 'MAP_GET_NEXT_ID', 0);
      id !== undefined;
      id = cmd.getNextId(k, 'MAP_GET_NEXT_ID', id)
    ) {
      ids.push(id);
    }
    expect(ids).toEqual(fds.map((fd) => cmd.mapInfo(k, fd).id));
    const first = k.callsOf(BpfCmd.MAP_GET_NEXT_ID)[0]!.attr;
    expect(first.length).toBe(12);
    expect(dv(first).getUint32(0, true)).toBe(0);
    expect(cmd.getNextId(k, 'PROG_GET_NEXT_ID', 0)).toBeUndefined();
  });

  it('LINK_DETACH puts the link fd @0 in 4 bytes', () => {
    const k = new FakeKernel();
    const target = k.openDirectory('/cg');
    const prog = cmd.progLoad(k, {
      progType: 13,
      name: 'p',
      insns: new Uint8Array(8),
      license: 'GPL',
    }).fd;
    const link = cmd.linkCreate(k, prog, target, 3);
    expect(cmd.progQuery(k, target, 3).ids).toHaveLength(1);
    cmd.linkDetach(k, link);
    const a = onlyAttr(k, BpfCmd.LINK_DETACH);
    expect(a.length).toBe(4);
    expect(dv(a).getUint32(0, true)).toBe(link);
    expect(cmd.progQuery(k, target, 3).ids).toEqual([]);
  });

  it('BTF_LOAD puts btf @0, log_buf @8, btf_size @16, log_size @20, log_level @24', () => {
    const a = encodeBtfLoad({
      btf: 0x10n,
      btfSize: 300,
      logBuf: 0x20n,
      logSize: 4096,
      logLevel: 1,
    });
    expect(a.length).toBe(32);
    const v = dv(a);
    expect(v.getBigUint64(0, true)).toBe(0x10n);
    expect(v.getBigUint64(8, true)).toBe(0x20n);
    expect([16, 20, 24, 28].map((o) => v.getUint32(o, true))).toEqual([300, 4096, 1, 0]);
  });

  it('PROG_TEST_RUN puts sizes, pointers, repeat and ctx at their offsets in 76 bytes', () => {
    const a = encodeProgTestRun({
      progFd: 3,
      dataSizeIn: 64,
      dataSizeOut: 320,
      dataIn: 0x100n,
      dataOut: 0x200n,
      repeat: 10,
      ctxSizeIn: 24,
      ctxSizeOut: 24,
      ctxIn: 0x300n,
      ctxOut: 0x400n,
      flags: 0,
    });
    expect(a.length).toBe(76);
    const v = dv(a);
    expect([0, 4, 8, 12].map((o) => v.getUint32(o, true))).toEqual([3, 0, 64, 320]);
    expect([16, 24].map((o) => v.getBigUint64(o, true))).toEqual([0x100n, 0x200n]);
    expect([32, 36, 40, 44].map((o) => v.getUint32(o, true))).toEqual([10, 0, 24, 24]);
    expect([48, 56].map((o) => v.getBigUint64(o, true))).toEqual([0x300n, 0x400n]);
  });
});
