/**
 * The interpreter checked against the kernel (issue 5 item 5): random terminating ALU/JMP programs
 * run in src/vm and in the kernel through BPF_PROG_TEST_RUN, and r0 must agree on all 64 bits.
 *
 * Kernel harness. The program type is XDP, because its test run hands back the packet: several
 * bodies run one after the other in one program (one load and one test run per batch), each
 * storing its full 64-bit r0 into its own 8 packet bytes (a test run's retval is only the low
 * 32 bits); the program returns XDP_PASS so the kernel logs nothing about unknown actions:
 *
 *     r2 = *(u32 *)(r1 + 0)           xdp_md->data
 *     r3 = *(u32 *)(r1 + 4)           xdp_md->data_end
 *     r4 = r2 ; r4 += 8 * N
 *     if r4 > r3 goto done            one bounds check covers every store
 *     *(u64 *)(r10 - 8) = r2          spilled: the bodies overwrite every register
 *     for each body k:
 *       <body k without its exit>     jumps to the old exit land on the next line
 *       r2 = *(u64 *)(r10 - 8)
 *       *(u64 *)(r2 + 8 * k) = r0
 *     done: r0 = 2 ; exit             XDP_PASS
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { encodeInsns } from '../../src/asm/encode.js';
import type { AluOp, Insn, Width } from '../../src/asm/insn.js';
import {
  mapCreate,
  mapLookup,
  progAttach,
  progDetach,
  progLoad,
  progTestRun,
} from '../../src/loader/commands.js';
import { AttachType, MapType, ProgType } from '../../src/loader/constants.js';
import { type BpfSyscall, systemSyscall } from '../../src/loader/syscall.js';
import {
  BPF_SOCK_SIZE,
  type Connection,
  runProgram,
  SK_MSG_MD_SIZE,
  SkMsgOffset,
  SOCK_OPS_SIZE,
  SockOpsOffset,
  SockOpsOp,
  skMsgContext,
  sockOpsContext,
  VmError,
} from '../../src/vm/index.js';
import { aluReg, ld64, mov, movReg } from '../vm/insns.js';
import { randomMemoryProgram, randomProgram } from '../vm/random-programs.js';
import { createTestCgroup, describeKernel, withProcessInCgroup } from './support.js';

const XDP_PASS = 2;

/** Programs per kernel load. */
const BATCH = 10;

function slots(insns: readonly Insn[]): number {
  return insns.reduce((n, i) => n + (i.kind === 'ld_imm64' ? 2 : 1), 0);
}

/** The XDP program that runs every body and stores body k's r0 at packet offset 8k. */
function xdpHarness(bodies: readonly (readonly Insn[])[]): Insn[] {
  const runs = bodies.flatMap((body, k): Insn[] => {
    if (body[body.length - 1]?.kind !== 'exit') throw new Error('a body must end with exit');
    return [
      ...body.slice(0, -1),
      { kind: 'ldx', size: 'dw', signed: false, dst: 2, src: 10, off: -8 },
      { kind: 'stx', size: 'dw', dst: 2, src: 0, off: 8 * k },
    ];
  });
  const spill: Insn = { kind: 'stx', size: 'dw', dst: 10, src: 2, off: -8 };
  const toDone = slots([spill, ...runs]);
  return [
    { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 1, off: 0 },
    { kind: 'ldx', size: 'w', signed: false, dst: 3, src: 1, off: 4 },
    { kind: 'alu', op: 'mov', width: 64, dst: 4, src: { reg: 2 } },
    { kind: 'alu', op: 'add', width: 64, dst: 4, src: { imm: 8 * bodies.length } },
    toDone > 0x7fff
      ? { kind: 'jump', op: 'jle', width: 64, dst: 4, src: { reg: 3 }, off: 1 }
      : { kind: 'jump', op: 'jgt', width: 64, dst: 4, src: { reg: 3 }, off: toDone },
    ...(toDone > 0x7fff ? [{ kind: 'gotol', imm: toDone } as Insn] : []),
    spill,
    ...runs,
    mov(0, XDP_PASS),
    { kind: 'exit' },
  ];
}

