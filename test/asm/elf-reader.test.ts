import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bpfRelocationName } from '../../src/asm/disasm.js';
import { SHF, SHT, STB, STT } from '../../src/asm/elf.js';
import {
  ElfFormatError,
  findSection,
  MAX_ELF_NAME_LENGTH,
  readElf,
} from '../../src/asm/elf-reader.js';
import { writeElf } from '../../src/asm/elf-writer.js';
import { llvmRelocations, llvmSections, llvmSymbols } from './elf-llvm-tools.js';

const fixtureDir = join(import.meta.dirname, '../fixtures/clang');
const fixtures = ['sockmap.o', 'multi.o', 'loop.o'];

/** A small valid object to corrupt. */
function smallObject(): Uint8Array {
  return writeElf({
    sections: [
      {
        kind: 'data',
        name: 'sockops',
        type: SHT.PROGBITS,
        flags: SHF.ALLOC | SHF.EXECINSTR,
        align: 8,
        data: new Uint8Array(16),
      },
      {
        kind: 'rel',
        name: '.relsockops',
        target: 'sockops',
        relocations: [{ offset: 0, symbol: 1, type: 1 }],
      },
      {
        kind: 'data',
        name: '.maps',
        type: SHT.PROGBITS,
        flags: SHF.WRITE | SHF.ALLOC,
        align: 8,
        data: new Uint8Array(8),
      },
    ],
    symbols: [
      { name: 'prog', bind: STB.GLOBAL, type: STT.FUNC, section: 'sockops', value: 0, size: 16 },
      { name: 'm', bind: STB.GLOBAL, type: STT.OBJECT, section: '.maps', value: 0, size: 8 },
    ],
  });
}

function corrupt(bytes: Uint8Array, edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  edit(new DataView(copy.buffer), copy);
  return copy;
}

function readError(bytes: Uint8Array): ElfFormatError {
  try {
    readElf(bytes);
  } catch (error) {
    if (error instanceof ElfFormatError) return error;
    throw error;
  }
  throw new Error('readElf accepted the input');
}

describe('readElf on clang objects', () => {
  it.each(fixtures)('%s: every section header equals llvm-readobj', (file) => {
    const path = join(fixtureDir, file);
    const elf = readElf(readFileSync(path));
    expect(
      elf.sections.map(
        ({ index, name, type, flags, offset, size, link, info, align, entsize }) => ({
          index,
          name,
          type,
          flags,
          offset,
          size,
          link,
          info,
          align,
          entsize,
        }),
      ),
    ).toEqual(llvmSections(path));
    for (const section of elf.sections) {
      if (section.type !== SHT.NOBITS) expect(section.data.length).toBe(section.size);
    }
  });

  it.each(fixtures)('%s: every symbol equals llvm-readobj', (file) => {
    const path = join(fixtureDir, file);
    const elf = readElf(readFileSync(path));
    const shown = elf.symbols.map((s) => ({
      // llvm-readobj names section symbols after their section.
      name: s.type === STT.SECTION ? (elf.sections[s.sectionIndex]?.name ?? '') : s.name,
      value: s.value,
      size: s.size,
      bind: s.bind,
      type: s.type,
      other: s.other,
      sectionIndex: s.sectionIndex,
    }));
    expect(shown).toEqual(llvmSymbols(path));
  });

  it.each(fixtures)('%s: every relocation equals llvm-readobj', (file) => {
    const path = join(fixtureDir, file);
    const elf = readElf(readFileSync(path));
    const expected = llvmRelocations(path);
    expect(elf.relocationSections.map((r) => r.section)).toEqual([...expected.keys()]);
    for (const rel of elf.relocationSections) {
      const shown = rel.relocations.map((r) => {
        const symbol = elf.symbols[r.symbol];
        const name =
          symbol?.type === STT.SECTION ? elf.sections[symbol.sectionIndex]?.name : symbol?.name;
        return { offset: r.offset, type: bpfRelocationName(r.type), symbol: name };
      });
      expect(shown).toEqual(expected.get(rel.section));
    }
  });

  it('finds sockmap.o program sections, the map symbol and the .relsockops map relocation', () => {
    const elf = readElf(readFileSync(join(fixtureDir, 'sockmap.o')));
    expect(elf.fileType).toBe(1);
    expect(elf.machine).toBe(247);
    const sockops = findSection(elf, 'sockops');
    expect(sockops).toMatchObject({
      type: SHT.PROGBITS,
      flags: SHF.ALLOC | SHF.EXECINSTR,
      size: 0xe8,
    });
    const map = elf.symbols.find((s) => s.name === 'sock_ops_map');
    expect(map).toMatchObject({
      bind: STB.GLOBAL,
      type: STT.OBJECT,
      sectionIndex: findSection(elf, '.maps')?.index,
      size: 32,
    });
    const rel = elf.relocationSections.find((r) => r.target === sockops?.index);
    expect(rel?.relocations).toEqual([
      { offset: 0xb8, symbol: elf.symbols.indexOf(map as never), type: 1 },
    ]);
    expect(new TextDecoder().decode(findSection(elf, 'license')?.data)).toBe('GPL\0');
  });
});

