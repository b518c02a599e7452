/** The ctx pointer used from r1 after a helper call, which cleared r1–r5 (two mistakes in one). */
import { bpfObject, map, program, r0, r2, u32 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const seen = map('seen', { type: 'array', key: u32, value: u32, maxEntries: 1 });

const afterCall = program(
  'sockops',
  'after_call',
  (b) => {
    const key = b.stack(u32);
    b.call.mapLookupElem(seen, key);
    b.if(r0.eq(0), () => b.ret(1));
    b.ctx.load(r2, 'op'); // ← verifier
    b.stx('w', r0, 0, r2);
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'reads ctx->op through r1 after bpf_map_lookup_elem clobbered it',
  object: bpfObject({ programs: [afterCall] }),
  program: 'after_call',
  kind: 'uninitialized-register',
  title: 'register read before it was written',
  explains: ['R1', 'cleared by every helper call'],
  url: import.meta.url,
} satisfies VerifierCase;
