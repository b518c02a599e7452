/**
 * Simulated sockets and the connection description the context builders take: addresses as text
 * (IPv4, IPv6, v4-mapped IPv6), ports as numbers, plus the socket and network-namespace cookies
 * the kernel would report. Addresses are turned into their wire (network-order) bytes here.
 */
import { VmError } from './errors.js';

/** A socket as the simulated sockmap/sockhash stores it: an id the test chooses plus kernel facts. */
export interface VmSocket {
  /** The test's name for this socket; redirects report it. */
  readonly id: number;
  /** What bpf_get_socket_cookie returns for it. */
  readonly cookie: bigint;
  /** Transport protocol; msg_redirect_* without BPF_F_INGRESS needs TCP. Default 'tcp'. */
  readonly protocol?: 'tcp' | 'udp';
  /** TCP state; the kernel refuses to redirect to a listening socket. Default 'established'. */
  readonly state?: 'established' | 'listen';
}

/** One side of a connection as seen by the socket the program runs for. */
export interface Connection {
  /** Socket family: AF_INET (`'ipv4'`, addresses must be IPv4) or AF_INET6 (`'ipv6'`). */
  readonly family: 'ipv4' | 'ipv6';
  /** Local address: `'10.0.0.1'`, `'fd00::1'`, or v4-mapped `'::ffff:10.0.0.1'` for AF_INET6. */
  readonly localAddress: string;
  /** Remote (peer) address, same forms as `localAddress`. */
  readonly remoteAddress: string;
  /** Local port number (host order value, 0-65535). */
  readonly localPort: number;
  /** Remote port number (0-65535). */
  readonly remotePort: number;
  /**
   * Which end this socket is: `'active'` (it called connect()) or `'passive'` (accept()ed). It
   * matters for native IPv6, where the kernel fills the IPv4 fields with 127.0.0.6 (see
   * socketAddresses). The sock_ops builder defaults it from the op; sk_msg defaults to active.
   */
  readonly side?: 'active' | 'passive';
  /** What bpf_get_netns_cookie returns (default 1, the initial namespace on a fresh boot). */
  readonly netnsCookie?: bigint;
  /** The socket the program runs for (default id 1, cookie 0x1000 + id). */
  readonly socket?: VmSocket;
}

/** AF_INET. */
export const AF_INET = 2;
/** AF_INET6. */
export const AF_INET6 = 10;

/** The 4 wire-order bytes of a dotted-quad IPv4 address. */
export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.');
  const bytes = new Uint8Array(4);
  if (parts.length !== 4) throw new VmError('BAD_INPUT', `'${text}' is not an IPv4 address`);
  parts.forEach((part, i) => {
    const n = Number(part);
    if (!/^\d{1,3}$/.test(part) || n > 255) {
      throw new VmError('BAD_INPUT', `'${text}' is not an IPv4 address`);
    }
    bytes[i] = n;
  });
  return bytes;
}

/** The 16 wire-order bytes of an IPv6 address (with `::` compression and a dotted IPv4 tail). */
export function parseIpv6(text: string): Uint8Array {
  const bad = (): VmError => new VmError('BAD_INPUT', `'${text}' is not an IPv6 address`);
  let head = text;
  let tail4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail4 = parseIpv4(text.slice(lastColon + 1));
    // The dotted tail stands for the last two 16-bit groups.
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) throw bad();
  const groups = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
          return Number.parseInt(g, 16);
        });
  const left = groups(halves[0] ?? '');
  const right = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - left.length - right.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) throw bad();
  const all = [...left, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail4) bytes.set(tail4, 12);
  return bytes;
}

/** Whether 16 IPv6 bytes are in the v4-mapped prefix ::ffff:0:0/96. */
export function isV4Mapped(ip6: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (ip6[i] !== 0) return false;
  return ip6[10] === 0xff && ip6[11] === 0xff;
}

/**
 * The addresses of a connection as the socket holds them, i.e. what the ctx fields report
 * (verified against 6.18 by test/kernel/vm-vs-kernel.test.ts on real loopback connections):
 *
 * | socket                  | remote_ip4 / local_ip4          | remote_ip6 / local_ip6      |
 * |-------------------------|---------------------------------|-----------------------------|
 * | AF_INET                 | the IPv4 addresses              | v4-mapped ::ffff:a.b.c.d    |
 * | AF_INET6, v4-mapped     | the embedded IPv4 addresses     | the v4-mapped addresses     |
 * | AF_INET6, native, active| remote 0, local 127.0.0.6       | the IPv6 addresses          |
 * | AF_INET6, native, passive| both 127.0.0.6                 | the IPv6 addresses          |
 *
 * 127.0.0.6 is LOOPBACK4_IPV6, which tcp_v6_connect() puts in inet_rcv_saddr and
 * tcp_v6_syn_recv_sock() in inet_daddr/inet_rcv_saddr, so that IPv4-only code never sees a
 * routable address for a native IPv6 socket.
 */
export interface SocketAddresses {
  readonly family: number;
  readonly localIp4: Uint8Array;
  readonly remoteIp4: Uint8Array;
  readonly localIp6: Uint8Array;
  readonly remoteIp6: Uint8Array;
}

/** LOOPBACK4_IPV6: 127.0.0.6. */
const LOOPBACK4_IPV6 = new Uint8Array([127, 0, 0, 6]);

/** The v4-mapped IPv6 form of an IPv4 address. */
function v4Mapped(ip4: Uint8Array): Uint8Array {
  const ip6 = new Uint8Array(16);
  ip6[10] = 0xff;
  ip6[11] = 0xff;
  ip6.set(ip4, 12);
  return ip6;
}

/** Validates a connection and computes the address bytes its socket reports. */
export function socketAddresses(conn: Connection): SocketAddresses {
  for (const [name, port] of [
    ['localPort', conn.localPort],
    ['remotePort', conn.remotePort],
  ] as const) {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
      throw new VmError('BAD_INPUT', `${name} ${port} is not a port number (0-65535)`);
    }
  }
  if (conn.family === 'ipv4') {
    const localIp4 = parseIpv4(conn.localAddress);
    const remoteIp4 = parseIpv4(conn.remoteAddress);
    return {
      family: AF_INET,
      localIp4,
      remoteIp4,
      localIp6: v4Mapped(localIp4),
      remoteIp6: v4Mapped(remoteIp4),
    };
  }
  const localIp6 = parseIpv6(conn.localAddress);
  const remoteIp6 = parseIpv6(conn.remoteAddress);
  if (isV4Mapped(localIp6) !== isV4Mapped(remoteIp6)) {
    throw new VmError(
      'BAD_INPUT',
      `${conn.localAddress} and ${conn.remoteAddress}: a v4-mapped address talks only to another`,
    );
  }
  if (isV4Mapped(remoteIp6)) {
    return {
      family: AF_INET6,
      localIp4: localIp6.slice(12, 16),
      remoteIp4: remoteIp6.slice(12, 16),
      localIp6,
      remoteIp6,
    };
  }
  const passive = conn.side === 'passive';
  return {
    family: AF_INET6,
    localIp4: LOOPBACK4_IPV6.slice(),
    remoteIp4: passive ? LOOPBACK4_IPV6.slice() : new Uint8Array(4),
    localIp6,
    remoteIp6,
  };
}

/** The socket a connection's program runs for (the explicit one, or id 1). */
export function connectionSocket(conn: Connection): VmSocket {
  return conn.socket ?? { id: 1, cookie: 0x1001n };
}