/** Loads the bodies as one XDP program, test-runs it once, returns each body's r0. */
function kernelR0s(sys: BpfSyscall, bodies: readonly (readonly Insn[])[]): bigint[] {
  const { fd } = progLoad(sys, {
    progType: ProgType.XDP,
    name: 'vm_xcheck',
    insns: encodeInsns(xdpHarness(bodies)),
    license: 'GPL',
  });
  try {
    const run = progTestRun(sys, fd, { dataIn: new Uint8Array(Math.max(64, 8 * bodies.length)) });
    expect(run.retval).toBe(XDP_PASS);
    const view = new DataView(run.dataOut.buffer, run.dataOut.byteOffset);
    return bodies.map((_, k) => view.getBigUint64(8 * k, true));
  } finally {
    sys.close(fd);
  }
}

/** Hand-picked edge cases: r0 = one operation on edge values (division by zero, MIN / -1, big shifts). */
function edgeCases(): { name: string; body: Insn[] }[] {
  const cases: { name: string; body: Insn[] }[] = [];
  const binary = (op: AluOp, w: Width, a: bigint, b: bigint): void => {
    cases.push({
      name: `${op}${w} 0x${a.toString(16)}, 0x${b.toString(16)}`,
      body: [ld64(0, a), ld64(1, b), aluReg(op, w, 0, 1), { kind: 'exit' }],
    });
  };
  for (const w of [32, 64] as const) {
    for (const op of ['div', 'mod', 'sdiv', 'smod'] as const) {
      binary(op, w, 0x8000_0000_0000_0000n, 0n);
      binary(op, w, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn);
      binary(op, w, 0xffff_ffff_8000_0000n, 0xffff_ffff_ffff_ffffn);
      binary(op, w, 0x1234_5678_9abc_def0n, 0xffff_ffff_0000_0000n);
      binary(op, w, 0xffff_ffff_ffff_fff9n, 2n);
    }
    for (const op of ['lsh', 'rsh', 'arsh'] as const) {
      for (const amount of [31n, 32n, 63n, 64n, 65n, 0xffff_ffff_ffff_ffffn]) {
        binary(op, w, 0x8765_4321_8000_0001n, amount);
      }
    }
  }
  return cases;
}

describeKernel('src/vm against the kernel (BPF_PROG_TEST_RUN, XDP)', () => {
  let sys: BpfSyscall;
  beforeAll(() => {
    sys = systemSyscall();
  });

  it('agrees with the kernel on r0 for division, modulo and shift edge cases', () => {
    const cases = edgeCases();
    const kernel = kernelR0s(
      sys,
      cases.map((c) => c.body),
    );
    expect(cases.map((c, k) => ({ name: c.name, r0: kernel[k] }))).toEqual(
      cases.map((c) => ({ name: c.name, r0: runProgram(c.body).r0 })),
    );
  });

  it(`agrees with the kernel on r0 for 5,000 random ALU/JMP programs (${BATCH} per load)`, () => {
    fc.assert(
      fc.property(fc.array(randomProgram, { minLength: BATCH, maxLength: BATCH }), (bodies) => {
        expect(kernelR0s(sys, bodies)).toEqual(bodies.map((body) => runProgram(body).r0));
      }),
      { numRuns: 5000 / BATCH },
    );
  }, 600_000);

  it(`agrees with the kernel on r0 for 1,000 random programs with stack loads, stores and atomics`, () => {
    fc.assert(
      fc.property(
        fc.array(randomMemoryProgram, { minLength: BATCH, maxLength: BATCH }),
        (bodies) => {
          expect(kernelR0s(sys, bodies)).toEqual(bodies.map((body) => runProgram(body).r0));
        },
      ),
      { numRuns: 1000 / BATCH },
    );
  }, 600_000);
});

