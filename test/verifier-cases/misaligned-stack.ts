/** An 8-byte store at fp-13: stack accesses must be aligned to their size. */
import { bpfObject, program, r2, r10 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const oddStore = program(
  'sockops',
  'odd_store',
  (b) => {
    b.ctx.load(r2, 'op');
    b.stx('dw', r10, -13, r2); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'stores a u64 at fp-13',
  object: bpfObject({ programs: [oddStore] }),
  program: 'odd_store',
  kind: 'misaligned-access',
  title: 'misaligned access',
  explains: ['fp-13', 'not aligned to 8 bytes'],
  url: import.meta.url,
} satisfies VerifierCase;
