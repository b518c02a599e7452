/**
 * Type-level tests, checked by tsc (`npm run typecheck` covers test/): misuse the issue names is a
 * compile error (each `@ts-expect-error` fails the typecheck if the line compiles), and the correct
 * forms compile. At run time the same misuses are rejected too, which the tests also assert.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  codec,
  DslError,
  type JsValue,
  map,
  type ProgramBuilder,
  program,
  type Ref,
  type Register,
  r0,
  r1,
  r2,
  r6,
  r10,
  struct,
  u8,
  u16,
  u32,
  u64,
  w2,
} from '../../src/dsl/index.js';
import { SockKey, sockMap } from './sockmap-pair.js';

const OtherKey = struct('other_key', { a: u32, b: u32 });
const sockArray = map('sock_array', { type: 'sockmap', key: u32, value: u32, maxEntries: 8 });
const counters = map('counters', {
  type: 'hash',
  key: u32,
  value: struct('counter', { packets: u64, bytes: u64 }),
  maxEntries: 16,
});

function rejects(build: () => unknown, code: string): void {
  let error: unknown;
  try {
    build();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DslError);
  expect((error as DslError).code).toBe(code);
}

describe('ctx fields are typed per program type', () => {
  it('rejects an unknown ctx field at compile time', () => {
    rejects(
      () =>
        program('sockops', 'unknownfield', (b) => {
          // @ts-expect-error 'remote_port6' is not a field of bpf_sock_ops
          b.ctx.load(r2, 'remote_port6');
          b.ret(0);
        }),
      'UNKNOWN_FIELD',
    );
    rejects(
      () =>
        program('sk_msg', 'wrongctx', (b) => {
          // @ts-expect-error sk_msg_md has no 'op' field (it belongs to bpf_sock_ops)
          b.ctx.load(r2, 'op');
          b.ret(1);
        }),
      'UNKNOWN_FIELD',
    );
  });

  it('rejects a write to a read-only ctx field at compile time', () => {
    rejects(
      () =>
        program('sockops', 'rowrite', (b) => {
          b.mov(r2, 0);
          // @ts-expect-error remote_port is read-only in bpf_sock_ops
          b.ctx.store('remote_port', r2);
          b.ret(0);
        }),
      'READ_ONLY_FIELD',
    );
  });

  it('compiles reads of every field kind and writes of the writable ones', () => {
    const p = program('sockops', 'ctxok', (b) => {
      b.ctx.load(r2, 'remote_port');
      b.ctx.load(r2, 'remote_ip6', { index: 3 });
      b.ctx.load(r2, 'bytes_acked');
      b.ctx.store('reply', r2);
      b.ctx.store('sk_txhash', r2);
      b.ret(1);
    });
    expect(p.insns).toHaveLength(7);
    expectTypeOf<Parameters<ProgramBuilder<'sockops'>['ctx']['store']>[0]>().toEqualTypeOf<
      'reply' | 'sk_txhash'
    >();
    expectTypeOf<Parameters<ProgramBuilder<'sk_msg'>['ctx']['store']>[0]>().toEqualTypeOf<never>();
  });
});

describe('helpers are typed per program type and map type', () => {
  it('rejects sock_hash_update from sk_msg at compile time', () => {
    rejects(
      () =>
        program('sk_msg', 'hashfrommsg', (b) => {
          const key = b.stack(SockKey);
          // @ts-expect-error bpf_sock_hash_update is a sock_ops helper
          b.call.sockHashUpdate(r1, sockMap, key, 0);
          b.ret(1);
        }),
      'HELPER_NOT_ALLOWED',
    );
    expectTypeOf<ProgramBuilder<'sk_msg'>['call']>().not.toHaveProperty('sockHashUpdate');
    expectTypeOf<ProgramBuilder<'sockops'>['call']>().toHaveProperty('sockHashUpdate');
    expectTypeOf<ProgramBuilder<'sockops'>['call']>().not.toHaveProperty('msgRedirectHash');
  });

  it('rejects a SOCKMAP where a SOCKHASH is required at compile time', () => {
    expect(() =>
      program('sockops', 'mapkind', (b) => {
        const key = b.stack(u32);
        // @ts-expect-error sock_hash_update needs a sockhash, sock_array is a sockmap
        b.call.sockHashUpdate(r1, sockArray, key, 0);
        b.ret(0);
      }),
    ).toThrowError(/must be a sockhash map, but sock_array is a sockmap/);
  });

  it('rejects a key struct of the wrong type at compile time', () => {
    expect(() =>
      program('sockops', 'keykind', (b) => {
        const key = b.stack(OtherKey);
        // @ts-expect-error sock_ops_map is keyed by sock_key, not other_key
        b.call.sockHashUpdate(r1, sockMap, key, 0);
        b.ret(0);
      }),
    ).toThrowError(/includes uninitialised stack bytes|r10/);
  });

  it('compiles the correct forms and types their results', () => {
    program('sockops', 'helpersok', (b) => {
      b.mov(r6, r1);
      const key = b.stack(SockKey);
      const rc = b.call.sockHashUpdate(r6, sockMap, key, 0);
      expectTypeOf(rc).toEqualTypeOf<Register<0, 64>>();
      b.call.sockMapUpdate(r6, sockArray, b.stack(u32), 0);
      const k = b.stack(u32);
      const value = b.call.mapLookupElem(counters, k);
      expectTypeOf(value).toMatchTypeOf<Ref>();
      b.if(r0.eq(0), () => b.ret(0));
      b.load(r2, value, 'bytes');
      b.ret(0);
    });
  });
});

describe('registers and structs', () => {
  it('keeps r10 out of destinations and widths consistent', () => {
    expect(() =>
      program(
        'sk_msg',
        'regtypes',
        (b) => {
          // @ts-expect-error the frame pointer cannot be written
          b.add(r10, 8);
          // @ts-expect-error a 32-bit destination takes a 32-bit source
          b.mov(w2, r1);
          b.ret(1);
        },
        { check: false },
      ),
    ).not.toThrow();
  });

  it('derives member paths and JS values from one declaration', () => {
    const Nested = struct('nested', { tag: u8, inner: SockKey, ports: u16 });
    expectTypeOf<JsValue<typeof SockKey>>().toEqualTypeOf<{
      sip4: number;
      dip4: number;
      family: number;
      pad1: number;
      pad2: number;
      sport: number;
      dport: number;
    }>();
    expectTypeOf(codec(u64).decode).returns.toEqualTypeOf<bigint>();
    expect(() =>
      program('sk_msg', 'paths', (b) => {
        const n = b.stack(Nested);
        b.store(n, 'inner.sport', 80);
        // @ts-expect-error 'inner' is a struct, not a scalar member
        b.store(n, 'inner', 0);
        b.ret(1);
      }),
    ).toThrowError(/'inner' is a struct, not a scalar member/);
  });
});
