import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInsnAt, decodeInsnSlots, decodeInsns } from '../../src/asm/decode.js';
import { encodeInsn, encodeInsns } from '../../src/asm/encode.js';
import { slotCount } from '../../src/asm/insn.js';
import { arbInsn, INSN_KINDS, insnArbitraries } from './arbitraries.js';

// 19 kinds x 600 runs = 11,400 single-instruction round trips, every kind covered on its own.
const RUNS_PER_KIND = 600;

describe('decode(encode(insn)) is the identity', () => {
  it.each(INSN_KINDS)('for every valid %s instruction', (kind) => {
    fc.assert(
      fc.property(insnArbitraries[kind], (insn) => {
        const bytes = encodeInsn(insn);
        expect(bytes.length).toBe(slotCount(insn) * 8);
        const decoded = decodeInsnAt(bytes, 0);
        expect(decoded.size).toBe(bytes.length);
        expect(decoded.insn).toStrictEqual(insn);
      }),
      { numRuns: RUNS_PER_KIND },
    );
  });

  it('for streams of mixed instructions, with the slot index of each', () => {
    fc.assert(
      fc.property(fc.array(arbInsn, { maxLength: 40 }), (insns) => {
        const bytes = encodeInsns(insns);
        const { insns: back, slots } = decodeInsnSlots(bytes);
        expect(back).toStrictEqual(insns);
        let slot = 0;
        insns.forEach((insn, i) => {
          expect(slots[i]).toBe(slot);
          slot += slotCount(insn);
        });
        expect(bytes.length).toBe(slot * 8);
        expect(decodeInsns(bytes)).toStrictEqual(insns);
      }),
      { numRuns: 500 },
    );
  });

  it('encodeInsns is the concatenation of encodeInsn', () => {
    fc.assert(
      fc.property(fc.array(arbInsn, { maxLength: 10 }), (insns) => {
        const parts = insns.map((insn) => [...encodeInsn(insn)]);
        expect([...encodeInsns(insns)]).toStrictEqual(parts.flat());
      }),
      { numRuns: 200 },
    );
  });
});
