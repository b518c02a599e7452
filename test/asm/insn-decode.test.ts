import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInsnAt, decodeInsnSlots, decodeInsns } from '../../src/asm/decode.js';
import { encodeInsns } from '../../src/asm/encode.js';
import { InsnDecodeError, type InsnDecodeErrorKind } from '../../src/asm/insn-errors.js';
import { arbInsn } from './arbitraries.js';

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));

/** Decodes and returns the InsnDecodeError it must throw. */
function decodeError(b: Uint8Array, baseOffset?: number): InsnDecodeError {
  try {
    decodeInsns(b, baseOffset === undefined ? {} : { baseOffset });
  } catch (e) {
    if (e instanceof InsnDecodeError) return e;
    throw e;
  }
  throw new Error('decoding succeeded');
}

const EXIT = '95 00 00 00 00 00 00 00';

// [what, bytes, kind, byte offset, message fragment]; each is a rule of the kernel verifier.
const INVALID: readonly [string, string, InsnDecodeErrorKind, number, RegExp][] = [
  [
    'a length that is not a multiple of 8',
    `${EXIT} 95 00 00`,
    'misaligned',
    8,
    /length 11 is not a multiple of 8/,
  ],
  [
    'ld_imm64 in the last slot',
    `${EXIT} 18 01 00 00 05 00 00 00`,
    'truncated',
    8,
    /ld_imm64 needs a second slot/,
  ],
  [
    'ld_imm64 whose second slot has an opcode',
    `${EXIT} ${EXIT} ${EXIT} 18 01 00 00 05 00 00 00 07 00 00 00 00 00 00 00`,
    'bad_second_slot',
    0x18,
    /^invalid instruction at byte 0x18: ld_imm64 second slot has non-zero opcode 0x07$/,
  ],
  [
    'ld_imm64 whose second slot has registers',
    '18 01 00 00 05 00 00 00 00 10 00 00 00 00 00 00',
    'bad_second_slot',
    0,
    /second slot has non-zero registers byte 0x10/,
  ],
  [
    'ld_imm64 whose second slot has an offset',
    '18 01 00 00 05 00 00 00 00 00 01 00 00 00 00 00',
    'bad_second_slot',
    0,
    /second slot has non-zero offset 1/,
  ],
  [
    'a map_fd ld_imm64 with a second-slot immediate',
    '18 11 00 00 05 00 00 00 00 00 00 00 01 00 00 00',
    'bad_second_slot',
    0,
    /map_fd must have a zero second-slot immediate, got 0x1/,
  ],
  [
    'ld_imm64 with pseudo source 7',
    '18 71 00 00 05 00 00 00 00 00 00 00 00 00 00 00',
    'bad_operand',
    0,
    /unknown pseudo source 7/,
  ],
  [
    'ld_imm64 with an offset',
    '18 01 01 00 05 00 00 00 00 00 00 00 00 00 00 00',
    'reserved_field',
    0,
    /ld_imm64 .* reserved off = 1/,
  ],
  [
    'opcode 0x00 (LD IMM of size w)',
    '00 00 00 00 00 00 00 00',
    'unknown_opcode',
    0,
    /unknown opcode 0x00/,
  ],
  ['ld_abs of dw', '38 00 00 00 00 00 00 00', 'unknown_opcode', 0, /unknown opcode 0x38/],
  [
    'ld_abs with a source register',
    '20 10 00 00 00 00 00 00',
    'reserved_field',
    0,
    /ld_abs .* reserved src = 1/,
  ],
  [
    'ld_ind with a destination register',
    '40 21 00 00 00 00 00 00',
    'reserved_field',
    0,
    /ld_ind .* reserved dst = 1/,
  ],
  ['LDX in mode ATOMIC', 'c1 21 00 00 00 00 00 00', 'unknown_opcode', 0, /unknown opcode 0xc1/],
  [
    'a sign-extending dw load',
    '99 21 00 00 00 00 00 00',
    'unknown_opcode',
    0,
    /no sign-extending load of dw/,
  ],
  [
    'ldx with an immediate',
    '61 21 00 00 01 00 00 00',
    'reserved_field',
    0,
    /ldx .* reserved imm = 1/,
  ],
  [
    'st with a source register',
    '62 21 00 00 01 00 00 00',
    'reserved_field',
    0,
    /st .* reserved src = 2/,
  ],
  [
    'st in mode MEMSX',
    '82 01 00 00 01 00 00 00',
    'unknown_opcode',
    0,
    /ST class has mode MEM only/,
  ],
  [
    'stx with an immediate',
    '63 21 00 00 01 00 00 00',
    'reserved_field',
    0,
    /stx .* reserved imm = 1/,
  ],
  [
    'an unknown atomic operation',
    'db 21 00 00 20 00 00 00',
    'bad_operand',
    0,
    /unknown atomic operation imm 0x20/,
  ],
  [
    'xchg without fetch',
    'db 21 00 00 e0 00 00 00',
    'bad_operand',
    0,
    /unknown atomic operation imm 0xe0/,
  ],
  [
    'an atomic add on a byte',
    'd3 21 00 00 00 00 00 00',
    'bad_operand',
    0,
    /atomic add exists for sizes w and dw only, not b/,
  ],
  [
    'register r11 as destination',
    'b7 0b 00 00 00 00 00 00',
    'bad_register',
    0,
    /dst register r11 does not exist/,
  ],
  [
    'register r15 as source',
    'bf f1 00 00 00 00 00 00',
    'bad_register',
    0,
    /src register r15 does not exist/,
  ],
  ['ALU opcode 0xe0', 'e7 01 00 00 00 00 00 00', 'unknown_opcode', 0, /unknown opcode 0xe7/],
  [
    'neg with a register source',
    '8f 21 00 00 00 00 00 00',
    'unknown_opcode',
    0,
    /neg has no register source/,
  ],
  [
    'neg with an immediate',
    '87 01 00 00 01 00 00 00',
    'reserved_field',
    0,
    /neg .* reserved imm = 1/,
  ],
  [
    'an END width of 8',
    'dc 01 00 00 08 00 00 00',
    'bad_operand',
    0,
    /byte swap width imm 8 is not 16, 32 or 64/,
  ],
  [
    'ALU64 END to big endian',
    'df 01 00 00 10 00 00 00',
    'unknown_opcode',
    0,
    /ALU64 END exists only as bswap/,
  ],
  [
    'END with a source register',
    'dc 21 00 00 10 00 00 00',
    'reserved_field',
    0,
    /endian .* reserved src = 2/,
  ],
  ['add with offset 1', '0f 21 01 00 00 00 00 00', 'reserved_field', 0, /add .* reserved off = 1/],
  ['div with offset 2', '3f 21 02 00 00 00 00 00', 'reserved_field', 0, /div .* reserved off = 2/],
  [
    'add of a register with an immediate',
    '0f 21 00 00 05 00 00 00',
    'reserved_field',
    0,
    /add .* reserved imm = 5/,
  ],
  [
    'add of an immediate with a source register',
    '07 21 00 00 05 00 00 00',
    'reserved_field',
    0,
    /add .* reserved src = 2/,
  ],
  [
    'movsx from 32 at width 32',
    'bc 21 20 00 00 00 00 00',
    'bad_operand',
    0,
    /mov offset 32 is not a sign extension \(8, 16\)/,
  ],
  [
    'addr_space_cast (mov offset 1)',
    'bf 21 01 00 01 00 00 00',
    'bad_operand',
    0,
    /addr_space_cast \(offset 1\) is not supported/,
  ],
  [
    'movsx with an immediate',
    'bf 21 08 00 01 00 00 00',
    'reserved_field',
    0,
    /movsx .* reserved imm = 1/,
  ],
  [
    'ja with an immediate',
    '05 00 01 00 01 00 00 00',
    'reserved_field',
    0,
    /ja .* reserved imm = 1/,
  ],
  ['ja with a register', '05 01 01 00 00 00 00 00', 'reserved_field', 0, /ja .* reserved dst = 1/],
  [
    'gotol with an offset',
    '06 00 01 00 01 00 00 00',
    'reserved_field',
    0,
    /gotol .* reserved off = 1/,
  ],
  [
    'ja with a register source bit',
    '0d 00 00 00 00 00 00 00',
    'unknown_opcode',
    0,
    /ja has no register source/,
  ],
  [
    'call in JMP32',
    '86 00 00 00 01 00 00 00',
    'unknown_opcode',
    0,
    /call exists only as JMP\|CALL\|K/,
  ],
  ['callx', '8d 01 00 00 00 00 00 00', 'unknown_opcode', 0, /unknown opcode 0x8d/],
  ['call with source 3', '85 30 00 00 01 00 00 00', 'bad_operand', 0, /call has unknown source 3/],
  [
    'a helper call with an offset',
    '85 00 01 00 01 00 00 00',
    'reserved_field',
    0,
    /call .* reserved off = 1/,
  ],
  [
    'a call with a destination register',
    '85 01 00 00 01 00 00 00',
    'reserved_field',
    0,
    /call .* reserved dst = 1/,
  ],
  [
    'exit with an immediate',
    '95 00 00 00 01 00 00 00',
    'reserved_field',
    0,
    /exit .* reserved imm = 1/,
  ],
  [
    'exit with an offset',
    '95 00 01 00 00 00 00 00',
    'reserved_field',
    0,
    /exit .* reserved off = 1/,
  ],
  [
    'exit in JMP32',
    '96 00 00 00 00 00 00 00',
    'unknown_opcode',
    0,
    /exit exists only as JMP\|EXIT\|K/,
  ],
  [
    'JCOND with source 1',
    'e5 10 00 00 00 00 00 00',
    'bad_operand',
    0,
    /JCOND with source 1 is not may_goto/,
  ],
  [
    'may_goto with an immediate',
    'e5 00 00 00 01 00 00 00',
    'reserved_field',
    0,
    /may_goto .* reserved imm = 1/,
  ],
  ['JCOND in JMP32', 'e6 00 00 00 00 00 00 00', 'unknown_opcode', 0, /unknown opcode 0xe6/],
  ['jump opcode 0xf0', 'f5 01 00 00 00 00 00 00', 'unknown_opcode', 0, /no such jump operation/],
  [
    'a register jump with an immediate',
    '1d 21 00 00 01 00 00 00',
    'reserved_field',
    0,
    /jeq .* reserved imm = 1/,
  ],
  [
    'an immediate jump with a source register',
    '15 21 00 00 01 00 00 00',
    'reserved_field',
    0,
    /jeq .* reserved src = 2/,
  ],
];

