/** A bounded loop over lookups whose results are used unchecked (a loop and a NULL check at once). */
import { bpfObject, map, program, r0, r2, r6, u32 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const slots = map('slots', { type: 'hash', key: u32, value: u32, maxEntries: 4 });

const sumSlots = program(
  'sockops',
  'sum_slots',
  (b) => {
    const key = b.stack(u32);
    b.mov(r6, 0);
    const head = b.label('head');
    const done = b.label('done');
    b.mark(head);
    b.jumpIf(r6.ge(4), done);
    b.stx('w', key.base, key.offset, r6);
    b.call.mapLookupElem(slots, key);
    b.ldx('w', r2, r0, 0); // ← verifier
    b.add(r6, 1);
    b.goto(head);
    b.mark(done);
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'dereferences each lookup result inside a bounded loop without a NULL check',
  object: bpfObject({ programs: [sumSlots] }),
  program: 'sum_slots',
  kind: 'nullable-pointer',
  title: 'map value used without a NULL check',
  explains: ['map `slots`'],
  url: import.meta.url,
} satisfies VerifierCase;
