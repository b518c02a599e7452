/**
 * Support for the llvm-objdump cross-checks: which instructions each installed llvm-objdump decodes
 * faithfully, random objects made of random instruction streams, and running the tool.
 *
 * - llvm-objdump (LLVM 14, Debian bookworm `llvm`): the reference for everything it decodes.
 * - llvm-objdump-19 (Debian bookworm `llvm-19`): the reference for the cpu v4 instructions, jset,
 *   mod, BPF_ST and may_goto, which LLVM 14 prints as `<unknown>`; run with `--no-print-imm-hex`
 *   (LLVM 19 prints hex immediates by default), and with `--mattr=+alu32` for the 32-bit atomics.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { match } from 'ts-pattern';
import type { Insn, InsnKind } from '../../src/asm/insn.js';
import type { MapReference, ObjectSpec, ProgramSpec } from '../../src/asm/object-spec.js';
import { insnArbitraries } from './arbitraries.js';

/** True when llvm-objdump 14 (default options) prints exactly what formatInsn prints for `insn`. */
export function llvm14Decodes(insn: Insn): boolean {
  return (
    match(insn)
      .with({ kind: 'alu' }, (i) => i.op !== 'mod' && i.op !== 'smod' && i.op !== 'sdiv')
      .with({ kind: 'endian' }, (i) => i.order !== 'bswap')
      .with({ kind: 'jump' }, (i) => i.op !== 'jset')
      .with({ kind: 'ldx' }, (i) => !i.signed)
      // The non-alu32 decoder knows only the plain 32-bit add (and reads a fetch-add as one).
      .with({ kind: 'atomic' }, (i) => i.size === 'dw' || (i.op === 'add' && !i.fetch))
      .with(
        { kind: 'neg' },
        { kind: 'ja' },
        { kind: 'call' },
        { kind: 'exit' },
        { kind: 'stx' },
        { kind: 'ld_imm64' },
        { kind: 'ld_abs' },
        { kind: 'ld_ind' },
        () => true,
      )
      .with(
        { kind: 'movsx' },
        { kind: 'gotol' },
        { kind: 'may_goto' },
        { kind: 'st' },
        { kind: 'load_acquire' },
        { kind: 'store_release' },
        () => false,
      )
      .exhaustive()
  );
}

/**
 * True when llvm-objdump 19 (default features) prints exactly what formatInsn prints. It decodes
 * everything but the 32-bit atomics beyond `lock +=` (those need +alu32, see `llvm19Alu32Atomic`)
 * and load-acquire/store-release (LLVM 20+).
 */
export function llvm19Decodes(insn: Insn): boolean {
  return match(insn)
    .with({ kind: 'atomic' }, (i) => i.size === 'dw' || (i.op === 'add' && !i.fetch))
    .with({ kind: 'load_acquire' }, { kind: 'store_release' }, () => false)
    .otherwise(() => true);
}

/** The 32-bit atomics that llvm-objdump prints only with `--mattr=+alu32` (as formatInsn does). */
export function llvm19Alu32Atomic(insn: Insn): boolean {
  return insn.kind === 'atomic' && insn.size === 'w' && (insn.op !== 'add' || insn.fetch);
}

/** The kinds that have at least one form the given predicate accepts. */
export const KINDS_FOR_14: readonly InsnKind[] = [
  'alu',
  'neg',
  'endian',
  'jump',
  'ja',
  'call',
  'exit',
  'ldx',
  'stx',
  'atomic',
  'ld_imm64',
  'ld_abs',
  'ld_ind',
];

/** An instruction of `kinds` accepted by `accept`. */
export function arbInsnWhere(
  kinds: readonly InsnKind[],
  accept: (insn: Insn) => boolean,
): fc.Arbitrary<Insn> {
  return fc.oneof(...kinds.map((k) => (insnArbitraries[k] as fc.Arbitrary<Insn>).filter(accept)));
}

/** A stream of instructions plus map references on some of its plain `ld_imm64 0` instructions. */
export interface Stream {
  readonly insns: readonly Insn[];
  readonly mapRefs: readonly MapReference[];
}

/**
 * Streams of 1..maxLength instructions from `arbInsn`; a quarter of the ld_imm64 slots become
 * `r = 0 ll` map references (so relocation lines are cross-checked too) when `withMaps` is set.
 * Jump offsets are mostly small so that targets land on other streams' symbols and in range.
 */
export function arbStream(
  arbInsn: fc.Arbitrary<Insn>,
  maxLength: number,
  withMaps: boolean,
): fc.Arbitrary<Stream> {
  const nearJump = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: -40, max: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: -0x8000, max: 0x7fff }) },
  );
  const item = fc
    .tuple(arbInsn, nearJump, fc.boolean(), fc.nat({ max: 3 }))
    .map(([insn, off, asMapRef, dice]): { insn: Insn; mapRef: boolean } => {
      if (withMaps && asMapRef && insn.kind === 'ld_imm64' && dice === 0) {
        return {
          insn: { kind: 'ld_imm64', pseudo: 'imm64', dst: insn.dst, imm: 0n },
          mapRef: true,
        };
      }
      if (insn.kind === 'jump' || insn.kind === 'ja' || insn.kind === 'may_goto') {
        return { insn: { ...insn, off }, mapRef: false };
      }
      if (insn.kind === 'gotol') return { insn: { ...insn, imm: off }, mapRef: false };
      return { insn, mapRef: false };
    });
  return fc.array(item, { minLength: 1, maxLength }).map((items) => ({
    insns: items.map((i) => i.insn),
    mapRefs: items.flatMap((i, k) => (i.mapRef ? [{ insn: k, map: 'm' }] : [])),
  }));
}

/**
 * One object holding all `streams` as programs `p0`, `p1`, ... spread over sections `s0`, `s1`, ...
 * (`perSection` programs each, so branch targets are symbolized across neighbouring programs), plus
 * the map `m` the map references point at.
 */
export function objectOfStreams(streams: readonly Stream[], perSection: number): ObjectSpec {
  const programs: ProgramSpec[] = streams.map((s, k) => ({
    name: `p${k}`,
    section: `s${Math.floor(k / perSection)}`,
    insns: s.insns,
    mapRefs: s.mapRefs,
  }));
  return {
    license: 'GPL',
    programs,
    maps: [{ name: 'm', type: 2, key: 4, value: 8, maxEntries: 1 }],
  };
}

/** Runs `tool args... FILE` on `bytes` written to a temporary `name`; returns stdout (status 0 required). */
export function objdump(
  tool: string,
  args: readonly string[],
  bytes: Uint8Array,
  name: string,
): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-disasm-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    const result = spawnSync(tool, [...args, name], {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    });
    if (result.error) {
      throw new Error(
        `cannot run ${tool} (${result.error.message}); install it: apt-get install ${tool === 'llvm-objdump' ? 'llvm' : 'llvm-19'}`,
      );
    }
    if (result.status !== 0) throw new Error(`${tool} exited ${result.status}: ${result.stderr}`);
    return result.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The first line where two listings differ, with context, for a readable assertion message. */
export function firstDifference(ours: string, theirs: string): string | undefined {
  const a = ours.split('\n');
  const b = theirs.split('\n');
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    if (a[k] !== b[k]) {
      return `line ${k + 1}:\n  ours:   ${JSON.stringify(a[k])}\n  theirs: ${JSON.stringify(b[k])}\n  before: ${JSON.stringify(a[k - 1])}`;
    }
  }
  return undefined;
}