/** The sock_ops words compared with the kernel: op … is_fullsock, cb flags and state. */
const CTX_WORDS = [
  ...Array.from({ length: 19 }, (_, i) => 4 * i), // op, args/reply, family, ips, ports, is_fullsock
  SockOpsOffset.bpf_sock_ops_cb_flags,
  SockOpsOffset.state,
];
const CTX_COPY_SIZE = SockOpsOffset.state + 4;

/**
 * A sock_ops program that copies the words above of the ctx it gets on ACTIVE_ESTABLISHED (into
 * array slot 0) and PASSIVE_ESTABLISHED (slot 1), so a test can compare the kernel's ctx bytes with
 * sockOpsContext's.
 */
function ctxRecorder(mapFd: number): Insn[] {
  const copy = CTX_WORDS.flatMap((off): Insn[] => [
    { kind: 'ldx', size: 'w', signed: false, dst: 3, src: 6, off },
    { kind: 'stx', size: 'w', dst: 0, src: 3, off },
  ]);
  return [
    movReg(6, 1),
    { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 6, off: SockOpsOffset.op },
    { kind: 'alu', op: 'sub', width: 64, dst: 2, src: { imm: SockOpsOp.ACTIVE_ESTABLISHED_CB } },
    { kind: 'jump', op: 'jgt', width: 64, dst: 2, src: { imm: 1 }, off: 7 + copy.length },
    { kind: 'stx', size: 'w', dst: 10, src: 2, off: -4 },
    { kind: 'ld_imm64', pseudo: 'map_fd', dst: 1, imm: BigInt(mapFd) },
    movReg(2, 10),
    { kind: 'alu', op: 'add', width: 64, dst: 2, src: { imm: -4 } },
    { kind: 'call', target: 'helper', imm: 1, off: 0 },
    { kind: 'jump', op: 'jeq', width: 64, dst: 0, src: { imm: 0 }, off: copy.length },
    ...copy,
    mov(0, 1),
    { kind: 'exit' },
  ];
}

/** Opens a loopback connection, runs `exchange` on it, and describes both ends as the sockets see themselves. */
async function connectPair(
  listenHost: string,
  connectHost: string,
  family: Connection['family'],
  exchange: (client: Socket, server: Socket) => Promise<void> = async () => {},
): Promise<{ active: Connection; passive: Connection }> {
  const server = createServer();
  server.listen({ host: listenHost, port: 0, ipv6Only: false });
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no server address');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ host: connectHost, port: address.port });
  try {
    await once(client, 'connect');
    const [peer] = await accepted;
    try {
      const describe = (s: Socket, side: 'active' | 'passive'): Connection => ({
        family,
        side,
        localAddress: s.localAddress ?? '',
        localPort: s.localPort ?? 0,
        remoteAddress: s.remoteAddress ?? '',
        remotePort: s.remotePort ?? 0,
      });
      await exchange(client, peer);
      return { active: describe(client, 'active'), passive: describe(peer, 'passive') };
    } finally {
      peer.destroy();
    }
  } finally {
    client.destroy();
    server.close();
  }
}

/** Writes `text` on `from` and waits until `to` has received all of it. */
async function send(from: Socket, to: Socket, text: string): Promise<void> {
  let got = '';
  const received = new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (got.length >= text.length) {
        to.off('data', onData);
        resolve();
      }
    };
    to.on('data', onData);
  });
  from.write(text);
  await received;
  expect(got).toBe(text);
}

const VARIANTS = [
  { name: 'IPv4', listen: '127.0.0.1', connect: '127.0.0.1', family: 'ipv4' },
  { name: 'v4-mapped IPv6', listen: '::', connect: '::ffff:127.0.0.1', family: 'ipv6' },
  { name: 'native IPv6', listen: '::1', connect: '::1', family: 'ipv6' },
] as const;

