/**
 * `readObject`: the bytes of a relocatable eBPF object (ours or clang's) to a BpfObjectFile —
 * programs with decoded instructions, relocations resolved to maps or symbols, map definitions from
 * BTF, the license, `.BTF` and `.BTF.ext` decoded, and func/line info per program as instruction
 * indexes with file, line, column and source text. Sections loaders ignore (`.debug_*`,
 * `.llvm_addrsig`, `.rel.BTF`, …) are kept in `elf` but not interpreted.
 *
 * Errors: ElfFormatError for a malformed container (see elf-reader.ts), ObjectFormatError for
 * well-formed ELF with bad eBPF content; both carry the file byte offset where it is known.
 */
import { type Btf, decodeBtf } from './btf.js';
import { type BtfExt, BtfExtError, decodeBtfExt, describeLineInfo } from './btf-ext.js';
import { MAPS_SECTION, type MapDefinition, parseMapDefinitions } from './btf-maps.js';
import { BtfError } from './btf-types.js';
import { decodeInsnSlots } from './decode.js';
import {
  type ElfRelocation,
  type ElfSymbol,
  EM_BPF,
  EM_NONE,
  ET_REL,
  SHF,
  SHN,
  SHT,
  STB,
  STT,
} from './elf.js';
import { type ElfFile, type ElfSection, findSection, readElf } from './elf-reader.js';
import type { Insn } from './insn.js';
import { InsnDecodeError } from './insn-errors.js';

/** What is wrong with the eBPF content of an ELF file. */
export type ObjectFormatErrorCode =
  | 'OBJECT_NOT_BPF'
  | 'OBJECT_BAD_PROGRAM'
  | 'OBJECT_BAD_INSNS'
  | 'OBJECT_BAD_RELOCATION'
  | 'OBJECT_MISSING_BTF'
  | 'OBJECT_BAD_BTF'
  | 'OBJECT_BAD_BTF_EXT'
  | 'OBJECT_BAD_MAPS';

/** eBPF content that cannot be read; `offset` is a file byte offset when the problem has a place. */
export class ObjectFormatError extends Error {
  override readonly name = 'ObjectFormatError';
  constructor(
    readonly code: ObjectFormatErrorCode,
    /** File byte offset of the offending bytes, when known. */
    readonly offset: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      offset === undefined ? message : `${message} (at file offset 0x${offset.toString(16)})`,
      options,
    );
  }
}

/** What a relocation of a program points at. */
export type RelocationTarget =
  /** A map of `.maps` (an R_BPF_64_64 on an ld_imm64 the loader turns into a map fd load). */
  | { readonly kind: 'map'; readonly map: string }
  /** Any other symbol (a subprogram for R_BPF_64_32 calls, global data, an undefined extern). */
  | {
      readonly kind: 'symbol';
      /** The symbol name; for section symbols the section's name. */
      readonly name: string;
      /** Name of the defining section, undefined for SHN_UNDEF/ABS/COMMON. */
      readonly section: string | undefined;
      readonly value: number;
    };

/** A relocation inside one program. */
export interface ProgramRelocation {
  /** Index (in instructions) of the patched instruction within the program. */
  readonly insn: number;
  /** Byte offset from the start of the program. */
  readonly offset: number;
  /** R_BPF_* type. */
  readonly type: number;
  readonly target: RelocationTarget;
}

/** One func_info record of a program. */
export interface ProgramFuncInfo {
  /** Instruction index within the program. */
  readonly insn: number;
  /** The BTF FUNC type id. */
  readonly typeId: number;
  /** The FUNC's name. */
  readonly name: string;
}

/** One line_info record of a program, with its strings looked up. */
export interface ProgramLineInfo {
  /** Instruction index within the program. */
  readonly insn: number;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The source line text (may be empty). */
  readonly text: string;
}

