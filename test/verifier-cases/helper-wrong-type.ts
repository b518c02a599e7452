/** sock_ops calls bpf_msg_redirect_hash (an sk_msg helper) through the untyped callHelper. */
import { bpfObject, map, program, r2, r3, r4, r10, u32 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const socks = map('socks', { type: 'sockhash', key: u32, value: u32, maxEntries: 16 });

const redirectOps = program(
  'sockops',
  'redirect_ops',
  (b) => {
    b.st('w', r10, -8, 1);
    b.ldMap(r2, socks);
    b.mov(r3, r10);
    b.add(r3, -8);
    b.mov(r4, 0);
    b.callHelper(71); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'calls helper #71 (bpf_msg_redirect_hash) from sock_ops',
  object: bpfObject({ programs: [redirectOps] }),
  program: 'redirect_ops',
  kind: 'helper-not-allowed',
  title: 'helper not allowed for this program type',
  explains: ['bpf_msg_redirect_hash', 'sock_ops'],
  url: import.meta.url,
} satisfies VerifierCase;
