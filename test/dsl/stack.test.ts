/**
 * Stack objects read as zero wherever the program did not store, with as few stores as possible:
 * bytes stored on every path need nothing, bytes never stored are zeroed where the object is first
 * read or passed, and bytes stored on some paths only are zeroed at the allocation, before those
 * stores, so a branch's store is never overwritten.
 */
import { describe, expect, it } from 'vitest';
import {
  type DslError,
  map,
  type ProgramBuilder,
  program,
  r0,
  r2,
  r10,
  struct,
  u8,
  u32,
} from '../../src/dsl/index.js';

const Pair = struct('pair', { a: u32, b: u32 });
const pairs = map('pairs', { type: 'hash', key: Pair, value: u32, maxEntries: 4 });

function built(body: (b: ProgramBuilder<'sk_msg'>) => void) {
  return program('sk_msg', 'stack', body).insns;
}

describe('zero-initialised stack objects', () => {
  it('zero the bytes a branch may store at the allocation, and the rest where the key is passed', () => {
    const insns = built((b) => {
      const key = b.stack(Pair);
      b.ctx.load(r2, 'family');
      b.if(r2.eq(2), () => b.store(key, 'a', 5));
      b.call.mapLookupElem(pairs, key);
      b.ret(1);
    });
    expect(insns.slice(0, 5)).toEqual([
      { kind: 'st', size: 'w', dst: 10, off: -8, imm: 0 },
      { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 1, off: 16 },
      { kind: 'jump', width: 64, op: 'jne', dst: 2, src: { imm: 2 }, off: 1 },
      { kind: 'st', size: 'w', dst: 10, off: -8, imm: 5 },
      { kind: 'st', size: 'w', dst: 10, off: -4, imm: 0 },
    ]);
  });

  it('zero nothing that every path stores, including raw r10-relative stores', () => {
    const insns = built((b) => {
      const key = b.stack(Pair);
      b.store(key, 'a', 1);
      b.st('w', r10, key.offset + 4, 2);
      b.call.mapLookupElem(pairs, key);
      b.ret(1);
    });
    expect(insns.filter((i) => i.kind === 'st' && i.imm === 0)).toEqual([]);
  });

  it('zero the member a load reads when it was never stored', () => {
    const insns = built((b) => {
      const key = b.stack(Pair);
      b.load(r0, key, 'b');
      b.ret(1);
    });
    expect(insns.slice(0, 2)).toEqual([
      { kind: 'st', size: 'w', dst: 10, off: -4, imm: 0 },
      { kind: 'ldx', size: 'w', signed: false, dst: 0, src: 10, off: -4 },
    ]);
  });

  it('cover missing bytes with the widest aligned stores', () => {
    const Odd = struct(
      'odd',
      { t: u8, rest: struct('rest', { x: u8, y: u32 }, { packed: true }), z: u32 },
      { packed: true },
    );
    const insns = program('sk_msg', 'wide', (b) => {
      const o = b.stack(Odd);
      b.store(o, 'rest.x', 1);
      b.addr(r2, o);
      b.ret(1);
    }).insns;
    // Object at r10-16 (10 bytes, to r10-7); r10-15 stored: the rest as aligned b, h, w, h.
    const zeros = insns.filter((i) => i.kind === 'st' && i.imm === 0);
    expect(zeros).toEqual([
      { kind: 'st', size: 'b', dst: 10, off: -16, imm: 0 },
      { kind: 'st', size: 'h', dst: 10, off: -14, imm: 0 },
      { kind: 'st', size: 'w', dst: 10, off: -12, imm: 0 },
      { kind: 'st', size: 'h', dst: 10, off: -8, imm: 0 },
    ]);
  });

  it('reject an object that does not fit the 512-byte frame where it is allocated', () => {
    let err: unknown;
    try {
      built((b) => {
        b.stack(struct('big', { a: struct('inner', { x: u32 }) }));
        for (let i = 0; i < 64; i++) b.stack(Pair);
        b.ret(1);
      });
    } catch (e) {
      err = e;
    }
    expect((err as DslError).code).toBe('STACK_OVERFLOW');
    expect((err as DslError).message).toMatch(
      /^test\/dsl\/stack\.test\.ts:\d+:\d+: stack object of 8 bytes does not fit: 512 of 512/,
    );
  });
});
