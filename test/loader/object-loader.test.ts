/**
 * loadObject without a kernel: the fake kernel records what would be loaded, so these tests check
 * the pipeline's decisions byte by byte — map relocations, subprogram linking, func/line info as
 * instruction indexes, program types from section names, pinning by name, BTF fallback, cleanup.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import { writeObject } from '../../src/asm/object-writer.js';
import { BpfCmd, ProgType } from '../../src/loader/constants.js';
import { LoaderError } from '../../src/loader/errors.js';
import {
  checkObject,
  loadObject,
  objectRequirements,
  parseObject,
  planPrograms,
} from '../../src/loader/object-loader.js';
import { programTypeOfSection } from '../../src/loader/sections.js';
import { FakeKernel } from './fake-kernel.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const SOCKACCEL = readFileSync(join(FIXTURES, 'loader/sockaccel.o'));
const LOOP = readFileSync(join(FIXTURES, 'clang/loop.o'));

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** PROG_LOAD attrs recorded by the fake, by program name. */
function progLoads(k: FakeKernel): Map<string, DataView> {
  const out = new Map<string, DataView>();
  for (const c of k.callsOf(BpfCmd.PROG_LOAD)) {
    const name = Buffer.from(c.attr.subarray(48, 64)).toString('latin1').replace(/\0.*$/s, '');
    out.set(name, dv(c.attr));
  }
  return out;
}

describe('program types from section names', () => {
  it('knows libbpf names exactly, with prefixes only where libbpf allows them', () => {
    expect(programTypeOfSection('sockops')).toEqual({ progType: 13, expectedAttachType: 3 });
    expect(programTypeOfSection('sk_msg')).toEqual({ progType: 16, expectedAttachType: 7 });
    expect(programTypeOfSection('?sk_msg')).toEqual({ progType: 16, expectedAttachType: 7 });
    expect(programTypeOfSection('kprobe/tcp_connect')?.progType).toBe(ProgType.KPROBE);
    expect(programTypeOfSection('xdp')?.progType).toBe(ProgType.XDP);
    expect(programTypeOfSection('cgroup/connect4')).toEqual({
      progType: 18,
      expectedAttachType: 10,
    });
    expect(programTypeOfSection('sockops/x')).toBeUndefined();
    expect(programTypeOfSection('sockopz')).toBeUndefined();
  });
});