describeKernel('sock_ops ctx bytes: sockOpsContext against the kernel', () => {
  for (const v of VARIANTS) {
    it(`places every field as the kernel does on a real ${v.name} loopback connection`, async () => {
      const sys = systemSyscall();
      const cgroup = createTestCgroup('vmctx');
      const mapFd = mapCreate(sys, {
        mapType: MapType.ARRAY,
        keySize: 4,
        valueSize: CTX_COPY_SIZE,
        maxEntries: 2,
        name: 'vm_ctx_words',
      });
      let progFd = -1;
      let cgroupFd = -1;
      try {
        progFd = progLoad(sys, {
          progType: ProgType.SOCK_OPS,
          expectedAttachType: AttachType.CGROUP_SOCK_OPS,
          name: 'vm_ctx_rec',
          insns: encodeInsns(ctxRecorder(mapFd)),
          license: 'GPL',
        }).fd;
        cgroupFd = sys.openDirectory(cgroup.path);
        progAttach(sys, cgroupFd, progFd, AttachType.CGROUP_SOCK_OPS);
        const { active, passive } = await withProcessInCgroup(cgroup.path, () =>
          connectPair(v.listen, v.connect, v.family),
        );
        const sides = [
          { op: SockOpsOp.ACTIVE_ESTABLISHED_CB, conn: active },
          { op: SockOpsOp.PASSIVE_ESTABLISHED_CB, conn: passive },
        ];
        for (const [slot, { op, conn }] of sides.entries()) {
          const key = new Uint8Array(4);
          key[0] = slot;
          const kernel = mapLookup(sys, mapFd, key, CTX_COPY_SIZE);
          const vm = sockOpsContext(conn, op).bytes;
          const words = (b: Uint8Array | undefined) =>
            CTX_WORDS.map((off) => ({ off, bytes: [...(b?.subarray(off, off + 4) ?? [])] }));
          expect({ op, words: words(vm) }).toEqual({ op, words: words(kernel) });
        }
      } finally {
        if (cgroupFd >= 0) {
          if (progFd >= 0) progDetach(sys, cgroupFd, progFd, AttachType.CGROUP_SOCK_OPS);
          sys.close(cgroupFd);
        }
        if (progFd >= 0) sys.close(progFd);
        sys.close(mapFd);
        cgroup.cleanup();
      }
    });
  }
});

/** sk_msg_md words compared with the kernel: family … size (the pointers differ by nature). */
const MSG_WORDS = Array.from({ length: 14 }, (_, i) => SkMsgOffset.family + 4 * i);
const MSG_COPY_SIZE = SkMsgOffset.size + 4;

/** sock_ops: put every established socket into the sockhash under its local port (u32, BPF_ANY). */
function sockhashInserter(sockhashFd: number): Insn[] {
  return [
    movReg(6, 1),
    { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 6, off: SockOpsOffset.op },
    { kind: 'alu', op: 'sub', width: 64, dst: 2, src: { imm: SockOpsOp.ACTIVE_ESTABLISHED_CB } },
    { kind: 'jump', op: 'jgt', width: 64, dst: 2, src: { imm: 1 }, off: 9 },
    { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 6, off: SockOpsOffset.local_port },
    { kind: 'stx', size: 'w', dst: 10, src: 2, off: -4 },
    movReg(1, 6),
    { kind: 'ld_imm64', pseudo: 'map_fd', dst: 2, imm: BigInt(sockhashFd) },
    movReg(3, 10),
    { kind: 'alu', op: 'add', width: 64, dst: 3, src: { imm: -4 } },
    mov(4, 0),
    { kind: 'call', target: 'helper', imm: 70, off: 0 },
    mov(0, 1),
    { kind: 'exit' },
  ];
}

