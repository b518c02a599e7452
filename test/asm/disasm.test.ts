import { describe, expect, it } from 'vitest';
import { decodeInsnAt } from '../../src/asm/decode.js';
import {
  bpfRelocationName,
  branchDelta,
  formatInsn,
  formatListing,
  type ListingSection,
} from '../../src/asm/disasm.js';
import { encodeInsns } from '../../src/asm/encode.js';
import type { Insn } from '../../src/asm/insn.js';

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));

// Bytes and the text llvm-objdump prints for them. Sources: llvm-objdump 14 (default), llvm-objdump
// 19 --no-print-imm-hex for what 14 prints as <unknown> (cpu v4, jset, mod, st, may_goto), 19 with
// --mattr=+alu32 for the 32-bit atomics, LLVM's test/CodeGen/BPF/acquire-release.ll syntax for
// load-acquire/store-release (bytes with the 6.15 kernel immediates 0x100/0x110).
const TEXTS: readonly [string, string][] = [
  ['bf 16 00 00 00 00 00 00', 'r6 = r1'],
  ['bc 21 00 00 00 00 00 00', 'w1 = w2'],
  ['b7 01 00 00 ff ff ff ff', 'r1 = -1'],
  ['07 02 00 00 fc ff ff ff', 'r2 += -4'],
  ['24 02 00 00 00 10 a5 d4', 'w2 *= -727379968'],
  ['c4 02 00 00 03 00 00 00', 'w2 s>>= 3'],
  ['4f 21 00 00 00 00 00 00', 'r1 |= r2'],
  ['37 01 01 00 fa ff ff ff', 'r1 s/= -6'],
  ['9c 21 01 00 00 00 00 00', 'w1 s%= w2'],
  ['97 01 00 00 07 00 00 00', 'r1 %= 7'],
  ['87 01 00 00 00 00 00 00', 'r1 = -r1'],
  ['84 01 00 00 00 00 00 00', 'w1 = -w1'],
  ['bf 21 20 00 00 00 00 00', 'r1 = (s32)r2'],
  ['bc 21 10 00 00 00 00 00', 'w1 = (s16)w2'],
  ['dc 02 00 00 10 00 00 00', 'r2 = be16 r2'],
  ['d4 01 00 00 40 00 00 00', 'r1 = le64 r1'],
  ['d7 01 00 00 20 00 00 00', 'r1 = bswap32 r1'],
  ['15 02 14 00 00 00 00 00', 'if r2 == 0 goto +20'],
  ['c6 02 03 00 65 00 00 00', 'if w2 s< 101 goto +3'],
  ['66 02 02 00 fc ff ff ff', 'if w2 s> -4 goto +2'],
  ['4d 21 fd ff 00 00 00 00', 'if r1 & r2 goto -3'],
  ['ae 21 00 00 00 00 00 00', 'if w1 < w2 goto +0'],
  ['05 00 06 00 00 00 00 00', 'goto +6'],
  ['06 00 00 00 fd ff ff ff', 'gotol -3'],
  ['e5 00 02 00 00 00 00 00', 'may_goto +2'],
  ['85 00 00 00 46 00 00 00', 'call 70'],
  ['85 10 00 00 fe ff ff ff', 'call -2'],
  ['85 20 03 00 4d 00 00 00', 'call 77'],
  ['95 00 00 00 00 00 00 00', 'exit'],
  ['61 61 40 00 00 00 00 00', 'r1 = *(u32 *)(r6 + 64)'],
  ['79 21 ff 7f 00 00 00 00', 'r1 = *(u64 *)(r2 + 32767)'],
  ['89 21 fd ff 00 00 00 00', 'r1 = *(s16 *)(r2 - 3)'],
  ['63 1a fc ff 00 00 00 00', '*(u32 *)(r10 - 4) = r1'],
  ['7a 01 00 80 00 00 00 80', '*(u64 *)(r1 - 32768) = -2147483648'],
  ['db 12 08 00 00 00 00 00', 'lock *(u64 *)(r2 + 8) += r1'],
  ['c3 21 08 00 00 00 00 00', 'lock *(u32 *)(r1 + 8) += r2'],
  ['c3 21 08 00 40 00 00 00', 'lock *(u32 *)(r1 + 8) |= w2'],
  ['db 21 08 00 a1 00 00 00', 'r2 = atomic_fetch_xor((u64 *)(r1 + 8), r2)'],
  ['c3 21 08 00 01 00 00 00', 'w2 = atomic_fetch_add((u32 *)(r1 + 8), w2)'],
  ['db 12 00 00 e1 00 00 00', 'r1 = xchg_64(r2 + 0, r1)'],
  ['c3 21 08 00 e1 00 00 00', 'w2 = xchg32_32(r1 + 8, w2)'],
  ['db 32 00 00 f1 00 00 00', 'r0 = cmpxchg_64(r2 + 0, r0, r3)'],
  ['c3 21 08 00 f1 00 00 00', 'w0 = cmpxchg32_32(r1 + 8, w0, w2)'],
  ['d3 10 00 00 00 01 00 00', 'w0 = load_acquire((u8 *)(r1 + 0))'],
  ['db 10 00 00 00 01 00 00', 'r0 = load_acquire((u64 *)(r1 + 0))'],
  ['cb 21 00 00 10 01 00 00', 'store_release((u16 *)(r1 + 0), w2)'],
  ['db 21 00 00 10 01 00 00', 'store_release((u64 *)(r1 + 0), r2)'],
  ['18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00', 'r1 = 0 ll'],
  ['18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff', 'r1 = -1 ll'],
  ['18 03 00 00 00 00 00 00 00 00 00 00 00 00 00 80', 'r3 = -9223372036854775808 ll'],
  ['18 11 00 00 03 00 00 00 00 00 00 00 00 00 00 00', 'ld_pseudo\tr1, 1, 3'],
  ['18 23 00 00 ff ff ff ff 00 00 00 00 08 00 00 00', 'ld_pseudo\tr3, 2, 4294967295'],
  ['30 00 00 00 05 00 00 00', 'r0 = *(u8 *)skb[5]'],
  ['48 20 00 00 05 00 00 00', 'r0 = *(u16 *)skb[r2]'],
];

