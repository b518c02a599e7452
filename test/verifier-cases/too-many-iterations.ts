/** A bounded loop of ten million iterations: more than the verifier's one million instructions. */
import { bpfObject, program, r0, r6 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const countFar = program(
  'sockops',
  'count_far',
  (b) => {
    b.mov(r6, 0);
    const head = b.label('head');
    b.mark(head);
    b.add(r6, 1); // ← verifier
    b.jumpIf(r6.lt(10_000_000), head); // ← verifier
    b.mov(r0, 0);
    b.exit();
  },
  { check: false },
);

export default {
  description: 'counts r6 to 10,000,000; the verifier walks every iteration',
  object: bpfObject({ programs: [countFar] }),
  program: 'count_far',
  kind: 'too-complex',
  title: 'program too complex for the verifier',
  explains: ['limit of 1,000,000'],
  url: import.meta.url,
} satisfies VerifierCase;
