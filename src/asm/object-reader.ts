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
import {
  type BtfExt,
  BtfExtError,
  decodeBtfExt,
  describeLineInfo,
  programBtfExt,
} from './btf-ext.js';
import { MAPS_SECTION, type MapDefinition, parseMapDefinitions } from './btf-maps.js';
import { BtfError } from './btf-types.js';
import { decodeInsnSlots } from './decode.js';
import { type ElfSymbol, EM_BPF, EM_NONE, ET_REL, SHF, SHN, SHT, STB, STT } from './elf.js';
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

/** Functions of one executable section, checked to be 8-aligned and inside it, sorted by offset. */
function functionSymbols(elf: ElfFile, section: ElfSection): ElfSymbol[] {
  const symtab = elf.sections[elf.symtabIndex];
  const functions: ElfSymbol[] = [];
  elf.symbols.forEach((symbol, i) => {
    if (symbol.sectionIndex !== section.index || symbol.type !== STT.FUNC) return;
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
    functions.push(symbol);
  });
  return functions.sort((a, b) => a.value - b.value);
}

/** Index of the instruction starting at byte `offset` of the program, or undefined. */
function insnAt(slots: readonly number[], offset: number): number | undefined {
  if (offset % 8 !== 0) return undefined;
  const slot = offset / 8;
  let low = 0;
  let high = slots.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const value = slots[mid] ?? 0;
    if (value === slot) return mid;
    if (value < slot) low = mid + 1;
    else high = mid - 1;
  }
  return undefined;
}

function resolveTarget(
  elf: ElfFile,
  symbol: ElfSymbol,
  maps: readonly MapDefinition[],
  fileAt: number,
): RelocationTarget {
  const section =
    symbol.sectionIndex < SHN.LORESERVE ? elf.sections[symbol.sectionIndex] : undefined;
  if (section && section.index !== 0 && section.name === MAPS_SECTION) {
    // libbpf picks the map by (section, st_value); every map has its own OBJECT symbol.
    const map = maps.find((m) => m.offset === symbol.value);
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

function readProgram(
  elf: ElfFile,
  section: ElfSection,
  symbol: ElfSymbol,
  maps: readonly MapDefinition[],
  btf: Btf | undefined,
  btfExt: BtfExt | undefined,
): ObjectProgram {
  const bytes = section.data.subarray(symbol.value, symbol.value + symbol.size);
  let insns: Insn[];
  let slots: number[];
  try {
    ({ insns, slots } = decodeInsnSlots(bytes, { baseOffset: section.offset + symbol.value }));
  } catch (error) {
    if (error instanceof InsnDecodeError) {
      throw new ObjectFormatError(
        'OBJECT_BAD_INSNS',
        error.offset,
        `program ${symbol.name} in ${section.name}: ${error.message}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }

  const relocations: ProgramRelocation[] = [];
  for (const rel of elf.relocationSections) {
    if (rel.target !== section.index) continue;
    const relSection = elf.sections[rel.section];
    rel.relocations.forEach((r, k) => {
      if (r.offset < symbol.value || r.offset >= symbol.value + symbol.size) return;
      const fileAt = (relSection?.offset ?? 0) + k * 16;
      const offset = r.offset - symbol.value;
      const insn = insnAt(slots, offset);
      if (insn === undefined) {
        throw new ObjectFormatError(
          'OBJECT_BAD_RELOCATION',
          fileAt,
          `relocation at ${section.name}+0x${r.offset.toString(16)} does not start an instruction of program ${symbol.name}`,
        );
      }
      const target = elf.symbols[r.symbol];
      if (!target) return;
      relocations.push({
        insn,
        offset,
        type: r.type,
        target: resolveTarget(elf, target, maps, fileAt),
      });
    });
  }
  relocations.sort((a, b) => a.offset - b.offset);

  const funcInfo: ProgramFuncInfo[] = [];
  const lineInfo: ProgramLineInfo[] = [];
  if (btf && btfExt) {
    const extSection = findSection(elf, '.BTF.ext');
    try {
      const ext = programBtfExt(btfExt, btf, section.name, symbol.value, symbol.size);
      const toInsn = (slot: number, what: string): number => {
        const insn = insnAt(slots, slot * 8);
        if (insn === undefined) {
          throw new ObjectFormatError(
            'OBJECT_BAD_BTF_EXT',
            extSection?.offset,
            `${what} of program ${symbol.name} points at slot ${slot}, the second half of an ld_imm64`,
          );
        }
        return insn;
      };
      for (const record of ext.funcInfo) {
        const func = btf.types[record.typeId - 1];
        funcInfo.push({
          insn: toInsn(record.insnOff, 'func_info'),
          typeId: record.typeId,
          name: func?.name ?? '',
        });
      }
      for (const record of ext.lineInfo) {
        const position = describeLineInfo(btf, record);
        lineInfo.push({ insn: toInsn(record.insnOff, 'line_info'), ...position });
      }
    } catch (error) {
      if (error instanceof BtfExtError || error instanceof BtfError) {
        throw new ObjectFormatError(
          'OBJECT_BAD_BTF_EXT',
          extSection?.offset,
          `.BTF.ext of program ${symbol.name}: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  return {
    name: symbol.name,
    section: section.name,
    sectionIndex: section.index,
    offset: symbol.value,
    size: symbol.size,
    subprogram: symbol.bind === STB.LOCAL || section.name === '.text',
    bytes,
    insns,
    slots,
    relocations,
    funcInfo,
    lineInfo,
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
  const programs: ObjectProgram[] = [];
  for (const section of elf.sections) {
    if (
      section.type !== SHT.PROGBITS ||
      (section.flags & SHF.EXECINSTR) === 0 ||
      section.size === 0
    )
      continue;
    for (const symbol of functionSymbols(elf, section)) {
      programs.push(readProgram(elf, section, symbol, maps, btf, btfExt));
    }
  }
  return { elf, license: readLicense(elf), programs, maps, btf, btfExt };
}