describe('formatInsn prints llvm-objdump syntax', () => {
  it.each(TEXTS)('%s → %s', (hex, text) => {
    const b = bytes(hex);
    const { insn, size } = decodeInsnAt(b, 0);
    expect(size).toBe(b.length);
    expect(formatInsn(insn)).toBe(text);
  });
});

describe('formatInsn with a branch target', () => {
  it('appends <target> to branches only', () => {
    const opts = { branchTarget: 'LBB0_3' };
    expect(formatInsn({ kind: 'ja', off: 5 }, opts)).toBe('goto +5 <LBB0_3>');
    expect(
      formatInsn({ kind: 'jump', width: 64, op: 'jne', dst: 1, src: { imm: 2 }, off: 5 }, opts),
    ).toBe('if r1 != 2 goto +5 <LBB0_3>');
    expect(formatInsn({ kind: 'call', target: 'bpf', imm: 5, off: 0 }, opts)).toBe('call 5');
    expect(formatInsn({ kind: 'exit' }, opts)).toBe('exit');
  });
});

describe('branchDelta', () => {
  it('gives the slot displacement of jumps, goto, gotol and may_goto, nothing for calls', () => {
    const cases: [Insn, number | undefined][] = [
      [{ kind: 'jump', width: 32, op: 'jne', dst: 1, src: { imm: 0 }, off: -4 }, -4],
      [{ kind: 'ja', off: 9 }, 9],
      [{ kind: 'gotol', imm: 100000 }, 100000],
      [{ kind: 'may_goto', off: 3 }, 3],
      [{ kind: 'call', target: 'bpf', imm: 5, off: 0 }, undefined],
      [{ kind: 'exit' }, undefined],
    ];
    for (const [insn, delta] of cases) expect(branchDelta(insn)).toBe(delta);
  });
});

