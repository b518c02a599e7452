/** A maybe-NULL map value passed on as the key of a second lookup (NULL check and helper argument). */
import { bpfObject, map, program, r0, r1, r2, u32, u64 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const first = map('first', { type: 'hash', key: u32, value: u32, maxEntries: 16 });
const second = map('second', { type: 'hash', key: u32, value: u64, maxEntries: 16 });

const chained = program(
  'sockops',
  'chained',
  (b) => {
    const key = b.stack(u32);
    b.call.mapLookupElem(first, key);
    b.mov(r2, r0);
    b.ldMap(r1, second);
    b.callHelper(1); // ← verifier
    b.ret(1);
  },
  { check: false },
);

export default {
  description: "passes the first lookup's result, maybe NULL, as the key of the second lookup",
  object: bpfObject({ programs: [chained] }),
  program: 'chained',
  kind: 'nullable-pointer',
  title: 'map value used without a NULL check',
  explains: ['R2', 'map `first`', 'passes it to a helper'],
  url: import.meta.url,
} satisfies VerifierCase;
