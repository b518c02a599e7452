/**
 * A generic little-endian ELF64 relocatable-object (ET_REL) writer. It lays out what clang emits for
 * eBPF: section 0 all zeros, section 1 a `.strtab` shared by section and symbol names (e_shstrndx = 1),
 * the caller's sections in order (REL sections built from symbolic relocations), `.symtab` last with
 * locals first and sh_info = index of the first non-local symbol, then the section header table,
 * 8-aligned, at the end of the file:
 *
 *     +------------+--------+---------+-----+---------+---------+----------------------+
 *     | ELF header | .strtab| sec 2   | ... | sec n   | .symtab | section headers      |
 *     | 64 bytes   |        | aligned |     | aligned | align 8 | (n + 2) x 64, align 8|
 *     +------------+--------+---------+-----+---------+---------+----------------------+
 *
 * See elf.ts for the byte layout of each record.
 */
import {
  ELF_HEADER_SIZE,
  ELF_MAGIC,
  ELFCLASS64,
  ELFDATA2LSB,
  EM_BPF,
  ET_REL,
  EV_CURRENT,
  REL_SIZE,
  SECTION_HEADER_SIZE,
  SHF,
  SHN,
  SHT,
  STB,
  SYMBOL_SIZE,
} from './elf.js';
import { StringTableBuilder } from './string-table.js';

/** A section whose bytes the caller provides (PROGBITS, STRTAB, NOBITS, …). */
export interface ElfDataSectionSpec {
  readonly kind: 'data';
  /** Section name; unique in the file. */
  readonly name: string;
  /** SHT_* type. */
  readonly type: number;
  /** SHF_* flags. */
  readonly flags: number;
  /** sh_addralign: a power of two (1 = unaligned). */
  readonly align: number;
  /** sh_entsize for tables of fixed-size entries; 0 otherwise. */
  readonly entsize?: number;
  /** The contents (for SHT_NOBITS only the length counts; nothing is written). */
  readonly data: Uint8Array;
}

/** A REL section: Elf64_Rel entries against `target`, linked to `.symtab`, flagged SHF_INFO_LINK. */
export interface ElfRelSectionSpec {
  readonly kind: 'rel';
  /** Section name; clang's convention is `.rel` + target name. */
  readonly name: string;
  /** Name of the section the relocations patch (sh_info). */
  readonly target: string;
  readonly relocations: readonly ElfRelocationSpec[];
}

/** Any section the writer accepts. */
export type ElfSectionSpec = ElfDataSectionSpec | ElfRelSectionSpec;

/** One relocation, naming its symbol by position in `ElfFileSpec.symbols`. */
export interface ElfRelocationSpec {
  /** Byte offset in the target section. */
  readonly offset: number;
  /** Index into `ElfFileSpec.symbols` (not the final symbol-table index: locals are moved first). */
  readonly symbol: number;
  /** R_BPF_* type. */
  readonly type: number;
}

/** One symbol; the writer adds the null symbol 0 itself. */
export interface ElfSymbolSpec {
  readonly name: string;
  /** STB_* binding. */
  readonly bind: number;
  /** STT_* type. */
  readonly type: number;
  /** st_other; 0 (default visibility) when absent. */
  readonly other?: number;
  /** Name of the defining section, or null for SHN_UNDEF. */
  readonly section: string | null;
  readonly value: number;
  readonly size: number;
}

/** Everything a relocatable object holds besides what the writer generates (null section, .strtab, .symtab). */
export interface ElfFileSpec {
  /** e_machine; EM_BPF when absent. */
  readonly machine?: number;
  readonly sections: readonly ElfSectionSpec[];
  readonly symbols: readonly ElfSymbolSpec[];
}

/** Why an ElfFileSpec cannot be written. */
export type ElfWriteErrorCode =
  | 'ELF_WRITE_DUPLICATE_SECTION'
  | 'ELF_WRITE_UNKNOWN_SECTION'
  | 'ELF_WRITE_BAD_VALUE'
  | 'ELF_WRITE_BAD_RELOCATION';

