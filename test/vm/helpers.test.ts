import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Insn, Reg } from '../../src/asm/insn.js';
import {
  ArrayMap,
  type Connection,
  Errno,
  HashMap,
  type HelperDef,
  PerCpuArrayMap,
  PerfEventArrayMap,
  RingBufMap,
  type RunOptions,
  runProgram,
  SkMsgOffset,
  SockArrayMap,
  SockHashMap,
  SockOpsOffset,
  SockOpsOp,
  skMsgContext,
  sockOpsContext,
  u32Key,
  VmError,
  type VmSocket,
} from '../../src/vm/index.js';
import { aluImm, call, exit, ld64, ldx, mov, movReg, st, stx } from './insns.js';

const MAP: Insn = ld64(2, 0n);

/** `reg = r10 + off`. */
const fp = (reg: Reg, off: number): Insn[] => [movReg(reg, 10), aluImm('add', 64, reg, off)];

/** Stores a NUL-terminated string at fp+off, byte by byte. */
const storeString = (off: number, text: string): Insn[] =>
  [...Buffer.from(`${text}\0`, 'latin1')].map((b, i) => st('b', 10, off + i, b));

/**
 * A miniature sock_ops program: on an established callback, insert the socket into a sockhash
 * under its reversed 12-byte key {sip = remote, dip = local, sport = remote, dport = local} (ports
 * as wire-order u16) with BPF_NOEXIST. The ld_imm64 of the map is instruction 15.
 */
const sockOps: Insn[] = [
  movReg(6, 1),
  st('dw', 10, -16, 0),
  st('w', 10, -8, 0),
  ldx('w', 2, 6, SockOpsOffset.remote_ip4),
  stx('w', 10, -16, 2),
  ldx('w', 2, 6, SockOpsOffset.local_ip4),
  stx('w', 10, -12, 2),
  ldx('w', 2, 6, SockOpsOffset.remote_port),
  aluImm('rsh', 64, 2, 16),
  stx('h', 10, -8, 2),
  ldx('w', 2, 6, SockOpsOffset.local_port),
  { kind: 'endian', order: 'be', bits: 32, dst: 2 },
  aluImm('rsh', 64, 2, 16),
  stx('h', 10, -6, 2),
  movReg(1, 6),
  MAP,
  ...fp(3, -16),
  mov(4, 1),
  call(70),
  mov(0, 0),
  exit,
];

/** The matching sk_msg program: look up the forward key, redirect with BPF_F_INGRESS, SK_PASS. */
const skMsg: Insn[] = [
  movReg(6, 1),
  st('dw', 10, -16, 0),
  st('w', 10, -8, 0),
  ldx('w', 2, 6, SkMsgOffset.local_ip4),
  stx('w', 10, -16, 2),
  ldx('w', 2, 6, SkMsgOffset.remote_ip4),
  stx('w', 10, -12, 2),
  ldx('w', 2, 6, SkMsgOffset.local_port),
  { kind: 'endian', order: 'be', bits: 32, dst: 2 },
  aluImm('rsh', 64, 2, 16),
  stx('h', 10, -8, 2),
  ldx('w', 2, 6, SkMsgOffset.remote_port),
  aluImm('rsh', 64, 2, 16),
  stx('h', 10, -6, 2),
  movReg(1, 6),
  MAP,
  ...fp(3, -16),
  mov(4, 1),
  call(71),
  mov(0, 1),
  exit,
];

const mapRefs = [{ insn: 15, map: 'sock_map' }];

/** The key bytes the programs build, computed by hand from addresses and ports. */
function keyBytes(sip: number[], dip: number[], sport: number, dport: number): Uint8Array {
  return new Uint8Array([...sip, ...dip, sport >> 8, sport & 0xff, dport >> 8, dport & 0xff]);
}

function peers(a: number[], pa: number, b: number[], pb: number): [Connection, Connection] {
  const A: Connection = {
    family: 'ipv4',
    localAddress: a.join('.'),
    remoteAddress: b.join('.'),
    localPort: pa,
    remotePort: pb,
    socket: { id: 1, cookie: 100n },
  };
  const B: Connection = {
    family: 'ipv4',
    localAddress: b.join('.'),
    remoteAddress: a.join('.'),
    localPort: pb,
    remotePort: pa,
    socket: { id: 2, cookie: 200n },
  };
  return [A, B];
}

