/** A map key on the stack with only half of its bytes written (zero-fill turned off). */
import { bpfObject, map, program, r2, struct, u32, u64 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const Pair = struct('pair', { a: u32, b: u32 });
const pairs = map('pairs', { type: 'hash', key: Pair, value: u64, maxEntries: 16 });

const lookupPair = program(
  'sockops',
  'lookup_pair',
  (b) => {
    const key = b.stack(Pair, { zero: false });
    b.ctx.load(r2, 'op');
    b.store(key, 'b', r2);
    b.call.mapLookupElem(pairs, key); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: 'passes a key whose field `a` was never written to bpf_map_lookup_elem',
  object: bpfObject({ programs: [lookupPair] }),
  program: 'lookup_pair',
  kind: 'uninitialized-stack',
  title: 'uninitialised stack memory passed to a helper',
  explains: ['R2', 'fp-8..fp-5', 'never written'],
  unprivileged: true,
  url: import.meta.url,
} satisfies VerifierCase;
