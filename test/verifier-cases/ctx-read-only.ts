/** sock_ops writes remote_ip4, which the kernel only lets programs read. */
import { bpfObject, program, r1, r2 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const rewritePeer = program(
  'sockops',
  'rewrite_peer',
  (b) => {
    b.mov(r2, 0x0100007f);
    b.stx('w', r1, 24, r2); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'stores to sock_ops.remote_ip4 (offset 24) with a raw stx',
  object: bpfObject({ programs: [rewritePeer] }),
  program: 'rewrite_peer',
  kind: 'ctx-access',
  title: 'write to a read-only context field',
  explains: ['sock_ops.remote_ip4', 'read-only'],
  url: import.meta.url,
} satisfies VerifierCase;
