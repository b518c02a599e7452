import { describe, expect, it } from 'vitest';
import type { Insn, Size } from '../../src/asm/insn.js';
import {
  BpfSockOffset,
  type Connection,
  parseIpv6,
  runProgram,
  SK_MSG_MD_SIZE,
  SkMsgOffset,
  SOCK_OPS_SIZE,
  SockOpsOffset,
  SockOpsOp,
  skMsgContext,
  sockOpsContext,
  VmError,
} from '../../src/vm/index.js';
import { aluImm, exit, ldx, mov, movReg, st, stx } from './insns.js';

const v4: Connection = {
  family: 'ipv4',
  localAddress: '10.0.0.1',
  remoteAddress: '192.168.1.2',
  localPort: 8080,
  remotePort: 40000,
};

const mapped: Connection = {
  family: 'ipv6',
  localAddress: '::ffff:10.0.0.1',
  remoteAddress: '::ffff:192.168.1.2',
  localPort: 8080,
  remotePort: 40000,
};

const native: Connection = {
  family: 'ipv6',
  localAddress: 'fd00::1',
  remoteAddress: 'fd00:0:0:1::2',
  localPort: 443,
  remotePort: 50001,
};

const bytes = (b: Uint8Array, off: number, n: number): number[] => [...b.subarray(off, off + n)];

describe('sock_ops context bytes (6.18 layout, little-endian)', () => {
  it('is 224 bytes with op and family in host order', () => {
    const ctx = sockOpsContext(v4, SockOpsOp.PASSIVE_ESTABLISHED_CB);
    expect(ctx.bytes.length).toBe(SOCK_OPS_SIZE);
    expect(bytes(ctx.bytes, SockOpsOffset.op, 4)).toEqual([5, 0, 0, 0]);
    expect(bytes(ctx.bytes, SockOpsOffset.family, 4)).toEqual([2, 0, 0, 0]);
    expect(bytes(ctx.bytes, SockOpsOffset.is_fullsock, 4)).toEqual([1, 0, 0, 0]);
  });

  it('holds IPv4 addresses in network order', () => {
    const ctx = sockOpsContext(v4, SockOpsOp.ACTIVE_ESTABLISHED_CB);
    expect(bytes(ctx.bytes, SockOpsOffset.local_ip4, 4)).toEqual([10, 0, 0, 1]);
    expect(bytes(ctx.bytes, SockOpsOffset.remote_ip4, 4)).toEqual([192, 168, 1, 2]);
    // AF_INET sockets also carry their addresses v4-mapped in the IPv6 fields (sk_daddr_set).
    expect(bytes(ctx.bytes, SockOpsOffset.remote_ip6, 16)).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2,
    ]);
  });

  it('puts remote_port in network order in the upper 16 bits and local_port in host order', () => {
    const ctx = sockOpsContext(v4, SockOpsOp.ACTIVE_ESTABLISHED_CB);
    // 40000 = 0x9c40: u32 = 0x409c0000 -> bytes 00 00 9c 40
    expect(bytes(ctx.bytes, SockOpsOffset.remote_port, 4)).toEqual([0, 0, 0x9c, 0x40]);
    // 8080 = 0x1f90 in host order -> bytes 90 1f 00 00
    expect(bytes(ctx.bytes, SockOpsOffset.local_port, 4)).toEqual([0x90, 0x1f, 0, 0]);
  });

  it('gives v4-mapped AF_INET6 sockets both the IPv6 and the IPv4 address', () => {
    const ctx = sockOpsContext(mapped, SockOpsOp.PASSIVE_ESTABLISHED_CB);
    expect(bytes(ctx.bytes, SockOpsOffset.family, 4)).toEqual([10, 0, 0, 0]);
    expect(bytes(ctx.bytes, SockOpsOffset.remote_ip4, 4)).toEqual([192, 168, 1, 2]);
    expect(bytes(ctx.bytes, SockOpsOffset.remote_ip6, 16)).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2,
    ]);
  });

  it('reports 127.0.0.6 (LOOPBACK4_IPV6) in the IPv4 fields of native IPv6 sockets', () => {
    const active = sockOpsContext(native, SockOpsOp.ACTIVE_ESTABLISHED_CB);
    expect(bytes(active.bytes, SockOpsOffset.remote_ip4, 4)).toEqual([0, 0, 0, 0]);
    expect(bytes(active.bytes, SockOpsOffset.local_ip4, 4)).toEqual([127, 0, 0, 6]);
    const passive = sockOpsContext(native, SockOpsOp.PASSIVE_ESTABLISHED_CB);
    expect(bytes(passive.bytes, SockOpsOffset.remote_ip4, 4)).toEqual([127, 0, 0, 6]);
    expect(bytes(passive.bytes, SockOpsOffset.local_ip4, 4)).toEqual([127, 0, 0, 6]);
    expect(bytes(passive.bytes, SockOpsOffset.local_ip6, 16)).toEqual([
      0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
    expect(bytes(passive.bytes, SockOpsOffset.remote_ip6, 16)).toEqual([
      ...parseIpv6('fd00:0:0:1::2'),
    ]);
    const msg = skMsgContext({ ...native, side: 'passive' }, 1);
    expect(bytes(msg.bytes, SkMsgOffset.remote_ip4, 4)).toEqual([127, 0, 0, 6]);
  });

  it('records the TCP state of each callback (SYN_RECV during PASSIVE_ESTABLISHED_CB)', () => {
    const state = (op: number) => bytes(sockOpsContext(v4, op).bytes, SockOpsOffset.state, 4)[0];
    expect(state(SockOpsOp.ACTIVE_ESTABLISHED_CB)).toBe(1);
    expect(state(SockOpsOp.PASSIVE_ESTABLISHED_CB)).toBe(3);
    expect(state(SockOpsOp.TCP_CONNECT_CB)).toBe(2);
    expect(state(SockOpsOp.TCP_LISTEN_CB)).toBe(10);
  });

  it('refuses a v4-mapped address paired with a native one', () => {
    expect(() => sockOpsContext({ ...mapped, remoteAddress: 'fd00::2' }, 4)).toThrow(/v4-mapped/);
  });

  it('yields wire-order ports with the reference program idiom (ldxw; >> 16 and be32; >> 16)', () => {
    const prog: Insn[] = [
      ldx('w', 2, 1, SockOpsOffset.remote_port),
      aluImm('rsh', 64, 2, 16),
      ldx('w', 3, 1, SockOpsOffset.local_port),
      { kind: 'endian', order: 'be', bits: 32, dst: 3 },
      aluImm('rsh', 64, 3, 16),
      movReg(0, 2),
      aluImm('lsh', 64, 0, 16),
      { kind: 'alu', op: 'or', width: 64, dst: 0, src: { reg: 3 } },
      exit,
    ];
    const { r0 } = runProgram(prog, { ctx: sockOpsContext(v4, 4) });
    // be16(40000) = 0x409c, be16(8080) = 0x901f
    expect(r0).toBe((0x409cn << 16n) | 0x901fn);
  });

  it('rejects malformed connections', () => {
    expect(() => sockOpsContext({ ...v4, localAddress: '10.0.0.256' }, 4)).toThrow(VmError);
    expect(() => sockOpsContext({ ...v4, remotePort: 70000 }, 4)).toThrow(/not a port/);
    expect(() => sockOpsContext({ ...native, localAddress: 'fd00::1::2' }, 4)).toThrow(VmError);
  });
});

