/**
 * Text listing of a DSL program: llvm-objdump-style instructions (slot index, disassembly, map
 * names, branch targets) interleaved with the TypeScript lines that produced them.
 *
 *     ; b.ctx.load(r2, 'family');                      [test/dsl/x.test.ts:12:7]
 *        0: r2 = *(u32 *)(r1 + 20)
 *     ; b.if(r2.ne(AddressFamily.INET), () => b.ret(0));   [test/dsl/x.test.ts:13:7]
 *        1: if r2 != 2 goto +23 <27>
 */
import { branchDelta, formatInsn } from '../asm/disasm.js';
import type { Insn } from '../asm/insn.js';
import type { MapDef } from './maps.js';
import type { SourceLocation } from './source-location.js';

/** What a listing needs of a program. */
export interface Listable {
  readonly name: string;
  readonly section: string;
  readonly insns: readonly Insn[];
  readonly locations: readonly SourceLocation[];
  readonly mapUses: ReadonlyMap<number, MapDef>;
}

/** Formats a program as text: one line per instruction, a `;` line per change of source line. */
export function formatListing(p: Listable): string {
  const out = [`${p.name} (section ${p.section}):`];
  let slot = 0;
  let prev: SourceLocation | undefined;
  p.insns.forEach((insn, i) => {
    const loc = p.locations[i];
    if (
      loc &&
      (!prev || prev.file !== loc.file || prev.line !== loc.line || prev.col !== loc.col)
    ) {
      out.push(`; ${loc.text.trim()}\t[${loc.file}:${loc.line}:${loc.col}]`);
      prev = loc;
    }
    let text = formatInsn(insn);
    const map = p.mapUses.get(i);
    if (map) text += `\t; map ${map.name}`;
    const delta = branchDelta(insn);
    if (delta !== undefined) text += ` <${slot + 1 + delta}>`;
    out.push(`${String(slot).padStart(6)}: ${text}`);
    slot += insn.kind === 'ld_imm64' ? 2 : 1;
  });
  return `${out.join('\n')}\n`;
}
