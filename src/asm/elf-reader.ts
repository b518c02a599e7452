/**
 * Reads little-endian ELF64 files: the section table (decoded by `elfy`, after this module has
 * checked every bound elfy would trust), the symbol table and REL relocations (decoded here).
 * Garbage never crashes, hangs or allocates without bound: every count and offset is checked
 * against the file size before it is used, and failures are ElfFormatError with the byte offset of
 * the field that is wrong and what was expected there. Record layouts are documented in elf.ts.
 */
import elfy, { type ElfyFile } from 'elfy';
import {
  ELF_HEADER_SIZE,
  ELF_MAGIC,
  ELFCLASS64,
  ELFDATA2LSB,
  type ElfRelocation,
  type ElfSymbol,
  PROGRAM_HEADER_SIZE,
  REL_SIZE,
  SECTION_HEADER_SIZE,
  SHN,
  SHT,
  SYMBOL_SIZE,
} from './elf.js';

/** What is wrong with an ELF file. */
export type ElfFormatErrorCode =
  | 'ELF_TRUNCATED'
  | 'ELF_BAD_MAGIC'
  | 'ELF_UNSUPPORTED'
  | 'ELF_BAD_HEADER'
  | 'ELF_BAD_SECTION'
  | 'ELF_BAD_STRING'
  | 'ELF_BAD_SYMTAB'
  | 'ELF_BAD_SYMBOL'
  | 'ELF_BAD_RELOCATION'
  | 'ELF_PARSE_FAILED';

/** A malformed or unsupported ELF file: `offset` is the file byte offset of the offending field. */
export class ElfFormatError extends Error {
  override readonly name = 'ElfFormatError';
  constructor(
    readonly code: ElfFormatErrorCode,
    /** File byte offset of the field or record that is wrong. */
    readonly offset: number,
    /** What the reader expected to find there. */
    readonly expected: string,
    /** What it found instead, when that helps. */
    readonly found?: string,
  ) {
    super(
      `invalid ELF at byte offset 0x${offset.toString(16)}: expected ${expected}${found === undefined ? '' : `, found ${found}`}`,
    );
  }
}

/** One section: header fields plus its bytes. */
export interface ElfSection {
  /** Index in the section table. */
  readonly index: number;
  readonly name: string;
  /** SHT_* type. */
  readonly type: number;
  /** SHF_* flags. */
  readonly flags: number;
  /** File offset of the contents. */
  readonly offset: number;
  /** Size of the contents (SHT_NOBITS: in memory only). */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  /** sh_addralign. */
  readonly align: number;
  readonly entsize: number;
  /** The contents: a view into the input (empty for SHT_NULL and SHT_NOBITS). */
  readonly data: Uint8Array;
}

/** The decoded entries of one SHT_REL section. */
export interface ElfRelocationSection {
  /** Index of the REL section itself. */
  readonly section: number;
  /** Index of the section the entries patch (sh_info). */
  readonly target: number;
  readonly relocations: readonly ElfRelocation[];
}

/** A parsed ELF64 file. */
export interface ElfFile {
  /** e_type (1 = ET_REL). */
  readonly fileType: number;
  /** e_machine (247 = EM_BPF). */
  readonly machine: number;
  readonly sections: readonly ElfSection[];
  /** Index of the single SHT_SYMTAB section. */
  readonly symtabIndex: number;
  /** Symbol table in file order; index 0 is the null symbol. */
  readonly symbols: readonly ElfSymbol[];
  /** Every SHT_REL section, in section order. */
  readonly relocationSections: readonly ElfRelocationSection[];
}

/** The first section named `name`, if any. */
export function findSection(elf: ElfFile, name: string): ElfSection | undefined {
  return elf.sections.find((section) => section.name === name);
}

const utf8 = new TextDecoder('utf-8');

/** Reads an unsigned 64-bit field that must fit a JavaScript number exactly. */
function readU64(view: DataView, at: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ElfFormatError(
      'ELF_UNSUPPORTED',
      at,
      `${what} below 2^53`,
      `0x${value.toString(16)}`,
    );
  }
  return Number(value);
}

