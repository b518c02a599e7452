/** sk_msg stores to its context, which is entirely read-only. */
import { bpfObject, program, r1, r2, SkAction } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const setFamily = program(
  'sk_msg',
  'set_family',
  (b) => {
    b.mov(r2, 2);
    b.stx('w', r1, 16, r2); // ← verifier
    b.ret(SkAction.PASS);
  },
  { check: false },
);

export default {
  description: 'stores to sk_msg.family',
  object: bpfObject({ programs: [setFamily] }),
  program: 'set_family',
  kind: 'ctx-access',
  title: 'write to a read-only context field',
  explains: ['sk_msg.family', 'every field of struct sk_msg_md is read-only'],
  url: import.meta.url,
} satisfies VerifierCase;
