/**
 * Property: however labels, one-slot and two-slot instructions and jumps are interleaved, every
 * jump lands on the slot where its label was placed (offsets relative to the next slot, ld_imm64
 * counting two), and the program's line info points at instruction starts.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { program, r0, r2 } from '../../src/dsl/index.js';

type Op =
  | { readonly t: 'mov' }
  | { readonly t: 'ld64' }
  | { readonly t: 'jump'; readonly label: number };

const LABELS = 4;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ t: 'mov' }),
  fc.constant<Op>({ t: 'ld64' }),
  fc.integer({ min: 0, max: LABELS - 1 }).map((label): Op => ({ t: 'jump', label })),
);

it('resolves every jump to the slot of its label', () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 40 }),
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: LABELS, maxLength: LABELS }),
      (ops, placesRaw) => {
        const places = placesRaw.map((p) => Math.min(p, ops.length));
        // Independent model: slot of each op and of each label position.
        const slotAt: number[] = [];
        let slot = 0;
        for (const op of ops) {
          slotAt.push(slot);
          slot += op.t === 'ld64' ? 2 : 1;
        }
        slotAt.push(slot);
        const p = program(
          'sk_msg',
          'prop',
          (b) => {
            const labels = Array.from({ length: LABELS }, (_, i) => b.label(`l${i}`));
            ops.forEach((op, i) => {
              places.forEach((at, l) => {
                if (at === i) b.mark(labels[l]!);
              });
              if (op.t === 'mov') b.mov(r0, 0);
              else if (op.t === 'ld64') b.ldImm64(r2, 1n << 40n);
              else b.goto(labels[op.label]!);
            });
            places.forEach((at, l) => {
              if (at === ops.length) b.mark(labels[l]!);
            });
            b.exit();
          },
          { check: false },
        );
        let s = 0;
        p.insns.forEach((insn, i) => {
          const op = ops[i];
          if (insn.kind === 'ja' && op?.t === 'jump') {
            expect(s + 1 + insn.off).toBe(slotAt[places[op.label] as number]);
          }
          s += insn.kind === 'ld_imm64' ? 2 : 1;
        });
        expect(p.slots).toBe(slot + 1);
        expect(p.lines.every((l) => l.insn < p.insns.length)).toBe(true);
      },
    ),
    { numRuns: 100 },
  );
});