describe('sock_hash_update and msg_redirect_hash', () => {
  it('records the key bytes and flags, and sk_msg on either side redirects to the peer (property)', () => {
    const ip = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
    const port = fc.integer({ min: 1, max: 0xffff });
    fc.assert(
      fc.property(ip, port, ip, port, (a, pa, b, pb) => {
        fc.pre(a.join('.') !== b.join('.') || pa !== pb);
        const [A, B] = peers(a, pa, b, pb);
        const map = new SockHashMap({ name: 'sock_map', keySize: 12, maxEntries: 16 });
        const opts = (ctx: RunOptions['ctx']): RunOptions => ({ ctx, maps: [map], mapRefs });
        const active = runProgram(
          sockOps,
          opts(sockOpsContext(A, SockOpsOp.ACTIVE_ESTABLISHED_CB)),
        );
        const passive = runProgram(
          sockOps,
          opts(sockOpsContext(B, SockOpsOp.PASSIVE_ESTABLISHED_CB)),
        );
        expect(active.calls).toMatchObject([
          { name: 'sock_hash_update', key: keyBytes(b, a, pb, pa), flags: 1n, ret: 0n },
        ]);
        expect(passive.calls[0]?.key).toEqual(keyBytes(a, b, pa, pb));
        const fromA = runProgram(skMsg, opts(skMsgContext(A, 10)));
        const fromB = runProgram(skMsg, opts(skMsgContext(B, 10)));
        expect(fromA.calls[0]?.key).toEqual(keyBytes(a, b, pa, pb));
        expect(fromA.redirect).toMatchObject({ map: 'sock_map', socket: { id: 2 }, ingress: true });
        expect(fromB.redirect?.socket.id).toBe(1);
        expect([fromA.r0, fromB.r0]).toEqual([1n, 1n]);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses inserts outside the established and listen callbacks with -EOPNOTSUPP', () => {
    const [A] = peers([1, 1, 1, 1], 1, [2, 2, 2, 2], 2);
    const map = new SockHashMap({ name: 'sock_map', keySize: 12, maxEntries: 16 });
    const { calls } = runProgram(sockOps, {
      ctx: sockOpsContext(A, SockOpsOp.STATE_CB),
      maps: [map],
      mapRefs,
    });
    expect(calls[0]?.ret).toBe(BigInt.asUintN(64, BigInt(-Errno.EOPNOTSUPP)));
    expect(map.size).toBe(0);
  });

  it('returns -EEXIST for a second insert of the same key with BPF_NOEXIST', () => {
    const [A] = peers([1, 1, 1, 1], 1, [2, 2, 2, 2], 2);
    const map = new SockHashMap({ name: 'sock_map', keySize: 12, maxEntries: 16 });
    const options = { ctx: sockOpsContext(A, 4), maps: [map], mapRefs };
    runProgram(sockOps, options);
    expect(runProgram(sockOps, options).calls[0]?.ret).toBe(BigInt.asUintN(64, -17n));
  });

  it('drops (SK_DROP) on a missing key, unknown flags or a listening target', () => {
    const [A, B] = peers([1, 1, 1, 1], 1, [2, 2, 2, 2], 2);
    const map = new SockHashMap({ name: 'sock_map', keySize: 12, maxEntries: 16 });
    const miss = runProgram(skMsg, { ctx: skMsgContext(A, 1), maps: [map], mapRefs });
    expect([miss.calls[0]?.ret, miss.redirect]).toEqual([0n, undefined]);
    map.set(keyBytes([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), { id: 9, cookie: 9n, state: 'listen' });
    const listen = runProgram(skMsg, { ctx: skMsgContext(A, 1), maps: [map], mapRefs });
    expect(listen.calls[0]?.ret).toBe(0n);
    const badFlags = skMsg.map((i, n) => (n === 18 ? mov(4, 3) : i));
    map.set(keyBytes([2, 2, 2, 2], [1, 1, 1, 1], 2, 1), { id: 1, cookie: 1n });
    const bad = runProgram(badFlags, { ctx: skMsgContext(B, 1), maps: [map], mapRefs });
    expect([bad.calls[0]?.ret, bad.calls[0]?.flags]).toEqual([0n, 3n]);
  });

  it('is refused by the program types the kernel refuses', () => {
    const [A] = peers([1, 1, 1, 1], 1, [2, 2, 2, 2], 2);
    const map = new SockHashMap({ name: 'sock_map', keySize: 12, maxEntries: 16 });
    expect(() => runProgram(sockOps, { ctx: skMsgContext(A, 1), maps: [map], mapRefs })).toThrow(
      /sk_msg cannot use helper bpf_sock_hash_update#70/,
    );
  });
});

describe('msg_redirect_map, apply and cork bytes', () => {
  it('redirects by u32 index into a sockmap and records apply/cork sizes', () => {
    const [A] = peers([1, 1, 1, 1], 1, [2, 2, 2, 2], 2);
    const peer: VmSocket = { id: 5, cookie: 5n };
    const map = new SockArrayMap({ name: 'sm', maxEntries: 4 });
    map.set(u32Key(3), peer);
    const prog: Insn[] = [
      movReg(6, 1),
      mov(2, 100),
      call(61),
      movReg(1, 6),
      mov(2, 50),
      call(62),
      movReg(1, 6),
      ld64(2, 0n),
      mov(3, 3),
      mov(4, 0),
      call(60),
      exit,
    ];
    const run = runProgram(prog, {
      ctx: skMsgContext(A, 1),
      maps: [map],
      mapRefs: [{ insn: 7, map: 'sm' }],
    });
    expect(run.r0).toBe(1n);
    expect(run.redirect).toEqual({ map: 'sm', key: u32Key(3), socket: peer, ingress: false });
    expect([run.applyBytes, run.corkBytes]).toEqual([100, 50]);
  });
});

describe('map helpers from programs', () => {
  const lookup = (keyImm: number): Insn[] => [
    st('w', 10, -4, keyImm),
    ld64(1, 0n),
    ...fp(2, -4),
    call(1),
  ];

  it('returns a pointer to the stored value; writes through it change the map', () => {
    const map = new ArrayMap({ name: 'arr', valueSize: 8, maxEntries: 2 });
    const prog: Insn[] = [
      ...lookup(1),
      { kind: 'jump', op: 'jeq', width: 64, dst: 0, src: { imm: 0 }, off: 2 },
      st('dw', 0, 0, 1234),
      mov(0, 1),
      exit,
    ];
    expect(runProgram(prog, { maps: [map], mapRefs: [{ insn: 1, map: 'arr' }] }).r0).toBe(1n);
    expect(map.get(u32Key(1))).toEqual(new Uint8Array([0xd2, 0x04, 0, 0, 0, 0, 0, 0]));
  });

  it('returns NULL on a miss, and dereferencing it faults with NULL_DEREF', () => {
    const map = new HashMap({ name: 'h', keySize: 4, valueSize: 4, maxEntries: 2 });
    const prog: Insn[] = [...lookup(1), ldx('w', 0, 0, 0), exit];
    try {
      runProgram(prog, { maps: [map], mapRefs: [{ insn: 1, map: 'h' }] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VmError);
      expect((e as VmError).code).toBe('NULL_DEREF');
      expect((e as VmError).insnIndex).toBe(5);
    }
  });

  it('sees the selected CPU value of a per-CPU array', () => {
    const map = new PerCpuArrayMap({ name: 'pc', valueSize: 1, maxEntries: 1, cpus: 2 });
    map.currentCpu = 1;
    map.set(u32Key(0), new Uint8Array([9]));
    const prog: Insn[] = [...lookup(0), ldx('b', 0, 0, 0), exit];
    const run = (cpu: number) =>
      runProgram(prog, { maps: [map], mapRefs: [{ insn: 1, map: 'pc' }], cpu }).r0;
    expect([run(0), run(1)]).toEqual([0n, 9n]);
  });

  it('reports the key, value and flags of map_update_elem', () => {
    const map = new HashMap({ name: 'h', keySize: 4, valueSize: 4, maxEntries: 2 });
    const prog: Insn[] = [
      st('w', 10, -4, 7),
      st('w', 10, -8, 0x01020304),
      ld64(1, 0n),
      ...fp(2, -4),
      ...fp(3, -8),
      mov(4, 1),
      call(2),
      exit,
    ];
    const { calls } = runProgram(prog, { maps: [map], mapRefs: [{ insn: 2, map: 'h' }] });
    expect(calls).toMatchObject([
      {
        name: 'map_update_elem',
        map: 'h',
        key: new Uint8Array([7, 0, 0, 0]),
        value: new Uint8Array([4, 3, 2, 1]),
        flags: 1n,
        ret: 0n,
        insnIndex: 8,
      },
    ]);
  });

  it('rejects keys the program never initialised and keys outside the stack or map values', () => {
    const map = new HashMap({ name: 'h', keySize: 8, valueSize: 4, maxEntries: 2 });
    const options = { maps: [map], mapRefs: [{ insn: 1, map: 'h' }] };
    const partial: Insn[] = [st('w', 10, -8, 1), ld64(1, 0n), ...fp(2, -8), call(1), exit];
    expect(() => runProgram(partial, options)).toThrow(/uninitialised/);
    const notAMap: Insn[] = [st('dw', 10, -8, 1), mov(1, 5), ...fp(2, -8), call(1), exit];
    expect(() => runProgram(notAMap)).toThrow(/is not a map/);
  });
});

describe('other helpers', () => {
  const [A] = peers([10, 0, 0, 1], 1000, [10, 0, 0, 2], 2000);

  it('captures trace_printk output with its conversions', () => {
    const prog: Insn[] = [
      ...storeString(-16, 'v=%d %x'),
      ...fp(1, -16),
      mov(2, 8),
      mov(3, -5),
      mov(4, 255),
      call(6),
      exit,
    ];
    const run = runProgram(prog);
    expect(run.printk).toEqual(['v=-5 ff']);
    expect(run.calls[0]?.text).toBe('v=-5 ff');
    expect(run.r0).toBe(7n);
  });

  it('writes ringbuf and perf event records', () => {
    const rb = new RingBufMap({ name: 'rb', maxEntries: 4096 });
    const perf = new PerfEventArrayMap({ name: 'ev', maxEntries: 4 });
    const prog: Insn[] = [
      movReg(6, 1),
      st('w', 10, -4, 0x04030201),
      ld64(1, 0n),
      ...fp(2, -4),
      mov(3, 4),
      mov(4, 0),
      call(130),
      movReg(1, 6),
      ld64(2, 0n),
      ld64(3, 0xffff_ffffn),
      ...fp(4, -4),
      mov(5, 2),
      call(25),
      exit,
    ];
    const run = runProgram(prog, {
      ctx: skMsgContext(A, 1),
      maps: [rb, perf],
      mapRefs: [
        { insn: 2, map: 'rb' },
        { insn: 9, map: 'ev' },
      ],
      cpu: 3,
    });
    expect(run.r0).toBe(0n);
    expect(rb.records.map((r) => [...r.data])).toEqual([[1, 2, 3, 4]]);
    expect(perf.records).toEqual([{ data: new Uint8Array([1, 2]), flags: 0xffff_ffffn, cpu: 3 }]);
  });

  it('makes prandom deterministic per seed and ktime monotonic', () => {
    const prog: Insn[] = [call(7), movReg(6, 0), call(5), movReg(7, 0), call(5), aluReg7(), exit];
    function aluReg7(): Insn {
      return { kind: 'alu', op: 'sub', width: 64, dst: 0, src: { reg: 7 } };
    }
    const a = runProgram(prog, { seed: 42 });
    const b = runProgram(prog, { seed: 42 });
    const c = runProgram(prog, { seed: 43 });
    expect(a.calls[0]?.ret).toBe(b.calls[0]?.ret);
    expect(a.calls[0]?.ret).not.toBe(c.calls[0]?.ret);
    expect(a.r0).toBe(1000n);
  });

  it('reads socket and netns cookies from the ctx', () => {
    const conn = { ...A, netnsCookie: 4242n };
    const cookie: Insn[] = [call(46), exit];
    expect(runProgram(cookie, { ctx: sockOpsContext(conn, 4) }).r0).toBe(100n);
    expect(() => runProgram(cookie, { ctx: skMsgContext(conn, 1) })).toThrow(
      /cannot use helper bpf_get_socket_cookie#46/,
    );
    const netns: Insn[] = [call(122), exit];
    expect(runProgram(netns, { ctx: skMsgContext(conn, 1) }).r0).toBe(4242n);
  });

  it('sock_ops_cb_flags_set updates the ctx field and returns the unsupported bits', () => {
    const prog: Insn[] = [
      movReg(6, 1),
      mov(2, 0x84),
      call(59),
      movReg(7, 0),
      ldx('w', 0, 6, SockOpsOffset.bpf_sock_ops_cb_flags),
      aluImm('lsh', 64, 7, 8),
      { kind: 'alu', op: 'or', width: 64, dst: 0, src: { reg: 7 } },
      exit,
    ];
    expect(runProgram(prog, { ctx: sockOpsContext(A, 4) }).r0).toBe((0x80n << 8n) | 0x4n);
  });

  it('lets tests add or replace helpers', () => {
    const getsockopt: HelperDef = { id: 57, name: 'getsockopt', argCount: 0, impl: () => 7n };
    expect(runProgram([call(57), exit], { helpers: new Map([[57, getsockopt]]) }).r0).toBe(7n);
  });
});