describe('formatListing', () => {
  const prog = encodeInsns([
    { kind: 'alu', width: 64, op: 'mov', dst: 1, src: { imm: 1 } },
    { kind: 'ja', off: 1 },
    { kind: 'ja', off: -3 },
    { kind: 'exit' },
  ]);
  const two = encodeInsns([
    { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } },
    { kind: 'ja', off: -2 },
    { kind: 'exit' },
  ]);

  it('prints the last of several symbols at one address (by name), a dummy symbol for an unlabelled start, and symbolized targets', () => {
    // Expected text: llvm-objdump 14 -d on an object with these sections and symbols.
    const sections: ListingSection[] = [
      {
        name: 'prog',
        bytes: prog,
        symbols: [
          { name: 'alpha', value: 0, type: 'func' },
          { name: 'zeta', value: 0, type: 'notype' },
          { name: 'mid', value: 16, type: 'notype' },
          { name: 'prog', value: 0, type: 'section' },
        ],
      },
      { name: 'two', bytes: two, symbols: [{ name: 'late', value: 8, type: 'func' }] },
    ];
    expect(formatListing({ fileName: 'dup2.o', sections })).toBe(
      [
        '',
        'dup2.o:\tfile format elf64-bpf',
        '',
        'Disassembly of section prog:',
        '',
        '0000000000000000 <zeta>:',
        '       0:\tb7 01 00 00 01 00 00 00\tr1 = 1',
        '       1:\t05 00 01 00 00 00 00 00\tgoto +1 <mid+0x8>',
        '',
        '0000000000000010 <mid>:',
        '       2:\t05 00 fd ff 00 00 00 00\tgoto -3 <zeta>',
        '       3:\t95 00 00 00 00 00 00 00\texit',
        '',
        'Disassembly of section two:',
        '',
        '0000000000000000 <two>:',
        '       0:\tb7 00 00 00 00 00 00 00\tr0 = 0',
        '',
        '0000000000000008 <late>:',
        '       1:\t05 00 fe ff 00 00 00 00\tgoto -2 <two>',
        '       2:\t95 00 00 00 00 00 00 00\texit',
        '',
      ].join('\n'),
    );
  });

  it('folds zero runs, prints undecodable bytes as <unknown> and places relocations after their instruction', () => {
    const code = bytes(
      'b7 01 00 00 01 00 00 00' +
        '00'.repeat(16) +
        '18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00' +
        'ff 00 00 00 00 00 00 00' +
        '95 00 00 00',
    );
    const out = formatListing({
      fileName: 'x.o',
      sections: [
        {
          name: 'sockops',
          bytes: code,
          symbols: [{ name: 'p', value: 0, type: 'func' }],
          relocations: [
            { offset: 24, type: 1, symbol: 'sock_map' },
            { offset: 40, type: 'R_BPF_64_32', symbol: 'sockops' },
          ],
        },
      ],
    });
    expect(out.split('\n').slice(6)).toStrictEqual([
      '       0:\tb7 01 00 00 01 00 00 00\tr1 = 1',
      '\t\t...',
      '       3:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0 ll',
      '\t\t0000000000000018:  R_BPF_64_64\tsock_map',
      '       5:\tff 00 00 00 00 00 00 00\t<unknown>',
      '\t\t0000000000000028:  R_BPF_64_32\tsockops',
      '       6:\t95\t<unknown>',
      '       6:\t00\t<unknown>',
      '       6:\t00\t<unknown>',
      '       6:\t00\t<unknown>',
      '',
    ]);
  });

  it('skips empty sections', () => {
    const out = formatListing({
      fileName: 'e.o',
      sections: [{ name: '.text', bytes: new Uint8Array(0), symbols: [] }],
    });
    expect(out).toBe('\ne.o:\tfile format elf64-bpf\n');
  });
});

describe('bpfRelocationName', () => {
  it('names the LLVM BPF relocation types and calls the rest Unknown', () => {
    expect(bpfRelocationName(1)).toBe('R_BPF_64_64');
    expect(bpfRelocationName(10)).toBe('R_BPF_64_32');
    expect(bpfRelocationName(4)).toBe('R_BPF_64_NODYLD32');
    expect(bpfRelocationName(77)).toBe('Unknown');
  });
});
