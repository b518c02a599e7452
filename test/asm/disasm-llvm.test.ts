/**
 * Our disassembly against llvm-objdump's, line for line, on whole objects: random instruction
 * streams written by writeObject (many programs per section, several sections per object, map
 * relocations) and the clang-built fixtures. The full `-d -r` output must be identical: header,
 * section and symbol lines, instruction numbers, bytes, text, branch targets, relocations.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { elfListing, formatListing } from '../../src/asm/disasm.js';
import { readElf } from '../../src/asm/elf-reader.js';
import type { InsnKind } from '../../src/asm/insn.js';
import { writeObject } from '../../src/asm/object-writer.js';
import { INSN_KINDS } from './arbitraries.js';
import {
  arbInsnWhere,
  arbStream,
  firstDifference,
  KINDS_FOR_14,
  llvm14Decodes,
  llvm19Alu32Atomic,
  llvm19Decodes,
  objdump,
  objectOfStreams,
} from './disasm-support.js';

/** Writes the streams into one object, disassembles it both ways, expects identical text. */
function crossCheck(
  streams: Parameters<typeof objectOfStreams>[0],
  tool: string,
  args: readonly string[],
): void {
  const bytes = writeObject(objectOfStreams(streams, 10));
  const theirs = objdump(tool, ['-d', '-r', ...args], bytes, 'streams.o');
  const ours = formatListing(elfListing(readElf(bytes), 'streams.o'));
  const diff = firstDifference(ours, theirs);
  expect(diff, diff).toBeUndefined();
}

// 6 objects x 40 streams = 240 streams through llvm-objdump 14 in 6 invocations.
const BATCHES = 6;
const STREAMS_PER_BATCH = 40;

describe('formatListing equals llvm-objdump -d -r', () => {
  it(`for ${BATCHES * STREAMS_PER_BATCH} random streams of what LLVM 14 decodes (llvm-objdump 14)`, () => {
    const stream = arbStream(arbInsnWhere(KINDS_FOR_14, llvm14Decodes), 30, true);
    fc.assert(
      fc.property(
        fc.array(stream, { minLength: STREAMS_PER_BATCH, maxLength: STREAMS_PER_BATCH }),
        (streams) => crossCheck(streams, 'llvm-objdump', []),
      ),
      { numRuns: BATCHES, endOnFailure: true },
    );
  });

  it('for 120 random streams of every kind LLVM 19 decodes, cpu v4 included (llvm-objdump 19)', () => {
    const kinds = INSN_KINDS.filter((k) => k !== 'load_acquire' && k !== 'store_release');
    const stream = arbStream(arbInsnWhere(kinds, llvm19Decodes), 30, true);
    fc.assert(
      fc.property(fc.array(stream, { minLength: 40, maxLength: 40 }), (streams) =>
        crossCheck(streams, 'llvm-objdump-19', ['--no-print-imm-hex']),
      ),
      { numRuns: 3, endOnFailure: true },
    );
  });

  it('for 40 streams of 32-bit atomics (llvm-objdump 19 --mattr=+alu32)', () => {
    const kinds: InsnKind[] = ['atomic'];
    const stream = arbStream(arbInsnWhere(kinds, llvm19Alu32Atomic), 20, false);
    fc.assert(
      fc.property(fc.array(stream, { minLength: 40, maxLength: 40 }), (streams) =>
        crossCheck(streams, 'llvm-objdump-19', ['--no-print-imm-hex', '--mattr=+alu32']),
      ),
      { numRuns: 1, endOnFailure: true },
    );
  });
});

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** Every clang-built object among the fixtures (their C sources and build.sh sit beside them). */
function clangObjects(): string[] {
  return readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(join(FIXTURES, d.name))
        .filter((f) => f.endsWith('.o'))
        .map((f) => join(FIXTURES, d.name, f)),
    );
}

describe('formatListing equals llvm-objdump 14 -d -r on clang objects', () => {
  const objects = clangObjects();
  it('finds the clang fixtures', () => {
    expect(objects.length).toBeGreaterThanOrEqual(3);
  });
  it.each(objects.map((o) => [o.slice(FIXTURES.length + 1), o]))('%s', (_name, path) => {
    const bytes = new Uint8Array(readFileSync(path));
    const theirs = objdump('llvm-objdump', ['-d', '-r'], bytes, 'fixture.o');
    const ours = formatListing(elfListing(readElf(bytes), 'fixture.o'));
    const diff = firstDifference(ours, theirs);
    expect(diff, diff).toBeUndefined();
  });
});
