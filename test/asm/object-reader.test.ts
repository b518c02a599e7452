import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dumpBtf } from '../../src/asm/btf-dump.js';
import { SHF, SHT, STB, STT } from '../../src/asm/elf.js';
import { ElfFormatError, findSection } from '../../src/asm/elf-reader.js';
import { encodeInsns } from '../../src/asm/encode.js';
import { type BpfObjectFile, ObjectFormatError, readObject } from '../../src/asm/object-reader.js';
import type { ObjectSpec } from '../../src/asm/object-spec.js';
import { writeObject } from '../../src/asm/object-writer.js';
import { llvmRelocations, llvmSymbols, runTool } from './elf-llvm-tools.js';
import { arbProgramSpecs, SAMPLE_MAPS, sockRedirectSpec } from './object-sample.js';

const fixtureDir = join(import.meta.dirname, '../fixtures/clang');
const fixtures = ['sockmap', 'multi', 'loop'] as const;
const readFixture = (name: string) => readObject(readFileSync(join(fixtureDir, `${name}.o`)));

/** Rows `address line column` of every sequence of the DWARF line table, by llvm-dwarfdump. */
function dwarfLineRows(path: string): Set<string>[] {
  const { stdout } = runTool('llvm-dwarfdump', ['--debug-line', path]);
  const sequences: Set<string>[] = [new Set()];
  for (const line of stdout.split('\n')) {
    const row = /^0x([0-9a-f]{16})\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s*(.*)$/.exec(line);
    if (!row) continue;
    sequences.at(-1)?.add(`${Number.parseInt(row[1] ?? '', 16)}:${row[2]}:${row[3]}`);
    if (row[4]?.includes('end_sequence')) sequences.push(new Set());
  }
  return sequences.filter((s) => s.size > 0);
}

