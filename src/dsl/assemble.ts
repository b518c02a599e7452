/**
 * Assembly: turns the builder's item stream (instructions, jumps to labels, label bindings) into
 * the final `Insn[]`, resolving every label to a slot offset. Offsets count 8-byte slots from the
 * instruction after the jump, and `ld_imm64` occupies two slots, so a jump over it counts 2.
 *
 *     slot:  0        1        2    3        4
 *            jne +3   ld_imm64 ...  mov      exit
 *            └──────── +3 slots ──────────►┘   (target = 0 + 1 + 3 = 4)
 *
 * Out-of-range offsets (±32767 for jumps, ±2^31 for gotol), labels never bound, and numeric
 * jumps that land outside the program or on the second slot of an ld_imm64 are errors naming the
 * DSL call of the jump.
 */
import { branchDelta } from '../asm/disasm.js';
import type { GotolInsn, Insn, JaInsn, JumpInsn, MayGotoInsn } from '../asm/insn.js';
import { slotCount } from '../asm/insn.js';
import { DslError } from './errors.js';
import type { MapDef } from './maps.js';
import type { SourceLocation } from './source-location.js';

/** A jump target. Create with `b.label()`, place with `b.mark(label)`. */
export class Label {
  /** Name shown in errors and listings. */
  readonly name: string;
  /** Where the label was created. */
  readonly created: SourceLocation;
  /** Labels the builder makes for structured control flow (they do not end straight-line zero tracking). */
  readonly internal: boolean;

  /** Use `b.label(name)`. */
  constructor(name: string, created: SourceLocation, internal: boolean) {
    this.name = name;
    this.created = created;
    this.internal = internal;
  }
}

/** A jump whose offset is filled in at assembly. */
export type JumpLike = JumpInsn | JaInsn | GotolInsn | MayGotoInsn;

/** One element of the builder's output stream. */
export type Item =
  | { readonly t: 'insn'; readonly insn: Insn; readonly loc: SourceLocation; readonly map?: MapDef }
  | {
      readonly t: 'jump';
      readonly insn: JumpLike;
      readonly target: Label;
      readonly loc: SourceLocation;
    }
  | { readonly t: 'bind'; readonly label: Label; readonly loc: SourceLocation };

/** The assembled program: instructions, the location and map reference of each. */
export interface Assembled {
  readonly insns: readonly Insn[];
  /** The DSL call behind each instruction (same index as insns). */
  readonly locs: readonly SourceLocation[];
  /** Map referenced by the ld_imm64 at each instruction index. */
  readonly maps: ReadonlyMap<number, MapDef>;
}

function withOffset(insn: JumpLike, delta: number): JumpLike {
  // A switch, not ts-pattern: called for every jump of every build; `never` keeps it exhaustive.
  switch (insn.kind) {
    case 'gotol':
      return { ...insn, imm: delta };
    case 'jump':
    case 'ja':
    case 'may_goto':
      return { ...insn, off: delta };
    default:
      insn satisfies never;
      throw new TypeError(`not a jump kind: ${String((insn as { kind?: unknown }).kind)}`);
  }
}

/** Resolves labels and lays out slots. */
export function assemble(items: readonly Item[]): Assembled {
  const labelSlot = new Map<Label, number>();
  let slot = 0;
  for (const item of items) {
    if (item.t === 'bind') {
      if (labelSlot.has(item.label)) {
        throw new DslError(
          'LABEL_REBOUND',
          `label '${item.label.name}' is placed twice; create a new label for each place`,
          item.loc,
        );
      }
      labelSlot.set(item.label, slot);
    } else {
      slot += slotCount(item.insn);
    }
  }
  const totalSlots = slot;
  const insns: Insn[] = [];
  const locs: SourceLocation[] = [];
  const maps = new Map<number, MapDef>();
  const starts = new Set<number>();
  slot = 0;
  for (const item of items) {
    if (item.t === 'bind') continue;
    starts.add(slot);
    if (item.t === 'jump') {
      const target = labelSlot.get(item.target);
      if (target === undefined) {
        throw new DslError(
          'UNBOUND_LABEL',
          `jump to label '${item.target.name}' (created at ${item.target.created.file}:${item.target.created.line}) that is never placed with b.mark()`,
          item.loc,
        );
      }
      const delta = target - (slot + 1);
      const limit = item.insn.kind === 'gotol' ? 2 ** 31 : 2 ** 15;
      if (delta < -limit || delta >= limit) {
        throw new DslError(
          'JUMP_OUT_OF_RANGE',
          `jump to label '${item.target.name}' is ${delta} slots away, beyond the ${item.insn.kind === 'gotol' ? '32' : '16'}-bit offset range (${-limit}..${limit - 1})${item.insn.kind === 'ja' ? '; use b.gotol() for long unconditional jumps' : ''}`,
          item.loc,
        );
      }
      insns.push(withOffset(item.insn, delta));
    } else {
      if (item.map) maps.set(insns.length, item.map);
      insns.push(item.insn);
    }
    locs.push(item.loc);
    slot += slotCount(insns[insns.length - 1] as Insn);
  }
  // Numeric (raw) jump offsets are the author's; check they land on an instruction.
  slot = 0;
  insns.forEach((insn, i) => {
    const delta = branchDelta(insn);
    if (delta !== undefined) {
      const target = slot + 1 + delta;
      const loc = locs[i] as SourceLocation;
      if (target < 0 || target >= totalSlots) {
        throw new DslError(
          'JUMP_OUT_OF_PROGRAM',
          `jump offset ${delta} lands on slot ${target}, outside the program's ${totalSlots} slots`,
          loc,
        );
      }
      if (!starts.has(target)) {
        throw new DslError(
          'JUMP_INTO_LD_IMM64',
          `jump offset ${delta} lands on slot ${target}, the second half of an ld_imm64 (a 64-bit load takes two slots; count it as 2)`,
          loc,
        );
      }
    }
    slot += slotCount(insn);
  });
  return { insns, locs, maps };
}