/** Longest section or symbol name accepted; longer ones are taken as garbage (bounds decode time). */
export const MAX_ELF_NAME_LENGTH = 4096;

/**
 * Reads NUL-terminated names from one string table in time linear in the table plus the names:
 * the end of every string is precomputed once (a naive scan per name is quadratic when thousands
 * of names point into one long unterminated run), names are capped at MAX_ELF_NAME_LENGTH and
 * each offset is decoded once.
 */
class ElfStringReader {
  readonly #table: Uint8Array;
  readonly #decoded = new Map<number, string>();
  #nextNul: Int32Array | undefined;

  constructor(table: Uint8Array) {
    this.#table = table;
  }

  /** The string at `offset`; `fieldAt` is the file offset of the field holding it (for errors). */
  get(offset: number, fieldAt: number, what: string): string {
    const known = this.#decoded.get(offset);
    if (known !== undefined) return known;
    const table = this.#table;
    if (offset >= table.length) {
      throw new ElfFormatError(
        'ELF_BAD_STRING',
        fieldAt,
        `${what} offset below the string table size ${table.length}`,
        String(offset),
      );
    }
    this.#nextNul ??= nextNulIndexes(table);
    const end = this.#nextNul[offset] ?? -1;
    if (end < 0) {
      throw new ElfFormatError(
        'ELF_BAD_STRING',
        fieldAt,
        `${what} at string table offset ${offset} to end with a NUL byte before the end of the table`,
      );
    }
    if (end - offset > MAX_ELF_NAME_LENGTH) {
      throw new ElfFormatError(
        'ELF_BAD_STRING',
        fieldAt,
        `${what} at string table offset ${offset} of at most ${MAX_ELF_NAME_LENGTH} bytes`,
        `${end - offset} bytes`,
      );
    }
    const text = utf8.decode(table.subarray(offset, end));
    this.#decoded.set(offset, text);
    return text;
  }
}

/** For every position of `table`, the index of the first NUL at or after it (-1 if none). */
function nextNulIndexes(table: Uint8Array): Int32Array {
  const next = new Int32Array(table.length);
  let nul = -1;
  for (let i = table.length - 1; i >= 0; i--) {
    if (table[i] === 0) nul = i;
    next[i] = nul;
  }
  return next;
}

/** Raw section header fields, read before elfy sees the file. */
interface RawSectionHeader {
  at: number;
  name: number;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
}

/** Checks the ELF header and returns the section table location. */
function checkHeader(
  bytes: Uint8Array,
  view: DataView,
): { shoff: number; shnum: number; shstrndx: number } {
  // The magic first, so that a short non-ELF file is reported as such rather than as truncated.
  ELF_MAGIC.forEach((byte, i) => {
    if (i < bytes.length && bytes[i] !== byte) {
      throw new ElfFormatError(
        'ELF_BAD_MAGIC',
        i,
        'the ELF magic 7f 45 4c 46',
        Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' '),
      );
    }
  });
  if (bytes.length < ELF_HEADER_SIZE) {
    throw new ElfFormatError(
      'ELF_TRUNCATED',
      bytes.length,
      `a ${ELF_HEADER_SIZE}-byte ELF header`,
      `a ${bytes.length}-byte file`,
    );
  }
  if (bytes[4] !== ELFCLASS64) {
    throw new ElfFormatError('ELF_UNSUPPORTED', 4, 'EI_CLASS 2 (64-bit)', String(bytes[4]));
  }
  if (bytes[5] !== ELFDATA2LSB) {
    throw new ElfFormatError('ELF_UNSUPPORTED', 5, 'EI_DATA 1 (little-endian)', String(bytes[5]));
  }
  const phoff = readU64(view, 0x20, 'e_phoff');
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  if (phnum !== 0) {
    if (phentsize !== PROGRAM_HEADER_SIZE) {
      throw new ElfFormatError(
        'ELF_BAD_HEADER',
        0x36,
        `e_phentsize ${PROGRAM_HEADER_SIZE}`,
        String(phentsize),
      );
    }
    if (phoff + phnum * PROGRAM_HEADER_SIZE > bytes.length) {
      throw new ElfFormatError(
        'ELF_TRUNCATED',
        0x20,
        `a program header table (${phnum} entries at 0x${phoff.toString(16)}) inside the ${bytes.length}-byte file`,
      );
    }
  }
  const shoff = readU64(view, 0x28, 'e_shoff');
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (shnum === 0) {
    throw new ElfFormatError(
      'ELF_UNSUPPORTED',
      0x3c,
      'e_shnum > 0 (a section table; extended section numbering is not supported)',
      '0',
    );
  }
  if (shentsize !== SECTION_HEADER_SIZE) {
    throw new ElfFormatError(
      'ELF_BAD_HEADER',
      0x3a,
      `e_shentsize ${SECTION_HEADER_SIZE}`,
      String(shentsize),
    );
  }
  if (shoff < ELF_HEADER_SIZE || shoff + shnum * SECTION_HEADER_SIZE > bytes.length) {
    throw new ElfFormatError(
      'ELF_TRUNCATED',
      0x28,
      `a section header table (${shnum} x 64 bytes at 0x${shoff.toString(16)}) after the ELF header and inside the ${bytes.length}-byte file`,
    );
  }
  if (shstrndx === SHN.XINDEX || shstrndx === 0 || shstrndx >= shnum) {
    throw new ElfFormatError(
      'ELF_BAD_HEADER',
      0x3e,
      `e_shstrndx naming one of sections 1..${shnum - 1}`,
      String(shstrndx),
    );
  }
  return { shoff, shnum, shstrndx };
}