describe('readObject on clang objects', () => {
  it.each(fixtures)(
    '%s.o: one program per FUNC symbol, at the symbol offset and size, re-encoding to the same bytes',
    (name) => {
      const path = join(fixtureDir, `${name}.o`);
      const object = readFixture(name);
      const funcs = llvmSymbols(path).filter((s) => s.type === STT.FUNC);
      expect(object.programs.map((p) => [p.name, p.offset, p.size, p.sectionIndex])).toEqual(
        funcs
          .map((f) => [f.name, f.value, f.size, f.sectionIndex])
          .sort((a, b) => Number(a[3]) - Number(b[3]) || Number(a[1]) - Number(b[1])),
      );
      for (const program of object.programs) {
        const section = object.elf.sections[program.sectionIndex];
        expect(program.bytes).toEqual(
          section?.data.subarray(program.offset, program.offset + program.size),
        );
        expect(encodeInsns(program.insns)).toEqual(program.bytes);
      }
    },
  );

  it.each(fixtures)(
    '%s.o: program relocations equal llvm-readobj, maps named by their definitions',
    (name) => {
      const path = join(fixtureDir, `${name}.o`);
      const object = readFixture(name);
      const expected = llvmRelocations(path);
      for (const section of object.elf.sections) {
        if ((section.flags & SHF.EXECINSTR) === 0 || section.size === 0) continue;
        const relSection = object.elf.relocationSections.find((r) => r.target === section.index);
        const theirs = relSection ? (expected.get(relSection.section) ?? []) : [];
        const ours = object.programs
          .filter((p) => p.sectionIndex === section.index)
          .flatMap((p) =>
            p.relocations.map((r) => ({
              offset: p.offset + r.offset,
              type: r.type === 1 ? 'R_BPF_64_64' : r.type === 10 ? 'R_BPF_64_32' : String(r.type),
              symbol: r.target.kind === 'map' ? r.target.map : r.target.name,
            })),
          );
        expect(ours).toEqual(theirs);
        for (const program of object.programs.filter((p) => p.sectionIndex === section.index)) {
          for (const rel of program.relocations) {
            expect(program.slots[rel.insn]).toBe(rel.offset / 8);
            expect(program.insns[rel.insn]?.kind).toBe(rel.type === 1 ? 'ld_imm64' : 'call');
          }
        }
      }
    },
  );

  it('sockmap.o: the SOCKHASH definition, license, programs and their func_info', () => {
    const object = readFixture('sockmap');
    expect(object.license).toBe('GPL');
    expect(object.maps).toEqual([
      expect.objectContaining({
        name: 'sock_ops_map',
        type: 18,
        keySize: 20,
        valueSize: 4,
        maxEntries: 65535,
        offset: 0,
        size: 32,
        pinning: 'none',
      }),
    ]);
    const key = object.btf?.type(object.maps[0]?.keyTypeId ?? 0);
    expect(key).toMatchObject({ kind: 'struct', name: 'sock_key', size: 20 });
    expect(object.programs.map((p) => [p.name, p.section, p.subprogram, p.funcInfo])).toEqual([
      [
        'bpf_sockops',
        'sockops',
        false,
        [{ insn: 0, typeId: expect.any(Number), name: 'bpf_sockops' }],
      ],
      ['bpf_redir', 'sk_msg', false, [{ insn: 0, typeId: expect.any(Number), name: 'bpf_redir' }]],
    ]);
    expect(object.programs[0]?.relocations).toEqual([
      { insn: 22, offset: 0xb8, type: 1, target: { kind: 'map', map: 'sock_ops_map' } },
    ]);
  });

  it('multi.o: three maps of different kinds and two programs sharing the sockops section', () => {
    const object = readFixture('multi');
    expect(object.license).toBe('Dual BSD/GPL');
    const byName = [...object.maps].sort((a, b) => a.name.localeCompare(b.name));
    expect(
      byName.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.mapFlags]),
    ).toEqual([
      ['conn_stats', 1, 8, 8, 1024, 1],
      ['counters', 2, 4, 8, 4, 0],
      ['sock_map', 15, 4, 4, 16, 0],
    ]);
    expect(object.programs.map((p) => [p.name, p.section, p.offset])).toEqual([
      ['count_ops', 'sockops', 0],
      ['add_sock', 'sockops', 0xd8],
      ['redir_msg', 'sk_msg', 0],
    ]);
    // func_info and line_info are per program, converted to instruction indexes from its start.
    const addSock = object.programs[1];
    expect(addSock?.funcInfo).toEqual([{ insn: 0, typeId: expect.any(Number), name: 'add_sock' }]);
    expect(addSock?.lineInfo[0]?.insn).toBe(0);
    expect(addSock?.relocations.map((r) => [r.insn, r.target])).toEqual([
      [8, { kind: 'map', map: 'counters' }],
      [17, { kind: 'map', map: 'sock_map' }],
    ]);
  });

  it('loop.o: the .text subprogram and the R_BPF_64_32 call relocation against .text', () => {
    const object = readFixture('loop');
    const [checksum, sumMsg] = object.programs;
    expect(checksum).toMatchObject({
      name: 'checksum',
      section: '.text',
      subprogram: true,
      offset: 0,
      size: 128,
    });
    expect(checksum?.funcInfo.map((f) => f.name)).toEqual(['checksum']);
    expect(sumMsg?.relocations).toEqual([
      { insn: 5, offset: 40, type: 1, target: { kind: 'map', map: 'sums' } },
      {
        insn: 10,
        offset: 88,
        type: 10,
        target: { kind: 'symbol', name: '.text', section: '.text', value: 0 },
      },
    ]);
    expect(sumMsg?.insns[10]).toEqual({ kind: 'call', target: 'bpf', imm: -1, off: 0 });
  });

  it.each(fixtures)('%s.o: the decoded BTF dumps exactly like bpftool btf dump file', (name) => {
    const path = join(fixtureDir, `${name}.o`);
    const object = readFixture(name);
    expect(object.btf).toBeDefined();
    if (!object.btf) return;
    expect(dumpBtf(object.btf)).toBe(runTool('bpftool', ['btf', 'dump', 'file', path]).stdout);
  });

  it.each(fixtures)(
    '%s.o: line info matches the C source text and the DWARF line table',
    (name) => {
      const path = join(fixtureDir, `${name}.o`);
      const object = readFixture(name);
      const source = readFileSync(join(fixtureDir, `${name}.c`), 'utf8').split('\n');
      const dwarf = dwarfLineRows(path);
      let checked = 0;
      for (const section of new Set(object.programs.map((p) => p.sectionIndex))) {
        const programs = object.programs.filter((p) => p.sectionIndex === section);
        const rows: { row: string; declaration: boolean }[] = [];
        for (const program of programs) {
          expect(program.lineInfo[0]?.insn).toBe(0);
          program.lineInfo.forEach((line, k) => {
            expect(line.file).toBe(`./${name}.c`); // build.sh maps the build directory to "."
            if (line.line === 0) return; // compiler-generated code has no line
            expect(line.text).toBe(source[line.line - 1]);
            checked += 1;
            rows.push({
              row: `${program.offset + (program.slots[line.insn] ?? 0) * 8}:${line.line}:${line.col}`,
              // BTF may put a function's first record on its declaration line, where DWARF has the `{` line.
              declaration: k === 0 && line.text.includes(program.name),
            });
          });
        }
        const sequence = dwarf.find((rowsOf) => rows.some((r) => rowsOf.has(r.row)));
        expect(rows.filter((r) => !r.declaration && !sequence?.has(r.row))).toEqual([]);
      }
      expect(checked).toBeGreaterThan(10);
    },
  );
});