describe('decodeInsns rejects invalid encodings with the byte offset and the reason', () => {
  it.each(INVALID)('%s', (_what, hex, kind, offset, message) => {
    const err = decodeError(bytes(hex));
    expect(err.code).toBe('INVALID_INSN');
    expect(err.kind).toBe(kind);
    expect(err.offset).toBe(offset);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`invalid instruction at byte 0x${offset.toString(16)}: `)).toBe(
      true,
    );
  });

  it('reports offsets relative to baseOffset', () => {
    const err = decodeError(bytes(`${EXIT} 96 00 00 00 00 00 00 00`), 0x100);
    expect(err.offset).toBe(0x108);
    expect(err.message).toMatch(/^invalid instruction at byte 0x108: /);
  });

  it('refuses to read past the end in decodeInsnAt', () => {
    expect(() => decodeInsnAt(bytes(EXIT), 4)).toThrow(InsnDecodeError);
    expect(() => decodeInsnAt(bytes(EXIT), -8)).toThrow(InsnDecodeError);
  });

  it('decodes an empty stream to no instructions', () => {
    expect(decodeInsnSlots(new Uint8Array(0))).toStrictEqual({ insns: [], slots: [] });
  });
});

describe('decoding arbitrary bytes', () => {
  it('either throws InsnDecodeError or yields instructions that re-encode to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
        let insns: ReturnType<typeof decodeInsns>;
        try {
          insns = decodeInsns(b);
        } catch (e) {
          expect(e).toBeInstanceOf(InsnDecodeError);
          const err = e as InsnDecodeError;
          expect(err.offset).toBeGreaterThanOrEqual(0);
          expect(err.offset).toBeLessThanOrEqual(b.length);
          return;
        }
        expect([...encodeInsns(insns)]).toStrictEqual([...b]);
      }),
      { numRuns: 20_000 },
    );
  });

  it('rejects or round-trips valid programs with bytes corrupted', () => {
    const corrupted = fc
      .tuple(
        fc.array(arbInsn, { minLength: 1, maxLength: 20 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
      )
      .map(([insns, flips]) => {
        const b = encodeInsns(insns);
        for (const [at, value] of flips) b[at % b.length] = value;
        return b;
      });
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(corrupted, (b) => {
        try {
          const insns = decodeInsns(b);
          accepted++;
          expect([...encodeInsns(insns)]).toStrictEqual([...b]);
        } catch (e) {
          if (!(e instanceof InsnDecodeError)) throw e;
          rejected++;
        }
      }),
      { numRuns: 5_000 },
    );
    // Both outcomes must actually occur, or the property proves nothing.
    expect(accepted).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(100);
  });

  it('decodes a large buffer in linear time', () => {
    const program = encodeInsns(
      Array.from({ length: 100_000 }, (_, k) =>
        k % 2 === 0
          ? { kind: 'ld_imm64' as const, pseudo: 'imm64' as const, dst: 1 as const, imm: BigInt(k) }
          : { kind: 'exit' as const },
      ),
    );
    const start = performance.now();
    const { insns, slots } = decodeInsnSlots(program);
    expect(insns.length).toBe(100_000);
    expect(slots[99_999]).toBe(149_999);
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});
