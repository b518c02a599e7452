/**
 * The disassembler: `Insn` → text in exactly the syntax `llvm-objdump -d` (LLVM 14, the LLVM on the
 * build machines) prints for BPF, and whole listings in the `llvm-objdump -d -r` layout.
 *
 * Where LLVM 14 prints `<unknown>` because it predates the instruction (cpu v4 sdiv/smod, movsx,
 * sign-extending loads, bswap, gotol; jset, mod and BPF_ST immediate stores; may_goto) the text is
 * what newer LLVM prints (llvm-objdump 19 with `--no-print-imm-hex`). Three more forms come from
 * LLVM's own sources because no installed objdump prints them: 32-bit atomics other than a plain
 * `lock ... +=` (LLVM prints them only with `--mattr=+alu32`, e.g. `w2 = xchg32_32(r1 + 8, w2)`),
 * and load-acquire / store-release (LLVM 20+, `w0 = load_acquire((u8 *)(r1 + 0))`).
 *
 * Notes on LLVM's choices that look odd but are reproduced on purpose:
 * - immediates are signed decimal (`r1 = -1`, `w2 *= -727379968`), the 64-bit constant of
 *   `ld_imm64` too (`r1 = -1 ll`);
 * - an ld_imm64 with a pseudo source prints as `ld_pseudo\tr1, 1, 3`: a tab, the source, and the
 *   first slot's immediate as unsigned 32-bit (the second slot is not shown);
 * - 32-bit loads and stores name 64-bit registers (`r1 = *(u32 *)(r2 + 0)`), and so does a 32-bit
 *   `lock ... += r2`; `le`/`be` print `r1 = be16 r1` although they are ALU-class;
 * - `ld_ind` does not show its immediate (`r0 = *(u16 *)skb[r2]`).
 */
import { match } from 'ts-pattern';
import { decodeInsnAt } from './decode.js';
import { SHF, STT } from './elf.js';
import type { ElfFile } from './elf-reader.js';
import { LD_IMM64_PSEUDOS } from './encode.js';
import type { AluOp, AtomicOp, Insn, JmpOp, Reg, Size, Width } from './insn.js';
import { InsnDecodeError } from './insn-errors.js';
import { SLOT_SIZE } from './opcodes.js';

const ALU_SYMBOL: Readonly<Record<AluOp, string>> = {
  add: '+',
  sub: '-',
  mul: '*',
  div: '/',
  sdiv: 's/',
  or: '|',
  and: '&',
  lsh: '<<',
  rsh: '>>',
  mod: '%',
  smod: 's%',
  xor: '^',
  mov: '',
  arsh: 's>>',
};

const JMP_SYMBOL: Readonly<Record<JmpOp, string>> = {
  jeq: '==',
  jgt: '>',
  jge: '>=',
  jset: '&',
  jne: '!=',
  jsgt: 's>',
  jsge: 's>=',
  jlt: '<',
  jle: '<=',
  jslt: 's<',
  jsle: 's<=',
};

const ATOMIC_SYMBOL: Readonly<Record<'add' | 'or' | 'and' | 'xor', string>> = {
  add: '+',
  or: '|',
  and: '&',
  xor: '^',
};

const BITS: Readonly<Record<Size, number>> = { b: 8, h: 16, w: 32, dw: 64 };

const reg = (width: Width, r: Reg) => `${width === 64 ? 'r' : 'w'}${r}`;
/** `r1 + 8` / `r10 - 4`: LLVM always prints the sign, `+ 0` for zero. */
const addr = (r: Reg, off: number) => `r${r} ${off < 0 ? '-' : '+'} ${Math.abs(off)}`;
const mem = (r: Reg, off: number) => `(${addr(r, off)})`;
/** Branch offsets always carry a sign: `+0`, `+5`, `-2`. */
const signed = (n: number) => (n >= 0 ? `+${n}` : `${n}`);
const operand = (width: Width, src: { readonly reg: Reg } | { readonly imm: number }) =>
  'reg' in src ? reg(width, src.reg) : `${src.imm}`;

