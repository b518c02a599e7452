/**
 * `tsbpf dump FILE.o [--source]`: the disassembly of every executable section of an eBPF object in
 * the `llvm-objdump -d -r` layout (symbols, instructions, relocations); with `--source` the
 * `.BTF.ext` line info is interleaved like `llvm-objdump -S` does with DWARF: `; <line text>` before
 * the first instruction of each new source line.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatListing, type ListingSection, type ListingSymbolType } from '../asm/disasm.js';
import { SHF, STT } from '../asm/elf.js';
import { type ElfFile, ElfFormatError, readElf } from '../asm/elf-reader.js';
import {
  type BpfObjectFile,
  ObjectFormatError,
  readObject,
  symbolName,
} from '../asm/object-reader.js';

/** Where a command writes: stdout for results, stderr for the one-line error. */
export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Options of `formatDump`. */
export interface DumpOptions {
  /** The name printed in the header line (llvm-objdump prints the path it was given). */
  readonly fileName: string;
  /** Interleave line-info source lines (`; text`) before the instructions they describe. */
  readonly source?: boolean;
}

/** Usage text of `tsbpf dump`. */
export const DUMP_USAGE = 'usage: tsbpf dump FILE.o [--source]';

function listingSymbolType(type: number): ListingSymbolType {
  switch (type) {
    case STT.NOTYPE:
      return 'notype';
    case STT.OBJECT:
      return 'object';
    case STT.FUNC:
      return 'func';
    case STT.SECTION:
      return 'section';
    case STT.FILE:
      return 'file';
    default:
      return 'other';
  }
}

/** The executable sections of `elf` as disasm.ts lists them, in section-header order. */
function listingSections(elf: ElfFile): ListingSection[] {
  return elf.sections
    .filter((section) => (section.flags & SHF.EXECINSTR) !== 0)
    .map((section) => {
      const rel = elf.relocationSections.find((r) => r.target === section.index);
      return {
        name: section.name,
        bytes: section.data,
        symbols: elf.symbols
          .filter((symbol) => symbol.sectionIndex === section.index)
          .map((symbol) => ({
            name: symbol.name,
            value: symbol.value,
            type: listingSymbolType(symbol.type),
          })),
        relocations: (rel?.relocations ?? []).map((r) => {
          const symbol = elf.symbols[r.symbol];
          return { offset: r.offset, type: r.type, symbol: symbol ? symbolName(elf, symbol) : '' };
        }),
      };
    });
}

/**
 * Source lines to print per section: section name -> slot index in the section -> lines. A line is
 * printed when the (file, line) pair changes within a program, and always at a program's start;
 * records with line 0 (compiler-generated code) print nothing, as in llvm-objdump -S.
 */
function sourceAnnotations(object: BpfObjectFile): Map<string, Map<number, string[]>> {
  const bySection = new Map<string, Map<number, string[]>>();
  for (const program of object.programs) {
    const annotations = bySection.get(program.section) ?? new Map<number, string[]>();
    bySection.set(program.section, annotations);
    let previous: string | undefined;
    for (const line of program.lineInfo) {
      if (line.line === 0) continue;
      const key = `${line.file}:${line.line}`;
      if (key === previous) continue;
      previous = key;
      const slot = program.offset / 8 + (program.slots[line.insn] ?? 0);
      const lines = annotations.get(slot) ?? [];
      lines.push(`; ${line.text}`);
      annotations.set(slot, lines);
    }
  }
  return bySection;
}

/** Inserts `; text` lines before the instruction lines (`%8d:\t…`) of the slots they annotate. */
function interleaveSource(
  listing: string,
  annotations: Map<string, Map<number, string[]>>,
): string {
  const out: string[] = [];
  let current: Map<number, string[]> | undefined;
  for (const line of listing.split('\n')) {
    const header = /^Disassembly of section (.*):$/.exec(line);
    if (header) current = annotations.get(header[1] ?? '');
    const insn = /^ *(\d+):\t/.exec(line);
    if (insn && current) {
      for (const text of current.get(Number(insn[1])) ?? []) out.push(text);
    }
    out.push(line);
  }
  return out.join('\n');
}

/**
 * The dump text of an object's bytes. Like llvm-objdump, the plain listing needs only a sound ELF
 * container (undecodable instructions print as `<unknown>`, BTF is not read), so broken programs
 * can still be inspected; `source` needs the whole object (ObjectFormatError when it is invalid).
 * Throws ElfFormatError for a bad container.
 */
export function formatDump(bytes: Uint8Array, options: DumpOptions): string {
  const elf = readElf(bytes);
  const annotations = options.source ? sourceAnnotations(readObject(bytes)) : undefined;
  const listing = formatListing({ fileName: options.fileName, sections: listingSections(elf) });
  return annotations ? interleaveSource(listing, annotations) : listing;
}

/** One line saying why reading `file` failed. */
function describeFailure(file: string, error: unknown): string {
  if (error instanceof ElfFormatError || error instanceof ObjectFormatError)
    return `${file}: ${error.message}`;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return `${file}: no such file`;
  if (code === 'EISDIR') return `${file}: is a directory, expected an eBPF object file`;
  if (code === 'EACCES') return `${file}: permission denied`;
  const message = error instanceof Error ? error.message : String(error);
  return `${file}: ${message.split('\n')[0]}`;
}

/**
 * Runs `tsbpf dump` with the arguments after `dump`. Returns the exit code: 0 success, 1 the file
 * cannot be read or is not a valid eBPF object, 2 usage error. Errors are one line on stderr.
 */
export function runDump(args: readonly string[], io: CommandIo): number {
  let file: string;
  let source: boolean;
  try {
    const parsed = parseArgs({
      args: [...args],
      options: { source: { type: 'boolean', short: 'S' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (parsed.values.help) {
      io.stdout(`${DUMP_USAGE}\n`);
      return 0;
    }
    if (parsed.positionals.length !== 1 || parsed.positionals[0] === undefined) {
      io.stderr(
        `tsbpf dump: expected exactly one object file, got ${parsed.positionals.length}; ${DUMP_USAGE}\n`,
      );
      return 2;
    }
    file = parsed.positionals[0];
    source = parsed.values.source === true;
  } catch (error) {
    io.stderr(
      `tsbpf dump: ${error instanceof Error ? error.message : String(error)}; ${DUMP_USAGE}\n`,
    );
    return 2;
  }
  try {
    io.stdout(formatDump(readFileSync(file), { fileName: file, source }));
    return 0;
  } catch (error) {
    io.stderr(`tsbpf dump: ${describeFailure(file, error)}\n`);
    return 1;
  }
}