/** Runs one load or store against the ctx and returns the fault code or 'ok'. */
function access(
  ctx: ReturnType<typeof sockOpsContext>,
  kind: 'read' | 'write',
  size: Size,
  off: number,
): string {
  const prog: Insn[] =
    kind === 'read'
      ? [ldx(size, 0, 1, off), mov(0, 0), exit]
      : [st(size, 1, off, 1), mov(0, 0), exit];
  try {
    runProgram(prog, { ctx });
    return 'ok';
  } catch (e) {
    if (e instanceof VmError) return e.code;
    throw e;
  }
}

describe('sock_ops access rules (sock_ops_is_valid_access)', () => {
  const ctx = sockOpsContext(v4, SockOpsOp.ACTIVE_ESTABLISHED_CB);

  it('allows 4-byte reads of u32 fields and only those', () => {
    expect(access(ctx, 'read', 'w', SockOpsOffset.op)).toBe('ok');
    expect(access(ctx, 'read', 'b', SockOpsOffset.op)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'h', SockOpsOffset.local_port)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'h', SockOpsOffset.remote_port + 2)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'dw', SockOpsOffset.remote_ip6)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'w', SockOpsOffset.remote_ip6 + 12)).toBe('ok');
  });

  it('reads bytes_received, bytes_acked and the pointers only as u64', () => {
    expect(access(ctx, 'read', 'dw', SockOpsOffset.bytes_received)).toBe('ok');
    expect(access(ctx, 'read', 'w', SockOpsOffset.bytes_received)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'w', SockOpsOffset.bytes_acked + 4)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'dw', SockOpsOffset.sk)).toBe('ok');
    expect(access(ctx, 'read', 'w', SockOpsOffset.skb_data)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'w', SockOpsOffset.sk + 4)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'w', SockOpsOffset.skb_hwtstamp + 4)).toBe('CTX_ACCESS');
  });

  it('allows narrow loads of skb_tcp_flags at its start only', () => {
    expect(access(ctx, 'read', 'b', SockOpsOffset.skb_tcp_flags)).toBe('ok');
    expect(access(ctx, 'read', 'h', SockOpsOffset.skb_tcp_flags)).toBe('ok');
    expect(access(ctx, 'read', 'b', SockOpsOffset.skb_tcp_flags + 1)).toBe('CTX_ACCESS');
  });

  it('allows writes to reply and sk_txhash (u32) only', () => {
    expect(access(ctx, 'write', 'w', SockOpsOffset.reply)).toBe('ok');
    expect(access(ctx, 'write', 'w', SockOpsOffset.sk_txhash)).toBe('ok');
    expect(access(ctx, 'write', 'h', SockOpsOffset.reply)).toBe('CTX_ACCESS');
    expect(access(ctx, 'write', 'w', SockOpsOffset.family)).toBe('CTX_ACCESS');
    expect(access(ctx, 'write', 'w', SockOpsOffset.args + 4)).toBe('CTX_ACCESS');
  });

  it('rejects misaligned and out-of-struct accesses', () => {
    expect(access(ctx, 'read', 'w', 2)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'w', SOCK_OPS_SIZE)).toBe('OUT_OF_BOUNDS');
  });

  it('returns the written reply in the final ctx bytes, leaving the input ctx untouched', () => {
    const prog: Insn[] = [mov(2, 1234), stx('w', 1, SockOpsOffset.reply, 2), mov(0, 1), exit];
    const result = runProgram(prog, { ctx });
    expect(result.ctx && bytes(result.ctx, SockOpsOffset.reply, 4)).toEqual([0xd2, 0x04, 0, 0]);
    expect(bytes(ctx.bytes, SockOpsOffset.reply, 4)).toEqual([0, 0, 0, 0]);
  });

  it('points sk at a read-only struct bpf_sock of the socket', () => {
    const prog: Insn[] = [
      ldx('dw', 2, 1, SockOpsOffset.sk),
      ldx('h', 0, 2, BpfSockOffset.dst_port), // __be16 dst_port
      exit,
    ];
    const { r0 } = runProgram(prog, { ctx });
    expect(r0).toBe(0x409cn); // 40000 in wire order read as a little-endian u16
    const write: Insn[] = [ldx('dw', 2, 1, SockOpsOffset.sk), st('w', 2, 4, 0), mov(0, 0), exit];
    expect(() => runProgram(write, { ctx })).toThrow(/read-only/);
  });
});

