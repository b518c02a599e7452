/** A loop whose exit depends on a value that never changes inside it. */
import { bpfObject, program, r1, r2, r3 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const spin = program(
  'sockops',
  'spin',
  (b) => {
    b.ctx.load(r2, 'op');
    b.mov(r3, 0);
    const head = b.label('head');
    const done = b.label('done');
    b.mark(head);
    b.jumpIf(r2.eq(0xffff), done);
    b.mov(r3, 1);
    b.goto(head); // ← verifier
    b.mark(done);
    b.mov(r1, r3);
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'loops on `op != 0xffff` while nothing in the loop changes op',
  object: bpfObject({ programs: [spin] }),
  program: 'spin',
  kind: 'too-complex',
  title: 'loop the verifier cannot bound',
  explains: ['comes back to the same state'],
  url: import.meta.url,
} satisfies VerifierCase;
