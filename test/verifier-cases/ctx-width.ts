/** sk_msg reads the 4-byte remote_port with a 2-byte load (the clang pitfall Cilium works around). */
import { bpfObject, program, r1, r2, SkAction } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const narrowPort = program(
  'sk_msg',
  'narrow_port',
  (b) => {
    b.ldx('h', r2, r1, 60); // ← verifier
    b.ret(SkAction.PASS);
  },
  { check: false },
);

export default {
  description: 'loads sk_msg.remote_port (u32 at offset 60) as a u16',
  object: bpfObject({ programs: [narrowPort] }),
  program: 'narrow_port',
  kind: 'ctx-access',
  title: 'context field accessed with the wrong width',
  explains: ['sk_msg.remote_port', '4 bytes at a time'],
  url: import.meta.url,
} satisfies VerifierCase;
