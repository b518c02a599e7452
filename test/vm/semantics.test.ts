import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALU_OP_LIST, type AluOp, JMP_OP_LIST, type Width } from '../../src/asm/insn.js';
import {
  aluResult,
  byteSwap,
  endianResult,
  immOperand,
  jumpTaken,
  movsxResult,
  negResult,
} from '../../src/vm/index.js';

const U64 = (1n << 64n) - 1n;
const u64 = fc.bigInt({ min: 0n, max: U64 });
const edgy = fc.oneof(
  u64,
  fc.constantFrom(0n, 1n, U64, 1n << 63n, (1n << 63n) - 1n, 0xffff_ffffn, 0x8000_0000n),
);

/**
 * Reference formulas written independently of the implementation: two's complement by explicit
 * sign tests and modular reduction with `% 2^w` (never BigInt.asIntN/asUintN).
 */
const mod2 = (v: bigint, w: Width): bigint => {
  const m = 1n << BigInt(w);
  return ((v % m) + m) % m;
};
const toSigned = (v: bigint, w: Width): bigint => {
  const x = mod2(v, w);
  return x >= 1n << BigInt(w - 1) ? x - (1n << BigInt(w)) : x;
};
const truncDiv = (a: bigint, b: bigint): bigint => {
  const q = (a < 0n ? -a : a) / (b < 0n ? -b : b);
  return a < 0n !== b < 0n ? -q : q;
};

function reference(op: AluOp, w: Width, dst: bigint, src: bigint): bigint {
  const a = mod2(dst, w);
  const b = mod2(src, w);
  const sa = toSigned(dst, w);
  const sb = toSigned(src, w);
  const sh = b % BigInt(w);
  switch (op) {
    case 'add':
      return mod2(a + b, w);
    case 'sub':
      return mod2(a - b, w);
    case 'mul':
      return mod2(a * b, w);
    case 'div':
      return b === 0n ? 0n : a / b;
    case 'mod':
      return b === 0n ? a : a - (a / b) * b;
    case 'sdiv':
      return b === 0n ? 0n : mod2(truncDiv(sa, sb), w);
    case 'smod':
      return b === 0n ? a : mod2(sa - truncDiv(sa, sb) * sb, w);
    case 'or':
      return a | b;
    case 'and':
      return a & b;
    case 'xor':
      return a ^ b;
    case 'lsh':
      return mod2(a * 2n ** sh, w);
    case 'rsh':
      return a / 2n ** sh;
    case 'arsh': {
      // floor division by 2^sh is an arithmetic shift.
      const q = sa >= 0n ? sa / 2n ** sh : -((-sa + 2n ** sh - 1n) / 2n ** sh);
      return mod2(q, w);
    }
    case 'mov':
      return b;
  }
}