describe('readObject on our objects', () => {
  it('reads back the hand-assembled object: programs, relocations, maps, license, func and line info', () => {
    const spec = sockRedirectSpec();
    const object = readObject(writeObject(spec));
    expect(object.license).toBe(spec.license);
    expect(object.maps).toEqual([
      expect.objectContaining({
        name: 'sock_ops_map',
        type: 18,
        keySize: 20,
        valueSize: 4,
        maxEntries: 65535,
      }),
    ]);
    expect(object.programs).toHaveLength(2);
    spec.programs.forEach((program, i) => {
      const read = object.programs[i];
      expect(read?.name).toBe(program.name);
      expect(read?.section).toBe(program.section);
      expect(read?.insns).toEqual(program.insns);
      expect(read?.relocations.map((r) => [r.insn, r.type, r.target])).toEqual(
        program.mapRefs.map((ref) => [ref.insn, 1, { kind: 'map', map: ref.map }]),
      );
      expect(read?.lineInfo).toEqual(program.lines);
      expect(read?.funcInfo).toEqual([{ insn: 0, typeId: expect.any(Number), name: program.name }]);
    });
  });

  it('round-trips random objects of the whole ISA: several programs per section, map references, line info', () => {
    fc.assert(
      fc.property(arbProgramSpecs, (programs) => {
        const spec: ObjectSpec = { license: 'GPL', maps: SAMPLE_MAPS, programs };
        const object: BpfObjectFile = readObject(writeObject(spec));
        // Programs come back grouped by section in first-use order.
        const order = [...new Set(programs.map((p) => p.section))].flatMap((s) =>
          programs.filter((p) => p.section === s),
        );
        expect(object.programs.map((p) => p.name)).toEqual(order.map((p) => p.name));
        for (const expected of order) {
          const read = object.programs.find((p) => p.name === expected.name);
          expect(read?.insns).toEqual(expected.insns);
          expect(read?.relocations.map((r) => [r.insn, r.target])).toEqual(
            expected.mapRefs.map((r) => [r.insn, { kind: 'map', map: r.map }]),
          );
          const hasExt = programs.some((p) => (p.lines ?? []).length > 0);
          expect(read?.lineInfo).toEqual(expected.lines);
          expect(read?.funcInfo.map((f) => f.name)).toEqual(hasExt ? [expected.name] : []);
        }
        expect(object.maps.map((m) => [m.name, m.type, m.maxEntries])).toEqual(
          SAMPLE_MAPS.map((m) => [m.name, m.type, m.maxEntries]),
        );
      }),
      { numRuns: 150 },
    );
  });
});

