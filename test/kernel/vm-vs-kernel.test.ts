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
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { encodeInsns } from '../../src/asm/encode.js';
import type { AluOp, Insn, Width } from '../../src/asm/insn.js';
import { progLoad, progTestRun } from '../../src/loader/commands.js';
import { ProgType } from '../../src/loader/constants.js';
import { type BpfSyscall, systemSyscall } from '../../src/loader/syscall.js';
import { runProgram } from '../../src/vm/index.js';
import { aluReg, ld64, mov } from '../vm/insns.js';
import { randomMemoryProgram, randomProgram } from '../vm/random-programs.js';
import { describeKernel } from './support.js';

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
