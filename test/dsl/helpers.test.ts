/**
 * Typed helper calls: the table covers the helpers issue 3 lists with their kernel ids, and a call
 * places its operands in r1-r5 with the fewest instructions, never overwriting an argument before
 * it is read.
 */
import { describe, expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import {
  type DslError,
  HELPERS,
  helperById,
  map,
  type ProgramBuilder,
  program,
  r0,
  r1,
  r2,
  r3,
  r6,
  ref,
  u32,
} from '../../src/dsl/index.js';
import { SockKey, sockMap } from './sockmap-pair.js';

function emitted<P extends 'sockops' | 'sk_msg'>(
  type: P,
  body: (b: ProgramBuilder<P>) => void,
): readonly Insn[] {
  return program(type, 'calls', body, { check: false }).insns;
}
const mov = (dst: number, src: number | { imm: number }) => ({
  kind: 'alu',
  width: 64,
  op: 'mov',
  dst,
  src: typeof src === 'number' ? { reg: src } : src,
});

describe('the helper table', () => {
  it('covers the helpers of issue 3 with their BPF_FUNC ids and program types', () => {
    const ids = Object.fromEntries(Object.values(HELPERS).map((h) => [h.name, h.id]));
    expect(ids).toEqual({
      bpf_map_lookup_elem: 1,
      bpf_map_update_elem: 2,
      bpf_map_delete_elem: 3,
      bpf_ktime_get_ns: 5,
      bpf_trace_printk: 6,
      bpf_get_prandom_u32: 7,
      bpf_get_current_pid_tgid: 14,
      bpf_perf_event_output: 25,
      bpf_get_socket_cookie: 46,
      bpf_setsockopt: 49,
      bpf_sock_map_update: 53,
      bpf_getsockopt: 57,
      bpf_sock_ops_cb_flags_set: 59,
      bpf_msg_redirect_map: 60,
      bpf_msg_apply_bytes: 61,
      bpf_msg_cork_bytes: 62,
      bpf_msg_pull_data: 63,
      bpf_sock_hash_update: 70,
      bpf_msg_redirect_hash: 71,
      bpf_msg_push_data: 90,
      bpf_msg_pop_data: 91,
      bpf_get_netns_cookie: 122,
      bpf_ringbuf_output: 130,
    });
    expect(HELPERS.sockHashUpdate.progTypes).toEqual(['sockops']);
    expect(HELPERS.msgRedirectHash.progTypes).toEqual(['sk_msg']);
    expect(helperById(71)?.key).toBe('msgRedirectHash');
  });
});

describe('operand placement', () => {
  it('leaves operands already in place and materialises maps, stack objects and constants', () => {
    const insns = emitted('sockops', (b) => {
      const key = b.stack(SockKey, { zero: false });
      b.call.sockHashUpdate(r1, sockMap, key, 1);
    });
    expect(insns).toEqual([
      { kind: 'ld_imm64', pseudo: 'imm64', dst: 2, imm: 0n },
      mov(3, 10),
      { kind: 'alu', width: 64, op: 'add', dst: 3, src: { imm: -24 } },
      mov(4, { imm: 1 }),
      { kind: 'call', target: 'helper', imm: 70, off: 0 },
    ]);
  });

  it('orders register moves so no argument is overwritten before it is read', () => {
    const insns = emitted('sk_msg', (b) => {
      b.call.msgPullData(r2, r1, 0, r3);
    });
    // r1 <- r2 and r2 <- r1 form a cycle: broken through r0; r4 <- r3 first; then the constant.
    expect(insns).toEqual([
      mov(4, 3),
      mov(0, 1),
      mov(1, 2),
      mov(2, 0),
      mov(3, { imm: 0 }),
      { kind: 'call', target: 'helper', imm: 63, off: 0 },
    ]);
  });

  it('passes pointers held in registers, with their offset, and 64-bit constants with ld_imm64', () => {
    const counters = map('counters', { type: 'hash', key: u32, value: u32, maxEntries: 4 });
    const insns = emitted('sk_msg', (b) => {
      b.call.mapUpdateElem(counters, ref(r6, u32, 4), ref(r0, u32), 0x1_0000_0000);
    });
    expect(insns).toEqual([
      mov(2, 6),
      mov(3, 0),
      { kind: 'alu', width: 64, op: 'add', dst: 2, src: { imm: 4 } },
      { kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 0n },
      { kind: 'ld_imm64', pseudo: 'imm64', dst: 4, imm: 0x1_0000_0000n },
      { kind: 'call', target: 'helper', imm: 2, off: 0 },
    ]);
  });

  it('writes a trace_printk format to the stack and passes up to three arguments', () => {
    const p = program('sk_msg', 'printk', (b) => {
      const fmt = b.string('hi %d\n');
      b.mov(r3, 7);
      b.call.tracePrintk(fmt.ref, fmt.size, r3);
      b.ret(1);
    });
    expect(p.insns.slice(0, 2)).toEqual([
      { kind: 'st', size: 'w', dst: 10, off: -8, imm: 0x25206968 },
      { kind: 'st', size: 'h', dst: 10, off: -4, imm: 0x0a64 },
    ]);
    expect(p.insns).toContainEqual({ kind: 'st', size: 'b', dst: 10, off: -2, imm: 0 });
  });

  it('rejects wrong argument counts and a helper of another program type at run time too', () => {
    expect(() =>
      emitted('sk_msg', (b) => (b.call.msgApplyBytes as (...a: unknown[]) => unknown)(r1)),
    ).toThrowError(/bpf_msg_apply_bytes takes 2 arguments, got 1/);
    let err: unknown;
    try {
      emitted('sk_msg', (b) =>
        (b.call as unknown as Record<string, (...a: unknown[]) => unknown>).sockHashUpdate?.(
          r1,
          sockMap,
          r2,
          0,
        ),
      );
    } catch (e) {
      err = e;
    }
    expect((err as DslError).code).toBe('HELPER_NOT_ALLOWED');
    let calls: object = {};
    program('sk_msg', 'probe', (b) => {
      calls = b.call;
      b.ret(1);
    });
    expect('sockHashUpdate' in calls).toBe(false);
    expect('msgRedirectHash' in calls).toBe(true);
  });
});