/** sk_msg: record the ctx words of each message in a hash map under the sender's local port. */
function msgRecorder(recordsFd: number): Insn[] {
  const zero = Array.from(
    { length: MSG_COPY_SIZE / 8 },
    (_, k): Insn => ({
      kind: 'st',
      size: 'dw',
      dst: 10,
      off: -MSG_COPY_SIZE + 8 * k,
      imm: 0,
    }),
  );
  const copy = MSG_WORDS.flatMap((off): Insn[] => [
    { kind: 'ldx', size: 'w', signed: false, dst: 3, src: 6, off },
    { kind: 'stx', size: 'w', dst: 10, src: 3, off: -MSG_COPY_SIZE + off },
  ]);
  return [
    movReg(6, 1),
    ...zero,
    ...copy,
    { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 6, off: SkMsgOffset.local_port },
    { kind: 'stx', size: 'w', dst: 10, src: 2, off: -MSG_COPY_SIZE - 8 },
    { kind: 'ld_imm64', pseudo: 'map_fd', dst: 1, imm: BigInt(recordsFd) },
    movReg(2, 10),
    { kind: 'alu', op: 'add', width: 64, dst: 2, src: { imm: -MSG_COPY_SIZE - 8 } },
    movReg(3, 10),
    { kind: 'alu', op: 'add', width: 64, dst: 3, src: { imm: -MSG_COPY_SIZE } },
    mov(4, 0),
    { kind: 'call', target: 'helper', imm: 2, off: 0 },
    mov(0, 1), // SK_PASS: the data goes through TCP as usual
    { kind: 'exit' },
  ];
}

describeKernel('sk_msg ctx bytes: skMsgContext against the kernel', () => {
  for (const v of VARIANTS) {
    it(`places every field as the kernel does for messages on a real ${v.name} connection`, async () => {
      const sys = systemSyscall();
      const cgroup = createTestCgroup('vmmsg');
      const fds: number[] = [];
      const cleanups: (() => void)[] = [];
      try {
        const sockhash = mapCreate(sys, {
          mapType: MapType.SOCKHASH,
          keySize: 4,
          valueSize: 4,
          maxEntries: 8,
          name: 'vm_msg_socks',
        });
        fds.push(sockhash);
        const records = mapCreate(sys, {
          mapType: MapType.HASH,
          keySize: 4,
          valueSize: MSG_COPY_SIZE,
          maxEntries: 8,
          name: 'vm_msg_words',
        });
        fds.push(records);
        const load = (progType: number, attach: number, name: string, insns: Insn[]) => {
          const { fd } = progLoad(sys, {
            progType,
            expectedAttachType: attach,
            name,
            insns: encodeInsns(insns),
            license: 'GPL',
          });
          fds.push(fd);
          return fd;
        };
        const verdict = load(
          ProgType.SK_MSG,
          AttachType.SK_MSG_VERDICT,
          'vm_msg_rec',
          msgRecorder(records),
        );
        progAttach(sys, sockhash, verdict, AttachType.SK_MSG_VERDICT);
        cleanups.push(() => progDetach(sys, sockhash, verdict, AttachType.SK_MSG_VERDICT));
        const inserter = load(
          ProgType.SOCK_OPS,
          AttachType.CGROUP_SOCK_OPS,
          'vm_msg_ins',
          sockhashInserter(sockhash),
        );
        const cgroupFd = sys.openDirectory(cgroup.path);
        fds.push(cgroupFd);
        progAttach(sys, cgroupFd, inserter, AttachType.CGROUP_SOCK_OPS);
        cleanups.push(() => progDetach(sys, cgroupFd, inserter, AttachType.CGROUP_SOCK_OPS));
        const { active, passive } = await withProcessInCgroup(cgroup.path, () =>
          connectPair(v.listen, v.connect, v.family, async (client, server) => {
            await send(client, server, 'hello');
            await send(server, client, 'hi!');
          }),
        );
        for (const [conn, size] of [
          [active, 5],
          [passive, 3],
        ] as const) {
          const key = new Uint8Array(4);
          new DataView(key.buffer).setUint32(0, conn.localPort, true);
          const kernel = mapLookup(sys, records, key, MSG_COPY_SIZE);
          const vm = skMsgContext(conn, size).bytes;
          const words = (b: Uint8Array | undefined) =>
            MSG_WORDS.map((off) => ({ off, bytes: [...(b?.subarray(off, off + 4) ?? [])] }));
          expect({ side: conn.side, words: words(vm) }).toEqual({
            side: conn.side,
            words: words(kernel),
          });
        }
      } finally {
        for (const undo of cleanups.reverse()) undo();
        for (const fd of fds.reverse()) sys.close(fd);
        cgroup.cleanup();
      }
    });
  }
});

