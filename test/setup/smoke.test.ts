import { describe, expect, it } from 'vitest';
import { slotCount } from '../../src/asm/insn.js';

describe('instruction model', () => {
  it('counts ld_imm64 as two slots and every other instruction as one', () => {
    expect(slotCount({ kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 5n })).toBe(2);
    expect(slotCount({ kind: 'exit' })).toBe(1);
  });
});
