/** A map value read right after the lookup, without checking it against NULL. */
import { bpfObject, map, program, r0, r2, u32, u64 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const counts = map('counts', { type: 'hash', key: u32, value: u64, maxEntries: 16 });

const countOps = program(
  'sockops',
  'count_ops',
  (b) => {
    const key = b.stack(u32);
    b.ctx.load(r2, 'op');
    b.stx('w', key.base, key.offset, r2);
    b.call.mapLookupElem(counts, key);
    b.ldx('dw', r2, r0, 0); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'reads the looked-up value without checking r0 against 0',
  object: bpfObject({ programs: [countOps] }),
  program: 'count_ops',
  kind: 'nullable-pointer',
  title: 'map value used without a NULL check',
  explains: ['R0', 'map `counts`'],
  url: import.meta.url,
} satisfies VerifierCase;