/** A function of a program section: an STT_FUNC symbol and its code. */
export interface ObjectProgram {
  readonly name: string;
  /** The ELF section name (tells loaders the program type). */
  readonly section: string;
  readonly sectionIndex: number;
  /** Byte offset in the section. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** GLOBAL/WEAK functions are loadable programs; LOCAL ones (and anything in `.text`) are subprograms. */
  readonly subprogram: boolean;
  /** The program's code as stored in the section (a view, not a copy). */
  readonly bytes: Uint8Array;
  readonly insns: readonly Insn[];
  /** `slots[i]`: slot index (8-byte unit, from the program start) of `insns[i]`. */
  readonly slots: readonly number[];
  readonly relocations: readonly ProgramRelocation[];
  readonly funcInfo: readonly ProgramFuncInfo[];
  readonly lineInfo: readonly ProgramLineInfo[];
}

/** A parsed eBPF object. */
export interface BpfObjectFile {
  /** The ELF container: every section, symbol and relocation. */
  readonly elf: ElfFile;
  /** Contents of the `license` section up to its NUL, if present. */
  readonly license: string | undefined;
  /** Every function of every executable section, in section then offset order. */
  readonly programs: readonly ObjectProgram[];
  /** Map definitions of the `.maps` DATASEC, in DATASEC order. */
  readonly maps: readonly MapDefinition[];
  /** Decoded `.BTF` (its raw bytes are `btf.bytes`). */
  readonly btf: Btf | undefined;
  /** Decoded `.BTF.ext`. */
  readonly btfExt: BtfExt | undefined;
}

/** Display name of a symbol as llvm-objdump shows it: section symbols take their section's name. */
export function symbolName(elf: ElfFile, symbol: ElfSymbol): string {
  if (symbol.type === STT.SECTION && symbol.name === '')
    return elf.sections[symbol.sectionIndex]?.name ?? '';
  return symbol.name;
}

const latin1 = new TextDecoder('latin1');

function readLicense(elf: ElfFile): string | undefined {
  const section = findSection(elf, 'license');
  if (!section) return undefined;
  const end = section.data.indexOf(0);
  return latin1.decode(end < 0 ? section.data : section.data.subarray(0, end));
}

