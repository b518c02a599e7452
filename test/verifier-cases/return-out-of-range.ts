/** sock_ops returns 2 for IPv4 sockets; sock_ops programs must return 0 or 1. */
import { AddressFamily, bpfObject, program, r2 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const badVerdict = program(
  'sockops',
  'bad_verdict',
  (b) => {
    b.ctx.load(r2, 'family');
    b.if(r2.eq(AddressFamily.INET), () => b.ret(2)); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'returns 2 on the IPv4 path',
  object: bpfObject({ programs: [badVerdict] }),
  program: 'bad_verdict',
  kind: 'return-value',
  title: 'return value out of range',
  explains: ['R0 has smin=2 smax=2', '[0, 1]'],
  url: import.meta.url,
} satisfies VerifierCase;