/** Reads and bounds-checks every section header. */
function readRawSections(
  bytes: Uint8Array,
  view: DataView,
  shoff: number,
  shnum: number,
): RawSectionHeader[] {
  const headers: RawSectionHeader[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SECTION_HEADER_SIZE;
    const header: RawSectionHeader = {
      at,
      name: view.getUint32(at, true),
      type: view.getUint32(at + 0x04, true),
      flags: readU64(view, at + 0x08, `section ${i} sh_flags`),
      offset: readU64(view, at + 0x18, `section ${i} sh_offset`),
      size: readU64(view, at + 0x20, `section ${i} sh_size`),
      link: view.getUint32(at + 0x28, true),
      info: view.getUint32(at + 0x2c, true),
      align: readU64(view, at + 0x30, `section ${i} sh_addralign`),
      entsize: readU64(view, at + 0x38, `section ${i} sh_entsize`),
    };
    if (
      header.type !== SHT.NOBITS &&
      header.type !== SHT.NULL &&
      header.offset + header.size > bytes.length
    ) {
      throw new ElfFormatError(
        'ELF_TRUNCATED',
        at + 0x18,
        `section ${i} contents (0x${header.size.toString(16)} bytes at 0x${header.offset.toString(16)}) inside the ${bytes.length}-byte file`,
      );
    }
    if (header.link >= shnum && header.type !== SHT.NULL) {
      throw new ElfFormatError(
        'ELF_BAD_SECTION',
        at + 0x28,
        `section ${i} sh_link below ${shnum}`,
        String(header.link),
      );
    }
    headers.push(header);
  }
  return headers;
}

/** elfy reports sh_type as a name when it knows one; this maps it back to the number. */
const sectionTypeByName = new Map<string, number>(
  Object.entries(elfy.constants.sectType).map(([value, name]) => [name, Number(value)]),
);

function sectionTypeNumber(type: string | number, at: number): number {
  if (typeof type === 'number') return type;
  const value = sectionTypeByName.get(type);
  if (value === undefined) {
    throw new ElfFormatError('ELF_PARSE_FAILED', at + 4, 'a section type elfy can name', type);
  }
  return value;
}

