/** A store above the frame pointer, outside the stack frame. */
import { bpfObject, program, r2, r10 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const pastFrame = program(
  'sockops',
  'past_frame',
  (b) => {
    b.ctx.load(r2, 'op');
    b.stx('dw', r10, 8, r2); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'stores 8 bytes at fp+8',
  object: bpfObject({ programs: [pastFrame] }),
  program: 'past_frame',
  kind: 'stack-out-of-bounds',
  title: 'stack access out of bounds',
  explains: ['fp+8', 'outside the stack frame'],
  url: import.meta.url,
} satisfies VerifierCase;
