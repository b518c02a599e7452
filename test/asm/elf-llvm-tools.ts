/**
 * Cross-checks against LLVM's own ELF tools: runs llvm-readobj / llvm-readelf on bytes and parses
 * their LLVM-style output into the same shape as our reader's, so tests compare values, not text.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes `bytes` to a temporary file, runs `fn` with its path, removes it. */
export function withTempObject<T>(bytes: Uint8Array, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-elf-'));
  try {
    const path = join(dir, 'obj.o');
    writeFileSync(path, bytes);
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** stdout and stderr of a tool run (exit status must be 0). */
export function runTool(tool: string, args: readonly string[]): { stdout: string; stderr: string } {
  const result = spawnSync(tool, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${tool} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

/** A section header as llvm-readobj prints it. */
export interface LlvmSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
}

function field(block: string, name: string): string {
  const match = new RegExp(`^\\s*${name}:\\s*(.*)$`, 'm').exec(block);
  if (!match?.[1]) throw new Error(`llvm-readobj output has no ${name}: in ${block}`);
  return match[1].trim();
}

/** The trailing `(0x..)` or `(N)` number of an llvm-readobj value such as `SHT_REL (0x9)`. */
function parenNumber(value: string): number {
  const match = /\((0x[0-9A-Fa-f]+|\d+)\)\s*$/.exec(value);
  if (!match?.[1]) throw new Error(`no number in ${value}`);
  return Number(match[1]);
}

function nameBefore(value: string): string {
  return value.replace(/\s*\((0x[0-9A-Fa-f]+|\d+)\)\s*$/, '');
}

function blocks(text: string, kind: string): string[] {
  return text.split(new RegExp(`^\\s*${kind} \\{$`, 'm')).slice(1);
}

/** Every section header of the file at `path`, by llvm-readobj. */
export function llvmSections(path: string): LlvmSection[] {
  const { stdout } = runTool('llvm-readobj', ['--sections', path]);
  return blocks(stdout, 'Section').map((block) => ({
    index: Number(field(block, 'Index')),
    name: nameBefore(field(block, 'Name')),
    type: parenNumber(field(block, 'Type')),
    flags: Number(/Flags \[ \((0x[0-9A-Fa-f]+)\)/.exec(block)?.[1]),
    offset: Number(field(block, 'Offset')),
    size: Number(field(block, 'Size')),
    link: Number(field(block, 'Link')),
    info: Number(field(block, 'Info')),
    align: Number(field(block, 'AddressAlignment')),
    entsize: Number(field(block, 'EntrySize')),
  }));
}

/** A symbol as llvm-readobj prints it (section symbols carry their section's name). */
export interface LlvmSymbol {
  name: string;
  value: number;
  size: number;
  bind: number;
  type: number;
  other: number;
  sectionIndex: number;
}

/** Every symbol of the file at `path`, by llvm-readobj. */
export function llvmSymbols(path: string): LlvmSymbol[] {
  const { stdout } = runTool('llvm-readobj', ['--symbols', path]);
  return blocks(stdout, 'Symbol').map((block) => ({
    name: nameBefore(field(block, 'Name')),
    value: Number(field(block, 'Value')),
    size: Number(field(block, 'Size')),
    bind: parenNumber(field(block, 'Binding')),
    type: parenNumber(field(block, 'Type')),
    other: Number(field(block, 'Other')),
    sectionIndex: parenNumber(field(block, 'Section')),
  }));
}

/** Relocations per REL section index, as `offset type-name symbol-name` triples. */
export function llvmRelocations(
  path: string,
): Map<number, { offset: number; type: string; symbol: string }[]> {
  const { stdout } = runTool('llvm-readobj', ['--relocations', path]);
  const result = new Map<number, { offset: number; type: string; symbol: string }[]>();
  let current: { offset: number; type: string; symbol: string }[] | undefined;
  for (const line of stdout.split('\n')) {
    const header = /^\s*Section \((\d+)\) \S+ \{$/.exec(line);
    if (header) {
      current = [];
      result.set(Number(header[1]), current);
      continue;
    }
    const entry = /^\s*(0x[0-9A-Fa-f]+) (\S+) (\S+)/.exec(line);
    if (entry && current) {
      current.push({ offset: Number(entry[1]), type: entry[2] ?? '', symbol: entry[3] ?? '' });
    }
  }
  return result;
}

/** `llvm-readelf -a` of the file: its stdout and stderr (a well-formed file prints no warning). */
export function llvmReadelfAll(path: string): { stdout: string; stderr: string } {
  const result = spawnSync('llvm-readelf', ['-a', path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { stdout: result.stdout, stderr: result.stderr };
}
