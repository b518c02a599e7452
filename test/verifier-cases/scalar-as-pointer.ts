/** An IPv4 address read from the context used as an address to load from. */
import { bpfObject, program, r2, r3 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const derefIp = program(
  'sockops',
  'deref_ip',
  (b) => {
    b.ctx.load(r2, 'remote_ip4');
    b.ldx('w', r3, r2, 0); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'dereferences remote_ip4, a number',
  object: bpfObject({ programs: [derefIp] }),
  program: 'deref_ip',
  kind: 'scalar-dereference',
  title: 'a number used as a pointer',
  explains: ['R2 holds a plain number'],
  url: import.meta.url,
} satisfies VerifierCase;