describe('loadObject through the fake kernel', () => {
  it('relocates each map ld_imm64 to src_reg 1 and imm = the map fd, leaving the second slot zero', () => {
    const k = new FakeKernel();
    using obj = loadObject(SOCKACCEL, { sys: k, pinDir: '/sys/fs/bpf/t', checkSupport: false });
    const mapFd = obj.map('accel_map').fd.value;
    const plan = planPrograms(parseObject(SOCKACCEL));
    for (const p of plan) {
      const prog = k.fds.get(obj.program(p.name).fd.value) as { insns: Uint8Array };
      expect(p.mapRelocations.length).toBeGreaterThan(0);
      for (const r of p.mapRelocations) {
        const at = r.slot * 8;
        expect(prog.insns[at]).toBe(0x18);
        expect(prog.insns[at + 1]! >> 4).toBe(1);
        expect(prog.insns[at + 1]! & 0xf).toBe(p.insns[at + 1]! & 0xf);
        expect(dv(prog.insns).getInt32(at + 4, true)).toBe(mapFd);
        expect([...prog.insns.subarray(at + 8, at + 16)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      }
      // Everything else is byte-identical to the object.
      const other = prog.insns.slice();
      const orig = p.insns.slice();
      for (const r of p.mapRelocations) {
        other.fill(0, r.slot * 8, r.slot * 8 + 8);
        orig.fill(0, r.slot * 8, r.slot * 8 + 8);
      }
      expect(other).toEqual(orig);
    }
  });

  it('passes program types, names, license, the BTF fd and func/line info as instruction indexes', () => {
    const k = new FakeKernel();
    using obj = loadObject(SOCKACCEL, { sys: k, pinDir: '/sys/fs/bpf/t', checkSupport: false });
    const loads = progLoads(k);
    const sockops = loads.get('accel_sockops')!;
    const redir = loads.get('accel_redir')!;
    expect([sockops.getUint32(0, true), sockops.getUint32(68, true)]).toEqual([13, 3]);
    expect([redir.getUint32(0, true), redir.getUint32(68, true)]).toEqual([16, 7]);
    expect(k.fds.get(obj.program('accel_sockops').fd.value)).toMatchObject({
      license: 'Dual BSD/GPL',
    });
    const btfFd = obj.btfFd!.value;
    for (const v of [sockops, redir]) {
      expect(v.getUint32(72, true)).toBe(btfFd);
      expect(v.getUint32(76, true)).toBe(8);
      expect(v.getUint32(88, true)).toBe(1);
      expect(v.getUint32(92, true)).toBe(16);
      expect(v.getUint32(104, true)).toBeGreaterThan(3);
    }
    // Line info of each program: first record at insn 0, increasing, all inside the program.
    for (const p of planPrograms(parseObject(SOCKACCEL))) {
      const slots = p.lineInfo.map((l) => l.slot);
      expect(slots[0]).toBe(0);
      expect([...slots].sort((a, b) => a - b)).toEqual(slots);
      expect(new Set(slots).size).toBe(slots.length);
      expect(Math.max(...slots)).toBeLessThan(p.insns.length / 8);
      expect(p.funcInfo).toEqual([{ slot: 0, typeId: expect.any(Number) }]);
    }
  });

  it('appends a called subprogram after the main program and points the call at it', () => {
    const obj = parseObject(LOOP);
    const [plan] = planPrograms(obj);
    const main = obj.programs.find((p) => p.name === plan!.name)!;
    const sub = obj.programs.find((p) => p.subprogram)!;
    expect(plan!.insns.length).toBe(main.size + sub.size);
    // Find the pseudo call and check it lands on the first slot of the appended subprogram.
    const v = dv(plan!.insns);
    const calls: number[] = [];
    for (let s = 0; s < plan!.insns.length / 8; s++) {
      if (plan!.insns[s * 8] === 0x85 && plan!.insns[s * 8 + 1]! >> 4 === 1) {
        calls.push(s + 1 + v.getInt32(s * 8 + 4, true));
      }
    }
    expect(calls.length).toBeGreaterThan(0);
    for (const target of calls) expect(target).toBe(main.size / 8);
    // One func_info per function, the subprogram's at its new start.
    expect(plan!.funcInfo.map((f) => f.slot)).toEqual([0, main.size / 8]);
  });

  it('links calls clang resolved without a relocation (same section) to the appended callee', () => {
    // Section `socket`: callee `seven` at slot 0 (2 slots), then `caller` at slot 2 whose call at
    // its slot 1 (section slot 3) reaches slot 0 with imm = 0 - (3 + 1) = -4.
    const seven: Insn[] = [
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 7 } },
      { kind: 'exit' },
    ];
    const caller: Insn[] = [
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } },
      { kind: 'call', target: 'bpf', imm: -4, off: 0 },
      { kind: 'exit' },
    ];
    const bytes = writeObject({
      license: 'GPL',
      maps: [],
      programs: [
        { name: 'seven', section: 'socket', insns: seven, mapRefs: [] },
        { name: 'caller', section: 'socket', insns: caller, mapRefs: [] },
      ],
    });
    const [plan] = planPrograms(parseObject(bytes), { programs: ['caller'] });
    expect(plan!.insns.length).toBe(5 * 8);
    const v = dv(plan!.insns);
    // The call now points just past the caller, where `seven` was appended: 3 - (1 + 1) = 1.
    expect(plan!.insns[8]).toBe(0x85);
    expect(v.getInt32(12, true)).toBe(1);
    const [sevenPlan] = planPrograms(parseObject(bytes), { programs: ['seven'] });
    expect(plan!.insns.subarray(24, 40)).toEqual(sevenPlan!.insns);
    expect(plan!.insns[24]).toBe(0xb7);
    expect(v.getInt32(28, true)).toBe(7);
  });

  it('pins maps declared by name under pinDir and reuses them on the next load', () => {
    const k = new FakeKernel();
    loadObject(SOCKACCEL, { sys: k, pinDir: '/sys/fs/bpf/t', checkSupport: false }).close();
    expect([...k.pins.keys()]).toEqual(['/sys/fs/bpf/t/accel_map']);
    loadObject(SOCKACCEL, { sys: k, pinDir: '/sys/fs/bpf/t', checkSupport: false }).close();
    expect(k.callsOf(BpfCmd.MAP_CREATE)).toHaveLength(1);
    expect(k.openFds).toEqual([]);
  });

  it('warns and loads without BTF (and without func/line info) when the kernel refuses the BTF', () => {
    const k = new FakeKernel();
    k.failNext(BpfCmd.BTF_LOAD, { errno: 22, times: 2 });
    const warnings: string[] = [];
    using obj = loadObject(SOCKACCEL, {
      sys: k,
      pinDir: '/sys/fs/bpf/t',
      checkSupport: false,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/refused the object's BTF.*EINVAL.*loading without BTF/);
    expect(obj.btfFd).toBeUndefined();
    for (const v of progLoads(k).values()) {
      expect([72, 88, 104].map((o) => v.getUint32(o, true))).toEqual([0, 0, 0]);
    }
  });

  it('closes and unpins everything it created when a program is rejected', () => {
    const k = new FakeKernel();
    k.failNext(BpfCmd.PROG_LOAD, { errno: 13, log: '0: (95) exit\nR0 !read_ok\n', times: 99 });
    expect(() =>
      loadObject(SOCKACCEL, { sys: k, pinDir: '/sys/fs/bpf/t', checkSupport: false }),
    ).toThrow(/rejected program accel_sockops at instruction 0/);
    expect(k.openFds).toEqual([]);
    expect(k.pins.size).toBe(0);
    expect(k.dirs.size).toBe(0);
    expect(k.liveAllocations).toBe(0);
  });

  it('refuses sections it cannot type and names the known ones', () => {
    const insns: Insn[] = [
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } },
      { kind: 'exit' },
    ];
    const bytes = writeObject({
      license: 'GPL',
      maps: [],
      programs: [{ name: 'odd', section: 'sockopz', insns, mapRefs: [] }],
    });
    let err: unknown;
    try {
      loadObject(bytes, { sys: new FakeKernel(), checkSupport: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoaderError);
    expect(err).toMatchObject({ code: 'ERR_BAD_OBJECT' });
    expect((err as Error).message).toMatch(/section 'sockopz'.*sockops, .*sk_msg/);
    const k = new FakeKernel();
    using obj = loadObject(bytes, {
      sys: k,
      checkSupport: false,
      programTypes: { odd: { progType: ProgType.SOCK_OPS } },
    });
    expect(obj.program('odd').type).toBe(ProgType.SOCK_OPS);
  });

  it('loads only the programs asked for, and refuses names the object does not have', () => {
    const k = new FakeKernel();
    using obj = loadObject(SOCKACCEL, {
      sys: k,
      pinDir: '/sys/fs/bpf/t',
      checkSupport: false,
      programs: ['accel_redir'],
    });
    expect([...obj.programs.keys()]).toEqual(['accel_redir']);
    expect(() =>
      loadObject(SOCKACCEL, { sys: k, pinDir: '/sys/fs/bpf/t', programs: ['nope'] }),
    ).toThrow(/no program 'nope' in the object \(programs: accel_sockops, accel_redir\)/);
  });

  it('200 load/close cycles leave no fd and no native memory behind', () => {
    const k = new FakeKernel();
    for (let i = 0; i < 200; i++) {
      loadObject(SOCKACCEL, { sys: k, pinDir: '/sys/fs/bpf/t' }).close();
    }
    expect(k.openFds).toEqual([]);
    expect(k.liveAllocations).toBe(0);
    expect([...k.pins.keys()]).toEqual(['/sys/fs/bpf/t/accel_map']);
  });

  it('wraps unreadable objects in ERR_BAD_OBJECT', () => {
    expect(() => loadObject(Uint8Array.of(1, 2, 3), { sys: new FakeKernel() })).toThrow(
      LoaderError,
    );
    expect(() => loadObject('/nonexistent.o', { sys: new FakeKernel() })).toThrow(
      /cannot read object/,
    );
  });

  it('checkObject names what the kernel lacks before anything is loaded', () => {
    const k = new FakeKernel();
    k.failNext(BpfCmd.MAP_CREATE, { errno: 22 });
    expect(() => checkObject(SOCKACCEL, { sys: k })).toThrow(
      /lacks what the object needs: map type SOCKHASH \(18\)\. Use a newer kernel/,
    );
    expect(k.openFds).toEqual([]);
  });

  it('lists the program types, helpers and map types an object needs', () => {
    expect(objectRequirements(parseObject(SOCKACCEL))).toEqual({
      programs: [
        { progType: 13, helpers: [70] },
        { progType: 16, helpers: [71] },
      ],
      mapTypes: [18],
    });
  });
});
