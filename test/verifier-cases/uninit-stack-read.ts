/** A stack slot read into a register before anything was stored there. */
import { bpfObject, program, r0, r10 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const readGarbage = program(
  'sockops',
  'read_garbage',
  (b) => {
    b.ldx('dw', r0, r10, -16); // ← verifier
    b.and(r0, 1);
    b.ret(r0);
  },
  { check: false },
);

export default {
  description: 'loads 8 bytes from fp-16, which nothing wrote',
  object: bpfObject({ programs: [readGarbage] }),
  program: 'read_garbage',
  kind: 'uninitialized-stack',
  title: 'uninitialised stack read',
  explains: ['fp-16', 'nothing on this path wrote'],
  unprivileged: true,
  url: import.meta.url,
} satisfies VerifierCase;