describe('sk_msg_md context', () => {
  const message = new Uint8Array([1, 2, 3, 4, 5]);
  const ctx = skMsgContext(v4, message);

  it('is 80 bytes with the same address and port encoding as sock_ops', () => {
    expect(ctx.bytes.length).toBe(SK_MSG_MD_SIZE);
    expect(bytes(ctx.bytes, SkMsgOffset.family, 4)).toEqual([2, 0, 0, 0]);
    expect(bytes(ctx.bytes, SkMsgOffset.remote_ip4, 4)).toEqual([192, 168, 1, 2]);
    expect(bytes(ctx.bytes, SkMsgOffset.local_ip4, 4)).toEqual([10, 0, 0, 1]);
    expect(bytes(ctx.bytes, SkMsgOffset.remote_port, 4)).toEqual([0, 0, 0x9c, 0x40]);
    expect(bytes(ctx.bytes, SkMsgOffset.local_port, 4)).toEqual([0x90, 0x1f, 0, 0]);
    expect(bytes(ctx.bytes, SkMsgOffset.size, 4)).toEqual([5, 0, 0, 0]);
  });

  it('is entirely read-only and needs 4-byte loads of u32 fields', () => {
    expect(access(ctx, 'write', 'w', SkMsgOffset.family)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'h', SkMsgOffset.remote_port)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'w', SkMsgOffset.remote_port)).toBe('ok');
    expect(access(ctx, 'read', 'w', SkMsgOffset.data)).toBe('CTX_ACCESS');
    expect(access(ctx, 'read', 'dw', SkMsgOffset.data_end)).toBe('ok');
  });

  it('exposes the message between data and data_end, bounds-checked', () => {
    const sumLength: Insn[] = [
      ldx('dw', 2, 1, SkMsgOffset.data),
      ldx('dw', 3, 1, SkMsgOffset.data_end),
      movReg(0, 3),
      { kind: 'alu', op: 'sub', width: 64, dst: 0, src: { reg: 2 } },
      ldx('b', 4, 2, 4),
      aluImm('lsh', 64, 4, 8),
      { kind: 'alu', op: 'or', width: 64, dst: 0, src: { reg: 4 } },
      exit,
    ];
    expect(runProgram(sumLength, { ctx }).r0).toBe((5n << 8n) | 5n);
    const beyond: Insn[] = [ldx('dw', 2, 1, SkMsgOffset.data), ldx('b', 0, 2, 5), exit];
    expect(() => runProgram(beyond, { ctx })).toThrow(/packet data/);
  });
});

describe('ctx pointer arithmetic', () => {
  it('refuses loads through a moved ctx pointer, as the verifier does', () => {
    const ctx = sockOpsContext(v4, SockOpsOp.ACTIVE_ESTABLISHED_CB);
    const moved: Insn[] = [movReg(2, 1), aluImm('add', 64, 2, 64), ldx('w', 0, 2, 0), exit];
    expect(() => runProgram(moved, { ctx })).toThrow(
      /dereference of modified sock_ops ctx pointer R2/,
    );
    const direct: Insn[] = [movReg(2, 1), ldx('w', 0, 2, SockOpsOffset.remote_port), exit];
    expect(runProgram(direct, { ctx }).r0).toBe(0x409c_0000n);
  });
});