describe('ALU semantics', () => {
  it('matches the reference formulas for every op and width (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALU_OP_LIST),
        fc.constantFrom<Width>(32, 64),
        edgy,
        edgy,
        (op, w, dst, src) => {
          expect(aluResult(op, w, dst, src)).toBe(reference(op, w, dst, src));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('zero-extends every 32-bit result', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALU_OP_LIST), edgy, edgy, (op, dst, src) => {
        expect(aluResult(op, 32, dst, src) >> 32n).toBe(0n);
      }),
    );
  });

  it('computes the hand-worked edge cases the kernel defines', () => {
    const MIN64 = 1n << 63n;
    expect(aluResult('div', 64, 7n, 0n)).toBe(0n);
    expect(aluResult('mod', 64, 7n, 0n)).toBe(7n);
    // 32-bit modulo by zero keeps dst, zero-extended (the verifier's `w_dst = w_dst` patch).
    expect(aluResult('mod', 32, 0xdead_beef_0000_0007n, 0xffff_ffff_0000_0000n)).toBe(7n);
    expect(aluResult('sdiv', 64, MIN64, U64)).toBe(MIN64);
    expect(aluResult('sdiv', 32, 0x8000_0000n, 0xffff_ffffn)).toBe(0x8000_0000n);
    expect(aluResult('smod', 64, MIN64, U64)).toBe(0n);
    expect(aluResult('sdiv', 64, U64 - 6n, 2n)).toBe(U64 - 2n); // -7 / 2 = -3
    expect(aluResult('smod', 64, U64 - 6n, 2n)).toBe(U64); // -7 % 2 = -1
    expect(aluResult('smod', 64, 7n, U64 - 1n)).toBe(1n); // 7 % -2 = 1
    expect(aluResult('lsh', 64, 1n, 65n)).toBe(2n); // amount masked to 1
    expect(aluResult('lsh', 32, 1n, 33n)).toBe(2n);
    expect(aluResult('arsh', 32, 0x8000_0000n, 31n)).toBe(0xffff_ffffn);
    expect(aluResult('arsh', 64, MIN64, 63n)).toBe(U64);
    expect(aluResult('add', 32, 0xffff_ffffn, 1n)).toBe(0n);
    expect(aluResult('mov', 32, 0n, U64)).toBe(0xffff_ffffn);
  });

  it('sign-extends immediates for 64-bit operations only', () => {
    expect(immOperand(-1, 64)).toBe(U64);
    expect(immOperand(-1, 32)).toBe(0xffff_ffffn);
    expect(immOperand(0xffff_ffff, 64)).toBe(U64); // an unsigned spelling of -1
    expect(immOperand(0x7fff_ffff, 64)).toBe(0x7fff_ffffn);
  });

  it('negates on the operand width', () => {
    expect(negResult(64, 1n)).toBe(U64);
    expect(negResult(32, 1n)).toBe(0xffff_ffffn);
    expect(negResult(32, 0x1_0000_0000n)).toBe(0n);
    fc.assert(
      fc.property(fc.constantFrom<Width>(32, 64), edgy, (w, v) => {
        expect(negResult(w, v)).toBe(mod2(-v, w));
      }),
    );
  });

  it('sign-extends movsx sources and zero-extends 32-bit results', () => {
    expect(movsxResult(64, 8, 0x80n)).toBe(U64 - 0x7fn);
    expect(movsxResult(64, 16, 0x1234_8000n)).toBe(0xffff_ffff_ffff_8000n);
    expect(movsxResult(64, 32, 0x8000_0000n)).toBe(0xffff_ffff_8000_0000n);
    expect(movsxResult(32, 8, 0xffn)).toBe(0xffff_ffffn);
    expect(movsxResult(32, 16, 0x7fffn)).toBe(0x7fffn);
    fc.assert(
      fc.property(
        fc.constantFrom<[Width, 8 | 16 | 32]>([64, 8], [64, 16], [64, 32], [32, 8], [32, 16]),
        edgy,
        ([w, from], v) => {
          expect(movsxResult(w, from, v)).toBe(mod2(toSigned(v, from as Width), w));
        },
      ),
    );
  });
});

describe('byte order on a little-endian host', () => {
  it('le truncates, be and bswap swap the low bytes', () => {
    const v = 0x1122_3344_5566_7788n;
    expect(endianResult('le', 16, v)).toBe(0x7788n);
    expect(endianResult('le', 32, v)).toBe(0x5566_7788n);
    expect(endianResult('le', 64, v)).toBe(v);
    expect(endianResult('be', 16, v)).toBe(0x8877n);
    expect(endianResult('be', 32, v)).toBe(0x8877_6655n);
    expect(endianResult('be', 64, v)).toBe(0x8877_6655_4433_2211n);
    expect(endianResult('bswap', 32, v)).toBe(0x8877_6655n);
  });

  it('swapping twice restores the low bits (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom<16 | 32 | 64>(16, 32, 64), u64, (bits, v) => {
        expect(byteSwap(byteSwap(v, bits), bits)).toBe(mod2(v, bits as Width));
      }),
    );
  });
});

describe('conditional jumps', () => {
  it('compare the low bits unsigned or signed as the reference does (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...JMP_OP_LIST),
        fc.constantFrom<Width>(32, 64),
        edgy,
        edgy,
        (op, w, x, y) => {
          const a = mod2(x, w);
          const b = mod2(y, w);
          const sa = toSigned(x, w);
          const sb = toSigned(y, w);
          const expected = {
            jeq: a === b,
            jne: a !== b,
            jgt: a > b,
            jge: a >= b,
            jlt: a < b,
            jle: a <= b,
            jset: (a & b) !== 0n,
            jsgt: sa > sb,
            jsge: sa >= sb,
            jslt: sa < sb,
            jsle: sa <= sb,
          }[op];
          expect(jumpTaken(op, w, x, y)).toBe(expected);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('JMP32 ignores the upper halves', () => {
    expect(jumpTaken('jeq', 32, 0x1_0000_0005n, 5n)).toBe(true);
    expect(jumpTaken('jeq', 64, 0x1_0000_0005n, 5n)).toBe(false);
    expect(jumpTaken('jslt', 32, 0x8000_0000n, 0n)).toBe(true);
    expect(jumpTaken('jslt', 64, 0x8000_0000n, 0n)).toBe(false);
  });
});
