import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBtf } from '../../src/asm/btf.js';
import { dumpBtf } from '../../src/asm/btf-dump.js';
import { decodeBtfExt } from '../../src/asm/btf-ext.js';
import { R_BPF, SHF, SHT, STB, STT } from '../../src/asm/elf.js';
import { findSection, readElf } from '../../src/asm/elf-reader.js';
import { encodeInsns } from '../../src/asm/encode.js';
import type { Insn } from '../../src/asm/insn.js';
import type { ObjectSpec, ProgramSpec } from '../../src/asm/object-spec.js';
import { insnByteOffsets, ObjectSpecError, writeObject } from '../../src/asm/object-writer.js';
import { llvmReadelfAll, runTool, withTempObject } from './elf-llvm-tools.js';
import {
  arbProgramSpecs,
  SAMPLE_MAPS,
  SK_MSG_INSNS,
  SOCKOPS_INSNS,
  sockRedirectSpec,
} from './object-sample.js';

const exit: Insn = { kind: 'exit' };
const ret0: Insn = { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } };
const mapLoad: Insn = { kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 0n };

function withProgram(spec: ObjectSpec, change: Partial<ProgramSpec>): ObjectSpec {
  const [first, ...rest] = spec.programs;
  if (!first) throw new Error('sample has programs');
  return { ...spec, programs: [{ ...first, ...change }, ...rest] };
}

function specError(spec: ObjectSpec): ObjectSpecError {
  try {
    writeObject(spec);
  } catch (error) {
    if (error instanceof ObjectSpecError) return error;
    throw error;
  }
  throw new Error('writeObject accepted the spec');
}

