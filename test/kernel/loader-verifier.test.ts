/**
 * Rejections on the real kernel: a VerifierError carries the whole log (grown past 1 MB through
 * log_true_size, head and tail intact), the errno and the failing instruction index; an object of
 * ours with line info gets its source lines into the kernel's log. Also PROG_TEST_RUN and probes.
 */
import { expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import { writeObject } from '../../src/asm/object-writer.js';
import { INITIAL_LOG_SIZE, progLoad } from '../../src/loader/commands.js';
import { AttachType, MapType, ProgType } from '../../src/loader/constants.js';
import { LoaderError, VerifierError } from '../../src/loader/errors.js';
import { BpfProgram } from '../../src/loader/fd.js';
import { loadObject } from '../../src/loader/object-loader.js';
import { checkObjectSupport, featureProbes } from '../../src/loader/probes.js';
import { systemSyscall } from '../../src/loader/syscall.js';
import { describeKernel } from './support.js';

/** One raw instruction slot. */
function slot(op: number, dst: number, src: number, off: number, imm: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  b[0] = op;
  b[1] = (src << 4) | dst;
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
  return b;
}

function program(...slots: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(slots.length * 8);
  slots.forEach((s, i) => {
    out.set(s, i * 8);
  });
  return out;
}

/**
 * A socket filter that counts r1 to `n` (the verifier walks every iteration, logging each
 * instruction at level 1) and then reads through uninitialised r2 at instruction 3.
 */
function hugeLogProgram(n: number): Uint8Array {
  return program(
    slot(0xb7, 1, 0, 0, 0), // 0: r1 = 0
    slot(0x07, 1, 0, 0, 1), // 1: r1 += 1
    slot(0xa5, 1, 0, -2, n), // 2: if r1 < n goto 1
    slot(0x79, 0, 2, 0, 0), // 3: r0 = *(u64 *)(r2 + 0)   → R2 !read_ok
    slot(0x95, 0, 0, 0, 0), // 4: exit
  );
}

describeKernel('loader: verifier errors, test runs and probes', () => {
  const sys = systemSyscall();

  it('keeps a verifier log over 1 MB whole, with the errno and the failing instruction index', () => {
    let err: unknown;
    try {
      progLoad(sys, {
        progType: ProgType.SOCKET_FILTER,
        name: 'huge_log',
        insns: hugeLogProgram(20_000),
        license: 'GPL',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifierError);
    const v = err as VerifierError;
    expect(v).toMatchObject({
      errno: 'EACCES',
      errnoNumber: 13,
      insnIndex: 3,
      progName: 'huge_log',
      insnCount: 5,
    });
    expect(v.log.length).toBeGreaterThan(1_000_000);
    expect(v.log.length).toBeGreaterThan(INITIAL_LOG_SIZE); // it had to grow
    // The head survives (the kernel's rotating log would have kept only the tail)…
    expect(v.log.slice(0, 200)).toMatch(/^0: R1=ctx\(\) R10=fp0\n0: \(b7\) r1 = 0/);
    // …and so does the tail, with the error and the statistics.
    expect(v.log).toMatch(
      /3: \(79\) r0 = \*\(u64 \*\)\(r2 \+0\)\nR2 !read_ok\nprocessed 40002 insns/,
    );
    expect(v.message).toMatch(/rejected program huge_log at instruction 3 \(EACCES\): R2 !read_ok/);
  });

  it('keeps a level-2 log (every state of every instruction) whole when asked for one', () => {
    let err: unknown;
    try {
      progLoad(sys, {
        progType: ProgType.SOCKET_FILTER,
        name: 'huge_level2',
        insns: hugeLogProgram(1_500),
        license: 'GPL',
        logLevel: 2,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifierError);
    const v = err as VerifierError;
    expect(v.log.length).toBeGreaterThan(1_000_000);
    expect(v.log.startsWith('func#0 @0\n')).toBe(true);
    expect(v.log).toMatch(/mark_precise: frame0/);
    expect(v.log.trimEnd().split('\n').at(-1)).toMatch(/^processed 3002 insns/);
    expect(v.insnIndex).toBe(3);
  });

  it('maps a rejection in an object of ours to its source lines (line_info reached the kernel)', () => {
    const insns: Insn[] = [
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 1 } },
      { kind: 'ldx', size: 'h', signed: false, dst: 2, src: 1, off: 64 },
      { kind: 'exit' },
    ];
    const bytes = writeObject({
      license: 'Dual BSD/GPL',
      maps: [],
      programs: [
        {
          name: 'bad_sockops',
          section: 'sockops',
          insns,
          mapRefs: [],
          lines: [
            { insn: 0, file: 'src/programs/bad.ts', text: 'return ctx.ok()', line: 10, col: 3 },
            {
              insn: 1,
              file: 'src/programs/bad.ts',
              text: 'const port = ctx.remotePort16()',
              line: 11,
              col: 5,
            },
            { insn: 2, file: 'src/programs/bad.ts', text: 'exit()', line: 12, col: 3 },
          ],
        },
      ],
    });
    let err: unknown;
    try {
      loadObject(bytes, { sys });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifierError);
    const v = err as VerifierError;
    expect(v).toMatchObject({ progName: 'bad_sockops', insnIndex: 1, errno: 'EACCES' });
    expect(v.log).toContain('invalid bpf_context access off=64 size=2');
    // The kernel printed our line text: func_info and line_info were accepted with the BTF.
    expect(v.log).toContain('; const port = ctx.remotePort16() @ bad.ts:11');
    expect(v.lineInfo?.find((l) => l.insn === v.insnIndex)).toMatchObject({ line: 11, col: 5 });
  });

  it('runs a socket filter and an XDP program with PROG_TEST_RUN', () => {
    const filter = progLoad(sys, {
      progType: ProgType.SOCKET_FILTER,
      name: 'ret_len',
      // r0 = skb->len (offset 0 of __sk_buff); exit
      insns: program(slot(0x61, 0, 1, 0, 0), slot(0x95, 0, 0, 0, 0)),
      license: 'GPL',
    });
    using prog = new BpfProgram(sys, filter.fd, { name: 'ret_len', type: ProgType.SOCKET_FILTER });
    const data = Uint8Array.from({ length: 64 }, (_, i) => i);
    const r = prog.testRun({ dataIn: data, repeat: 10 });
    // The kernel builds an skb from data_in and pulls the 14-byte Ethernet header.
    expect(r.retval).toBe(64 - 14);
    // The packet comes back; the kernel rewrites the Ethernet header it parsed (bytes 0-13).
    expect(r.dataOut.length).toBe(64);
    expect(r.dataOut.subarray(14)).toEqual(data.subarray(14));
    expect(r.duration).toBeGreaterThanOrEqual(0);

    const xdp = progLoad(sys, {
      progType: ProgType.XDP,
      expectedAttachType: 37,
      name: 'xdp_pass',
      insns: program(slot(0xb7, 0, 0, 0, 2), slot(0x95, 0, 0, 0, 0)),
      license: 'GPL',
    });
    using xprog = new BpfProgram(sys, xdp.fd, { name: 'xdp_pass', type: ProgType.XDP });
    const packet = Uint8Array.from({ length: 60 }, (_, i) => 255 - i);
    expect(xprog.testRun({ dataIn: packet })).toMatchObject({ retval: 2, dataOut: packet });
  });

  it('links bpf-to-bpf calls: the kernel runs the appended callee (func_info for both functions)', () => {
    const seven: Insn[] = [
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 7 } },
      { kind: 'exit' },
    ];
    const caller: Insn[] = [
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } },
      { kind: 'alu', width: 64, op: 'mov', dst: 1, src: { imm: 0 } },
      // section slot 4 → `seven` at section slot 0: imm = 0 - (4 + 1)
      { kind: 'call', target: 'bpf', imm: -5, off: 0 },
      { kind: 'alu', width: 64, op: 'add', dst: 0, src: { imm: 1 } },
      { kind: 'exit' },
    ];
    const bytes = writeObject({
      license: 'GPL',
      maps: [],
      programs: [
        {
          name: 'seven',
          section: 'socket',
          insns: seven,
          mapRefs: [],
          // A global callee is verified on its own against its BTF prototype: one scalar argument.
          ctxType: { kind: 'int', name: 'int', size: 4, signed: true },
          lines: [{ insn: 0, file: 'calls.ts', text: 'return 7', line: 1, col: 1 }],
        },
        {
          name: 'caller',
          section: 'socket',
          insns: caller,
          mapRefs: [],
          lines: [{ insn: 0, file: 'calls.ts', text: 'return seven() + 1', line: 5, col: 1 }],
        },
      ],
    });
    using obj = loadObject(bytes, { sys, programs: ['caller'] });
    const prog = obj.program('caller');
    expect(prog.info()).toMatchObject({ nrFuncInfo: 2, nrLineInfo: 2 });
    expect(prog.testRun({ dataIn: new Uint8Array(64) }).retval).toBe(8);
  });

  it('sock_ops has no test runner: the error says so', () => {
    const { fd } = progLoad(sys, {
      progType: ProgType.SOCK_OPS,
      expectedAttachType: AttachType.CGROUP_SOCK_OPS,
      name: 'noop',
      insns: program(slot(0xb7, 0, 0, 0, 1), slot(0x95, 0, 0, 0, 0)),
      license: 'GPL',
    });
    using prog = new BpfProgram(sys, fd, { name: 'noop', type: ProgType.SOCK_OPS });
    expect(() => prog.testRun({ dataIn: new Uint8Array(64) })).toThrow(
      /PROG_TEST_RUN.*ENOTSUPP.*sock_ops and sk_msg/,
    );
  });

  it('probes program types, map types and helpers, and names exactly what a kernel lacks', () => {
    const p = featureProbes(sys);
    expect(p.programType(ProgType.SOCK_OPS)).toBe(true);
    expect(p.programType(ProgType.SK_MSG)).toBe(true);
    expect(p.programType(9999)).toBe(false);
    expect(p.mapType(MapType.SOCKHASH)).toBe(true);
    expect(p.mapType(9999)).toBe(false);
    expect(p.helper(ProgType.SOCK_OPS, 70)).toBe(true);
    expect(p.helper(ProgType.SK_MSG, 71)).toBe(true);
    expect(p.helper(ProgType.SK_MSG, 70)).toBe(false);
    expect(() =>
      checkObjectSupport(sys, {
        programs: [
          { progType: ProgType.SK_MSG, helpers: [71, 70] },
          { progType: 9999, helpers: [] },
        ],
        mapTypes: [MapType.SOCKHASH, 9999],
      }),
    ).toThrow(
      /lacks what the object needs: map type type 9999 \(9999\); helper bpf_sock_hash_update#70 for SK_MSG \(16\) programs; program type type 9999 \(9999\)/,
    );
    let err: unknown;
    try {
      checkObjectSupport(sys, { programs: [{ progType: 9999, helpers: [] }], mapTypes: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoaderError);
    expect(err).toMatchObject({ code: 'ERR_UNSUPPORTED' });
  });
});
