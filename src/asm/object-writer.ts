/**
 * `writeObject`: an ObjectSpec (programs, maps, license, line info) to the bytes of a relocatable
 * eBPF ELF object that libbpf/bpftool and our own loader accept, laid out as
 * shared/spec/elf-btf-bpf.md §7 describes:
 *
 *     [0] null  [1] .strtab
 *     per program section (first-use order):  <sec>  PROGBITS AX align 8, programs back to back
 *                                             .rel<sec>  REL  R_BPF_64_64 per map reference
 *     .maps     PROGBITS WA align 8, zeros: 8 bytes per definition field per map
 *     license   PROGBITS WA align 1, the license string and its NUL
 *     .BTF      map definitions (DATASEC `.maps` with true size and offsets), FUNC/FUNC_PROTO per program
 *     .BTF.ext  func_info (one per program, at its first byte) + line_info, only when a program has lines
 *     .symtab   GLOBAL FUNC per program (exact size), GLOBAL OBJECT per map
 *
 * Every reference is checked first; a bad spec throws ObjectSpecError naming the program, map or
 * instruction at fault.
 */
import { BtfBuilder } from './btf-builder.js';
import {
  BTF_EXT_MIN_REC_SIZE,
  type BtfExtSection,
  type BtfFuncInfo,
  type BtfLineInfo,
  encodeBtfExt,
} from './btf-ext.js';
import { encodeMapDefinitions } from './btf-maps.js';
import { addProgramFunc } from './btf-program.js';
import { R_BPF, SHF, SHT, STB, STT } from './elf.js';
import {
  type ElfRelocationSpec,
  type ElfSectionSpec,
  type ElfSymbolSpec,
  writeElf,
} from './elf-writer.js';
import { encodeInsns } from './encode.js';
import { type Insn, slotCount } from './insn.js';
import { InsnEncodeError } from './insn-errors.js';
import type { ObjectSpec, ProgramSpec } from './object-spec.js';

/** What is wrong with an ObjectSpec. */
export type ObjectSpecErrorCode =
  | 'OBJECT_BAD_NAME'
  | 'OBJECT_DUPLICATE_NAME'
  | 'OBJECT_BAD_SECTION'
  | 'OBJECT_BAD_LICENSE'
  | 'OBJECT_EMPTY_PROGRAM'
  | 'OBJECT_BAD_INSN'
  | 'OBJECT_BAD_MAP_REF'
  | 'OBJECT_BAD_LINE';

/** An ObjectSpec that cannot be written; the message names the program/map/instruction and the fix. */
export class ObjectSpecError extends Error {
  override readonly name = 'ObjectSpecError';
  constructor(
    readonly code: ObjectSpecErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Kernel object names: at most 15 characters of [A-Za-z0-9_] (bpffs forbids `.` in pin paths). */
const KERNEL_NAME = /^[A-Za-z0-9_]{1,15}$/;

/** Section names the writer uses itself or that loaders treat specially. */
const RESERVED_SECTIONS = new Set([
  '.maps',
  'maps',
  'license',
  'version',
  '.BTF',
  '.BTF.ext',
  '.strtab',
  '.symtab',
  '.text',
]);

/** libbpf copies at most 63 license characters; a longer one would be cut and misjudged by the kernel. */
const MAX_LICENSE_LENGTH = 63;

/** Largest line number line_col can hold (22 bits) and largest column (10 bits). */
const MAX_LINE = (1 << 22) - 1;
const MAX_COLUMN = 0x3ff;

/** Byte offset of each instruction from the start of its program (ld_imm64 takes 16 bytes). */
export function insnByteOffsets(insns: readonly Insn[]): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const insn of insns) {
    offsets.push(at);
    at += slotCount(insn) * 8;
  }
  return offsets;
}

function checkName(what: string, name: string): void {
  if (!KERNEL_NAME.test(name)) {
    throw new ObjectSpecError(
      'OBJECT_BAD_NAME',
      `${what} name ${JSON.stringify(name)} is not a kernel object name; use 1 to 15 characters of [A-Za-z0-9_]`,
    );
  }
}

function checkSection(program: ProgramSpec): void {
  const section = program.section;
  if (
    section === '' ||
    section.includes('\0') ||
    RESERVED_SECTIONS.has(section) ||
    section.startsWith('.rel')
  ) {
    throw new ObjectSpecError(
      'OBJECT_BAD_SECTION',
      `program ${program.name} is in section ${JSON.stringify(section)}, which is empty, contains a NUL or is reserved; ` +
        'use the section name that gives the program type (e.g. "sockops", "sk_msg")',
    );
  }
}

function checkLicense(license: string): void {
  if (license === '' || license.includes('\0') || license.length > MAX_LICENSE_LENGTH) {
    throw new ObjectSpecError(
      'OBJECT_BAD_LICENSE',
      `license ${JSON.stringify(license)} must be 1 to ${MAX_LICENSE_LENGTH} characters without NUL (e.g. "Dual BSD/GPL")`,
    );
  }
}

