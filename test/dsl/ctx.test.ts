/**
 * Ctx schemas against the 6.18 layouts (shared/spec/elf-btf-bpf.md §5.5) and the access rules of
 * net/core/filter.c, and the field access the builder emits from them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import {
  type CtxSchema,
  checkCtxAccess,
  type ProgramBuilder,
  type ProgramTypeName,
  program,
  r2,
  r6,
  SK_MSG_CTX,
  SOCK_OPS_CTX,
} from '../../src/dsl/index.js';

function emitted<P extends ProgramTypeName>(
  type: P,
  body: (b: ProgramBuilder<P>) => void,
): readonly Insn[] {
  return program(type, 'ctx', body, { check: false }).insns;
}

describe('schemas', () => {
  it('match the 6.18 structs: sizes and the offsets of the fields programs use', () => {
    expect(SOCK_OPS_CTX.size).toBe(224);
    expect(SK_MSG_CTX.size).toBe(80);
    const f = SOCK_OPS_CTX.fields;
    expect([
      f.op.offset,
      f.family.offset,
      f.remote_ip4.offset,
      f.local_ip4.offset,
      f.remote_ip6.offset,
    ]).toEqual([0, 20, 24, 28, 32]);
    expect([
      f.remote_port.offset,
      f.local_port.offset,
      f.sk_txhash.offset,
      f.bytes_received.offset,
      f.sk.offset,
    ]).toEqual([64, 68, 164, 168, 184]);
    expect([f.skb_tcp_flags.offset, f.skb_hwtstamp.offset, f.skb_hwtstamp.since]).toEqual([
      212,
      216,
      '6.2',
    ]);
    const m = SK_MSG_CTX.fields;
    expect([
      m.family.offset,
      m.remote_ip4.offset,
      m.local_ip4.offset,
      m.remote_port.offset,
      m.local_port.offset,
      m.size.offset,
      m.sk.offset,
    ]).toEqual([16, 20, 24, 60, 64, 68, 72]);
  });

  it('record byte order and introducing kernel for every field', () => {
    for (const schema of [SOCK_OPS_CTX, SK_MSG_CTX] as CtxSchema[]) {
      for (const [name, field] of Object.entries(schema.fields)) {
        expect(field.since, name).toMatch(/^\d+\.\d+$/);
        expect(['network', 'host'], name).toContain(field.order);
      }
    }
    expect([SOCK_OPS_CTX.fields.remote_port.order, SOCK_OPS_CTX.fields.local_port.order]).toEqual([
      'network',
      'host',
    ]);
    expect([SK_MSG_CTX.fields.remote_ip4.order, SK_MSG_CTX.fields.local_port.order]).toEqual([
      'network',
      'host',
    ]);
  });

  it('lay fields out without overlaps except the args/reply/replylong union', () => {
    for (const schema of [SOCK_OPS_CTX, SK_MSG_CTX] as CtxSchema[]) {
      const owner = new Map<number, string>();
      for (const [name, f] of Object.entries(schema.fields)) {
        for (let at = f.offset; at < f.offset + f.size * (f.count ?? 1); at++) {
          const prev = owner.get(at);
          if (prev)
            expect([prev, name].sort().join()).toMatch(
              /^(args,reply|args,replylong|reply,replylong)$/,
            );
          owner.set(at, name);
          expect(at).toBeLessThan(schema.size);
        }
      }
    }
  });
});

describe('access rules', () => {
  it('accept exactly the field width and reject narrow loads of u32 fields', () => {
    expect(checkCtxAccess(SOCK_OPS_CTX, 64, 4, false)).toMatchObject({
      ok: true,
      field: 'remote_port',
    });
    expect(checkCtxAccess(SOCK_OPS_CTX, 64, 2, false).ok).toBe(false);
    expect(checkCtxAccess(SOCK_OPS_CTX, 0, 1, false).ok).toBe(false);
    expect(checkCtxAccess(SOCK_OPS_CTX, 168, 4, false).ok).toBe(false);
    expect(checkCtxAccess(SOCK_OPS_CTX, 212, 1, false)).toMatchObject({
      ok: true,
      field: 'skb_tcp_flags',
    });
    expect(checkCtxAccess(SK_MSG_CTX, 36, 4, false)).toMatchObject({
      ok: true,
      field: 'remote_ip6',
    });
  });

  it('accept stores only to reply and sk_txhash, with 4 bytes', () => {
    expect(checkCtxAccess(SOCK_OPS_CTX, 4, 4, true)).toMatchObject({ ok: true, field: 'reply' });
    expect(checkCtxAccess(SOCK_OPS_CTX, 164, 4, true)).toMatchObject({
      ok: true,
      field: 'sk_txhash',
    });
    expect(checkCtxAccess(SOCK_OPS_CTX, 8, 4, true).ok).toBe(false);
    expect(checkCtxAccess(SOCK_OPS_CTX, 4, 8, true).ok).toBe(false);
    expect(checkCtxAccess(SK_MSG_CTX, 16, 4, true).ok).toBe(false);
  });

  it('accept an access only when it is in bounds, aligned and of a valid width (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(SOCK_OPS_CTX, SK_MSG_CTX),
        fc.integer({ min: -8, max: 240 }),
        fc.constantFrom(1, 2, 4, 8),
        fc.boolean(),
        (schema: CtxSchema, off, size, write) => {
          const v = checkCtxAccess(schema, off, size, write);
          if (!v.ok) return;
          expect(off).toBeGreaterThanOrEqual(0);
          expect(off + size).toBeLessThanOrEqual(schema.size);
          expect(off % size).toBe(0);
          if (write) expect(v.info.access).toBe('rw');
          if (!v.info.narrow) expect(size).toBe(v.info.size);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('field access in programs', () => {
  it('loads every u32 field with a 32-bit load and 64-bit fields with a 64-bit load', () => {
    expect(
      emitted('sockops', (b) => {
        b.ctx.load(r2, 'remote_port');
        b.ctx.load(r2, 'bytes_acked');
        b.ctx.load(r2, 'local_ip6', { index: 2, ctx: r6 });
        b.ctx.store('reply', r2);
      }),
    ).toEqual([
      { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 1, off: 64 },
      { kind: 'ldx', size: 'dw', signed: false, dst: 2, src: 1, off: 176 },
      { kind: 'ldx', size: 'w', signed: false, dst: 2, src: 6, off: 56 },
      { kind: 'stx', size: 'w', dst: 1, src: 2, off: 4 },
    ]);
  });

  it('converts ports to the requested byte order', () => {
    const rsh16 = { kind: 'alu', width: 64, op: 'rsh', dst: 2, src: { imm: 16 } };
    const be16 = { kind: 'endian', order: 'be', bits: 16, dst: 2 };
    const load = (off: number) => ({ kind: 'ldx', size: 'w', signed: false, dst: 2, src: 1, off });
    expect(emitted('sk_msg', (b) => b.ctx.loadPort(r2, 'remote_port', 'network'))).toEqual([
      load(60),
      rsh16,
    ]);
    expect(emitted('sk_msg', (b) => b.ctx.loadPort(r2, 'remote_port', 'host'))).toEqual([
      load(60),
      rsh16,
      be16,
    ]);
    expect(emitted('sk_msg', (b) => b.ctx.loadPort(r2, 'local_port', 'network'))).toEqual([
      load(64),
      be16,
    ]);
    expect(emitted('sk_msg', (b) => b.ctx.loadPort(r2, 'local_port', 'host'))).toEqual([load(64)]);
  });

  it('rejects an element index outside an array field', () => {
    expect(() => emitted('sk_msg', (b) => b.ctx.load(r2, 'remote_ip6', { index: 4 }))).toThrowError(
      /sk_msg_md.remote_ip6 has 4 element\(s\); index 4 is outside/,
    );
  });
});
