import { describe, expect, it } from 'vitest';
import { encodeInsn, encodeInsns } from '../../src/asm/encode.js';
import type { Insn } from '../../src/asm/insn.js';
import { InsnEncodeError, type InsnEncodeErrorKind } from '../../src/asm/insn-errors.js';

const hex = (b: Uint8Array) =>
  Buffer.from(b)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');

// Reference bytes: clang 14 -O2 -target bpf output (the first block, disassembled by llvm-objdump 14)
// and llvm-objdump 19 / the kernel's commit messages for the cpu v4 and 6.x instructions.
const KNOWN: readonly [string, Insn][] = [
  ['bf 16 00 00 00 00 00 00', { kind: 'alu', width: 64, op: 'mov', dst: 6, src: { reg: 1 } }],
  ['61 61 44 00 00 00 00 00', { kind: 'ldx', size: 'w', signed: false, dst: 1, src: 6, off: 68 }],
  ['63 1a fc ff 00 00 00 00', { kind: 'stx', size: 'w', dst: 10, src: 1, off: -4 }],
  ['07 02 00 00 fc ff ff ff', { kind: 'alu', width: 64, op: 'add', dst: 2, src: { imm: -4 } }],
  [
    '18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00',
    { kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 0n },
  ],
  [
    '18 12 00 00 07 00 00 00 00 00 00 00 00 00 00 00',
    { kind: 'ld_imm64', pseudo: 'map_fd', dst: 2, imm: 7n },
  ],
  [
    '18 01 00 00 ff ff ff ff 00 00 00 00 01 00 00 00',
    { kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 8589934591n },
  ],
  ['85 00 00 00 01 00 00 00', { kind: 'call', target: 'helper', imm: 1, off: 0 }],
  ['85 10 00 00 fe ff ff ff', { kind: 'call', target: 'bpf', imm: -2, off: 0 }],
  ['b4 01 00 00 00 00 00 00', { kind: 'alu', width: 32, op: 'mov', dst: 1, src: { imm: 0 } }],
  [
    '15 02 14 00 00 00 00 00',
    { kind: 'jump', width: 64, op: 'jeq', dst: 2, src: { imm: 0 }, off: 20 },
  ],
  [
    'db 12 00 00 00 00 00 00',
    { kind: 'atomic', size: 'dw', op: 'add', fetch: false, dst: 2, src: 1, off: 0 },
  ],
  [
    'db 12 00 00 e1 00 00 00',
    { kind: 'atomic', size: 'dw', op: 'xchg', fetch: true, dst: 2, src: 1, off: 0 },
  ],
  [
    'db 32 00 00 f1 00 00 00',
    { kind: 'atomic', size: 'dw', op: 'cmpxchg', fetch: true, dst: 2, src: 3, off: 0 },
  ],
  [
    'c3 12 00 00 41 00 00 00',
    { kind: 'atomic', size: 'w', op: 'or', fetch: true, dst: 2, src: 1, off: 0 },
  ],
  [
    'c6 02 03 00 65 00 00 00',
    { kind: 'jump', width: 32, op: 'jslt', dst: 2, src: { imm: 101 }, off: 3 },
  ],
  ['dc 02 00 00 10 00 00 00', { kind: 'endian', order: 'be', bits: 16, dst: 2 }],
  ['d4 01 00 00 40 00 00 00', { kind: 'endian', order: 'le', bits: 64, dst: 1 }],
  ['d7 01 00 00 20 00 00 00', { kind: 'endian', order: 'bswap', bits: 32, dst: 1 }],
  ['87 03 00 00 00 00 00 00', { kind: 'neg', width: 64, dst: 3 }],
  ['3f 21 01 00 00 00 00 00', { kind: 'alu', width: 64, op: 'sdiv', dst: 1, src: { reg: 2 } }],
  ['94 01 01 00 fa ff ff ff', { kind: 'alu', width: 32, op: 'smod', dst: 1, src: { imm: -6 } }],
  ['bf 21 20 00 00 00 00 00', { kind: 'movsx', width: 64, from: 32, dst: 1, src: 2 }],
  ['bc 21 08 00 00 00 00 00', { kind: 'movsx', width: 32, from: 8, dst: 1, src: 2 }],
  ['91 21 fd ff 00 00 00 00', { kind: 'ldx', size: 'b', signed: true, dst: 1, src: 2, off: -3 }],
  ['7a 01 00 80 00 00 00 80', { kind: 'st', size: 'dw', dst: 1, off: -32768, imm: -2147483648 }],
  ['05 00 ff ff 00 00 00 00', { kind: 'ja', off: -1 }],
  ['06 00 00 00 fd ff ff ff', { kind: 'gotol', imm: -3 }],
  ['e5 00 02 00 00 00 00 00', { kind: 'may_goto', off: 2 }],
  ['95 00 00 00 00 00 00 00', { kind: 'exit' }],
  ['db 10 00 00 00 01 00 00', { kind: 'load_acquire', size: 'dw', dst: 0, src: 1, off: 0 }],
  ['cb 21 00 00 10 01 00 00', { kind: 'store_release', size: 'h', dst: 1, src: 2, off: 0 }],
  ['30 00 00 00 05 00 00 00', { kind: 'ld_abs', size: 'b', imm: 5 }],
  ['48 20 00 00 05 00 00 00', { kind: 'ld_ind', size: 'h', src: 2, imm: 5 }],
  ['85 20 03 00 4d 00 00 00', { kind: 'call', target: 'kfunc', imm: 77, off: 3 }],
];

