import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runProgram } from '../../src/vm/index.js';
import { randomMemoryProgram, randomProgram } from './random-programs.js';

// The generators feed the kernel cross-check (test/kernel/vm-vs-kernel.test.ts); these properties
// keep them honest without root: every program must run to its exit, deterministically.
describe('random program generators', () => {
  it('produce ALU/JMP programs that always reach exit with r0 set', () => {
    fc.assert(
      fc.property(randomProgram, (insns) => {
        const first = runProgram(insns);
        expect(insns[insns.length - 1]).toEqual({ kind: 'exit' });
        expect(runProgram(insns).r0).toBe(first.r0);
        expect(first.insnsExecuted).toBeLessThanOrEqual(insns.length);
      }),
      { numRuns: 500 },
    );
  });

  it('produce stack memory programs that stay inside the zero-filled scratch area', () => {
    fc.assert(
      fc.property(randomMemoryProgram, (insns) => {
        expect(() => runProgram(insns)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
});