/** Checks names are valid and unique: programs and maps share the symbol namespace. */
function checkNames(spec: ObjectSpec): void {
  const seen = new Map<string, string>();
  const claim = (what: string, name: string) => {
    checkName(what, name);
    const other = seen.get(name);
    if (other !== undefined) {
      throw new ObjectSpecError(
        'OBJECT_DUPLICATE_NAME',
        `${what} name ${JSON.stringify(name)} is already used by a ${other}; program and map names must be unique in an object`,
      );
    }
    seen.set(name, what);
  };
  for (const program of spec.programs) claim('program', program.name);
  for (const map of spec.maps) claim('map', map.name);
}

function checkProgram(program: ProgramSpec, maps: ReadonlySet<string>): void {
  checkSection(program);
  if (program.insns.length === 0) {
    throw new ObjectSpecError(
      'OBJECT_EMPTY_PROGRAM',
      `program ${program.name} has no instructions; a program needs at least an exit`,
    );
  }
  const referenced = new Set<number>();
  for (const ref of program.mapRefs) {
    // Built only for an error message: this loop runs for every reference of every object.
    const where = () =>
      `program ${program.name}: map reference to ${JSON.stringify(ref.map)} at instruction ${ref.insn}`;
    if (!maps.has(ref.map)) {
      throw new ObjectSpecError(
        'OBJECT_BAD_MAP_REF',
        `${where()} names no map of this object; add the map to ObjectSpec.maps`,
      );
    }
    const insn = Number.isInteger(ref.insn) ? program.insns[ref.insn] : undefined;
    if (insn === undefined) {
      throw new ObjectSpecError(
        'OBJECT_BAD_MAP_REF',
        `${where()} is outside the program (${program.insns.length} instructions)`,
      );
    }
    if (insn.kind !== 'ld_imm64' || insn.pseudo !== 'imm64' || insn.imm !== 0n) {
      throw new ObjectSpecError(
        'OBJECT_BAD_MAP_REF',
        `${where()} is on ${insn.kind === 'ld_imm64' ? `an ld_imm64 of kind ${insn.pseudo} with imm ${insn.imm}` : `an instruction of kind ${insn.kind}`}; ` +
          'a map reference must be a plain ld_imm64 with imm 0 (the loader fills in the map fd)',
      );
    }
    if (referenced.has(ref.insn)) {
      throw new ObjectSpecError(
        'OBJECT_BAD_MAP_REF',
        `${where()} is the second reference on that instruction; keep one`,
      );
    }
    referenced.add(ref.insn);
  }
  let previous = -1;
  for (const [k, line] of (program.lines ?? []).entries()) {
    // Built only for an error message: this loop runs for every line record of every object.
    const where = () =>
      `program ${program.name}: line info #${k} (instruction ${line.insn}, ${line.file}:${line.line})`;
    if (k === 0 && line.insn !== 0) {
      throw new ObjectSpecError(
        'OBJECT_BAD_LINE',
        `${where()} must be at instruction 0: the kernel requires line info at the start of every function`,
      );
    }
    if (
      !Number.isInteger(line.insn) ||
      line.insn <= previous ||
      line.insn >= program.insns.length
    ) {
      throw new ObjectSpecError(
        'OBJECT_BAD_LINE',
        `${where()} is out of order or outside the program; line info must be strictly increasing instruction indexes below ${program.insns.length}`,
      );
    }
    if (!Number.isInteger(line.line) || line.line < 0 || line.line > MAX_LINE) {
      throw new ObjectSpecError(
        'OBJECT_BAD_LINE',
        `${where()} has line ${line.line}; expected 0..${MAX_LINE}`,
      );
    }
    if (!Number.isInteger(line.col) || line.col < 0 || line.col > MAX_COLUMN) {
      throw new ObjectSpecError(
        'OBJECT_BAD_LINE',
        `${where()} has column ${line.col}; expected 0..${MAX_COLUMN}`,
      );
    }
    if (line.file.includes('\0') || line.text.includes('\0')) {
      throw new ObjectSpecError(
        'OBJECT_BAD_LINE',
        `${where()} has a NUL character in its file name or text; remove it`,
      );
    }
    previous = line.insn;
  }
}