/** Parses the section table with elfy, after checkHeader/readRawSections made it safe to. */
function readSections(
  bytes: Uint8Array,
  raw: readonly RawSectionHeader[],
  shstrndx: number,
): ElfSection[] {
  const names = raw[shstrndx];
  if (!names || names.type !== SHT.STRTAB) {
    throw new ElfFormatError(
      'ELF_BAD_SECTION',
      (names?.at ?? 0x3e) + 4,
      `section ${shstrndx} (e_shstrndx) of type SHT_STRTAB`,
      String(names?.type),
    );
  }
  const nameTable = new ElfStringReader(bytes.subarray(names.offset, names.offset + names.size));
  // Validate every name before elfy resolves them (it would silently read past a missing NUL).
  const sectionNames = raw.map((header, i) =>
    i === 0 && header.name === 0 ? '' : nameTable.get(header.name, header.at, `section ${i} name`),
  );
  let parsed: ElfyFile;
  try {
    parsed = elfy.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new ElfFormatError(
      'ELF_PARSE_FAILED',
      0,
      'a section table elfy can parse',
      error instanceof Error ? error.message : String(error),
    );
  }
  const sections = parsed.body.sections;
  if (sections.length !== raw.length) {
    throw new ElfFormatError(
      'ELF_PARSE_FAILED',
      0x3c,
      `${raw.length} sections from elfy`,
      String(sections.length),
    );
  }
  return raw.map((header, index): ElfSection => {
    const section = sections[index];
    if (!section) {
      throw new ElfFormatError('ELF_PARSE_FAILED', header.at, `section ${index} from elfy`);
    }
    const type = sectionTypeNumber(section.type, header.at);
    const hasData = type !== SHT.NOBITS && type !== SHT.NULL;
    return {
      index,
      name: sectionNames[index] ?? section.name,
      type,
      // elfy turns sh_flags into a lossy name map and reads 64-bit sh_addralign/sh_entsize two
      // bytes too early (offsets 46/54 instead of 48/56): these three come from the raw header.
      flags: header.flags,
      offset: section.off,
      size: section.size,
      link: section.link,
      info: section.info,
      align: header.align,
      entsize: header.entsize,
      data: hasData
        ? new Uint8Array(section.data.buffer, section.data.byteOffset, section.data.byteLength)
        : new Uint8Array(0),
    };
  });
}

/** Finds the single SHT_SYMTAB and decodes its symbols. */
function readSymbols(
  sections: readonly ElfSection[],
  raw: readonly RawSectionHeader[],
): { symtabIndex: number; symbols: ElfSymbol[] } {
  const symtabs = sections.filter((s) => s.type === SHT.SYMTAB);
  const symtab = symtabs[0];
  if (!symtab) {
    throw new ElfFormatError(
      'ELF_BAD_SYMTAB',
      0x28,
      'a SHT_SYMTAB section in the section table (a stripped object cannot be loaded)',
    );
  }
  const header = raw[symtab.index];
  const at = header?.at ?? 0;
  if (symtabs.length > 1) {
    throw new ElfFormatError(
      'ELF_BAD_SYMTAB',
      raw[symtabs[1]?.index ?? 0]?.at ?? 0,
      'a single SHT_SYMTAB section',
    );
  }
  if (symtab.entsize !== SYMBOL_SIZE) {
    throw new ElfFormatError(
      'ELF_BAD_SYMTAB',
      at + 0x38,
      `.symtab sh_entsize ${SYMBOL_SIZE}`,
      String(symtab.entsize),
    );
  }
  if (symtab.size % SYMBOL_SIZE !== 0) {
    throw new ElfFormatError(
      'ELF_BAD_SYMTAB',
      at + 0x20,
      `.symtab size a multiple of ${SYMBOL_SIZE}`,
      String(symtab.size),
    );
  }
  const strtab = sections[symtab.link];
  if (!strtab || strtab.type !== SHT.STRTAB) {
    throw new ElfFormatError(
      'ELF_BAD_SYMTAB',
      at + 0x28,
      '.symtab sh_link naming a SHT_STRTAB section',
      String(symtab.link),
    );
  }
  const view = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
  const count = symtab.size / SYMBOL_SIZE;
  const names = new ElfStringReader(strtab.data);
  const symbols: ElfSymbol[] = [];
  for (let i = 0; i < count; i++) {
    const rel = i * SYMBOL_SIZE;
    const fileAt = symtab.offset + rel;
    const info = view.getUint8(rel + 4);
    const sectionIndex = view.getUint16(rel + 6, true);
    if (sectionIndex === SHN.XINDEX) {
      throw new ElfFormatError(
        'ELF_UNSUPPORTED',
        fileAt + 6,
        `symbol ${i} st_shndx below 0xffff (SHN_XINDEX is not supported)`,
      );
    }
    if (
      sectionIndex !== SHN.UNDEF &&
      sectionIndex < SHN.LORESERVE &&
      sectionIndex >= sections.length
    ) {
      throw new ElfFormatError(
        'ELF_BAD_SYMBOL',
        fileAt + 6,
        `symbol ${i} st_shndx naming one of the ${sections.length} sections`,
        String(sectionIndex),
      );
    }
    symbols.push({
      name: names.get(view.getUint32(rel, true), fileAt, `symbol ${i} name`),
      bind: info >> 4,
      type: info & 0xf,
      other: view.getUint8(rel + 5),
      sectionIndex,
      value: readU64(view, rel + 8, `symbol ${i} st_value`),
      size: readU64(view, rel + 16, `symbol ${i} st_size`),
    });
  }
  return { symtabIndex: symtab.index, symbols };
}

