import { describe, expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import {
  ArrayMap,
  formatTrace,
  HashMap,
  MAX_CALL_FRAMES,
  type RunOptions,
  runProgram,
  runProgramSpec,
  u32Key,
  VmError,
  type VmErrorCode,
} from '../../src/vm/index.js';
import {
  aluImm,
  aluReg,
  call,
  exit,
  jmpImm,
  jmpReg,
  ld64,
  ldx,
  mov,
  movReg,
  st,
  stx,
} from './insns.js';

const U64 = (1n << 64n) - 1n;

function r0(insns: Insn[], options?: RunOptions): bigint {
  return runProgram(insns, options).r0;
}

/** Runs and returns the VmError's code and instruction index. */
function fault(insns: Insn[], options?: RunOptions): { code: VmErrorCode; insnIndex?: number } {
  try {
    runProgram(insns, options);
  } catch (e) {
    if (!(e instanceof VmError)) throw e;
    return { code: e.code, ...(e.insnIndex !== undefined ? { insnIndex: e.insnIndex } : {}) };
  }
  throw new Error('the run did not fail');
}

describe('ALU instructions', () => {
  it('mov64 sign-extends its immediate, mov32 zero-extends', () => {
    expect(r0([mov(0, -2), exit])).toBe(U64 - 1n);
    expect(r0([aluImm('mov', 32, 0, -2), exit])).toBe(0xffff_fffen);
  });

  it('ALU32 clears the upper half of dst', () => {
    expect(r0([ld64(0, 0xaaaa_bbbb_0000_0001n), aluImm('add', 32, 0, 1), exit])).toBe(2n);
    expect(r0([ld64(0, 0xaaaa_bbbb_0000_0001n), movReg(1, 0), aluReg('mov', 32, 0, 1), exit])).toBe(
      1n,
    );
  });

  it('divides by a zero register without faulting, as the kernel defines', () => {
    expect(r0([mov(0, 9), mov(1, 0), aluReg('div', 64, 0, 1), exit])).toBe(0n);
    expect(r0([mov(0, 9), mov(1, 0), aluReg('mod', 64, 0, 1), exit])).toBe(9n);
    expect(r0([mov(0, -9), mov(1, 0), aluReg('smod', 32, 0, 1), exit])).toBe(0xffff_fff7n);
  });

  it('rejects what the verifier rejects: immediate division by zero, out-of-range shifts, writing r10', () => {
    expect(fault([mov(0, 1), aluImm('div', 64, 0, 0), exit])).toEqual({
      code: 'INVALID_INSN',
      insnIndex: 1,
    });
    expect(fault([mov(0, 1), aluImm('lsh', 32, 0, 32), exit]).code).toBe('INVALID_INSN');
    expect(fault([mov(0, 1), aluImm('arsh', 64, 0, -1), exit]).code).toBe('INVALID_INSN');
    expect(fault([mov(10, 1), mov(0, 0), exit])).toEqual({ code: 'INVALID_INSN', insnIndex: 0 });
  });

  it('neg, movsx and endian work on the destination register', () => {
    expect(r0([mov(0, 5), { kind: 'neg', width: 32, dst: 0 }, exit])).toBe(0xffff_fffbn);
    expect(r0([mov(1, 0xff), { kind: 'movsx', width: 64, from: 8, dst: 0, src: 1 }, exit])).toBe(
      U64,
    );
    expect(r0([mov(0, 0x1234), { kind: 'endian', order: 'be', bits: 16, dst: 0 }, exit])).toBe(
      0x3412n,
    );
    expect(
      r0([
        ld64(0, 0x1122_3344_5566_7788n),
        { kind: 'endian', order: 'le', bits: 32, dst: 0 },
        exit,
      ]),
    ).toBe(0x5566_7788n);
  });

  it('loads 64-bit constants with ld_imm64 and counts it as two slots for jumps', () => {
    // if r1 == 0 skip the ld_imm64 (2 slots) to `exit`.
    const prog: Insn[] = [
      mov(0, 7),
      mov(1, 0),
      jmpImm('jeq', 64, 1, 0, 2),
      ld64(0, 1n << 40n),
      exit,
    ];
    expect(r0(prog)).toBe(7n);
    expect(r0([ld64(0, -1n), exit])).toBe(U64);
  });
});

describe('jumps', () => {
  it('JMP32 compares only the low 32 bits', () => {
    const prog = (width: 32 | 64): Insn[] => [
      ld64(1, 0x1_0000_0000n),
      mov(0, 1),
      jmpImm('jeq', width, 1, 0, 1),
      mov(0, 2),
      exit,
    ];
    expect(r0(prog(32))).toBe(1n);
    expect(r0(prog(64))).toBe(2n);
  });

  it('signed comparisons treat the high bit as the sign', () => {
    const prog: Insn[] = [
      mov(1, -1),
      mov(2, 1),
      mov(0, 0),
      jmpReg('jslt', 64, 1, 2, 1),
      exit,
      mov(0, 1),
      exit,
    ];
    expect(r0(prog)).toBe(1n);
  });

  it('ja and gotol jump relative to the next slot', () => {
    expect(r0([mov(0, 1), { kind: 'ja', off: 1 }, mov(0, 2), exit])).toBe(1n);
    expect(r0([mov(0, 1), { kind: 'gotol', imm: 1 }, mov(0, 2), exit])).toBe(1n);
  });

  it('rejects jumps outside the program or into the second slot of ld_imm64', () => {
    expect(fault([mov(0, 0), { kind: 'ja', off: 5 }, exit])).toEqual({
      code: 'BAD_JUMP',
      insnIndex: 1,
    });
    expect(fault([mov(0, 0), { kind: 'ja', off: 1 }, ld64(1, 1n), exit]).code).toBe('BAD_JUMP');
  });

  it('stops an endless loop at the instruction limit', () => {
    expect(fault([mov(0, 0), { kind: 'ja', off: -1 }, exit], { maxInsns: 1000 })).toEqual({
      code: 'INSN_LIMIT',
      insnIndex: 1,
    });
  });

  it('may_goto falls through while the budget lasts, then jumps', () => {
    // loop: r0 += 1; may_goto +1 (to exit); goto loop
    const prog: Insn[] = [
      mov(0, 0),
      aluImm('add', 64, 0, 1),
      { kind: 'may_goto', off: 1 },
      { kind: 'ja', off: -3 },
      exit,
    ];
    expect(r0(prog, { mayGotoBudget: 10 })).toBe(11n);
  });

  it('reports a program that runs off its end', () => {
    expect(fault([mov(0, 0)]).code).toBe('BAD_JUMP');
  });
});

describe('registers', () => {
  it('refuses to read a register that was never set', () => {
    expect(fault([aluReg('add', 64, 0, 3), exit])).toEqual({
      code: 'UNINIT_REGISTER',
      insnIndex: 0,
    });
    expect(fault([exit]).code).toBe('UNINIT_REGISTER');
  });

  it('has no ctx in r1 when the run has none', () => {
    expect(fault([movReg(0, 1), exit]).code).toBe('UNINIT_REGISTER');
  });
});

describe('stack memory', () => {
  it('stores and loads every width little-endian at r10-relative offsets', () => {
    const prog: Insn[] = [
      ld64(1, 0x1122_3344_5566_7788n),
      stx('dw', 10, -8, 1),
      ldx('b', 0, 10, -8),
      ldx('h', 2, 10, -8),
      ldx('w', 3, 10, -4),
      aluImm('lsh', 64, 2, 8),
      aluReg('or', 64, 0, 2),
      aluImm('lsh', 64, 3, 32),
      aluReg('or', 64, 0, 3),
      exit,
    ];
    // 0x88 | 0x7788 << 8 | 0x11223344 << 32
    expect(r0(prog)).toBe(0x88n | (0x7788n << 8n) | (0x1122_3344n << 32n));
  });

  it('sign-extends signed loads', () => {
    expect(r0([st('b', 10, -1, 0x80), ldx('b', 0, 10, -1, true), exit])).toBe(U64 - 0x7fn);
    expect(r0([st('h', 10, -2, 0x8000), ldx('h', 0, 10, -2, true), exit])).toBe(
      0xffff_ffff_ffff_8000n,
    );
    expect(r0([st('w', 10, -4, -2), ldx('w', 0, 10, -4, true), exit])).toBe(U64 - 1n);
  });

  it('sign-extends the immediate of an 8-byte store', () => {
    expect(r0([st('dw', 10, -8, -1), ldx('dw', 0, 10, -8), exit])).toBe(U64);
  });

  it('faults outside the 512-byte frame with the instruction index', () => {
    expect(fault([mov(0, 0), stx('dw', 10, 0, 0), exit])).toEqual({
      code: 'OUT_OF_BOUNDS',
      insnIndex: 1,
    });
    expect(fault([mov(0, 0), stx('b', 10, -513, 0), exit]).code).toBe('OUT_OF_BOUNDS');
    expect(r0([mov(0, 3), stx('b', 10, -512, 0), ldx('b', 0, 10, -512), exit])).toBe(3n);
  });

  it('reports reads of stack bytes never written, unless allowed', () => {
    const prog: Insn[] = [st('w', 10, -8, 1), ldx('dw', 0, 10, -8), exit];
    const e = fault(prog);
    expect(e).toEqual({ code: 'UNINIT_STACK', insnIndex: 1 });
    expect(r0(prog, { allowUninitStack: true })).toBe(1n);
  });

  it('faults on NULL and on scalars used as pointers', () => {
    expect(fault([mov(1, 0), ldx('w', 0, 1, 0), exit]).code).toBe('NULL_DEREF');
    expect(fault([ld64(1, 0x1234_5678n), ldx('w', 0, 1, 0), exit]).code).toBe('INVALID_POINTER');
  });
});

describe('atomic instructions', () => {
  const atomic = (
    op: 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg',
    size: 'w' | 'dw',
    fetch: boolean,
  ): Insn => ({ kind: 'atomic', op, size, fetch, dst: 10, src: 1, off: -8 });

  it('add with fetch returns the old value and stores the sum', () => {
    const prog: Insn[] = [
      st('dw', 10, -8, 40),
      mov(1, 2),
      atomic('add', 'dw', true),
      ldx('dw', 0, 10, -8),
      aluImm('lsh', 64, 0, 8),
      aluReg('or', 64, 0, 1),
      exit,
    ];
    expect(r0(prog)).toBe((42n << 8n) | 40n);
  });

  it('32-bit fetch zero-extends the old value into src', () => {
    const prog: Insn[] = [
      st('dw', 10, -8, -1),
      mov(1, 0),
      atomic('or', 'w', true),
      movReg(0, 1),
      exit,
    ];
    expect(r0(prog)).toBe(0xffff_ffffn);
  });

  it('xchg swaps, cmpxchg stores only when r0 matches and returns the old value in r0', () => {
    expect(
      r0([
        st('dw', 10, -8, 5),
        mov(1, 9),
        atomic('xchg', 'dw', true),
        ldx('dw', 0, 10, -8),
        aluReg('add', 64, 0, 1),
        exit,
      ]),
    ).toBe(14n);
    const cmpxchg = (expected: number): Insn[] => [
      st('dw', 10, -8, 5),
      mov(0, expected),
      mov(1, 9),
      atomic('cmpxchg', 'dw', true),
      ldx('dw', 2, 10, -8),
      aluImm('lsh', 64, 2, 8),
      aluReg('or', 64, 0, 2),
      exit,
    ];
    expect(r0(cmpxchg(5))).toBe((9n << 8n) | 5n);
    expect(r0(cmpxchg(6))).toBe((5n << 8n) | 5n);
  });
});

describe('bpf-to-bpf calls', () => {
  const bpfCall = (imm: number): Insn => ({ kind: 'call', target: 'bpf', imm, off: 0 });

  it('passes r1-r5, returns r0, preserves r6-r9 and gives the callee its own stack', () => {
    const prog: Insn[] = [
      mov(6, 100),
      st('dw', 10, -8, 7),
      mov(1, 5),
      bpfCall(4), // slot 3 + 1 + 4 = slot 8: `sub`
      aluReg('add', 64, 0, 6), // r0 = 5*2 + 100
      ldx('dw', 2, 10, -8),
      aluReg('add', 64, 0, 2), // + 7: the caller's stack slot is untouched
      exit,
      // sub: r6 = 0; *(u64 *)(r10 - 8) = 99; r0 = r1 * 2
      mov(6, 0),
      st('dw', 10, -8, 99),
      movReg(0, 1),
      aluImm('mul', 64, 0, 2),
      exit,
    ];
    expect(r0(prog)).toBe(117n);
  });

  it('clobbers r1-r5 for the caller and hides the caller r6-r9 from the callee', () => {
    const callee = [mov(0, 0), exit];
    expect(fault([mov(1, 1), bpfCall(2), aluReg('add', 64, 0, 1), exit, ...callee]).code).toBe(
      'UNINIT_REGISTER',
    );
    expect(fault([mov(6, 1), bpfCall(1), exit, movReg(0, 6), exit])).toEqual({
      code: 'UNINIT_REGISTER',
      insnIndex: 3,
    });
  });

  it(`limits nesting to ${MAX_CALL_FRAMES} frames`, () => {
    // f calls itself forever.
    expect(fault([bpfCall(-1), exit]).code).toBe('CALL_DEPTH');
  });
});

describe('helpers and maps through ld_imm64', () => {
  it('resolves map_fd pseudo loads by fd and map_value loads to array values', () => {
    const array = new ArrayMap({ name: 'cfg', valueSize: 8, maxEntries: 1 });
    array.set(u32Key(0), new Uint8Array([42, 0, 0, 0, 0, 0, 0, 0]));
    const prog: Insn[] = [
      { kind: 'ld_imm64', pseudo: 'map_value', dst: 1, imm: 7n },
      ldx('b', 0, 1, 0),
      exit,
    ];
    expect(r0(prog, { mapFds: new Map([[7, array]]) })).toBe(42n);
    expect(fault(prog).code).toBe('BAD_INPUT');
  });

  it('binds ld_imm64 to maps by name through mapRefs', () => {
    const hash = new HashMap({ name: 'counts', keySize: 4, valueSize: 8, maxEntries: 4 });
    const prog: Insn[] = [
      st('w', 10, -4, 3),
      st('dw', 10, -16, 77),
      ld64(1, 0n),
      movReg(2, 10),
      aluImm('add', 64, 2, -4),
      movReg(3, 10),
      aluImm('add', 64, 3, -16),
      mov(4, 0),
      call(2),
      exit,
    ];
    expect(r0(prog, { maps: [hash], mapRefs: [{ insn: 2, map: 'counts' }] })).toBe(0n);
    expect(hash.get(u32Key(3))).toEqual(new Uint8Array([77, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('names unknown helpers', () => {
    const e = (() => {
      try {
        runProgram([call(49), exit]);
      } catch (err) {
        return err as VmError;
      }
      throw new Error('no error');
    })();
    expect(e.code).toBe('UNKNOWN_HELPER');
    expect(e.message).toContain('bpf_setsockopt#49');
    expect(e.insnIndex).toBe(0);
  });

  it('records a trace with llvm-objdump text and registers after each step', () => {
    const { trace } = runProgram([mov(0, 1), aluImm('add', 64, 0, 2), exit], { trace: true });
    expect(trace?.map((s) => [s.insnIndex, s.text, s.regs[0]])).toEqual([
      [0, 'r0 = 1', 1n],
      [1, 'r0 += 2', 3n],
      [2, 'exit', 3n],
    ]);
  });
});

describe('explaining a run', () => {
  it('formats the trace with changed registers and helper names', () => {
    const prog: Insn[] = [mov(0, 1), { kind: 'call', target: 'helper', imm: 7, off: 0 }, exit];
    const run = runProgram(prog, { trace: true, seed: 1 });
    const text = formatTrace(run.trace ?? [], run.calls);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\s+0 {2}r0 = 1\s+r0 = 0x1$/);
    expect(lines[1]).toMatch(
      new RegExp(`^\\s+1  call 7\\s+r0 = 0x${run.r0.toString(16)}  \\(get_prandom_u32\\)$`),
    );
    expect(lines[2]).toMatch(/^\s+2 {2}exit$/);
  });

  it('runs a ProgramSpec with its map references', () => {
    const hash = new HashMap({ name: 'm', keySize: 4, valueSize: 4, maxEntries: 1 });
    const insns: Insn[] = [
      st('w', 10, -4, 1),
      ld64(1, 0n),
      movReg(2, 10),
      aluImm('add', 64, 2, -4),
      call(1),
      exit,
    ];
    const run = runProgramSpec(
      { name: 'p', section: 'xdp', insns, mapRefs: [{ insn: 1, map: 'm' }] },
      { maps: [hash] },
    );
    expect(run.r0).toBe(0n);
    expect(run.calls[0]?.map).toBe('m');
  });
});
