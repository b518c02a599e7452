/**
 * `.BTF.ext`: byte layout, decoding of clang's func/line info (checked against the C sources),
 * exact re-encoding, program extraction with byte -> instruction conversion, typed errors, round
 * trips and fuzzing.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBtf } from '../../src/asm/btf.js';
import { BtfBuilder } from '../../src/asm/btf-builder.js';
import {
  type BtfExt,
  BtfExtError,
  decodeBtfExt,
  describeLineInfo,
  encodeBtfExt,
  encodeLineCol,
  insnIndexOfByteOffset,
  programBtfExt,
} from '../../src/asm/btf-ext.js';
import { addProgramFunc } from '../../src/asm/btf-program.js';
import { arbitraryBtfExt } from './btf-arbitraries.js';
import { CLANG_OBJECTS, FIXTURES, readFixtureElf } from './btf-support.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function extErrorOf(fn: () => unknown): BtfExtError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BtfExtError) return e;
    throw e;
  }
  throw new Error('expected a BtfExtError');
}

const EMPTY16 = { recSize: 16, sections: [] };

describe('encodeBtfExt', () => {
  it('writes the 32-byte header, func_info and line_info in the layout clang uses', () => {
    const ext: BtfExt = {
      funcInfo: {
        recSize: 8,
        sections: [{ secNameOff: 0x291, records: [{ insnOff: 0, typeId: 30 }] }],
      },
      lineInfo: {
        recSize: 16,
        sections: [
          {
            secNameOff: 0x291,
            records: [{ insnOff: 0x28, fileNameOff: 0x299, lineOff: 0x2c5, line: 22, col: 20 }],
          },
        ],
      },
      coreRelo: EMPTY16,
    };
    const bytes = encodeBtfExt(ext);
    // header: magic, version 1, flags 0, hdr_len 32, func 0+20, line 20+28, core_relo 48+0
    expect(hex(bytes.subarray(0, 32))).toBe(
      '9feb0100' +
        '20000000' +
        '00000000' +
        '14000000' +
        '14000000' +
        '1c000000' +
        '30000000' +
        '00000000',
    );
    // func_info: rec_size 8, sec 0x291 num 1, {0, 30} (spec §3.1 reference bytes)
    expect(hex(bytes.subarray(32, 52))).toBe(
      '08000000' + '91020000' + '01000000' + '00000000' + '1e000000',
    );
    // line_info record: spec §3.1 reference `28000000 99020000 c5020000 14580000` (line 22, col 20)
    expect(hex(bytes.subarray(32 + 20 + 12))).toBe(
      '28000000' + '99020000' + 'c5020000' + '14580000',
    );
  });

  it('packs line_col as line << 10 | col and rejects what does not fit', () => {
    expect(encodeLineCol(22, 20)).toBe(0x5814);
    expect(encodeLineCol(0x3fffff, 0x3ff)).toBe(0xffffffff);
    expect(extErrorOf(() => encodeLineCol(1, 1024)).message).toMatch(/column 1024 does not fit/);
    expect(extErrorOf(() => encodeLineCol(0x400000, 1)).code).toBe('BTF_EXT_INVALID_INPUT');
  });

  it('refuses empty sections, short record sizes and an empty .BTF.ext', () => {
    const base: BtfExt = {
      funcInfo: { recSize: 8, sections: [] },
      lineInfo: EMPTY16,
      coreRelo: EMPTY16,
    };
    expect(extErrorOf(() => encodeBtfExt(base)).message).toMatch(/omit the .BTF.ext section/);
    expect(
      extErrorOf(() =>
        encodeBtfExt({
          ...base,
          funcInfo: { recSize: 8, sections: [{ secNameOff: 1, records: [] }] },
        }),
      ).message,
    ).toMatch(/has no records/);
    expect(
      extErrorOf(() =>
        encodeBtfExt({
          ...base,
          funcInfo: {
            recSize: 6,
            sections: [{ secNameOff: 1, records: [{ insnOff: 0, typeId: 1 }] }],
          },
        }),
      ).message,
    ).toMatch(/record size 6/);
  });
});

describe.each(CLANG_OBJECTS.map((p) => [basename(p), p]))('clang .BTF.ext of %s', (_name, path) => {
  const elf = readFixtureElf(path);
  const btf = decodeBtf(elf.section('.BTF'));
  const raw = elf.section('.BTF.ext');
  const ext = decodeBtfExt(raw, btf);

  it('re-encodes byte for byte', () => {
    expect(hex(encodeBtfExt(ext))).toBe(hex(raw));
  });

  it('has one func_info per FUNC symbol, each pointing at the FUNC of that name', () => {
    const funcSymbols = elf.symbols.filter((s) => (s.info & 0xf) === 2);
    const records = ext.funcInfo.sections.flatMap((s) =>
      s.records.map((r) => ({
        section: btf.str(s.secNameOff),
        off: r.insnOff,
        name: btf.type(r.typeId).name,
      })),
    );
    expect(records.map((r) => r.name).sort()).toEqual(funcSymbols.map((s) => s.name).sort());
    for (const r of records) {
      const sym = funcSymbols.find((s) => s.name === r.name)!;
      expect(elf.sections[sym.shndx]!.name).toBe(r.section);
      expect(r.off).toBe(sym.value);
    }
  });

  it('has line_info whose text is the named line of the C source', () => {
    const dir = path.slice(0, path.lastIndexOf('/'));
    let checked = 0;
    for (const sec of ext.lineInfo.sections) {
      for (const rec of sec.records) {
        const pos = describeLineInfo(btf, rec);
        if (pos.line === 0) continue; // compiler-generated code
        const source = readFileSync(join(dir, basename(pos.file)), 'utf8').split('\n');
        expect(source[pos.line - 1]).toBe(pos.text);
        expect(pos.col).toBeLessThanOrEqual(pos.text.length + 1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3);
  });
});

describe('programBtfExt', () => {
  it('picks the records of one program of a shared section and converts byte offsets to instruction indexes', () => {
    const elf = readFixtureElf(join(FIXTURES, 'clang', 'multi.o'));
    const btf = decodeBtf(elf.section('.BTF'));
    const ext = decodeBtfExt(elf.section('.BTF.ext'), btf);
    const progs = elf.symbols
      .filter((s) => (s.info & 0xf) === 2 && elf.sections[s.shndx]!.name === 'sockops')
      .sort((a, b) => a.value - b.value);
    expect(progs.length).toBe(2);
    const second = progs[1]!;
    const size = elf.section('sockops').length - second.value;
    const info = programBtfExt(ext, btf, 'sockops', second.value, size);
    expect(info.funcInfo).toEqual([{ insnOff: 0, typeId: btf.findByName(second.name, 'func') }]);
    expect(info.lineInfo[0]!.insnOff).toBe(0);
    const all = ext.lineInfo.sections.find((s) => btf.str(s.secNameOff) === 'sockops')!.records;
    const inSecond = all.filter((r) => r.insnOff >= second.value);
    expect(info.lineInfo.map((r) => r.insnOff)).toEqual(
      inSecond.map((r) => (r.insnOff - second.value) / 8),
    );
    expect(info.lineInfoRecSize).toBe(16);
  });

  it('converts byte offsets only when they are whole instruction slots', () => {
    expect(insnIndexOfByteOffset(40)).toBe(5);
    expect(extErrorOf(() => insnIndexOfByteOffset(12)).message).toMatch(/not a multiple of 8/);
  });

  it('works on what our builder writes for a program', () => {
    const b = new BtfBuilder();
    const func = addProgramFunc(b, { name: 'bpf_sockops' });
    const sec = b.addString('sockops');
    const file = b.addString('src/programs/sockops.ts');
    const text = b.addString('  ctx.load(op)');
    const btf = decodeBtf(b.encode());
    const ext = decodeBtfExt(
      encodeBtfExt({
        funcInfo: {
          recSize: 8,
          sections: [{ secNameOff: sec, records: [{ insnOff: 0, typeId: func }] }],
        },
        lineInfo: {
          recSize: 16,
          sections: [
            {
              secNameOff: sec,
              records: [{ insnOff: 16, fileNameOff: file, lineOff: text, line: 20, col: 5 }],
            },
          ],
        },
        coreRelo: EMPTY16,
      }),
      btf,
    );
    const prog = programBtfExt(ext, btf, 'sockops', 0, 64);
    expect(prog.lineInfo).toEqual([
      { insnOff: 2, fileNameOff: file, lineOff: text, line: 20, col: 5 },
    ]);
    expect(describeLineInfo(btf, prog.lineInfo[0]!)).toEqual({
      file: 'src/programs/sockops.ts',
      text: '  ctx.load(op)',
      line: 20,
      col: 5,
    });
  });
});

describe('decodeBtfExt errors', () => {
  const good = encodeBtfExt({
    funcInfo: { recSize: 8, sections: [{ secNameOff: 1, records: [{ insnOff: 0, typeId: 4 }] }] },
    lineInfo: {
      recSize: 16,
      sections: [
        { secNameOff: 1, records: [{ insnOff: 0, fileNameOff: 1, lineOff: 1, line: 1, col: 1 }] },
      ],
    },
    coreRelo: EMPTY16,
  });
  const withU32 = (at: number, value: number) => {
    const out = good.slice();
    new DataView(out.buffer).setUint32(at, value, true);
    return out;
  };

  it('rejects short data, bad magic, version, flags and header length', () => {
    expect(extErrorOf(() => decodeBtfExt(good.subarray(0, 7)))).toMatchObject({
      code: 'BTF_EXT_TRUNCATED',
      offset: 0,
    });
    expect(extErrorOf(() => decodeBtfExt(withU32(0, 0x0001_1234)))).toMatchObject({
      code: 'BTF_EXT_BAD_MAGIC',
    });
    expect(extErrorOf(() => decodeBtfExt(withU32(0, 0x0002_eb9f)))).toMatchObject({
      code: 'BTF_EXT_UNSUPPORTED',
      offset: 2,
    });
    expect(extErrorOf(() => decodeBtfExt(withU32(0, 0x0101_eb9f)))).toMatchObject({
      code: 'BTF_EXT_UNSUPPORTED',
      offset: 3,
    });
    expect(extErrorOf(() => decodeBtfExt(withU32(4, 20)))).toMatchObject({
      code: 'BTF_EXT_BAD_HEADER',
      offset: 4,
    });
    expect(extErrorOf(() => decodeBtfExt(good.subarray(0, 32))).message).toBe(
      'BTF.ext: no data after the 32-byte header',
    );
  });

  it('rejects misaligned or out-of-range subsections', () => {
    expect(extErrorOf(() => decodeBtfExt(withU32(8, 2))).message).toMatch(
      /func_info_off 2 at offset 0x8 is not a multiple of 4/,
    );
    expect(extErrorOf(() => decodeBtfExt(withU32(20, 1000))).message).toMatch(
      /line_info .* runs past the end of the data/,
    );
  });

  it('rejects bad record sizes, zero num_info and records past the subsection', () => {
    expect(extErrorOf(() => decodeBtfExt(withU32(32, 4)))).toMatchObject({
      code: 'BTF_EXT_BAD_RECORD',
      offset: 32,
    });
    expect(extErrorOf(() => decodeBtfExt(withU32(32, 10))).message).toMatch(/multiple of 4/);
    expect(extErrorOf(() => decodeBtfExt(withU32(40, 0)))).toMatchObject({
      code: 'BTF_EXT_BAD_RECORD',
      offset: 40,
    });
    const huge = extErrorOf(() => decodeBtfExt(withU32(40, 0xffffffff)));
    expect(huge.code).toBe('BTF_EXT_TRUNCATED');
    expect(huge.message).toMatch(
      /declares 4294967295 records of 8 bytes, but only 8 bytes are left/,
    );
  });

  it('checks string offsets and FUNC ids against .BTF when given', () => {
    const b = new BtfBuilder();
    addProgramFunc(b, { name: 'p' });
    const btf = decodeBtf(b.encode());
    expect(decodeBtfExt(good, btf).funcInfo.sections[0]!.records[0]!.typeId).toBe(4);
    expect(extErrorOf(() => decodeBtfExt(withU32(48, 2), btf)).message).toMatch(
      /type id 2, which is not a FUNC/,
    );
    expect(extErrorOf(() => decodeBtfExt(withU32(68, 999), btf)).message).toMatch(
      /line_info \(insn_off 0\) file name string offset 999 is outside/,
    );
  });
});

describe('.BTF.ext properties', () => {
  it('decode(encode(ext)) equals ext, longer records keeping their extra bytes', () => {
    fc.assert(
      fc.property(arbitraryBtfExt, (ext) => {
        const bytes = encodeBtfExt(ext);
        const back = decodeBtfExt(bytes);
        expect(back).toEqual(ext);
        expect(encodeBtfExt(back)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('random and mutated inputs give a BtfExt or a BtfExtError, nothing else', () => {
    const seeds = CLANG_OBJECTS.slice(0, 3).map((p) => readFixtureElf(p).section('.BTF.ext'));
    const check = (bytes: Uint8Array) => {
      try {
        decodeBtfExt(bytes);
      } catch (e) {
        if (!(e instanceof BtfExtError)) throw e;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 1500 });
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 0xffffffff })), { minLength: 1, maxLength: 3 }),
        fc.option(fc.nat(), { nil: undefined }),
        (seed, edits, cut) => {
          const bytes = seed.slice(0, cut === undefined ? seed.length : cut % (seed.length + 1));
          const v = new DataView(bytes.buffer);
          for (const [pos, value] of edits) {
            if (bytes.length < 4) break;
            v.setUint32(pos % (bytes.length - 3), value, true);
          }
          check(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
