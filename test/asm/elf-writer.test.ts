import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { R_BPF, SHF, SHT, STB, STT } from '../../src/asm/elf.js';
import { readElf } from '../../src/asm/elf-reader.js';
import { type ElfFileSpec, ElfWriteError, writeElf } from '../../src/asm/elf-writer.js';
import {
  llvmReadelfAll,
  llvmRelocations,
  llvmSections,
  llvmSymbols,
  withTempObject,
} from './elf-llvm-tools.js';

const code = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

/** Two program sections, a map section, license, one REL: the shape of an eBPF object. */
const sample: ElfFileSpec = {
  sections: [
    {
      kind: 'data',
      name: 'sockops',
      type: SHT.PROGBITS,
      flags: SHF.ALLOC | SHF.EXECINSTR,
      align: 8,
      data: code,
    },
    {
      kind: 'rel',
      name: '.relsockops',
      target: 'sockops',
      relocations: [{ offset: 0, symbol: 2, type: R_BPF.R_BPF_64_64 }],
    },
    {
      kind: 'data',
      name: '.maps',
      type: SHT.PROGBITS,
      flags: SHF.WRITE | SHF.ALLOC,
      align: 8,
      data: new Uint8Array(32),
    },
    {
      kind: 'data',
      name: 'license',
      type: SHT.PROGBITS,
      flags: SHF.WRITE | SHF.ALLOC,
      align: 1,
      data: new TextEncoder().encode('GPL\0'),
    },
  ],
  symbols: [
    { name: 'prog', bind: STB.GLOBAL, type: STT.FUNC, section: 'sockops', value: 0, size: 16 },
    { name: 'LBB0_1', bind: STB.LOCAL, type: STT.NOTYPE, section: 'sockops', value: 8, size: 0 },
    { name: 'my_map', bind: STB.GLOBAL, type: STT.OBJECT, section: '.maps', value: 0, size: 32 },
    { name: '', bind: STB.LOCAL, type: STT.SECTION, section: 'sockops', value: 0, size: 0 },
  ],
};