function formatAtomic(
  size: 'w' | 'dw',
  op: AtomicOp,
  fetch: boolean,
  dst: Reg,
  src: Reg,
  off: number,
): string {
  const w: Width = size === 'dw' ? 64 : 32;
  const bits = BITS[size];
  return match(op)
    .with(
      'xchg',
      () => `${reg(w, src)} = xchg${w === 32 ? '32_32' : '_64'}(${addr(dst, off)}, ${reg(w, src)})`,
    )
    .with(
      'cmpxchg',
      () =>
        `${reg(w, 0)} = cmpxchg${w === 32 ? '32_32' : '_64'}(${addr(dst, off)}, ${reg(w, 0)}, ${reg(w, src)})`,
    )
    .with('add', 'or', 'and', 'xor', (o) => {
      if (fetch)
        return `${reg(w, src)} = atomic_fetch_${o}((u${bits} *)${mem(dst, off)}, ${reg(w, src)})`;
      // LLVM's default (non-alu32) decoder knows only the 32-bit add, and prints it with r.
      const srcText = o === 'add' ? `r${src}` : reg(w, src);
      return `lock *(u${bits} *)${mem(dst, off)} ${ATOMIC_SYMBOL[o]}= ${srcText}`;
    })
    .exhaustive();
}

/** Options of formatInsn. */
export interface FormatInsnOptions {
  /**
   * The symbolized target of a branch, printed after it the way llvm-objdump does
   * (`goto +3 <LBB0_3>`, `<prog+0x48>`); ignored for instructions that are not branches.
   */
  readonly branchTarget?: string;
}

/** The text llvm-objdump prints for one instruction (a branch's `<target>` only when given). */
export function formatInsn(insn: Insn, opts: FormatInsnOptions = {}): string {
  const text = formatInsnText(insn);
  return opts.branchTarget !== undefined && branchDelta(insn) !== undefined
    ? `${text} <${opts.branchTarget}>`
    : text;
}

// Switches, not ts-pattern, in formatInsnText and branchDelta: they run for every instruction of
// every listing, and match()'s per-call pattern objects showed up as a hot spot of buildSockops().
// `satisfies never` keeps them exhaustive.
function formatInsnText(insn: Insn): string {
  const i = insn;
  switch (i.kind) {
    case 'alu':
      return i.op === 'mov'
        ? `${reg(i.width, i.dst)} = ${operand(i.width, i.src)}`
        : `${reg(i.width, i.dst)} ${ALU_SYMBOL[i.op]}= ${operand(i.width, i.src)}`;
    case 'neg':
      return `${reg(i.width, i.dst)} = -${reg(i.width, i.dst)}`;
    case 'movsx':
      return `${reg(i.width, i.dst)} = (s${i.from})${reg(i.width, i.src)}`;
    case 'endian':
      return `r${i.dst} = ${i.order}${i.bits} r${i.dst}`;
    case 'jump':
      return `if ${reg(i.width, i.dst)} ${JMP_SYMBOL[i.op]} ${operand(i.width, i.src)} goto ${signed(i.off)}`;
    case 'ja':
      return `goto ${signed(i.off)}`;
    case 'gotol':
      return `gotol ${signed(i.imm)}`;
    case 'may_goto':
      return `may_goto ${signed(i.off)}`;
    case 'call':
      return `call ${i.imm}`;
    case 'exit':
      return 'exit';
    case 'ldx':
      return `r${i.dst} = *(${i.signed ? 's' : 'u'}${BITS[i.size]} *)${mem(i.src, i.off)}`;
    case 'st':
      return `*(u${BITS[i.size]} *)${mem(i.dst, i.off)} = ${i.imm}`;
    case 'stx':
      return `*(u${BITS[i.size]} *)${mem(i.dst, i.off)} = r${i.src}`;
    case 'atomic':
      return formatAtomic(i.size, i.op, i.fetch, i.dst, i.src, i.off);
    case 'load_acquire': {
      const w: Width = i.size === 'dw' ? 64 : 32;
      return `${reg(w, i.dst)} = load_acquire((u${BITS[i.size]} *)${mem(i.src, i.off)})`;
    }
    case 'store_release': {
      const w: Width = i.size === 'dw' ? 64 : 32;
      return `store_release((u${BITS[i.size]} *)${mem(i.dst, i.off)}, ${reg(w, i.src)})`;
    }
    case 'ld_imm64':
      return i.pseudo === 'imm64'
        ? `r${i.dst} = ${i.imm} ll`
        : `ld_pseudo\tr${i.dst}, ${LD_IMM64_PSEUDOS[i.pseudo]}, ${BigInt.asUintN(32, i.imm)}`;
    case 'ld_abs':
      return `r0 = *(u${BITS[i.size]} *)skb[${i.imm}]`;
    case 'ld_ind':
      return `r0 = *(u${BITS[i.size]} *)skb[r${i.src}]`;
    default:
      i satisfies never;
      throw new TypeError(`not an instruction kind: ${String((i as { kind?: unknown }).kind)}`);
  }
}