describe('readElf on bad input', () => {
  const good = smallObject();
  const shoff = Number(new DataView(good.buffer).getBigUint64(0x28, true));

  it('reports a truncated header with the file length and the 64 bytes it expected', () => {
    const error = readError(good.subarray(0, 40));
    expect(error).toMatchObject({ code: 'ELF_TRUNCATED', offset: 40 });
    expect(error.message).toContain('64-byte ELF header');
  });

  it('rejects a wrong magic, a 32-bit class and big-endian data at their byte offsets', () => {
    expect(
      readError(
        corrupt(good, (_, b) => {
          b[1] = 0x46;
        }),
      ),
    ).toMatchObject({ code: 'ELF_BAD_MAGIC', offset: 1 });
    expect(
      readError(
        corrupt(good, (_, b) => {
          b[4] = 1;
        }),
      ),
    ).toMatchObject({ code: 'ELF_UNSUPPORTED', offset: 4 });
    expect(
      readError(
        corrupt(good, (_, b) => {
          b[5] = 2;
        }),
      ),
    ).toMatchObject({ code: 'ELF_UNSUPPORTED', offset: 5 });
  });

  it('rejects e_shentsize 0 before elfy could loop on it', () => {
    expect(readError(corrupt(good, (v) => v.setUint16(0x3a, 0, true)))).toMatchObject({
      code: 'ELF_BAD_HEADER',
      offset: 0x3a,
    });
  });

  it('rejects a section table past the end of the file and huge counts without allocating', () => {
    expect(readError(good.subarray(0, good.length - 1))).toMatchObject({
      code: 'ELF_TRUNCATED',
      offset: 0x28,
    });
    expect(readError(corrupt(good, (v) => v.setUint16(0x3c, 0xfffe, true)))).toMatchObject({
      code: 'ELF_TRUNCATED',
      offset: 0x28,
    });
    expect(readError(corrupt(good, (v) => v.setBigUint64(0x28, 1n << 62n, true)))).toMatchObject({
      code: 'ELF_UNSUPPORTED',
      offset: 0x28,
    });
  });

  it('rejects program headers with a zero entry size (elfy would loop forever)', () => {
    const bad = corrupt(good, (v) => {
      v.setBigUint64(0x20, 64n, true);
      v.setUint16(0x38, 3, true);
    });
    expect(readError(bad)).toMatchObject({ code: 'ELF_BAD_HEADER', offset: 0x36 });
  });

  it('rejects e_shstrndx out of range and a name table that is not SHT_STRTAB', () => {
    expect(readError(corrupt(good, (v) => v.setUint16(0x3e, 99, true)))).toMatchObject({
      code: 'ELF_BAD_HEADER',
      offset: 0x3e,
    });
    expect(readError(corrupt(good, (v) => v.setUint16(0x3e, 2, true)))).toMatchObject({
      code: 'ELF_BAD_SECTION',
    });
  });

  it('rejects section contents past the end of the file, naming the sh_offset field', () => {
    const at = shoff + 2 * 64; // section 2 (sockops)
    const error = readError(corrupt(good, (v) => v.setBigUint64(at + 0x20, 0x100000n, true)));
    expect(error).toMatchObject({ code: 'ELF_TRUNCATED', offset: at + 0x18 });
  });

  it('rejects a section name offset outside the string table', () => {
    const at = shoff + 2 * 64;
    expect(readError(corrupt(good, (v) => v.setUint32(at, 0xffff, true)))).toMatchObject({
      code: 'ELF_BAD_STRING',
      offset: at,
    });
  });

  it('rejects an object without a symbol table', () => {
    const symtabAt = shoff + 5 * 64;
    const error = readError(corrupt(good, (v) => v.setUint32(symtabAt + 4, SHT.PROGBITS, true)));
    expect(error.code).toBe('ELF_BAD_SYMTAB');
    expect(error.message).toContain('SHT_SYMTAB');
  });

  it('rejects a relocation naming a symbol past the symbol table', () => {
    const elf = readElf(good);
    const rel = elf.sections[3];
    const at = (rel?.offset ?? 0) + 12;
    expect(readError(corrupt(good, (v) => v.setUint32(at, 77, true)))).toMatchObject({
      code: 'ELF_BAD_RELOCATION',
      offset: at,
    });
  });

  it('rejects a symbol whose section index is past the section table', () => {
    const elf = readElf(good);
    const symtab = elf.sections[elf.symtabIndex];
    const at = (symtab?.offset ?? 0) + 24 + 6;
    expect(readError(corrupt(good, (v) => v.setUint16(at, 40, true)))).toMatchObject({
      code: 'ELF_BAD_SYMBOL',
      offset: at,
    });
  });

  it('rejects names longer than MAX_ELF_NAME_LENGTH and stays fast when thousands of names share one long run', () => {
    const long = 'n'.repeat(MAX_ELF_NAME_LENGTH + 1);
    const tooLong = writeElf({
      sections: [],
      symbols: [
        { name: long, bind: STB.GLOBAL, type: STT.NOTYPE, section: null, value: 0, size: 0 },
      ],
    });
    expect(readError(tooLong)).toMatchObject({ code: 'ELF_BAD_STRING' });

    // 20,000 symbols whose names all start inside one 4,000-byte name.
    const count = 20_000;
    const shared = 'x'.repeat(4000);
    const bytes = writeElf({
      sections: [],
      symbols: Array.from({ length: count }, (_, i) => ({
        name: i === 0 ? shared : 's',
        bind: STB.GLOBAL,
        type: STT.NOTYPE,
        section: null,
        value: 0,
        size: 0,
      })),
    });
    const elf = readElf(bytes);
    const symtab = elf.sections[elf.symtabIndex];
    const base = elf.sections[1]?.data.indexOf(0x78) ?? 0; // the shared name in .strtab
    const view = new DataView(bytes.buffer);
    for (let i = 1; i <= count; i++)
      view.setUint32((symtab?.offset ?? 0) + i * 24, base + (i % 4000), true);
    const started = Date.now();
    const names = readElf(bytes).symbols.map((s) => s.name.length);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(names[1]).toBe(3999);
  });

  it('never throws anything but ElfFormatError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, withMagic) => {
        const input =
          withMagic && bytes.length >= 6
            ? corrupt(bytes, (_, b) => b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]))
            : bytes;
        try {
          readElf(input);
        } catch (error) {
          expect(error).toBeInstanceOf(ElfFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but ElfFormatError on mutated valid objects (header, section table, symbols)', () => {
    const inputs = [good, readFileSync(join(fixtureDir, 'loop.o'))];
    const mutation = fc.record({
      input: fc.nat(inputs.length - 1),
      // Bias writes towards the header and the section table, where the bounds live.
      edits: fc.array(
        fc.record({
          region: fc.constantFrom('header', 'table', 'anywhere'),
          at: fc.nat(),
          value: fc.integer({ min: 0, max: 255 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      truncate: fc.option(fc.nat(), { nil: undefined }),
    });
    const started = Date.now();
    fc.assert(
      fc.property(mutation, ({ input, edits, truncate }) => {
        const original = inputs[input] ?? good;
        const tableAt = Number(
          new DataView(original.buffer, original.byteOffset).getBigUint64(0x28, true),
        );
        const bytes = corrupt(original, (_, b) => {
          for (const { region, at, value } of edits) {
            const position =
              region === 'header'
                ? at % 64
                : region === 'table'
                  ? tableAt + (at % (b.length - tableAt))
                  : at % b.length;
            b[position] = value;
          }
        });
        const mutated =
          truncate === undefined ? bytes : bytes.subarray(0, truncate % (bytes.length + 1));
        try {
          readElf(mutated);
        } catch (error) {
          expect(error).toBeInstanceOf(ElfFormatError);
        }
      }),
      { numRuns: 3000 },
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