describeKernel('ctx access rules: the vm against the verifier', () => {
  const conn: Connection = {
    family: 'ipv4',
    localAddress: '10.0.0.1',
    remoteAddress: '10.0.0.2',
    localPort: 1000,
    remotePort: 2000,
  };
  const sizes = ['b', 'h', 'w', 'dw'] as const;
  /** The access through r1 (the ctx itself). */
  const direct = (access: Insn[]): Insn[] => access;
  /** The access through sk (struct bpf_sock), after the NULL check the verifier demands. */
  const throughSk = (access: Insn[]): Insn[] => [
    { kind: 'ldx', size: 'dw', signed: false, dst: 1, src: 1, off: SockOpsOffset.sk },
    { kind: 'jump', op: 'jeq', width: 64, dst: 1, src: { imm: 0 }, off: access.length },
    ...access,
  ];
  const cases = [
    {
      name: 'bpf_sock_ops',
      progType: ProgType.SOCK_OPS,
      attach: AttachType.CGROUP_SOCK_OPS,
      ctx: sockOpsContext(conn, SockOpsOp.ACTIVE_ESTABLISHED_CB),
      size: SOCK_OPS_SIZE,
      via: direct,
    },
    {
      name: 'sk_msg_md',
      progType: ProgType.SK_MSG,
      attach: AttachType.SK_MSG_VERDICT,
      ctx: skMsgContext(conn, 4),
      size: SK_MSG_MD_SIZE,
      via: direct,
    },
    {
      name: 'struct bpf_sock (sock_ops sk)',
      progType: ProgType.SOCK_OPS,
      attach: AttachType.CGROUP_SOCK_OPS,
      ctx: sockOpsContext(conn, SockOpsOp.ACTIVE_ESTABLISHED_CB),
      size: BPF_SOCK_SIZE,
      via: throughSk,
    },
  ];

  for (const c of cases) {
    it(`accepts and refuses exactly the loads and stores the verifier does on ${c.name}`, () => {
      const sys = systemSyscall();
      const mismatches: string[] = [];
      let checked = 0;
      for (let off = 0; off < c.size + 8; off++) {
        for (const size of sizes) {
          for (const write of [false, true]) {
            const access: Insn[] = write
              ? [mov(2, 0), { kind: 'stx', size, dst: 1, src: 2, off }]
              : [{ kind: 'ldx', size, signed: false, dst: 2, src: 1, off }];
            const prog: Insn[] = [...c.via(access), mov(0, 1), { kind: 'exit' }];
            let vm = true;
            try {
              runProgram(prog, { ctx: c.ctx });
            } catch (e) {
              if (!(e instanceof VmError)) throw e;
              vm = false;
            }
            let kernel = true;
            try {
              const { fd } = progLoad(sys, {
                progType: c.progType,
                expectedAttachType: c.attach,
                name: 'vm_ctx_rule',
                insns: encodeInsns(prog),
                license: 'GPL',
              });
              sys.close(fd);
            } catch {
              kernel = false;
            }
            checked += 1;
            if (vm !== kernel) {
              mismatches.push(
                `${write ? 'write' : 'read'} off=${off} size=${size}: vm ${vm}, kernel ${kernel}`,
              );
            }
          }
        }
      }
      expect(mismatches).toEqual([]);
      expect(checked).toBe((c.size + 8) * 8);
    }, 300_000);
  }
});