describe('readObject on bad input', () => {
  const good = writeObject(sockRedirectSpec());
  const goodElf = readObject(good).elf;

  function readError(bytes: Uint8Array): Error {
    try {
      readObject(bytes);
    } catch (error) {
      if (error instanceof ObjectFormatError || error instanceof ElfFormatError) return error;
      throw error;
    }
    throw new Error('readObject accepted the input');
  }
  const patch = (edit: (view: DataView) => void) => {
    const copy = good.slice();
    edit(new DataView(copy.buffer));
    return copy;
  };
  const symbolAt = (name: string) => {
    const symtab = goodElf.sections[goodElf.symtabIndex];
    return (symtab?.offset ?? 0) + goodElf.symbols.findIndex((s) => s.name === name) * 24;
  };

  it('rejects objects that are not eBPF relocatable objects', () => {
    expect(readError(patch((v) => v.setUint16(0x12, 62, true)))).toMatchObject({
      code: 'OBJECT_NOT_BPF',
      offset: 0x12,
    });
    expect(readError(patch((v) => v.setUint16(0x10, 2, true)))).toMatchObject({
      code: 'OBJECT_NOT_BPF',
      offset: 0x10,
    });
  });

  it('rejects a program symbol whose size is not a multiple of 8 or runs past its section', () => {
    const at = symbolAt('bpf_sockops');
    expect(readError(patch((v) => v.setBigUint64(at + 16, 12n, true)))).toMatchObject({
      code: 'OBJECT_BAD_PROGRAM',
      offset: at,
    });
    expect(readError(patch((v) => v.setBigUint64(at + 16, 4096n, true))).message).toContain(
      'inside the 232-byte section',
    );
  });

  it('rejects invalid instructions with the file offset of the bad slot', () => {
    const sockops = findSection(goodElf, 'sockops');
    const at = (sockops?.offset ?? 0) + 8;
    const error = readError(patch((v) => v.setUint8(at, 0xff)));
    expect(error).toMatchObject({ code: 'OBJECT_BAD_INSNS', offset: at });
    expect(error.message).toContain('bpf_sockops');
  });

  it('rejects a relocation that does not start an instruction', () => {
    const rel = findSection(goodElf, '.relsockops');
    const error = readError(patch((v) => v.setBigUint64(rel?.offset ?? 0, BigInt(22 * 8), true)));
    expect(error).toMatchObject({ code: 'OBJECT_BAD_RELOCATION', offset: rel?.offset });
  });

  it('rejects a map relocation against a .maps offset where no map starts', () => {
    const at = symbolAt('sock_ops_map');
    expect(readError(patch((v) => v.setBigUint64(at + 8, 8n, true)))).toMatchObject({
      code: 'OBJECT_BAD_RELOCATION',
    });
  });

  it('rejects corrupted .BTF and .BTF.ext with offsets inside those sections', () => {
    const btf = findSection(goodElf, '.BTF');
    const bad = readError(patch((v) => v.setUint16(btf?.offset ?? 0, 0x1234, true)));
    expect(bad).toMatchObject({ code: 'OBJECT_BAD_BTF', offset: btf?.offset });
    const ext = findSection(goodElf, '.BTF.ext');
    const badExt = readError(patch((v) => v.setUint32((ext?.offset ?? 0) + 4, 4, true)));
    expect(badExt).toMatchObject({ code: 'OBJECT_BAD_BTF_EXT', offset: (ext?.offset ?? 0) + 4 });
  });

  it('rejects .maps without .BTF, as libbpf does', () => {
    const shoff = Number(new DataView(good.buffer).getBigUint64(0x28, true));
    const btfIndex = findSection(goodElf, '.BTF')?.index ?? 0;
    const extIndex = findSection(goodElf, '.BTF.ext')?.index ?? 0;
    const renamed = patch((v) => {
      // Point the names of .BTF and .BTF.ext at "license" so the object has neither.
      const licenseName = v.getUint32(
        shoff + (findSection(goodElf, 'license')?.index ?? 0) * 64,
        true,
      );
      v.setUint32(shoff + btfIndex * 64, licenseName + 7, true); // the empty string after "license"
      v.setUint32(shoff + extIndex * 64, licenseName + 7, true);
    });
    expect(readError(renamed)).toMatchObject({ code: 'OBJECT_MISSING_BTF' });
  });

  it('never throws anything but ElfFormatError/ObjectFormatError on mutated objects (ours and clang)', () => {
    const inputs = [
      good,
      readFileSync(join(fixtureDir, 'sockmap.o')),
      readFileSync(join(fixtureDir, 'loop.o')),
    ];
    const regions = inputs.map((bytes) => {
      const elf = readObject(bytes).elf;
      return ['.BTF', '.BTF.ext', '.symtab', 'sockops', 'sk_msg', '.relsockops', '.relsk_msg']
        .map((name) => findSection(elf, name))
        .filter((s) => s !== undefined && s.size > 0)
        .map((s) => [s?.offset ?? 0, s?.size ?? 1] as const);
    });
    let accepted = 0;
    const started = Date.now();
    fc.assert(
      fc.property(
        fc.nat(inputs.length - 1),
        fc.array(
          fc.record({ region: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
          { minLength: 1, maxLength: 4 },
        ),
        (input, edits) => {
          const bytes = (inputs[input] ?? good).slice();
          const places = regions[input] ?? [];
          for (const { region, at, value } of edits) {
            const [start, size] = places[region % places.length] ?? [0, bytes.length];
            bytes[start + (at % size)] = value;
          }
          try {
            readObject(bytes);
            accepted += 1;
          } catch (error) {
            if (!(error instanceof ElfFormatError || error instanceof ObjectFormatError))
              throw error;
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(Date.now() - started).toBeLessThan(60_000);
    // Some mutations (inside instruction immediates, say) keep the object valid: the fuzzer reaches the end.
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('readObject sanity of symbol classification', () => {
  it('treats LOCAL functions as subprograms and GLOBAL ones as programs', () => {
    const object = readFixture('loop');
    const checksum = object.elf.symbols.find((s) => s.name === 'checksum');
    expect(checksum?.bind).toBe(STB.LOCAL);
    expect(object.elf.sections[checksum?.sectionIndex ?? 0]?.type).toBe(SHT.PROGBITS);
  });
});
