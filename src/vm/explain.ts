/**
 * Human-readable explanations of a traced run: one line per executed instruction with its index,
 * call depth, the llvm-objdump text and the registers it changed, e.g.
 *
 *        7  r2 = *(u32 *)(r6 + 0x40)      r2 = 0x409c0000
 *        8  r2 >>= 0x10                   r2 = 0x409c
 *       19  call 70                       r0 = 0x0  (sock_hash_update)
 */
import type { HelperCall } from './helpers.js';
import type { TraceStep } from './interpreter.js';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/**
 * Renders a trace (RunResult.trace) as text. Pass the run's helper calls to name each call's helper
 * next to its result.
 */
export function formatTrace(
  trace: readonly TraceStep[],
  calls: readonly HelperCall[] = [],
): string {
  const callAt = new Map<number, HelperCall[]>();
  for (const c of calls) callAt.set(c.insnIndex, [...(callAt.get(c.insnIndex) ?? []), c]);
  const seen = new Map<number, number>();
  const lines = trace.map((step) => {
    const changed = step.changed.flatMap((r) => {
      const v = step.regs[r];
      return v === undefined ? [] : [`r${r} = ${hex(v)}`];
    });
    let note = '';
    if (step.insn.kind === 'call' && step.insn.target === 'helper') {
      const n = seen.get(step.insnIndex) ?? 0;
      seen.set(step.insnIndex, n + 1);
      const call = callAt.get(step.insnIndex)?.[n];
      if (call) note = `  (${call.name})`;
    }
    const indent = '  '.repeat(step.frame);
    const text = `${indent}${step.text}`.padEnd(32);
    return `${String(step.insnIndex).padStart(6)}  ${text} ${changed.join(', ')}${note}`.trimEnd();
  });
  return lines.join('\n');
}
