/** `b.exit()` on a path where r0 was never written. */
import { bpfObject, program, r2 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const noReturn = program(
  'sockops',
  'no_return',
  (b) => {
    b.ctx.load(r2, 'family');
    b.exit(); // ← verifier
  },
  { check: false },
);

export default {
  description: 'exits without setting r0',
  object: bpfObject({ programs: [noReturn] }),
  program: 'no_return',
  kind: 'return-value',
  title: 'program exits without setting R0',
  explains: ['R0 is the return value'],
  url: import.meta.url,
} satisfies VerifierCase;