function readBtf(elf: ElfFile): Btf | undefined {
  const section = findSection(elf, '.BTF');
  if (!section) return undefined;
  if (section.type !== SHT.PROGBITS) {
    throw new ObjectFormatError(
      'OBJECT_BAD_BTF',
      section.offset,
      `.BTF has section type ${section.type}; expected SHT_PROGBITS`,
    );
  }
  try {
    return decodeBtf(section.data);
  } catch (error) {
    if (error instanceof BtfError) {
      throw new ObjectFormatError(
        'OBJECT_BAD_BTF',
        section.offset + (error.offset ?? 0),
        `.BTF cannot be decoded: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

function readBtfExt(elf: ElfFile, btf: Btf | undefined): BtfExt | undefined {
  const section = findSection(elf, '.BTF.ext');
  if (!section) return undefined;
  if (!btf) {
    throw new ObjectFormatError(
      'OBJECT_MISSING_BTF',
      section.offset,
      '.BTF.ext refers to strings and types of .BTF, but the object has no .BTF section',
    );
  }
  try {
    return decodeBtfExt(section.data, btf);
  } catch (error) {
    if (error instanceof BtfExtError) {
      throw new ObjectFormatError(
        'OBJECT_BAD_BTF_EXT',
        section.offset + (error.offset ?? 0),
        `.BTF.ext cannot be decoded: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

function readMaps(elf: ElfFile, btf: Btf | undefined): MapDefinition[] {
  const section = findSection(elf, MAPS_SECTION);
  if (!section) return [];
  if (!btf) {
    throw new ObjectFormatError(
      'OBJECT_MISSING_BTF',
      section.offset,
      '.maps needs BTF map definitions, but the object has no .BTF section',
    );
  }
  const symbols = new Map<string, number>();
  for (const symbol of elf.symbols) {
    if (
      symbol.sectionIndex === section.index &&
      symbol.type === STT.OBJECT &&
      symbol.bind !== STB.LOCAL
    ) {
      symbols.set(symbol.name, symbol.value);
    }
  }
  try {
    return parseMapDefinitions(btf, section.size, symbols);
  } catch (error) {
    if (error instanceof BtfError) {
      throw new ObjectFormatError(
        'OBJECT_BAD_MAPS',
        section.offset,
        `map definitions in .maps are invalid: ${error.message}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}

/** An STT_FUNC symbol with the file offset of its symbol-table entry. */
interface FunctionSymbol {
  readonly symbol: ElfSymbol;
  readonly at: number;
}

/**
 * STT_FUNC symbols of executable PROGBITS sections, grouped by section (one pass over the symbol
 * table), each checked to be a non-empty multiple of 8 bytes inside its section, sorted by offset.
 */
function functionsBySection(elf: ElfFile): Map<number, FunctionSymbol[]> {
  const symtab = elf.sections[elf.symtabIndex];
  const grouped = new Map<number, FunctionSymbol[]>();
  elf.symbols.forEach((symbol, i) => {
    if (symbol.type !== STT.FUNC || symbol.sectionIndex >= SHN.LORESERVE) return;
    const section = elf.sections[symbol.sectionIndex];
    if (
      !section ||
      section.type !== SHT.PROGBITS ||
      (section.flags & SHF.EXECINSTR) === 0 ||
      section.size === 0
    ) {
      return;
    }
    const at = (symtab?.offset ?? 0) + i * 24;
    if (
      symbol.value % 8 !== 0 ||
      symbol.size % 8 !== 0 ||
      symbol.size === 0 ||
      symbol.value + symbol.size > section.size
    ) {
      throw new ObjectFormatError(
        'OBJECT_BAD_PROGRAM',
        at,
        `function ${JSON.stringify(symbol.name)} in ${section.name} has offset ${symbol.value} and size ${symbol.size}; ` +
          `expected a non-empty multiple of 8 bytes inside the ${section.size}-byte section`,
      );
    }
    const list = grouped.get(section.index) ?? [];
    list.push({ symbol, at });
    grouped.set(section.index, list);
  });
  for (const list of grouped.values()) list.sort((a, b) => a.symbol.value - b.symbol.value);
  return grouped;
}

/** A relocation of a program section with the file offset of its Elf64_Rel entry. */
interface SectionRelocation {
  readonly relocation: ElfRelocation;
  readonly at: number;
}

/** Relocations of every section, grouped by target section and sorted by r_offset. */
function relocationsByTarget(elf: ElfFile): Map<number, SectionRelocation[]> {
  const grouped = new Map<number, SectionRelocation[]>();
  for (const rel of elf.relocationSections) {
    const base = elf.sections[rel.section]?.offset ?? 0;
    const list = grouped.get(rel.target) ?? [];
    for (const [k, relocation] of rel.relocations.entries()) {
      list.push({ relocation, at: base + k * 16 });
    }
    grouped.set(rel.target, list);
  }
  for (const list of grouped.values())
    list.sort((a, b) => a.relocation.offset - b.relocation.offset);
  return grouped;
}

/** Index of the first element whose key is >= `value` in an array sorted by key. */
function lowerBound<T>(items: readonly T[], key: (item: T) => number, value: number): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (key(items[mid] as T) < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Index of the instruction starting at byte `offset` of the program, or undefined. */
function insnAt(slots: readonly number[], offset: number): number | undefined {
  if (offset % 8 !== 0) return undefined;
  const index = lowerBound(slots, (slot) => slot, offset / 8);
  return slots[index] === offset / 8 ? index : undefined;
}

function resolveTarget(
  elf: ElfFile,
  symbol: ElfSymbol,
  mapsByOffset: ReadonlyMap<number, MapDefinition>,
  fileAt: number,
): RelocationTarget {
  const section =
    symbol.sectionIndex < SHN.LORESERVE ? elf.sections[symbol.sectionIndex] : undefined;
  if (section && section.index !== 0 && section.name === MAPS_SECTION) {
    // libbpf picks the map by (section, st_value); every map has its own OBJECT symbol.
    const map = mapsByOffset.get(symbol.value);
    if (!map) {
      throw new ObjectFormatError(
        'OBJECT_BAD_RELOCATION',
        fileAt,
        `relocation against ${JSON.stringify(symbolName(elf, symbol))} at .maps offset ${symbol.value}, where no map definition starts`,
      );
    }
    return { kind: 'map', map: map.name };
  }
  return {
    kind: 'symbol',
    name: symbolName(elf, symbol),
    section: section && section.index !== 0 ? section.name : undefined,
    value: symbol.value,
  };
}

/** A program being assembled: its code decoded, relocations and BTF.ext records still to come. */
interface ProgramDraft {
  readonly symbol: ElfSymbol;
  readonly section: ElfSection;
  readonly bytes: Uint8Array;
  readonly insns: Insn[];
  readonly slots: number[];
  readonly relocations: ProgramRelocation[];
  readonly funcInfo: ProgramFuncInfo[];
  readonly lineInfo: ProgramLineInfo[];
}

function decodeProgram(section: ElfSection, symbol: ElfSymbol): ProgramDraft {
  const bytes = section.data.subarray(symbol.value, symbol.value + symbol.size);
  try {
    const { insns, slots } = decodeInsnSlots(bytes, { baseOffset: section.offset + symbol.value });
    return { symbol, section, bytes, insns, slots, relocations: [], funcInfo: [], lineInfo: [] };
  } catch (error) {
    if (error instanceof InsnDecodeError) {
      throw new ObjectFormatError(
        'OBJECT_BAD_INSNS',
        error.offset,
        `program ${symbol.name} in ${section.name}: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Adds to `draft` the relocations of its section that fall inside it (`sorted` by r_offset). */
function addRelocations(
  elf: ElfFile,
  draft: ProgramDraft,
  sorted: readonly SectionRelocation[],
  mapsByOffset: ReadonlyMap<number, MapDefinition>,
): void {
  const { symbol, section } = draft;
  const end = symbol.value + symbol.size;
  for (
    let k = lowerBound(sorted, (r) => r.relocation.offset, symbol.value);
    k < sorted.length;
    k++
  ) {
    const { relocation, at } = sorted[k] as SectionRelocation;
    if (relocation.offset >= end) break;
    const offset = relocation.offset - symbol.value;
    const insn = insnAt(draft.slots, offset);
    if (insn === undefined) {
      throw new ObjectFormatError(
        'OBJECT_BAD_RELOCATION',
        at,
        `relocation at ${section.name}+0x${relocation.offset.toString(16)} does not start an instruction of program ${symbol.name}`,
      );
    }
    const target = elf.symbols[relocation.symbol];
    if (!target) continue;
    draft.relocations.push({
      insn,
      offset,
      type: relocation.type,
      target: resolveTarget(elf, target, mapsByOffset, at),
    });
  }
}

/**
 * Hands every func_info/line_info record to the program it falls in (the one starting last at or
 * before its offset, as libbpf assigns records by program range), converting section byte offsets
 * to instruction indexes. Records of sections without programs are skipped, as libbpf does.
 */
function addBtfExt(
  elf: ElfFile,
  btf: Btf,
  ext: BtfExt,
  draftsBySection: ReadonlyMap<string, readonly ProgramDraft[]>,
): void {
  const extAt = findSection(elf, '.BTF.ext')?.offset;
  const place = (sectionName: string, insnOff: number, what: string) => {
    const drafts = draftsBySection.get(sectionName);
    if (!drafts) return undefined;
    const index = lowerBound(drafts, (d) => d.symbol.value, insnOff + 1) - 1;
    const draft = drafts[index];
    if (!draft || insnOff >= draft.symbol.value + draft.symbol.size) return undefined;
    const insn = insnAt(draft.slots, insnOff - draft.symbol.value);
    if (insn === undefined) {
      throw new ObjectFormatError(
        'OBJECT_BAD_BTF_EXT',
        extAt,
        `.BTF.ext ${what} at ${sectionName}+0x${insnOff.toString(16)} does not start an instruction of program ${draft.symbol.name}`,
      );
    }
    return { draft, insn };
  };
  try {
    for (const sec of ext.funcInfo.sections) {
      const sectionName = btf.str(sec.secNameOff);
      for (const record of sec.records) {
        const placed = place(sectionName, record.insnOff, 'func_info');
        placed?.draft.funcInfo.push({
          insn: placed.insn,
          typeId: record.typeId,
          name: btf.type(record.typeId).name,
        });
      }
    }
    for (const sec of ext.lineInfo.sections) {
      const sectionName = btf.str(sec.secNameOff);
      for (const record of sec.records) {
        const placed = place(sectionName, record.insnOff, 'line_info');
        placed?.draft.lineInfo.push({ insn: placed.insn, ...describeLineInfo(btf, record) });
      }
    }
  } catch (error) {
    if (error instanceof BtfError) {
      throw new ObjectFormatError('OBJECT_BAD_BTF_EXT', extAt, `.BTF.ext: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function finishProgram(draft: ProgramDraft): ObjectProgram {
  const { symbol, section } = draft;
  return {
    name: symbol.name,
    section: section.name,
    sectionIndex: section.index,
    offset: symbol.value,
    size: symbol.size,
    subprogram: symbol.bind === STB.LOCAL || section.name === '.text',
    bytes: draft.bytes,
    insns: draft.insns,
    slots: draft.slots,
    relocations: draft.relocations,
    funcInfo: draft.funcInfo,
    lineInfo: draft.lineInfo,
  };
}

/**
 * Reads a relocatable eBPF object (ET_REL, EM_BPF or EM_NONE). Throws ElfFormatError for a bad
 * container and ObjectFormatError for bad programs, relocations, BTF, `.BTF.ext` or map definitions.
 */
export function readObject(bytes: Uint8Array): BpfObjectFile {
  const elf = readElf(bytes);
  if (elf.fileType !== ET_REL) {
    throw new ObjectFormatError(
      'OBJECT_NOT_BPF',
      0x10,
      `e_type is ${elf.fileType}; expected 1 (ET_REL, a relocatable object)`,
    );
  }
  if (elf.machine !== EM_BPF && elf.machine !== EM_NONE) {
    throw new ObjectFormatError(
      'OBJECT_NOT_BPF',
      0x12,
      `e_machine is ${elf.machine}; expected 247 (EM_BPF)`,
    );
  }
  const btf = readBtf(elf);
  const btfExt = readBtfExt(elf, btf);
  const maps = readMaps(elf, btf);
  const mapsByOffset = new Map(maps.map((m) => [m.offset, m] as const));
  const functions = functionsBySection(elf);
  const relocations = relocationsByTarget(elf);
  const drafts: ProgramDraft[] = [];
  const draftsBySection = new Map<string, ProgramDraft[]>();
  for (const [sectionIndex, symbols] of [...functions].sort((a, b) => a[0] - b[0])) {
    const section = elf.sections[sectionIndex] as ElfSection;
    const inSection = symbols.map(({ symbol }) => decodeProgram(section, symbol));
    for (const draft of inSection) {
      addRelocations(elf, draft, relocations.get(sectionIndex) ?? [], mapsByOffset);
    }
    drafts.push(...inSection);
    // Section names are unique in practice; a duplicate name keeps the first section, like libbpf.
    if (!draftsBySection.has(section.name)) draftsBySection.set(section.name, inSection);
  }
  if (btf && btfExt) addBtfExt(elf, btf, btfExt, draftsBySection);
  return {
    elf,
    license: readLicense(elf),
    programs: drafts.map(finishProgram),
    maps,
    btf,
    btfExt,
  };
}