/** Decodes every SHT_REL section against the symbol table. */
function readRelocationSections(
  sections: readonly ElfSection[],
  raw: readonly RawSectionHeader[],
  symtabIndex: number,
  symbolCount: number,
): ElfRelocationSection[] {
  const result: ElfRelocationSection[] = [];
  for (const section of sections) {
    if (section.type !== SHT.REL) continue;
    const at = raw[section.index]?.at ?? 0;
    const what = `relocation section ${JSON.stringify(section.name)}`;
    if (section.entsize !== REL_SIZE) {
      throw new ElfFormatError(
        'ELF_BAD_RELOCATION',
        at + 0x38,
        `${what} sh_entsize ${REL_SIZE}`,
        String(section.entsize),
      );
    }
    if (section.size % REL_SIZE !== 0) {
      throw new ElfFormatError(
        'ELF_BAD_RELOCATION',
        at + 0x20,
        `${what} size a multiple of ${REL_SIZE}`,
        String(section.size),
      );
    }
    if (section.link !== symtabIndex) {
      throw new ElfFormatError(
        'ELF_BAD_RELOCATION',
        at + 0x28,
        `${what} sh_link naming .symtab (section ${symtabIndex})`,
        String(section.link),
      );
    }
    if (section.info === 0 || section.info >= sections.length) {
      throw new ElfFormatError(
        'ELF_BAD_RELOCATION',
        at + 0x2c,
        `${what} sh_info naming one of sections 1..${sections.length - 1}`,
        String(section.info),
      );
    }
    const view = new DataView(
      section.data.buffer,
      section.data.byteOffset,
      section.data.byteLength,
    );
    const relocations: ElfRelocation[] = [];
    for (let rel = 0; rel < section.size; rel += REL_SIZE) {
      const fileAt = section.offset + rel;
      const offset = readU64(view, rel, 'r_offset');
      const symbol = view.getUint32(rel + 12, true);
      const type = view.getUint32(rel + 8, true);
      if (symbol >= symbolCount) {
        throw new ElfFormatError(
          'ELF_BAD_RELOCATION',
          fileAt + 12,
          `a symbol index below ${symbolCount} in r_info`,
          String(symbol),
        );
      }
      relocations.push({ offset, symbol, type });
    }
    result.push({ section: section.index, target: section.info, relocations });
  }
  return result;
}

/**
 * Parses a little-endian ELF64 file: header, section table, the single symbol table and every REL
 * section. The section contents are views into `bytes` (no copies). Throws ElfFormatError.
 */
export function readElf(bytes: Uint8Array): ElfFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { shoff, shnum, shstrndx } = checkHeader(bytes, view);
  const raw = readRawSections(bytes, view, shoff, shnum);
  const sections = readSections(bytes, raw, shstrndx);
  const { symtabIndex, symbols } = readSymbols(sections, raw);
  const relocationSections = readRelocationSections(sections, raw, symtabIndex, symbols.length);
  return {
    fileType: view.getUint16(0x10, true),
    machine: view.getUint16(0x12, true),
    sections,
    symtabIndex,
    symbols,
    relocationSections,
  };
}