function encodeProgram(program: ProgramSpec): Uint8Array {
  try {
    return encodeInsns(program.insns);
  } catch (error) {
    if (error instanceof InsnEncodeError) {
      throw new ObjectSpecError('OBJECT_BAD_INSN', `program ${program.name}: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** A program placed in its section. */
interface PlacedProgram {
  readonly spec: ProgramSpec;
  readonly offset: number;
  readonly code: Uint8Array;
}

/** Programs grouped by section, in order of first use. */
function placePrograms(programs: readonly ProgramSpec[]): Map<string, PlacedProgram[]> {
  const sections = new Map<string, PlacedProgram[]>();
  const sizes = new Map<string, number>();
  for (const spec of programs) {
    const code = encodeProgram(spec);
    const offset = sizes.get(spec.section) ?? 0;
    sizes.set(spec.section, offset + code.length);
    const placed = sections.get(spec.section) ?? [];
    placed.push({ spec, offset, code });
    sections.set(spec.section, placed);
  }
  return sections;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Writes an eBPF relocatable object for `spec`. Throws ObjectSpecError for invalid names, sections,
 * licenses, map references or line info, and BtfError for map definitions BTF cannot describe.
 */
export function writeObject(spec: ObjectSpec): Uint8Array {
  checkLicense(spec.license);
  checkNames(spec);
  const mapNames = new Set(spec.maps.map((m) => m.name));
  for (const program of spec.programs) checkProgram(program, mapNames);

  const bySection = placePrograms(spec.programs);
  const btf = new BtfBuilder();
  const { sectionSize: mapsSize, maps } = encodeMapDefinitions(btf, spec.maps);

  // Symbols: one GLOBAL FUNC per program, then one GLOBAL OBJECT per map; relocations name them by position.
  const symbols: ElfSymbolSpec[] = [];
  for (const placed of bySection.values()) {
    for (const program of placed) {
      symbols.push({
        name: program.spec.name,
        bind: STB.GLOBAL,
        type: STT.FUNC,
        section: program.spec.section,
        value: program.offset,
        size: program.code.length,
      });
    }
  }
  const mapSymbol = new Map<string, number>();
  for (const map of maps) {
    mapSymbol.set(map.name, symbols.length);
    symbols.push({
      name: map.name,
      bind: STB.GLOBAL,
      type: STT.OBJECT,
      section: '.maps',
      value: map.offset,
      size: map.size,
    });
  }

  const sections: ElfSectionSpec[] = [];
  const funcInfo: BtfExtSection<BtfFuncInfo>[] = [];
  const lineInfo: BtfExtSection<BtfLineInfo>[] = [];
  const hasLines = spec.programs.some((p) => (p.lines?.length ?? 0) > 0);

  for (const [section, placed] of bySection) {
    sections.push({
      kind: 'data',
      name: section,
      type: SHT.PROGBITS,
      flags: SHF.ALLOC | SHF.EXECINSTR,
      align: 8,
      data: concat(placed.map((p) => p.code)),
    });
    const relocations: ElfRelocationSpec[] = [];
    const funcs: BtfFuncInfo[] = [];
    const lines: BtfLineInfo[] = [];
    for (const program of placed) {
      const offsets = insnByteOffsets(program.spec.insns);
      const byteOffset = (insn: number) => program.offset + (offsets[insn] ?? 0);
      for (const ref of [...program.spec.mapRefs].sort((a, b) => a.insn - b.insn)) {
        relocations.push({
          offset: byteOffset(ref.insn),
          symbol: mapSymbol.get(ref.map) ?? 0,
          type: R_BPF.R_BPF_64_64,
        });
      }
      funcs.push({ insnOff: program.offset, typeId: addProgramFunc(btf, program.spec) });
      for (const line of program.spec.lines ?? []) {
        lines.push({
          insnOff: byteOffset(line.insn),
          fileNameOff: btf.addString(line.file),
          lineOff: btf.addString(line.text),
          line: line.line,
          col: line.col,
        });
      }
    }
    if (relocations.length > 0) {
      sections.push({ kind: 'rel', name: `.rel${section}`, target: section, relocations });
    }
    const nameOff = btf.addString(section);
    funcInfo.push({ secNameOff: nameOff, records: funcs });
    if (lines.length > 0) lineInfo.push({ secNameOff: nameOff, records: lines });
  }

  if (spec.maps.length > 0) {
    sections.push({
      kind: 'data',
      name: '.maps',
      type: SHT.PROGBITS,
      flags: SHF.WRITE | SHF.ALLOC,
      align: 8,
      data: new Uint8Array(mapsSize),
    });
  }
  sections.push({
    kind: 'data',
    name: 'license',
    type: SHT.PROGBITS,
    flags: SHF.WRITE | SHF.ALLOC,
    align: 1,
    data: new TextEncoder().encode(`${spec.license}\0`),
  });
  sections.push({
    kind: 'data',
    name: '.BTF',
    type: SHT.PROGBITS,
    flags: 0,
    align: 4,
    data: btf.encode(),
  });
  if (hasLines) {
    sections.push({
      kind: 'data',
      name: '.BTF.ext',
      type: SHT.PROGBITS,
      flags: 0,
      align: 4,
      data: encodeBtfExt({
        funcInfo: { recSize: BTF_EXT_MIN_REC_SIZE.funcInfo, sections: funcInfo },
        lineInfo: { recSize: BTF_EXT_MIN_REC_SIZE.lineInfo, sections: lineInfo },
        coreRelo: { recSize: BTF_EXT_MIN_REC_SIZE.coreRelo, sections: [] },
      }),
    });
  }
  return writeElf({ sections, symbols });
}