/**
 * For a branch (conditional jump, goto, gotol, may_goto): its displacement in slots relative to the
 * next slot. `undefined` for every other instruction, calls included (llvm-objdump does not
 * symbolize call targets).
 */
export function branchDelta(insn: Insn): number | undefined {
  switch (insn.kind) {
    case 'jump':
    case 'ja':
    case 'may_goto':
      return insn.off;
    case 'gotol':
      return insn.imm;
    default:
      return undefined;
  }
}

/** ELF symbol types as far as the listing cares (STT_SECTION and STT_FILE symbols are not shown). */
export type ListingSymbolType = 'notype' | 'object' | 'func' | 'section' | 'file' | 'other';

/** A symbol defined in a listed section. */
export interface ListingSymbol {
  readonly name: string;
  /** Byte offset in the section (st_value of a relocatable object). */
  readonly value: number;
  readonly type: ListingSymbolType;
}

/** A relocation (SHT_REL: eBPF objects have no addends) of a listed section, its symbol name resolved. */
export interface ListingRelocation {
  /** r_offset: byte offset in the section. */
  readonly offset: number;
  /** The relocation type: a name (`R_BPF_64_64`) or the ELF number. */
  readonly type: string | number;
  /** The symbol name (for a section symbol: the section's name). */
  readonly symbol: string;
}

/** One executable section to list. */
export interface ListingSection {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly symbols: readonly ListingSymbol[];
  readonly relocations?: readonly ListingRelocation[];
}

/** Input of `formatListing`: what `llvm-objdump -d -r FILE` would read from an object. */
export interface Listing {
  /** The file name printed in the header (`FILE:\tfile format elf64-bpf`). */
  readonly fileName: string;
  /** The executable (SHF_EXECINSTR) sections, in section-header order. */
  readonly sections: readonly ListingSection[];
}

const BPF_RELOCATION_NAMES: Readonly<Record<number, string>> = {
  0: 'R_BPF_NONE',
  1: 'R_BPF_64_64',
  2: 'R_BPF_64_ABS64',
  3: 'R_BPF_64_ABS32',
  4: 'R_BPF_64_NODYLD32',
  10: 'R_BPF_64_32',
};

/** The name llvm-objdump prints for an EM_BPF relocation type (`Unknown` for undefined numbers). */
export function bpfRelocationName(type: number): string {
  return BPF_RELOCATION_NAMES[type] ?? 'Unknown';
}

const hex16 = (n: bigint) => n.toString(16).padStart(16, '0');
const U64 = (1n << 64n) - 1n;

/** Orders symbols as llvm-objdump does: by address, then name (bytewise), then type. */
function compareSymbols(a: ListingSymbol, b: ListingSymbol): number {
  if (a.value !== b.value) return a.value - b.value;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
}

