/**
 * The minimal sock_ops/sk_msg pair in the DSL, shared by the unit tests and the kernel test:
 * sock_ops stores each established IPv4 socket under its reversed 5-tuple; sk_msg redirects each
 * message on the forward tuple (so it finds the peer socket) with BPF_F_INGRESS.
 * test/fixtures/dsl/sockmap_pair.c is the same logic in C.
 */
import {
  AddressFamily,
  all,
  BpfFlags,
  bpfObject,
  map,
  program,
  r1,
  r2,
  SkAction,
  SockOpsOp,
  struct,
  u8,
  u16,
  u32,
  w2,
} from '../../src/dsl/index.js';

/** The 20-byte key: IPv4 addresses and ports in network order, family 1. */
export const SockKey = struct(
  'sock_key',
  { sip4: u32, dip4: u32, family: u8, pad1: u8, pad2: u16, sport: u32, dport: u32 },
  { packed: true },
);

/** The SOCKHASH both programs share. */
export const sockMap = map('sock_ops_map', {
  type: 'sockhash',
  key: SockKey,
  value: u32,
  maxEntries: 65535,
});

/** sock_ops: record established IPv4 sockets under their reversed tuple. */
export const sockops = program('sockops', 'bpf_sockops', (b) => {
  b.ctx.load(r2, 'family');
  b.if(r2.ne(AddressFamily.INET), () => b.ret(0));
  b.ctx.load(r2, 'op');
  b.if(all(w2.ne(SockOpsOp.ACTIVE_ESTABLISHED_CB), w2.ne(SockOpsOp.PASSIVE_ESTABLISHED_CB)), () =>
    b.ret(0),
  );
  const key = b.stack(SockKey);
  b.ctx.load(r2, 'remote_ip4');
  b.store(key, 'sip4', r2);
  b.ctx.load(r2, 'local_ip4');
  b.store(key, 'dip4', r2);
  b.store(key, 'family', 1);
  b.ctx.loadPort(r2, 'remote_port', 'network');
  b.store(key, 'sport', r2);
  b.ctx.loadPort(r2, 'local_port', 'network');
  b.store(key, 'dport', r2);
  b.call.sockHashUpdate(r1, sockMap, key, BpfFlags.NOEXIST);
  b.ret(0);
});

/** sk_msg: redirect to the socket stored under this message's forward tuple. */
export const skMsg = program('sk_msg', 'bpf_redir', (b) => {
  const key = b.stack(SockKey);
  b.ctx.load(r2, 'local_ip4');
  b.store(key, 'sip4', r2);
  b.ctx.load(r2, 'remote_ip4');
  b.store(key, 'dip4', r2);
  b.store(key, 'family', 1);
  b.ctx.loadPort(r2, 'local_port', 'network');
  b.store(key, 'sport', r2);
  b.ctx.loadPort(r2, 'remote_port', 'network');
  b.store(key, 'dport', r2);
  b.call.msgRedirectHash(r1, sockMap, key, BpfFlags.F_INGRESS);
  b.ret(SkAction.PASS);
});

/** Both programs and the map as one object. */
export const sockmapPair = bpfObject({ programs: [sockops, skMsg] });
