/**
 * From an instruction index to a source location, through the program's line_info, and from a
 * location to a code frame of the source around it.
 *
 * Instruction indexes here are the ones the kernel uses in the verifier log and in line_info passed
 * to BPF_PROG_LOAD: 8-byte slots from the start of the loaded program (an `ld_imm64` takes two), of
 * the ORIGINAL program, before the verifier's rewrites. A line_info record covers its instruction
 * and every following one up to the next record.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

/** One line_info record as loaded with the program (same shape as the loader's LoadedLineInfo). */
export interface LineInfoRecord {
  /** Instruction slot index from the start of the program. */
  readonly insn: number;
  readonly file: string;
  /** 1-based line; 0 for code the compiler made up (clang emits such records). */
  readonly line: number;
  /** 1-based column; 0 when unknown. */
  readonly col: number;
  /** The source line's text as stored in BTF. */
  readonly text: string;
}

/** Where in the source an instruction came from. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The line's text (from BTF, or from the file when it was read). */
  readonly text: string;
}

/**
 * The source location of instruction `insn`: the last record at or before it. A record of line 0
 * (compiler-generated code) defers to the record before it, which names the statement the
 * generated code belongs to.
 */
export function locateInsn(
  lineInfo: readonly LineInfoRecord[],
  insn: number,
): SourceLocation | undefined {
  let best: LineInfoRecord | undefined;
  let bestReal: LineInfoRecord | undefined;
  for (const r of lineInfo) {
    if (r.insn > insn) continue;
    if (best === undefined || r.insn >= best.insn) best = r;
    if (r.line > 0 && (bestReal === undefined || r.insn >= bestReal.insn)) bestReal = r;
  }
  const chosen = best !== undefined && best.line > 0 ? best : bestReal;
  if (chosen === undefined) return undefined;
  return { file: chosen.file, line: chosen.line, column: chosen.col, text: chosen.text };
}

/**
 * line_info of an object-reader program (`insn` = index into its Insn array, `slots[i]` = slot of
 * insn i) in the kernel's slot numbering.
 */
export function lineInfoInSlots(
  lineInfo: readonly LineInfoRecord[],
  slots: readonly number[],
): LineInfoRecord[] {
  return lineInfo.map((r) => ({ ...r, insn: slots[r.insn] ?? r.insn }));
}

/** Where to look for source files named by line_info. */
export interface SourceSearch {
  /** Directories to resolve relative file names against, in order (default: the cwd). */
  readonly roots?: readonly string[];
  /** Reads a file; defaults to fs. Returns undefined when it cannot be read. */
  readonly readFile?: (path: string) => string | undefined;
}

function readIfExists(path: string): string | undefined {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The lines of the source file `file`, when a file of that name exists under one of the roots and
 * its line `line` is the text line_info recorded (so a stale or different file is not shown).
 */
export function readSourceLines(
  file: string,
  expect: { readonly line: number; readonly text: string },
  search: SourceSearch = {},
): { readonly path: string; readonly lines: readonly string[] } | undefined {
  const read = search.readFile ?? readIfExists;
  const candidates = isAbsolute(file)
    ? [file]
    : (search.roots ?? [process.cwd()]).map((root) => resolve(root, file));
  for (const path of candidates) {
    const content = read(path);
    if (content === undefined) continue;
    const lines = content.split('\n').map((l) => l.replace(/\r$/, ''));
    const actual = lines[expect.line - 1];
    if (actual !== undefined && (expect.text === '' || actual.trim() === expect.text.trim())) {
      return { path, lines };
    }
  }
  return undefined;
}

/** Options of `formatCodeFrame`. */
export interface CodeFrameOptions {
  /** Lines shown above and below the marked line (default 2). */
  readonly context?: number;
}

/**
 * A code frame: the lines around `location.line` with their numbers, a `>` on the marked line and a
 * caret under its column. With no file lines, the one line text from BTF is shown.
 *
 * ```
 *   16 |   __u64 *value = bpf_map_lookup_elem(&counts, &key);
 *   17 |
 * > 18 |   *value += 1;
 *      |   ^
 *   19 |   return 1;
 * ```
 */
export function formatCodeFrame(
  location: SourceLocation,
  fileLines?: readonly string[],
  options: CodeFrameOptions = {},
): string {
  const context = options.context ?? 2;
  const lines: { no: number; text: string }[] = [];
  if (fileLines !== undefined && location.line >= 1 && location.line <= fileLines.length) {
    const from = Math.max(1, location.line - context);
    const to = Math.min(fileLines.length, location.line + context);
    for (let no = from; no <= to; no++) lines.push({ no, text: fileLines[no - 1] ?? '' });
  } else {
    lines.push({ no: location.line, text: location.text });
  }
  const width = String(Math.max(...lines.map((l) => l.no))).length;
  const out: string[] = [];
  for (const { no, text } of lines) {
    const marked = no === location.line;
    const gutter = `${marked ? '>' : ' '} ${String(no).padStart(width)} |`;
    out.push(text === '' ? gutter : `${gutter} ${text.trimEnd()}`);
    if (marked && location.column > 0) {
      // Keep tabs of the line's prefix so the caret lines up however tabs are displayed.
      const prefix = text.slice(0, location.column - 1).replace(/[^\t]/g, ' ');
      out.push(`  ${' '.repeat(width)} | ${prefix}^`);
    }
  }
  return out.join('\n');
}