function bytesText(bytes: Uint8Array, from: number, to: number): string {
  const parts: string[] = [];
  for (let k = from; k < to; k++) parts.push((bytes[k] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(' ');
}

/** Lists one section: symbol headers, instruction lines, inline relocations. */
function listSection(section: ListingSection, out: string[]): void {
  const { bytes } = section;
  if (bytes.length === 0) return;
  out.push(`\nDisassembly of section ${section.name}:\n`);

  const symbols = section.symbols
    .filter((s) => s.type !== 'section' && s.type !== 'file' && s.name !== '')
    .slice()
    .sort(compareSymbols);
  // A section that does not start with a symbol gets a dummy one named after the section.
  const first = symbols[0];
  if (first === undefined || first.value !== 0) {
    symbols.unshift({ name: section.name, value: 0, type: 'func' });
  }
  const relocations = (section.relocations ?? []).slice().sort((a, b) => a.offset - b.offset);
  let rel = 0;

  // The last symbol (in sort order) at or below the target, as `name` or `name+0xDISP`.
  const targetName = (target: bigint): string | undefined => {
    let lo = 0;
    let hi = symbols.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (BigInt(symbols[mid]!.value) <= target) lo = mid + 1;
      else hi = mid;
    }
    const best = symbols[lo - 1];
    if (best === undefined) return undefined;
    const disp = target - BigInt(best.value);
    return disp === 0n ? best.name : `${best.name}+0x${disp.toString(16)}`;
  };

  for (let si = 0; si < symbols.length; si++) {
    const sym = symbols[si]!;
    const start = sym.value;
    const next = symbols[si + 1];
    const end = Math.min(bytes.length, next === undefined ? bytes.length : next.value);
    if (start >= end) continue;
    out.push(`\n${hex16(BigInt(start))} <${sym.name}>:\n`);
    let index = start;
    while (index < end) {
      // llvm-objdump folds a run of >= 8 zero bytes (in multiples of 4), stopping at a relocation.
      let limit = end;
      const pending = relocations[rel];
      if (pending !== undefined && pending.offset >= index) limit = Math.min(limit, pending.offset);
      let zeros = 0;
      while (index + zeros < limit && bytes[index + zeros] === 0) zeros++;
      if (zeros >= 8) {
        out.push('\t\t...\n');
        index += zeros & ~3;
        continue;
      }
      const slotNo = Math.floor(index / SLOT_SIZE);
      const label = `${slotNo}`.padStart(8, ' ');
      let size: number;
      let text: string;
      try {
        if (index + SLOT_SIZE > end) throw new InsnDecodeError(index, 'truncated', 'short');
        const view = bytes.subarray(0, end);
        const decoded = decodeInsnAt(view, index);
        size = decoded.size;
        const delta = branchDelta(decoded.insn);
        const target =
          delta === undefined
            ? undefined
            : targetName((BigInt(index) + BigInt(size) + BigInt(delta) * 8n) & U64);
        text = formatInsn(decoded.insn, target === undefined ? {} : { branchTarget: target });
      } catch (e) {
        if (!(e instanceof InsnDecodeError)) throw e;
        size = index + SLOT_SIZE <= end ? SLOT_SIZE : 1;
        text = '<unknown>';
      }
      out.push(`${label}:\t${bytesText(bytes, index, index + size)}\t${text}\n`);
      while (rel < relocations.length && relocations[rel]!.offset < index + size) {
        const r = relocations[rel]!;
        const type = typeof r.type === 'number' ? bpfRelocationName(r.type) : r.type;
        out.push(`\t\t${hex16(BigInt(r.offset))}:  ${type}\t${r.symbol}\n`);
        rel++;
      }
      index += size;
    }
  }
}

/**
 * The complete `llvm-objdump -d -r` output for the given sections: file header, then per section
 * `Disassembly of section NAME:`, a `<symbol>:` header per symbol, one line per instruction
 * (`%8d:\t<bytes>\t<text>`, the number counting 8-byte slots, branch targets as `<sym+0xOFF>`) and
 * relocation lines after the instruction they patch.
 */
export function formatListing(listing: Listing): string {
  const out: string[] = [`\n${listing.fileName}:\tfile format elf64-bpf\n`];
  for (const section of listing.sections) listSection(section, out);
  return out.join('');
}

const SYMBOL_TYPES: Readonly<Record<number, ListingSymbolType>> = {
  [STT.NOTYPE]: 'notype',
  [STT.OBJECT]: 'object',
  [STT.FUNC]: 'func',
  [STT.SECTION]: 'section',
  [STT.FILE]: 'file',
};

/**
 * What `llvm-objdump -d -r` lists of a parsed ELF object: every non-empty SHF_EXECINSTR section with
 * the symbols defined in it and the relocations (from every SHT_REL section) that patch it.
 * A relocation against a section symbol is shown with the section's name, as llvm-objdump does.
 */
export function elfListing(elf: ElfFile, fileName: string): Listing {
  const symbolName = (index: number): string => {
    const sym = elf.symbols[index];
    if (sym === undefined) return '';
    if (sym.type === STT.SECTION) return elf.sections[sym.sectionIndex]?.name ?? '';
    return sym.name;
  };
  const sections: ListingSection[] = [];
  for (const section of elf.sections) {
    if ((section.flags & SHF.EXECINSTR) === 0 || section.data.length === 0) continue;
    const symbols = elf.symbols
      .filter((sym, k) => k > 0 && sym.sectionIndex === section.index)
      .map((sym) => ({
        name: sym.name,
        value: sym.value,
        type: SYMBOL_TYPES[sym.type] ?? 'other',
      }));
    const relocations = elf.relocationSections
      .filter((rs) => rs.target === section.index)
      .flatMap((rs) => rs.relocations)
      .map((r) => ({ offset: r.offset, type: r.type, symbol: symbolName(r.symbol) }));
    sections.push({ name: section.name, bytes: section.data, symbols, relocations });
  }
  return { fileName, sections };
}