describe('encodeInsn', () => {
  it.each(KNOWN)('writes %s', (bytes, insn) => {
    expect(hex(encodeInsn(insn))).toBe(bytes);
  });
});

/** Builds an instruction that the type system would refuse, as a caller in plain JS could. */
const raw = (x: Record<string, unknown>) => x as unknown as Insn;

const INVALID: readonly [string, InsnEncodeErrorKind, Insn, RegExp][] = [
  [
    'an offset above s16',
    'out_of_range',
    { kind: 'ja', off: 0x8000 },
    /off 32768 is not a signed 16-bit integer/,
  ],
  [
    'an immediate below s32',
    'out_of_range',
    { kind: 'alu', width: 64, op: 'add', dst: 1, src: { imm: -0x8000_0001 } },
    /imm -2147483649 is not a signed 32-bit integer/,
  ],
  [
    'a fractional immediate',
    'out_of_range',
    { kind: 'st', size: 'w', dst: 1, off: 0, imm: 1.5 },
    /imm 1.5/,
  ],
  [
    'register r11',
    'bad_register',
    raw({ kind: 'neg', width: 64, dst: 11 }),
    /dst 11 is not a register/,
  ],
  [
    'a negative source register',
    'bad_register',
    raw({ kind: 'stx', size: 'w', dst: 1, src: -1, off: 0 }),
    /src -1/,
  ],
  [
    'movsx from 32 bits at width 32',
    'bad_combination',
    raw({ kind: 'movsx', width: 32, from: 32, dst: 1, src: 2 }),
    /movsx from 32 bits exists only at width 64/,
  ],
  [
    'a sign-extending dw load',
    'bad_combination',
    { kind: 'ldx', size: 'dw', signed: true, dst: 1, src: 2, off: 0 },
    /sign-extending loads exist for b, h and w only/,
  ],
  [
    'an atomic byte operation',
    'bad_combination',
    raw({ kind: 'atomic', size: 'b', op: 'add', fetch: false, dst: 1, src: 2, off: 0 }),
    /atomic operations exist for w and dw only/,
  ],
  [
    'xchg without fetch',
    'bad_combination',
    { kind: 'atomic', size: 'dw', op: 'xchg', fetch: false, dst: 1, src: 2, off: 0 },
    /xchg always fetches/,
  ],
  [
    'cmpxchg without fetch',
    'bad_combination',
    { kind: 'atomic', size: 'w', op: 'cmpxchg', fetch: false, dst: 1, src: 2, off: 0 },
    /cmpxchg always fetches/,
  ],
  [
    'a helper call with an offset',
    'bad_combination',
    { kind: 'call', target: 'helper', imm: 1, off: 2 },
    /off must be 0 for a helper call/,
  ],
  [
    'an unknown endian order',
    'unknown_value',
    raw({ kind: 'endian', order: 'swap', bits: 16, dst: 1 }),
    /order "swap" is not le, be or bswap/,
  ],
  [
    'a byte swap of 8 bits',
    'unknown_value',
    raw({ kind: 'endian', order: 'be', bits: 8, dst: 1 }),
    /bits 8 is not 16, 32 or 64/,
  ],
  [
    'an unknown ALU operation',
    'unknown_value',
    raw({ kind: 'alu', width: 64, op: 'nand', dst: 1, src: { reg: 2 } }),
    /op "nand" is not one of/,
  ],
  [
    'width 16',
    'unknown_value',
    raw({ kind: 'neg', width: 16, dst: 1 }),
    /width 16 is not 32 or 64/,
  ],
  [
    'a source that is neither reg nor imm',
    'unknown_value',
    raw({ kind: 'jump', width: 64, op: 'jeq', dst: 1, src: {}, off: 0 }),
    /src must be \{ reg \} or \{ imm \}/,
  ],
  [
    'an ld_imm64 with a number immediate',
    'out_of_range',
    raw({ kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 5 }),
    /is not a signed 64-bit bigint/,
  ],
  [
    'an ld_imm64 above s64',
    'out_of_range',
    { kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 2n ** 63n },
    /is not a signed 64-bit bigint/,
  ],
  [
    'a map_fd ld_imm64 with a high half',
    'out_of_range',
    { kind: 'ld_imm64', pseudo: 'map_fd', dst: 1, imm: 2n ** 32n },
    /map_fd ld_imm64 must fit the first slot/,
  ],
  [
    'a negative func ld_imm64',
    'out_of_range',
    { kind: 'ld_imm64', pseudo: 'func', dst: 1, imm: -1n },
    /func ld_imm64 must fit the first slot/,
  ],
  [
    'a dw legacy packet load',
    'bad_combination',
    raw({ kind: 'ld_abs', size: 'dw', imm: 0 }),
    /ld_abs exists for b, h and w only/,
  ],
  ['an unknown kind', 'unknown_value', raw({ kind: 'nop' }), /unknown instruction kind "nop"/],
];