describe('writeObject', () => {
  const bytes = writeObject(sockRedirectSpec());
  const elf = readElf(bytes);

  it('lays out the sections of spec §7 with their types, flags and alignments', () => {
    const shape = elf.sections.map((s) => [s.name, s.type, s.flags, s.align, s.entsize]);
    expect(shape).toEqual([
      ['', SHT.NULL, 0, 0, 0],
      ['.strtab', SHT.STRTAB, 0, 1, 0],
      ['sockops', SHT.PROGBITS, SHF.ALLOC | SHF.EXECINSTR, 8, 0],
      ['.relsockops', SHT.REL, SHF.INFO_LINK, 8, 16],
      ['sk_msg', SHT.PROGBITS, SHF.ALLOC | SHF.EXECINSTR, 8, 0],
      ['.relsk_msg', SHT.REL, SHF.INFO_LINK, 8, 16],
      ['.maps', SHT.PROGBITS, SHF.WRITE | SHF.ALLOC, 8, 0],
      ['license', SHT.PROGBITS, SHF.WRITE | SHF.ALLOC, 1, 0],
      ['.BTF', SHT.PROGBITS, 0, 4, 0],
      ['.BTF.ext', SHT.PROGBITS, 0, 4, 0],
      ['.symtab', SHT.SYMTAB, 0, 8, 24],
    ]);
  });

  it('writes the encoded instructions, a zero-filled .maps of 8 bytes per field and the license with its NUL', () => {
    expect(findSection(elf, 'sockops')?.data).toEqual(encodeInsns(SOCKOPS_INSNS));
    expect(findSection(elf, 'sk_msg')?.data).toEqual(encodeInsns(SK_MSG_INSNS));
    // type, key, value_size, max_entries: four fields.
    expect(findSection(elf, '.maps')?.data).toEqual(new Uint8Array(32));
    expect(new TextDecoder().decode(findSection(elf, 'license')?.data)).toBe('Dual BSD/GPL\0');
  });

  it('gives each program a GLOBAL FUNC symbol of its exact size and each map a GLOBAL OBJECT symbol', () => {
    const named = (name: string) => elf.symbols.find((s) => s.name === name);
    expect(named('bpf_sockops')).toMatchObject({
      bind: STB.GLOBAL,
      type: STT.FUNC,
      value: 0,
      size: 29 * 8,
      sectionIndex: 2,
    });
    expect(named('bpf_redir')).toMatchObject({
      bind: STB.GLOBAL,
      type: STT.FUNC,
      value: 0,
      size: 25 * 8,
      sectionIndex: 4,
    });
    expect(named('sock_ops_map')).toMatchObject({
      bind: STB.GLOBAL,
      type: STT.OBJECT,
      value: 0,
      size: 32,
      sectionIndex: 6,
    });
  });

  it('relocates each map reference with R_BPF_64_64 at the byte offset of its ld_imm64, against the map symbol', () => {
    const mapSymbol = elf.symbols.findIndex((s) => s.name === 'sock_ops_map');
    expect(elf.relocationSections).toEqual([
      {
        section: 3,
        target: 2,
        relocations: [{ offset: 21 * 8, symbol: mapSymbol, type: R_BPF.R_BPF_64_64 }],
      },
      {
        section: 5,
        target: 4,
        relocations: [{ offset: 18 * 8, symbol: mapSymbol, type: R_BPF.R_BPF_64_64 }],
      },
    ]);
  });

  it('describes the map and one FUNC per program in .BTF, and func/line info in .BTF.ext with section byte offsets', () => {
    const btf = decodeBtf(findSection(elf, '.BTF')?.data ?? new Uint8Array());
    const datasec = btf.type(btf.findByName('.maps', 'datasec') ?? 0);
    expect(datasec).toMatchObject({ kind: 'datasec', size: 32 });
    const func = btf.type(btf.findByName('bpf_sockops', 'func') ?? 0);
    expect(func).toMatchObject({ kind: 'func', linkage: 'global' });
    const proto = func.kind === 'func' ? btf.type(func.type) : undefined;
    expect(proto).toMatchObject({ kind: 'func_proto', params: [{ name: 'skops' }] });

    const ext = decodeBtfExt(findSection(elf, '.BTF.ext')?.data ?? new Uint8Array(), btf);
    expect(ext.funcInfo.recSize).toBe(8);
    expect(
      ext.funcInfo.sections.map((s) => [
        btf.str(s.secNameOff),
        s.records.map((r) => [r.insnOff, btf.type(r.typeId).name]),
      ]),
    ).toEqual([
      ['sockops', [[0, 'bpf_sockops']]],
      ['sk_msg', [[0, 'bpf_redir']]],
    ]);
    const sockopsLines = ext.lineInfo.sections[0];
    expect(btf.str(sockopsLines?.secNameOff ?? 0)).toBe('sockops');
    const offsets = insnByteOffsets(SOCKOPS_INSNS);
    expect(
      sockopsLines?.records.map((r) => [
        r.insnOff,
        btf.str(r.fileNameOff),
        r.line,
        r.col,
        btf.str(r.lineOff),
      ]),
    ).toEqual(
      sockRedirectSpec().programs[0]?.lines?.map((l) => [
        offsets[l.insn],
        l.file,
        l.line,
        l.col,
        l.text,
      ]),
    );
    // The last sockops line sits after the ld_imm64: instruction 26 starts at slot 27.
    expect(sockopsLines?.records.at(-1)?.insnOff).toBe(27 * 8);
  });

  it('is accepted by llvm-readelf without a warning and llvm-objdump shows the relocations on the ld_imm64', () => {
    withTempObject(bytes, (path) => {
      const { stdout, stderr } = llvmReadelfAll(path);
      expect(stderr).toBe('');
      expect(stdout).not.toMatch(/warning/i);
      const listing = runTool('llvm-objdump', ['-d', '-r', path]).stdout;
      expect(listing).toContain(
        '      21:\t18 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr2 = 0 ll\n\t\t00000000000000a8:  R_BPF_64_64\tsock_ops_map\n',
      );
      expect(listing).toContain(
        '      18:\t18 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr2 = 0 ll\n\t\t0000000000000090:  R_BPF_64_64\tsock_ops_map\n',
      );
    });
  });

  it('puts programs of the same section back to back, with offsets in symbols, relocations and func_info', () => {
    const spec: ObjectSpec = {
      license: 'GPL',
      maps: [
        { name: 'a', type: 1, key: 4, value: 8, maxEntries: 16 },
        { name: 'b', type: 2, key: 4, value: 4, maxEntries: 1, flags: 1024, pinning: 'by_name' },
      ],
      programs: [
        {
          name: 'first',
          section: 'sockops',
          insns: [ret0, exit],
          mapRefs: [],
          lines: [{ insn: 0, file: 'x.ts', line: 1, col: 1, text: 'one' }],
        },
        {
          name: 'second',
          section: 'sockops',
          insns: [ret0, mapLoad, exit],
          mapRefs: [{ insn: 1, map: 'b' }],
          lines: [
            { insn: 0, file: 'x.ts', line: 5, col: 3, text: 'five' },
            { insn: 2, file: 'y.ts', line: 9, col: 1, text: 'nine' },
          ],
        },
      ],
    };
    const out = readElf(writeObject(spec));
    expect(out.sections.filter((s) => s.name === 'sockops')).toHaveLength(1);
    expect(
      out.symbols.filter((s) => s.type === STT.FUNC).map((s) => [s.name, s.value, s.size]),
    ).toEqual([
      ['first', 0, 16],
      ['second', 16, 32],
    ]);
    const b = out.symbols.findIndex((s) => s.name === 'b');
    expect(out.symbols[b]).toMatchObject({ value: 32, size: 48 }); // map a has 4 fields, b 6 (flags, pinning)
    expect(out.relocationSections[0]?.relocations).toEqual([{ offset: 24, symbol: b, type: 1 }]);
    const btf = decodeBtf(findSection(out, '.BTF')?.data ?? new Uint8Array());
    const ext = decodeBtfExt(findSection(out, '.BTF.ext')?.data ?? new Uint8Array(), btf);
    expect(ext.funcInfo.sections[0]?.records.map((r) => r.insnOff)).toEqual([0, 16]);
    expect(ext.lineInfo.sections[0]?.records.map((r) => [r.insnOff, r.line])).toEqual([
      [0, 1],
      [16, 5],
      [40, 9],
    ]);
  });

  it('omits .BTF.ext, .maps and relocation sections it does not need', () => {
    const out = readElf(
      writeObject({
        license: 'GPL',
        maps: [],
        programs: [{ name: 'p', section: 'sk_msg', insns: [ret0, exit], mapRefs: [] }],
      }),
    );
    expect(out.sections.map((s) => s.name)).toEqual([
      '',
      '.strtab',
      'sk_msg',
      'license',
      '.BTF',
      '.symtab',
    ]);
  });

  it('rejects names the kernel or bpffs would refuse, and duplicates', () => {
    const spec = sockRedirectSpec();
    expect(specError(withProgram(spec, { name: 'a_name_of_16_chr' }))).toMatchObject({
      code: 'OBJECT_BAD_NAME',
    });
    expect(specError(withProgram(spec, { name: 'has.dot' })).message).toContain('[A-Za-z0-9_]');
    expect(specError(withProgram(spec, { name: 'sock_ops_map' }))).toMatchObject({
      code: 'OBJECT_DUPLICATE_NAME',
    });
    expect(
      specError({ ...spec, maps: [{ name: 'bad-map', type: 1, key: 4, value: 4, maxEntries: 1 }] }),
    ).toMatchObject({
      code: 'OBJECT_BAD_NAME',
    });
  });

  it('rejects reserved or empty section names and bad licenses', () => {
    const spec = sockRedirectSpec();
    for (const section of ['', '.maps', 'maps', 'license', '.BTF', '.relsockops']) {
      expect(specError(withProgram(spec, { section }))).toMatchObject({
        code: 'OBJECT_BAD_SECTION',
      });
    }
    expect(specError({ ...spec, license: '' })).toMatchObject({ code: 'OBJECT_BAD_LICENSE' });
    expect(specError({ ...spec, license: 'GPL\0' })).toMatchObject({ code: 'OBJECT_BAD_LICENSE' });
    expect(specError({ ...spec, license: 'x'.repeat(64) })).toMatchObject({
      code: 'OBJECT_BAD_LICENSE',
    });
  });

  it('rejects map references to unknown maps, outside the program, or not on a plain ld_imm64 with imm 0', () => {
    const spec = sockRedirectSpec();
    expect(
      specError(withProgram(spec, { mapRefs: [{ insn: 21, map: 'nope' }] })).message,
    ).toContain('"nope"');
    expect(
      specError(withProgram(spec, { mapRefs: [{ insn: 99, map: 'sock_ops_map' }] })),
    ).toMatchObject({ code: 'OBJECT_BAD_MAP_REF' });
    const onMov = specError(withProgram(spec, { mapRefs: [{ insn: 20, map: 'sock_ops_map' }] }));
    expect(onMov).toMatchObject({ code: 'OBJECT_BAD_MAP_REF' });
    expect(onMov.message).toContain('is on an instruction of kind alu;');
    const insns = [...SOCKOPS_INSNS];
    insns[21] = { kind: 'ld_imm64', pseudo: 'map_fd', dst: 2, imm: 3n };
    expect(specError(withProgram(spec, { insns })).message).toContain(
      'an ld_imm64 of kind map_fd with imm 3',
    );
    expect(
      specError(
        withProgram(spec, {
          mapRefs: [
            { insn: 21, map: 'sock_ops_map' },
            { insn: 21, map: 'sock_ops_map' },
          ],
        }),
      ),
    ).toMatchObject({ code: 'OBJECT_BAD_MAP_REF' });
  });

  it('rejects line info that does not start at instruction 0, is unsorted, out of range or has unrepresentable positions', () => {
    const spec = sockRedirectSpec();
    const line = { file: 'f.ts', text: 't', line: 1, col: 1 };
    const attempt = (lines: ProgramSpec['lines']) => specError(withProgram(spec, { lines }));
    expect(attempt([{ ...line, insn: 1 }]).message).toContain('must be at instruction 0');
    expect(
      attempt([
        { ...line, insn: 0 },
        { ...line, insn: 5 },
        { ...line, insn: 5 },
      ]),
    ).toMatchObject({ code: 'OBJECT_BAD_LINE' });
    expect(
      attempt([
        { ...line, insn: 0 },
        { ...line, insn: 28 },
      ]),
    ).toMatchObject({ code: 'OBJECT_BAD_LINE' });
    expect(attempt([{ ...line, insn: 0, col: 1024 }]).message).toContain('column 1024');
    expect(attempt([{ ...line, insn: 0, line: 1 << 22 }])).toMatchObject({
      code: 'OBJECT_BAD_LINE',
    });
  });

  it('rejects empty programs and instructions that cannot be encoded, naming the program', () => {
    const spec = sockRedirectSpec();
    expect(specError(withProgram(spec, { insns: [], mapRefs: [], lines: [] }))).toMatchObject({
      code: 'OBJECT_EMPTY_PROGRAM',
    });
    const bad = specError(
      withProgram(spec, {
        insns: [{ kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 2 ** 40 } }, exit],
        mapRefs: [],
        lines: [],
      }),
    );
    expect(bad).toMatchObject({ code: 'OBJECT_BAD_INSN' });
    expect(bad.message).toContain('program bpf_sockops');
  });

  it('writes random objects that llvm-readelf reads without a warning and whose BTF bpftool dumps like we do', () => {
    fc.assert(
      fc.property(arbProgramSpecs, (programs) => {
        const bytes = writeObject({ license: 'GPL', maps: SAMPLE_MAPS, programs });
        withTempObject(bytes, (path) => {
          const { stdout, stderr } = llvmReadelfAll(path);
          expect(stderr).toBe('');
          expect(stdout).not.toMatch(/warning/i);
          const btf = decodeBtf(findSection(readElf(bytes), '.BTF')?.data ?? new Uint8Array());
          expect(runTool('bpftool', ['btf', 'dump', 'file', path]).stdout).toBe(dumpBtf(btf));
        });
      }),
      { numRuns: 25 },
    );
  });
});