describe('writeElf', () => {
  it('writes the clang layout: null, .strtab as shstrtab, sections in order, .symtab last, headers 8-aligned at the end', () => {
    const bytes = writeElf(sample);
    const view = new DataView(bytes.buffer);
    expect([...bytes.subarray(0, 8)]).toEqual([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
    expect(view.getUint16(0x10, true)).toBe(1); // ET_REL
    expect(view.getUint16(0x12, true)).toBe(247); // EM_BPF
    const shoff = Number(view.getBigUint64(0x28, true));
    expect(shoff % 8).toBe(0);
    expect(view.getUint16(0x3c, true)).toBe(7);
    expect(shoff + 7 * 64).toBe(bytes.length);
    expect(view.getUint16(0x3e, true)).toBe(1);
    const elf = readElf(bytes);
    expect(elf.sections.map((s) => s.name)).toEqual([
      '',
      '.strtab',
      'sockops',
      '.relsockops',
      '.maps',
      'license',
      '.symtab',
    ]);
    expect(elf.symtabIndex).toBe(6);
  });

  it('puts local symbols first and sets .symtab sh_info to the first global', () => {
    const elf = readElf(writeElf(sample));
    expect(elf.symbols.map((s) => s.name)).toEqual(['', 'LBB0_1', '', 'prog', 'my_map']);
    expect(elf.sections[elf.symtabIndex]?.info).toBe(3);
    expect(elf.sections[elf.symtabIndex]?.link).toBe(1);
    expect(elf.sections[elf.symtabIndex]?.entsize).toBe(24);
  });

  it('remaps relocation symbols to their final index and links REL sections to .symtab and their target', () => {
    const elf = readElf(writeElf(sample));
    const rel = elf.relocationSections[0];
    expect(rel).toEqual({
      section: 3,
      target: 2,
      relocations: [{ offset: 0, symbol: 4, type: 1 }],
    });
    expect(elf.symbols[4]?.name).toBe('my_map');
    const relSection = elf.sections[3];
    expect(relSection).toMatchObject({
      type: SHT.REL,
      flags: SHF.INFO_LINK,
      align: 8,
      entsize: 16,
      link: 6,
      info: 2,
    });
  });

  it('is read back identically by llvm-readobj and llvm-readelf -a prints no warning', () => {
    const bytes = writeElf(sample);
    const elf = readElf(bytes);
    withTempObject(bytes, (path) => {
      expect(llvmSections(path)).toEqual(
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
      );
      expect(
        llvmSymbols(path).map((s) => [s.value, s.size, s.bind, s.type, s.sectionIndex]),
      ).toEqual(elf.symbols.map((s) => [s.value, s.size, s.bind, s.type, s.sectionIndex]));
      expect(llvmRelocations(path).get(3)).toEqual([
        { offset: 0, type: 'R_BPF_64_64', symbol: 'my_map' },
      ]);
      const { stdout, stderr } = llvmReadelfAll(path);
      expect(stderr).toBe('');
      expect(stdout).not.toMatch(/warning/i);
    });
  });

  it('rejects duplicate and reserved section names, unknown sections and symbols, bad alignment', () => {
    const data = {
      kind: 'data',
      type: SHT.PROGBITS,
      flags: 0,
      align: 1,
      data: new Uint8Array(1),
    } as const;
    const attempt = (spec: ElfFileSpec) => () => writeElf(spec);
    expect(
      attempt({
        sections: [
          { ...data, name: 'a' },
          { ...data, name: 'a' },
        ],
        symbols: [],
      }),
    ).toThrow(expect.objectContaining({ code: 'ELF_WRITE_DUPLICATE_SECTION' }));
    expect(attempt({ sections: [{ ...data, name: '.symtab' }], symbols: [] })).toThrow(
      ElfWriteError,
    );
    expect(
      attempt({
        sections: [],
        symbols: [{ name: 'x', bind: 1, type: 1, section: 'nope', value: 0, size: 0 }],
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'ELF_WRITE_UNKNOWN_SECTION',
        message: expect.stringContaining('"nope"'),
      }),
    );
    expect(
      attempt({
        sections: [
          { ...data, name: 'a' },
          {
            kind: 'rel',
            name: '.rela',
            target: 'a',
            relocations: [{ offset: 0, symbol: 5, type: 1 }],
          },
        ],
        symbols: [],
      }),
    ).toThrow(expect.objectContaining({ code: 'ELF_WRITE_BAD_RELOCATION' }));
    expect(attempt({ sections: [{ ...data, name: 'a', align: 3 }], symbols: [] })).toThrow(
      expect.objectContaining({ code: 'ELF_WRITE_BAD_VALUE' }),
    );
    expect(attempt({ sections: [{ ...data, name: 'a\0b' }], symbols: [] })).toThrow(
      expect.objectContaining({ code: 'ELF_WRITE_BAD_VALUE' }),
    );
  });

  it('round-trips arbitrary section/symbol/relocation sets through readElf, and llvm-readelf accepts them', () => {
    const name = fc.stringMatching(/^[.A-Za-z_][A-Za-z0-9_.]{0,12}$/);
    const spec = fc
      .uniqueArray(
        fc.record({
          name,
          type: fc.constantFrom(SHT.PROGBITS, SHT.NOBITS, SHT.LLVM_ADDRSIG),
          flags: fc.constantFrom(0, SHF.ALLOC | SHF.EXECINSTR, SHF.WRITE | SHF.ALLOC, SHF.EXCLUDE),
          align: fc.constantFrom(1, 2, 4, 8, 16),
          data: fc.uint8Array({ maxLength: 40 }),
        }),
        { minLength: 1, maxLength: 6, selector: (s) => s.name },
      )
      .filter((sections) => sections.every((s) => s.name !== '.strtab' && s.name !== '.symtab'))
      .chain((sections) => {
        const sectionName = fc.constantFrom(...sections.map((s) => s.name));
        return fc
          .array(
            fc.record({
              name,
              bind: fc.constantFrom(STB.LOCAL, STB.GLOBAL, STB.WEAK),
              type: fc.constantFrom(STT.NOTYPE, STT.OBJECT, STT.FUNC),
              section: sectionName,
              value: fc.nat(64),
              size: fc.nat(64),
            }),
            { minLength: 1, maxLength: 8 },
          )
          .chain((symbols) =>
            fc
              .array(
                fc.record({
                  offset: fc.nat(1 << 20),
                  symbol: fc.nat(symbols.length - 1),
                  type: fc.constantFrom(1, 2, 3, 10),
                }),
                { maxLength: 5 },
              )
              .map((relocations) => ({ sections, symbols, relocations })),
          );
      });
    let checkedWithLlvm = 0;
    fc.assert(
      fc.property(spec, ({ sections, symbols, relocations }) => {
        const first = sections[0];
        if (!first) return;
        const fileSpec: ElfFileSpec = {
          sections: [
            ...sections.map((s) => ({ kind: 'data' as const, ...s })),
            { kind: 'rel' as const, name: `.rel${first.name}`, target: first.name, relocations },
          ].filter((s, i, all) => all.findIndex((t) => t.name === s.name) === i),
          symbols,
        };
        const bytes = writeElf(fileSpec);
        const elf = readElf(bytes);
        for (const s of sections) {
          const read = elf.sections.find((r) => r.name === s.name);
          expect(read).toMatchObject({
            type: s.type,
            flags: s.flags,
            align: s.align,
            size: s.data.length,
          });
          if (s.type !== SHT.NOBITS) expect(read?.data).toEqual(s.data);
          expect((read?.offset ?? 1) % s.align).toBe(0);
        }
        const locals = symbols.filter((s) => s.bind === STB.LOCAL);
        const globals = symbols.filter((s) => s.bind !== STB.LOCAL);
        expect(elf.symbols.slice(1).map((s) => s.name)).toEqual(
          [...locals, ...globals].map((s) => s.name),
        );
        expect(elf.sections[elf.symtabIndex]?.info).toBe(1 + locals.length);
        const rel = elf.relocationSections.find((r) => elf.sections[r.target]?.name === first.name);
        expect(
          rel?.relocations.map((r) => [r.offset, elf.symbols[r.symbol]?.name, r.type]),
        ).toEqual(relocations.map((r) => [r.offset, symbols[r.symbol]?.name, r.type]));
        // llvm-readelf on a sample of the cases: it must parse every file without a warning.
        if (checkedWithLlvm < 25) {
          checkedWithLlvm += 1;
          withTempObject(bytes, (path) => {
            const { stderr } = llvmReadelfAll(path);
            expect(stderr).toBe('');
            expect(llvmSections(path).map((s) => s.name)).toEqual(elf.sections.map((s) => s.name));
          });
        }
      }),
      { numRuns: 150 },
    );
  });
});