describe('encodeInsn rejects', () => {
  it.each(INVALID)('%s', (_what, kind, insn, message) => {
    let caught: unknown;
    try {
      encodeInsn(insn, 7);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InsnEncodeError);
    const err = caught as InsnEncodeError;
    expect(err.code).toBe('INSN_ENCODE');
    expect(err.kind).toBe(kind);
    expect(err.index).toBe(7);
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^cannot encode instruction 7 \(/);
  });
});

describe('encodeInsns', () => {
  it('names the index of the bad instruction in the list', () => {
    const insns: Insn[] = [
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } },
      { kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 1n },
      { kind: 'ja', off: 1 },
      { kind: 'jump', width: 64, op: 'jeq', dst: 1, src: { imm: 0 }, off: 70000 },
      { kind: 'exit' },
    ];
    expect(() => encodeInsns(insns)).toThrow(
      /cannot encode instruction 3 \(jump\): off 70000 is not a signed 16-bit integer/,
    );
  });

  it('places ld_imm64 in two slots and everything else in one', () => {
    const bytes = encodeInsns([
      { kind: 'ld_imm64', pseudo: 'map_value', dst: 3, imm: (8n << 32n) | 5n },
      { kind: 'exit' },
    ]);
    expect(hex(bytes)).toBe(
      '18 23 00 00 05 00 00 00 00 00 00 00 08 00 00 00 95 00 00 00 00 00 00 00',
    );
  });
});
