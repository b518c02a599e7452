/** A ring buffer record reserved and never submitted or discarded. */
import { bpfObject, map, program, r0, r1, r2, r3, r6 } from '../../src/dsl/index.js';
import type { VerifierCase } from './case.js';

const events = map('events', { type: 'ringbuf', maxEntries: 4096 });

const leakEvent = program(
  'sockops',
  'leak_event',
  (b) => {
    b.mov(r6, r1);
    b.ldMap(r1, events);
    b.mov(r2, 8);
    b.mov(r3, 0);
    b.callHelper(131); // bpf_ringbuf_reserve
    b.if(r0.ne(0), () => {
      b.ctx.load(r2, 'op', { ctx: r6 });
      b.stx('w', r0, 0, r2);
    });
    b.ret(1); // ← verifier
  },
  { check: false },
);

export default {
  description: 'reserves 8 bytes of ring buffer and returns without bpf_ringbuf_submit',
  object: bpfObject({ programs: [leakEvent] }),
  program: 'leak_event',
  kind: 'unreleased-reference',
  title: 'reference not released before exit',
  explains: ['bpf_ringbuf_reserve', 'still held'],
  url: import.meta.url,
} satisfies VerifierCase;
