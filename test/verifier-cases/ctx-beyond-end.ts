/** sk_msg reads past the end of struct sk_msg_md (80 bytes). */
import { bpfObject, program, r1, r2, SkAction } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const pastEnd = program(
  'sk_msg',
  'past_end',
  (b) => {
    b.ldx('w', r2, r1, 96); // ← verifier
    b.ret(SkAction.PASS);
  },
  { check: false },
);

export default {
  description: 'loads 4 bytes at offset 96 of an 80-byte context',
  object: bpfObject({ programs: [pastEnd] }),
  program: 'past_end',
  kind: 'ctx-access',
  title: 'context access at an invalid offset',
  explains: ['offset 96', 'struct sk_msg_md (80 bytes)'],
  url: import.meta.url,
} satisfies VerifierCase;
