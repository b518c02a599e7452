/**
 * One test per build-time check (issue 3, item 6): each builds a program with exactly one mistake
 * and asserts the error code, the message and the TypeScript file:line:col of the offending call.
 */
import { describe, expect, it } from 'vitest';
import {
  DslError,
  map,
  ProgramCheckError,
  program,
  r0,
  r1,
  r2,
  r3,
  r4,
  r6,
  r10,
  struct,
  u32,
  u64,
} from '../../src/dsl/index.js';
import { SockKey, sockMap } from './sockmap-pair.js';
import { whereMarked } from './where.js';

const here = import.meta.url;

function rejection(build: () => unknown): ProgramCheckError {
  try {
    build();
  } catch (e) {
    if (e instanceof ProgramCheckError) return e;
    throw e;
  }
  throw new Error('the program was accepted');
}

function expectOne(e: ProgramCheckError, code: string, marker: string, message: RegExp) {
  expect(e.diagnostics.map((d) => d.code)).toEqual([code]);
  expect(e.code).toBe(code);
  const where = whereMarked(here, marker);
  expect(e.message).toContain(`${where}: `);
  expect(e.detail).toMatch(message);
  const loc = e.location;
  expect(loc && `${loc.file}:${loc.line}:${loc.col}`).toBe(where);
  expect(loc?.text.trim().startsWith('b.')).toBe(true);
}

const Counter = struct('counter', { packets: u64, bytes: u64 });
const counters = map('counters', { type: 'hash', key: u32, value: Counter, maxEntries: 16 });

