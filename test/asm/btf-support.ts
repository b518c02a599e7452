/**
 * Test support for the BTF tests: reads sections and symbols out of clang-built fixture objects
 * with a minimal ELF64 little-endian parser (so these tests do not depend on the project's ELF
 * reader), and runs bpftool's raw BTF dump for cross-checks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Root of the test fixtures. */
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** A section of an ELF file: name, type and bytes. */
export interface FixtureSection {
  readonly name: string;
  readonly type: number;
  readonly bytes: Uint8Array;
}

/** A symbol of an ELF file (the fields the BTF tests need). */
export interface FixtureSymbol {
  readonly name: string;
  readonly info: number;
  readonly shndx: number;
  readonly value: number;
}

/** Sections and symbols of an ELF64 LE relocatable object. */
export interface FixtureElf {
  readonly sections: readonly FixtureSection[];
  readonly symbols: readonly FixtureSymbol[];
  section(name: string): Uint8Array;
}

function cstr(bytes: Uint8Array, at: number): string {
  const end = bytes.indexOf(0, at);
  return new TextDecoder().decode(bytes.subarray(at, end < 0 ? bytes.length : end));
}

/** Parses an ELF64 LE object file well enough for the tests. */
export function readFixtureElf(path: string): FixtureElf {
  const bytes = new Uint8Array(readFileSync(path));
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(v.getBigUint64(0x28, true));
  const shnum = v.getUint16(0x3c, true);
  const shstrndx = v.getUint16(0x3e, true);
  const hdr = (i: number) => {
    const at = shoff + 64 * i;
    return {
      name: v.getUint32(at, true),
      type: v.getUint32(at + 4, true),
      offset: Number(v.getBigUint64(at + 24, true)),
      size: Number(v.getBigUint64(at + 32, true)),
      link: v.getUint32(at + 40, true),
    };
  };
  const strtab = hdr(shstrndx);
  const names = bytes.subarray(strtab.offset, strtab.offset + strtab.size);
  const sections: FixtureSection[] = [];
  const symbols: FixtureSymbol[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = hdr(i);
    const data =
      h.type === 8 ? new Uint8Array(h.size) : bytes.subarray(h.offset, h.offset + h.size);
    sections.push({ name: cstr(names, h.name), type: h.type, bytes: data });
    if (h.type === 2) {
      const str = hdr(h.link);
      const symNames = bytes.subarray(str.offset, str.offset + str.size);
      for (let at = h.offset; at < h.offset + h.size; at += 24) {
        symbols.push({
          name: cstr(symNames, v.getUint32(at, true)),
          info: v.getUint8(at + 4),
          shndx: v.getUint16(at + 6, true),
          value: Number(v.getBigUint64(at + 8, true)),
        });
      }
    }
  }
  return {
    sections,
    symbols,
    section(name: string) {
      const s = sections.find((x) => x.name === name);
      if (!s) throw new Error(`${path}: no section ${name}`);
      return s.bytes;
    },
  };
}

/** name -> st_value of the GLOBAL/WEAK STT_OBJECT symbols (what libbpf matches BTF VARs with). */
export function objectSymbolOffsets(elf: FixtureElf): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of elf.symbols) {
    const bind = s.info >> 4;
    if ((s.info & 0xf) === 1 && (bind === 1 || bind === 2)) out.set(s.name, s.value);
  }
  return out;
}

/** ELF section name -> size. */
export function sectionSizes(elf: FixtureElf): Map<string, number> {
  return new Map(elf.sections.map((s) => [s.name, s.bytes.length]));
}

/** `bpftool btf dump file PATH` (raw format). */
export function bpftoolBtfDump(path: string): string {
  return execFileSync('bpftool', ['btf', 'dump', 'file', path], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
}

/** `bpftool btf dump file` of raw `.BTF` bytes (bpftool recognises raw BTF by its magic). */
export function bpftoolDumpRaw(btf: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-btf-'));
  try {
    const file = join(dir, 'raw.btf');
    writeFileSync(file, btf);
    return bpftoolBtfDump(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The clang-built objects whose BTF the tests decode. */
export const CLANG_OBJECTS = [
  join(FIXTURES, 'clang', 'sockmap.o'),
  join(FIXTURES, 'clang', 'multi.o'),
  join(FIXTURES, 'clang', 'loop.o'),
  join(FIXTURES, 'btf', 'kinds.o'),
  join(FIXTURES, 'btf', 'maps.o'),
];