/** An ElfFileSpec that does not describe a valid object; the message names the offending item. */
export class ElfWriteError extends Error {
  override readonly name = 'ElfWriteError';
  constructor(
    readonly code: ElfWriteErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Names the writer generates itself; callers may not use them. */
const RESERVED_SECTION_NAMES = new Set(['', '.strtab', '.symtab']);

function checkUnsigned(what: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ElfWriteError(
      'ELF_WRITE_BAD_VALUE',
      `${what} is ${value}; expected an integer in [0, ${max}]`,
    );
  }
}

function checkName(what: string, name: string): void {
  if (name.includes('\0')) {
    throw new ElfWriteError(
      'ELF_WRITE_BAD_VALUE',
      `${what} ${JSON.stringify(name)} contains a NUL character; ELF names are NUL-terminated`,
    );
  }
}

function alignUp(value: number, align: number): number {
  return align <= 1 ? value : Math.ceil(value / align) * align;
}

/** A section as laid out in the file, index order. */
interface LaidOutSection {
  nameOffset: number;
  type: number;
  flags: number;
  align: number;
  entsize: number;
  link: number;
  info: number;
  data: Uint8Array;
  offset: number;
}

/**
 * Writes a little-endian ELF64 ET_REL file. Section indexes: 0 null, 1 `.strtab`, then
 * `spec.sections` in order, then `.symtab`. Throws ElfWriteError for duplicate or reserved section
 * names, references to unknown sections or symbols, and values that do not fit their fields.
 */
export function writeElf(spec: ElfFileSpec): Uint8Array {
  const machine = spec.machine ?? EM_BPF;
  checkUnsigned('e_machine', machine, 0xffff);
  const sectionCount = spec.sections.length + 3;
  if (sectionCount >= SHN.LORESERVE) {
    throw new ElfWriteError(
      'ELF_WRITE_BAD_VALUE',
      `${sectionCount} sections do not fit e_shnum without extended numbering; expected fewer than ${SHN.LORESERVE}`,
    );
  }
  const symtabIndex = sectionCount - 1;

  // Section name -> final index (user sections start at 2, after null and .strtab).
  const sectionIndex = new Map<string, number>();
  spec.sections.forEach((section, i) => {
    checkName('section name', section.name);
    if (RESERVED_SECTION_NAMES.has(section.name)) {
      throw new ElfWriteError(
        'ELF_WRITE_DUPLICATE_SECTION',
        `section name ${JSON.stringify(section.name)} is reserved: the writer emits the null section, .strtab and .symtab itself`,
      );
    }
    if (sectionIndex.has(section.name)) {
      throw new ElfWriteError(
        'ELF_WRITE_DUPLICATE_SECTION',
        `section ${JSON.stringify(section.name)} appears twice; section names must be unique`,
      );
    }
    sectionIndex.set(section.name, i + 2);
  });
  const indexOf = (what: string, name: string): number => {
    const index = sectionIndex.get(name);
    if (index === undefined) {
      throw new ElfWriteError(
        'ELF_WRITE_UNKNOWN_SECTION',
        `${what} names section ${JSON.stringify(name)}, which is not in the file`,
      );
    }
    return index;
  };

  const strings = new StringTableBuilder();

  // Symbols: null symbol, then locals, then the rest, each group in spec order.
  const order = spec.symbols.map((_, i) => i);
  const isLocal = (i: number) => spec.symbols[i]?.bind === STB.LOCAL;
  const sorted = [...order.filter(isLocal), ...order.filter((i) => !isLocal(i))];
  const finalSymbolIndex = new Map<number, number>();
  for (const [position, specIndex] of sorted.entries())
    finalSymbolIndex.set(specIndex, position + 1);
  const firstGlobal = 1 + order.filter(isLocal).length;

  // Section names first (clang's order), then symbol names.
  const sectionNameOffsets = spec.sections.map((s) => strings.add(s.name));
  const strtabNameOffset = strings.add('.strtab');
  const symtabNameOffset = strings.add('.symtab');

  const symtab = new Uint8Array((spec.symbols.length + 1) * SYMBOL_SIZE);
  const symView = new DataView(symtab.buffer);
  sorted.forEach((specIndex, position) => {
    const symbol = spec.symbols[specIndex];
    if (!symbol) return;
    const what = `symbol ${JSON.stringify(symbol.name)}`;
    checkName(what, symbol.name);
    checkUnsigned(`${what} binding`, symbol.bind, 0xf);
    checkUnsigned(`${what} type`, symbol.type, 0xf);
    checkUnsigned(`${what} st_other`, symbol.other ?? 0, 0xff);
    checkUnsigned(`${what} value`, symbol.value);
    checkUnsigned(`${what} size`, symbol.size);
    const at = (position + 1) * SYMBOL_SIZE;
    symView.setUint32(at, strings.add(symbol.name), true);
    symView.setUint8(at + 4, (symbol.bind << 4) | symbol.type);
    symView.setUint8(at + 5, symbol.other ?? 0);
    symView.setUint16(
      at + 6,
      symbol.section === null ? SHN.UNDEF : indexOf(what, symbol.section),
      true,
    );
    symView.setBigUint64(at + 8, BigInt(symbol.value), true);
    symView.setBigUint64(at + 16, BigInt(symbol.size), true);
  });

  const sections: LaidOutSection[] = spec.sections.map((section, i) => {
    const nameOffset = sectionNameOffsets[i] ?? 0;
    if (section.kind === 'rel') {
      const target = indexOf(`relocation section ${JSON.stringify(section.name)}`, section.target);
      if (spec.sections[target - 2]?.kind === 'rel') {
        throw new ElfWriteError(
          'ELF_WRITE_BAD_RELOCATION',
          `relocation section ${JSON.stringify(section.name)} targets another relocation section; expected a data section`,
        );
      }
      const data = new Uint8Array(section.relocations.length * REL_SIZE);
      const view = new DataView(data.buffer);
      section.relocations.forEach((rel, k) => {
        const what = `${section.name}[${k}]`;
        checkUnsigned(`${what} offset`, rel.offset);
        checkUnsigned(`${what} type`, rel.type, 0xffffffff);
        const symbol = finalSymbolIndex.get(rel.symbol);
        if (!Number.isInteger(rel.symbol) || symbol === undefined) {
          throw new ElfWriteError(
            'ELF_WRITE_BAD_RELOCATION',
            `${what} refers to symbol #${rel.symbol}; expected an index below ${spec.symbols.length}`,
          );
        }
        view.setBigUint64(k * REL_SIZE, BigInt(rel.offset), true);
        view.setBigUint64(k * REL_SIZE + 8, (BigInt(symbol) << 32n) | BigInt(rel.type), true);
      });
      return {
        nameOffset,
        type: SHT.REL,
        flags: SHF.INFO_LINK,
        align: 8,
        entsize: REL_SIZE,
        link: symtabIndex,
        info: target,
        data,
        offset: 0,
      };
    }
    const what = `section ${JSON.stringify(section.name)}`;
    checkUnsigned(`${what} type`, section.type, 0xffffffff);
    checkUnsigned(`${what} flags`, section.flags);
    checkUnsigned(`${what} entsize`, section.entsize ?? 0);
    if (
      !Number.isInteger(section.align) ||
      section.align < 1 ||
      (section.align & (section.align - 1)) !== 0
    ) {
      throw new ElfWriteError(
        'ELF_WRITE_BAD_VALUE',
        `${what} alignment is ${section.align}; expected a power of two`,
      );
    }
    return {
      nameOffset,
      type: section.type,
      flags: section.flags,
      align: section.align,
      entsize: section.entsize ?? 0,
      link: 0,
      info: 0,
      data: section.data,
      offset: 0,
    };
  });

  const strtab: LaidOutSection = {
    nameOffset: strtabNameOffset,
    type: SHT.STRTAB,
    flags: 0,
    align: 1,
    entsize: 0,
    link: 0,
    info: 0,
    data: strings.encode(),
    offset: 0,
  };
  const symtabSection: LaidOutSection = {
    nameOffset: symtabNameOffset,
    type: SHT.SYMTAB,
    flags: 0,
    align: 8,
    entsize: SYMBOL_SIZE,
    link: 1,
    info: firstGlobal,
    data: symtab,
    offset: 0,
  };
  const all = [strtab, ...sections, symtabSection];

  let offset = ELF_HEADER_SIZE;
  for (const section of all) {
    section.offset = alignUp(offset, section.align);
    if (section.type !== SHT.NOBITS) offset = section.offset + section.data.length;
  }
  const shoff = alignUp(offset, 8);
  const out = new Uint8Array(shoff + sectionCount * SECTION_HEADER_SIZE);
  const view = new DataView(out.buffer);

  out.set(ELF_MAGIC, 0);
  out[4] = ELFCLASS64;
  out[5] = ELFDATA2LSB;
  out[6] = EV_CURRENT;
  view.setUint16(0x10, ET_REL, true);
  view.setUint16(0x12, machine, true);
  view.setUint32(0x14, EV_CURRENT, true);
  view.setBigUint64(0x28, BigInt(shoff), true);
  view.setUint16(0x34, ELF_HEADER_SIZE, true);
  view.setUint16(0x3a, SECTION_HEADER_SIZE, true);
  view.setUint16(0x3c, sectionCount, true);
  view.setUint16(0x3e, 1, true);

  all.forEach((section, i) => {
    if (section.type !== SHT.NOBITS) out.set(section.data, section.offset);
    const at = shoff + (i + 1) * SECTION_HEADER_SIZE;
    view.setUint32(at, section.nameOffset, true);
    view.setUint32(at + 0x04, section.type, true);
    view.setBigUint64(at + 0x08, BigInt(section.flags), true);
    view.setBigUint64(at + 0x18, BigInt(section.offset), true);
    view.setBigUint64(at + 0x20, BigInt(section.data.length), true);
    view.setUint32(at + 0x28, section.link, true);
    view.setUint32(at + 0x2c, section.info, true);
    view.setBigUint64(at + 0x30, BigInt(section.align), true);
    view.setBigUint64(at + 0x38, BigInt(section.entsize), true);
  });
  return out;
}