describe('build-time checks name the DSL call that breaks the program', () => {
  it('rejects a read of an uninitialised register', () => {
    const e = rejection(() =>
      program('sk_msg', 'uninit', (b) => {
        b.mov(r0, r3); // @uninit
        b.ret();
      }),
    );
    expectOne(e, 'UNINIT_REGISTER', 'uninit', /^r3 is read before any instruction writes it$/);
  });

  it('rejects a dereference of a map value that may be NULL', () => {
    const e = rejection(() =>
      program('sk_msg', 'nullderef', (b) => {
        const k = b.stack(u32);
        const value = b.call.mapLookupElem(counters, k);
        b.load(r2, value, 'packets'); // @nullderef
        b.ret(1);
      }),
    );
    expectOne(
      e,
      'NULL_DEREF',
      'nullderef',
      /r0 holds the result of a map lookup on counters, which may be NULL/,
    );
  });

  it('accepts the same dereference after a NULL test', () => {
    const p = program('sk_msg', 'nullok', (b) => {
      const k = b.stack(u32);
      const value = b.call.mapLookupElem(counters, k);
      b.if(r0.eq(0), () => b.ret(1));
      b.load(r2, value, 'packets');
      b.ret(1);
    });
    expect(p.insns.length).toBeGreaterThan(0);
  });

  it('rejects a use of r1-r5 after a helper call clobbered them', () => {
    const e = rejection(() =>
      program('sockops', 'clobber', (b) => {
        b.call.ktimeGetNs(); // @call
        b.ctx.load(r2, 'family'); // @clobbered
        b.ret(0);
      }),
    );
    expectOne(
      e,
      'CLOBBERED_REGISTER',
      'clobbered',
      /^r1 is read after the helper call at .* clobbered it/,
    );
    expect(e.detail).toContain(whereMarked(here, 'call'));
    expect(e.detail).toContain('keep the value in r6-r9');
  });

  it('rejects a write to r10', () => {
    const e = rejection(() =>
      program('sk_msg', 'writefp', (b) => {
        // @ts-expect-error r10 is not a destination register
        b.mov(r10, 0); // @r10
        b.ret(1);
      }),
    );
    expectOne(e, 'WRITE_R10', 'r10', /r10 is the read-only frame pointer/);
  });

  it('rejects a stack access outside the 512-byte frame', () => {
    const e = rejection(() =>
      program('sk_msg', 'deepstack', (b) => {
        b.st('w', r10, -516, 0); // @stack
        b.ret(1);
      }),
    );
    expectOne(
      e,
      'STACK_OUT_OF_BOUNDS',
      'stack',
      /r10-516 \(4 bytes\) is outside the 512-byte stack frame/,
    );
  });

  it('rejects uninitialised stack bytes passed as a helper key', () => {
    const e = rejection(() =>
      program('sockops', 'uninitkey', (b) => {
        const key = b.stack(SockKey, { zero: false });
        b.ctx.load(r2, 'remote_ip4');
        b.store(key, 'sip4', r2);
        b.call.sockHashUpdate(r1, sockMap, key, 0); // @uninitkey
        b.ret(0);
      }),
    );
    expectOne(
      e,
      'UNINIT_STACK',
      'uninitkey',
      /the key passed to bpf_sock_hash_update \(r3, r10-24, 20 bytes\) includes uninitialised stack bytes/,
    );
  });

  it('rejects a ctx access with the wrong width (a 16-bit load of remote_port)', () => {
    const e = rejection(() =>
      program('sockops', 'narrowport', (b) => {
        b.ldx('h', r2, r1, 64); // @width
        b.ret(0);
      }),
    );
    expectOne(
      e,
      'CTX_ACCESS',
      'width',
      /bpf_sock_ops.remote_port must be loaded with exactly 4 bytes at offset 64/,
    );
  });

  it('rejects a ctx access at an offset inside a field', () => {
    const e = rejection(() =>
      program('sk_msg', 'midfield', (b) => {
        b.ldx('w', r2, r1, 4); // @offset
        b.ret(1);
      }),
    );
    expectOne(
      e,
      'CTX_ACCESS',
      'offset',
      /sk_msg_md.data must be loaded with exactly 8 bytes at offset 0/,
    );
  });

  it('rejects a store to a read-only ctx field', () => {
    const e = rejection(() =>
      program('sockops', 'rofield', (b) => {
        b.mov(r2, 0);
        b.stx('w', r1, 20, r2); // @readonly
        b.ret(0);
      }),
    );
    expectOne(e, 'CTX_ACCESS', 'readonly', /bpf_sock_ops.family is read-only/);
  });

  it('rejects falling off the end without exit', () => {
    const e = rejection(() =>
      program('sk_msg', 'falloff', (b) => {
        b.mov(r0, 1); // @falloff
      }),
    );
    expectOne(e, 'FALL_OFF_END', 'falloff', /falls off the end of the program/);
  });

  it('rejects falling off the end into a shared return epilogue', () => {
    const e = rejection(() =>
      program('sk_msg', 'falloff2', (b) => {
        b.ctx.load(r2, 'family');
        b.if(r2.ne(2), () => b.ret(0));
        b.mov(r0, 1); // @falloff2
      }),
    );
    expectOne(e, 'FALL_OFF_END', 'falloff2', /falls off the end of the program body/);
  });

  it('rejects unreachable code', () => {
    const e = rejection(() =>
      program('sk_msg', 'dead', (b) => {
        b.ret(1);
        b.mov(r0, 0); // @dead
        b.exit();
      }),
    );
    expectOne(e, 'UNREACHABLE', 'dead', /can never run/);
  });

  it('rejects a jump into the second slot of ld_imm64', () => {
    let error: unknown;
    try {
      program('sk_msg', 'midimm', (b) => {
        b.goto(1); // @midimm
        b.ldImm64(r0, 1n);
        b.exit();
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DslError);
    const e = error as DslError;
    expect(e.code).toBe('JUMP_INTO_LD_IMM64');
    expect(e.message).toBe(
      `${whereMarked(here, 'midimm')}: jump offset 1 lands on slot 2, the second half of an ld_imm64 (a 64-bit load takes two slots; count it as 2)`,
    );
  });

  it('rejects helper arguments of the wrong kind', () => {
    const e = rejection(() =>
      program('sockops', 'badarg', (b) => {
        b.mov(r6, 7);
        const key = b.stack(SockKey);
        b.call.sockHashUpdate(r6, sockMap, key, 0); // @badarg
        b.ret(0);
      }),
    );
    expectOne(
      e,
      'HELPER_ARG',
      'badarg',
      /^argument 1 \(r1\) of bpf_sock_hash_update must be the context pointer, but r1 is the scalar 7$/,
    );
  });

  it('rejects a map of the wrong type in a raw helper call', () => {
    const e = rejection(() =>
      program('sockops', 'badmap', (b) => {
        const key = b.stack(u32);
        b.ldMap(r2, counters);
        b.addr(r3, key);
        b.mov(r4, 0);
        b.callHelper(70); // @badmap
        b.ret(0);
      }),
    );
    expect(e.diagnostics.map((d) => d.code)).toEqual(['HELPER_ARG']);
    expect(e.message).toContain(
      `${whereMarked(here, 'badmap')}: argument 2 of bpf_sock_hash_update must be a sockhash map, but counters is a hash`,
    );
  });

  it('rejects a sock_ops return value outside [0, 1]', () => {
    const e = rejection(() =>
      program('sockops', 'ret2', (b) => {
        b.ret(2); // @ret2
      }),
    );
    expectOne(
      e,
      'RETURN_RANGE',
      'ret2',
      /^sockops programs must return a value in \[0, 1\], but r0 may be 2$/,
    );
  });

  it('rejects returning an unbounded helper result from sock_ops', () => {
    const e = rejection(() =>
      program('sockops', 'retany', (b) => {
        b.call.getPrandomU32();
        b.ret(); // @retany
      }),
    );
    expectOne(e, 'RETURN_RANGE', 'retany', /r0 may be a value in \[0, 18446744073709551615\]/);
  });

  it('accepts a sock_ops return value narrowed by a comparison', () => {
    const p = program('sockops', 'retnarrow', (b) => {
      b.call.getPrandomU32();
      b.if(r0.gt(1), () => b.ret(0));
      b.ret();
    });
    expect(p.insns.at(-1)).toEqual({ kind: 'exit' });
  });

  it('rejects a helper the program type may not call, when called by id', () => {
    const e = rejection(() =>
      program('sk_msg', 'rawhelper', (b) => {
        b.mov(r2, 0);
        b.callHelper(59); // @rawhelper
        b.ret(1);
      }),
    );
    expect(e.diagnostics[0]?.code).toBe('HELPER_NOT_ALLOWED');
    expect(e.message).toContain(
      `${whereMarked(here, 'rawhelper')}: bpf_sock_ops_cb_flags_set (#59) cannot be called from sk_msg programs`,
    );
  });

  it('lists every problem of a program, in instruction order', () => {
    const e = rejection(() =>
      program('sockops', 'many', (b) => {
        b.mov(r0, r3);
        b.ldx('h', r2, r1, 64);
        b.ret(3);
      }),
    );
    expect(e.diagnostics.map((d) => d.code)).toEqual([
      'UNINIT_REGISTER',
      'CTX_ACCESS',
      'RETURN_RANGE',
    ]);
    expect(e.message.split('\n')).toHaveLength(4);
  });
});
