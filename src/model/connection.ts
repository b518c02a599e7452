/**
 * A TCP connection and the two sockets it consists of, as sock_ops and sk_msg programs see them.
 *
 * A socket's view holds exactly the context fields the programs read, with the values the kernel
 * gives: addresses in network order; ports as numbers (the ctx encodings — remote_port in the upper
 * 16 bits, local_port in host order — are the interpreter's business, not the model's). Fields the
 * kernel fills with leftovers are kept too, because the programs must ignore them: a native IPv6
 * socket can report 127.0.0.6 (LOOPBACK4_IPV6) in its IPv4 fields.
 */
import { match } from 'ts-pattern';
import { AddressError, type Ip4, type Ip6, v4Mapped } from './address.js';

/** AF_INET. */
export const AF_INET = 2;

/** AF_INET6. */
export const AF_INET6 = 10;

/** BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: the connecting side completed the handshake. */
export const SOCK_OPS_ACTIVE_ESTABLISHED = 4;

/** BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: the listening side's new socket is (about to be) established. */
export const SOCK_OPS_PASSIVE_ESTABLISHED = 5;

/** What a program reads from the context of one socket. */
export interface SocketView {
  /** AF_INET (2), AF_INET6 (10) or anything else the kernel might report. */
  readonly family: number;
  readonly localIp4: Ip4;
  readonly remoteIp4: Ip4;
  readonly localIp6: Ip6;
  readonly remoteIp6: Ip6;
  /** Port numbers, 0..65535. */
  readonly localPort: number;
  readonly remotePort: number;
  /** `bpf_get_netns_cookie()` of the socket's network namespace. */
  readonly netnsCookie: bigint;
}

/** One end of a connection: its address (4 bytes IPv4 or 16 bytes IPv6) and port. */
export interface Endpoint {
  readonly ip: Ip4 | Ip6;
  readonly port: number;
}

/** How the socket of one end was opened: AF_INET, or AF_INET6 (dual-stack for IPv4 peers). */
export type SocketKind = 'inet' | 'inet6';

/**
 * A connection from client to server in one network namespace. Both endpoints have the same
 * address length: 4 bytes (an IPv4 connection, each side AF_INET or dual-stack AF_INET6, the
 * latter seeing v4-mapped addresses) or 16 bytes (a native IPv6 connection, both sides AF_INET6).
 */
export interface Connection {
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly clientSocket: SocketKind;
  readonly serverSocket: SocketKind;
  readonly netnsCookie: bigint;
  /** What a native IPv6 socket reports in its IPv4 fields (0.0.0.0, or 127.0.0.6 on some paths). */
  readonly ip4Leftover?: Ip4;
}

const ZERO4 = new Uint8Array(4);
const ZERO16 = new Uint8Array(16);

/** The context view of the socket at `local` connected to `remote`. */
function viewOf(local: Endpoint, remote: Endpoint, kind: SocketKind, conn: Connection): SocketView {
  const ipv4 = local.ip.length === 4;
  if (local.ip.length !== remote.ip.length || (local.ip.length !== 4 && local.ip.length !== 16)) {
    throw new AddressError(
      'both ends of a connection need 4-byte (IPv4) or 16-byte (IPv6) addresses',
    );
  }
  const common = {
    localPort: local.port,
    remotePort: remote.port,
    netnsCookie: conn.netnsCookie,
  };
  return match({ ipv4, kind })
    .with({ ipv4: true, kind: 'inet' }, () => ({
      ...common,
      family: AF_INET,
      localIp4: local.ip,
      remoteIp4: remote.ip,
      localIp6: ZERO16,
      remoteIp6: ZERO16,
    }))
    .with({ ipv4: true, kind: 'inet6' }, () => ({
      ...common,
      family: AF_INET6,
      localIp4: local.ip,
      remoteIp4: remote.ip,
      localIp6: v4Mapped(local.ip),
      remoteIp6: v4Mapped(remote.ip),
    }))
    .with({ ipv4: false }, () => ({
      ...common,
      family: AF_INET6,
      localIp4: conn.ip4Leftover ?? ZERO4,
      remoteIp4: conn.ip4Leftover ?? ZERO4,
      localIp6: local.ip,
      remoteIp6: remote.ip,
    }))
    .exhaustive();
}

/** The two sockets of a connection: the client's (active) and the server's accepted one (passive). */
export function socketViews(conn: Connection): { client: SocketView; server: SocketView } {
  return {
    client: viewOf(conn.client, conn.server, conn.clientSocket, conn),
    server: viewOf(conn.server, conn.client, conn.serverSocket, conn),
  };
}
