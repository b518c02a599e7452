/**
 * Fuzzing the build-time checker: on arbitrary instruction sequences (any register, offset, helper
 * id, jump target, including loops and jumps out of the program) it terminates and returns
 * diagnostics with locations and known codes; it never throws.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { Insn, Reg } from '../../src/asm/insn.js';
import { checkProgram, type SourceLocation } from '../../src/dsl/index.js';

const reg = fc.integer({ min: 0, max: 10 }) as fc.Arbitrary<Reg>;
const size = fc.constantFrom('b', 'h', 'w', 'dw') as fc.Arbitrary<'b' | 'h' | 'w' | 'dw'>;
const off = fc.integer({ min: -520, max: 240 });
const src = fc.oneof(
  reg.map((r) => ({ reg: r })),
  fc.integer({ min: -5, max: 300 }).map((imm) => ({ imm })),
);

const insn: fc.Arbitrary<Insn> = fc.oneof(
  fc.record({
    kind: fc.constant('alu' as const),
    width: fc.constantFrom(32 as const, 64 as const),
    op: fc.constantFrom(
      'add',
      'sub',
      'mov',
      'and',
      'rsh',
      'lsh',
      'mul',
      'mod',
      'xor',
    ) as fc.Arbitrary<'add'>,
    dst: reg,
    src,
  }),
  fc.record({
    kind: fc.constant('jump' as const),
    width: fc.constantFrom(32 as const, 64 as const),
    op: fc.constantFrom('jeq', 'jne', 'jgt', 'jle', 'jset', 'jslt') as fc.Arbitrary<'jeq'>,
    dst: reg,
    src,
    off: fc.integer({ min: -6, max: 6 }),
  }),
  fc.record({ kind: fc.constant('ja' as const), off: fc.integer({ min: -6, max: 6 }) }),
  fc.record({
    kind: fc.constant('ldx' as const),
    size,
    signed: fc.boolean(),
    dst: reg,
    src: reg,
    off,
  }),
  fc.record({
    kind: fc.constant('st' as const),
    size,
    dst: reg,
    off,
    imm: fc.integer({ min: -2, max: 2 }),
  }),
  fc.record({ kind: fc.constant('stx' as const), size, dst: reg, src: reg, off }),
  fc.record({
    kind: fc.constant('call' as const),
    target: fc.constant('helper' as const),
    imm: fc.constantFrom(1, 2, 3, 5, 6, 25, 46, 59, 70, 71, 130, 999),
    off: fc.constant(0),
  }),
  fc.record({
    kind: fc.constant('ld_imm64' as const),
    pseudo: fc.constant('imm64' as const),
    dst: reg,
    imm: fc.bigInt({ min: 0n, max: 1n << 40n }),
  }),
  fc.constant<Insn>({ kind: 'exit' }),
);

const loc: SourceLocation = { file: 'fuzz.ts', line: 1, col: 1, text: '' };

it('terminates and reports only located diagnostics on arbitrary programs', () => {
  fc.assert(
    fc.property(
      fc.array(insn, { minLength: 1, maxLength: 30 }),
      fc.constantFrom('sockops' as const, 'sk_msg' as const),
      (insns, type) => {
        const diags = checkProgram({
          name: 'fuzz',
          type,
          insns,
          locs: insns.map(() => loc),
          maps: new Map(),
        });
        for (const d of diags) {
          expect(d.location).toBe(loc);
          expect(d.detail.length).toBeGreaterThan(0);
          expect(d.insn).toBeLessThan(insns.length);
        }
      },
    ),
    { numRuns: 300 },
  );
});

it('reports raw jumps into an ld_imm64 or out of the program when checking bare instructions', () => {
  const insns: Insn[] = [
    { kind: 'ja', off: 1 },
    { kind: 'ld_imm64', pseudo: 'imm64', dst: 0, imm: 0n },
    { kind: 'jump', width: 64, op: 'jeq', dst: 0, src: { imm: 0 }, off: 9 },
    { kind: 'exit' },
  ];
  const codes = checkProgram({
    name: 'raw',
    type: 'sk_msg',
    insns,
    locs: insns.map(() => loc),
    maps: new Map(),
  }).map((d) => [d.insn, d.code]);
  expect(codes).toContainEqual([0, 'JUMP_INTO_LD_IMM64']);
  expect(codes).toContainEqual([2, 'JUMP_OUT_OF_PROGRAM']);
});
