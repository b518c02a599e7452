/**
 * Every instruction of the ISA through the builder: each DSL call emits exactly the expected `Insn`
 * value (compared as values, not strings), immediates and offsets are range-checked, and the
 * 32-bit register views select the 32-bit encodings.
 */
import { describe, expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import {
  DslError,
  type ProgramBuilder,
  program,
  r0,
  r1,
  r2,
  r3,
  r10,
  w1,
  w2,
} from '../../src/dsl/index.js';

/** The instructions a body emits (checks off: the bodies are instruction samples, not programs). */
function emitted(body: (b: ProgramBuilder<'sk_msg'>) => void): readonly Insn[] {
  return program('sk_msg', 'sample', body, { check: false }).insns;
}

describe('ALU instructions', () => {
  const ops = [
    'add',
    'sub',
    'mul',
    'div',
    'sdiv',
    'mod',
    'smod',
    'or',
    'and',
    'xor',
    'lsh',
    'rsh',
    'arsh',
    'mov',
  ] as const;
  for (const op of ops) {
    it(`${op} takes its width from the destination and its source from a register or immediate`, () => {
      expect(
        emitted((b) => {
          b[op](r1, r2);
          b[op](w1, 7);
          b[op](r3, -1);
        }),
      ).toEqual([
        { kind: 'alu', width: 64, op, dst: 1, src: { reg: 2 } },
        { kind: 'alu', width: 32, op, dst: 1, src: { imm: 7 } },
        { kind: 'alu', width: 64, op, dst: 3, src: { imm: -1 } },
      ]);
    });
  }

  it('emits neg, movsx and the three byte-order conversions', () => {
    expect(
      emitted((b) => {
        b.neg(w2);
        b.movsx(r1, r2, 32);
        b.movsx(w1, w2, 8);
        b.be(r2, 16);
        b.le(r2, 32);
        b.bswap(r2, 64);
      }),
    ).toEqual([
      { kind: 'neg', width: 32, dst: 2 },
      { kind: 'movsx', width: 64, from: 32, dst: 1, src: 2 },
      { kind: 'movsx', width: 32, from: 8, dst: 1, src: 2 },
      { kind: 'endian', order: 'be', bits: 16, dst: 2 },
      { kind: 'endian', order: 'le', bits: 32, dst: 2 },
      { kind: 'endian', order: 'bswap', bits: 64, dst: 2 },
    ]);
  });

  it('accepts unsigned 32-bit immediates for 32-bit operations and re-signs them', () => {
    expect(emitted((b) => b.and(w2, 0xfffffffe))).toEqual([
      { kind: 'alu', width: 32, op: 'and', dst: 2, src: { imm: -2 } },
    ]);
  });

  it('rejects a 64-bit immediate beyond 32 bits and points to ldImm64', () => {
    expect(() => emitted((b) => b.and(r2, 0xfffffffe))).toThrowError(/load it with b\.ldImm64\(\)/);
    expect(() => emitted((b) => b.add(r2, 1.5))).toThrowError(DslError);
  });
});

describe('memory instructions', () => {
  it('emits loads, sign-extending loads, stores and stores of immediates', () => {
    expect(
      emitted((b) => {
        b.ldx('w', r2, r1, 20);
        b.ldxs('h', r2, r1, -2);
        b.st('dw', r10, -8, 0);
        b.stx('b', r10, -1, r2);
      }),
    ).toEqual([
      { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 1, off: 20 },
      { kind: 'ldx', size: 'h', signed: true, dst: 2, src: 1, off: -2 },
      { kind: 'st', size: 'dw', dst: 10, off: -8, imm: 0 },
      { kind: 'stx', size: 'b', dst: 10, src: 2, off: -1 },
    ]);
  });

  it('emits atomics (xchg and cmpxchg always fetch), load-acquire and store-release', () => {
    expect(
      emitted((b) => {
        b.atomic('add', 'dw', r1, 8, r2);
        b.atomic('or', 'w', r1, 0, r2, { fetch: true });
        b.atomic('xchg', 'dw', r1, 0, r2);
        b.atomic('cmpxchg', 'w', r1, 4, r2);
        b.loadAcquire('w', r2, r1, 4);
        b.storeRelease('dw', r1, 8, r2);
      }),
    ).toEqual([
      { kind: 'atomic', size: 'dw', op: 'add', fetch: false, dst: 1, src: 2, off: 8 },
      { kind: 'atomic', size: 'w', op: 'or', fetch: true, dst: 1, src: 2, off: 0 },
      { kind: 'atomic', size: 'dw', op: 'xchg', fetch: true, dst: 1, src: 2, off: 0 },
      { kind: 'atomic', size: 'w', op: 'cmpxchg', fetch: true, dst: 1, src: 2, off: 4 },
      { kind: 'load_acquire', size: 'w', dst: 2, src: 1, off: 4 },
      { kind: 'store_release', size: 'dw', dst: 1, src: 2, off: 8 },
    ]);
  });

  it('emits ld_imm64 constants, legacy packet loads and raw calls', () => {
    expect(
      emitted((b) => {
        b.ldImm64(r2, 0x1_0000_0001n);
        b.ldImm64(r3, -1);
        b.ldAbs('h', 12);
        b.ldInd('b', r2, 3);
        b.callHelper(5);
        b.exit();
      }),
    ).toEqual([
      { kind: 'ld_imm64', pseudo: 'imm64', dst: 2, imm: 0x1_0000_0001n },
      { kind: 'ld_imm64', pseudo: 'imm64', dst: 3, imm: -1n },
      { kind: 'ld_abs', size: 'h', imm: 12 },
      { kind: 'ld_ind', size: 'b', src: 2, imm: 3 },
      { kind: 'call', target: 'helper', imm: 5, off: 0 },
      { kind: 'exit' },
    ]);
  });

  it('passes any Insn through b.insn, including bpf-to-bpf and kfunc calls', () => {
    const raw: Insn[] = [
      { kind: 'call', target: 'kfunc', imm: 1234, off: 0 },
      { kind: 'ld_imm64', pseudo: 'map_value', dst: 1, imm: 5n },
    ];
    expect(
      emitted((b) => {
        for (const i of raw) b.insn(i);
      }),
    ).toEqual(raw);
  });

  it('rejects memory offsets beyond the signed 16-bit field', () => {
    expect(() => emitted((b) => b.ldx('w', r0, r1, 40000))).toThrowError(/signed 16-bit/);
  });
});
