/**
 * The demo's traffic: a loopback bulk transfer and a request/response exchange between a server
 * and clients in this process, with sha256 integrity and the TCP OutSegs counter around them.
 * The sockets are created while the process sits in a given cgroup (a socket keeps the cgroup it
 * was created in; accepted sockets inherit the listener's), so a sock_ops program attached there
 * sees them; the process moves back right after the connections are established.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { AccelError } from './errors.js';

/** The kernel's TCP OutSegs counter (segments sent, this network namespace) from /proc/net/snmp. */
export function tcpOutSegs(snmp: string = readFileSync('/proc/net/snmp', 'utf8')): number {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf('OutSegs');
  const v = Number(values[i]);
  if (i < 0 || !Number.isFinite(v)) {
    throw new AccelError('ERR_TRAFFIC', 'no Tcp OutSegs counter in /proc/net/snmp');
  }
  return v;
}

/** The cgroup v2 directory of this process: `root` joined with the `0::` line of /proc/self/cgroup. */
export function ownCgroup(root: string): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return join(root, line ? line.slice(3) : '/');
}

/** Runs `fn` with this process in `cgroup`, then moves it back to `home`. */
export async function inCgroup<T>(cgroup: string, home: string, fn: () => Promise<T>): Promise<T> {
  writeFileSync(join(cgroup, 'cgroup.procs'), `${process.pid}\n`);
  try {
    return await fn();
  } finally {
    writeFileSync(join(home, 'cgroup.procs'), `${process.pid}\n`);
  }
}

/** What one traffic run measured. */
export interface TrafficResult {
  readonly bulkBytes: number;
  readonly bulkSeconds: number;
  /** True when the server's sha256 of what it received equals the client's of what it sent. */
  readonly intact: boolean;
  readonly roundTrips: number;
  readonly rrSeconds: number;
  /** TCP segments this namespace sent during the run (both tests, handshakes included). */
  readonly outSegs: number;
}

/** Sizes of a traffic run. */
export interface TrafficOptions {
  /** Bytes of the bulk transfer (default 32 MiB). */
  readonly bulkBytes?: number;
  /** Round trips of the request/response test (default 5000). */
  readonly roundTrips?: number;
  /** Bytes per request and per response (default 64). */
  readonly messageBytes?: number;
  /** Give up after this many ms (default 60000). */
  readonly timeoutMs?: number;
}

interface Pair {
  readonly client: net.Socket;
  readonly peer: net.Socket;
}

async function connectPair(server: net.Server): Promise<Pair> {
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '127.0.0.1', port });
  await once(client, 'connect');
  const [peer] = await accepted;
  client.setNoDelay(true);
  peer.setNoDelay(true);
  return { client, peer };
}

/** Opens a listener and two connections (bulk, request/response); `setup` wraps their creation. */
async function openPairs(
  setup: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<{ server: net.Server; bulk: Pair; rr: Pair }> {
  return setup(async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const bulk = await connectPair(server);
    const rr = await connectPair(server);
    return { server, bulk, rr };
  });
}

async function bulkTransfer(p: Pair, bytes: number): Promise<{ seconds: number; intact: boolean }> {
  const data = randomBytes(bytes);
  const sent = createHash('sha256').update(data).digest('hex');
  const received = createHash('sha256');
  let count = 0;
  p.peer.on('data', (chunk: Buffer) => {
    received.update(chunk);
    count += chunk.length;
    if (count === bytes) p.peer.write(received.digest('hex'));
  });
  let reply = '';
  const replied = new Promise<void>((resolve) => {
    p.client.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.length >= 64) resolve();
    });
  });
  const start = process.hrtime.bigint();
  const chunk = 256 * 1024;
  for (let off = 0; off < bytes; off += chunk) {
    if (!p.client.write(data.subarray(off, Math.min(bytes, off + chunk)))) {
      await once(p.client, 'drain');
    }
  }
  await replied;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, intact: reply === sent };
}

async function requestResponse(p: Pair, trips: number, size: number): Promise<number> {
  const request = Buffer.alloc(size, 0x71);
  let atPeer = 0;
  p.peer.on('data', (chunk: Buffer) => {
    atPeer += chunk.length;
    while (atPeer >= size) {
      atPeer -= size;
      p.peer.write(request);
    }
  });
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    let atClient = 0;
    let done = 0;
    p.client.on('data', (chunk: Buffer) => {
      atClient += chunk.length;
      while (atClient >= size) {
        atClient -= size;
        done += 1;
        if (done === trips) {
          resolve();
          return;
        }
        p.client.write(request);
      }
    });
    p.client.write(request);
  });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Runs the bulk and request/response tests on loopback. `setup` wraps the creation of the
 * sockets (e.g. `(fn) => inCgroup(cgroup, home, fn)`).
 */
export async function runTraffic(
  setup: <T>(fn: () => Promise<T>) => Promise<T>,
  options: TrafficOptions = {},
): Promise<TrafficResult> {
  const bulkBytes = options.bulkBytes ?? 32 * 1024 * 1024;
  const roundTrips = options.roundTrips ?? 5000;
  const size = options.messageBytes ?? 64;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const before = tcpOutSegs();
  const { server, bulk, rr } = await openPairs(setup);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AccelError('ERR_TRAFFIC', `loopback traffic did not complete in ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
    });
    const b = await Promise.race([bulkTransfer(bulk, bulkBytes), timeout]);
    const rrSeconds = await Promise.race([requestResponse(rr, roundTrips, size), timeout]);
    return {
      bulkBytes,
      bulkSeconds: b.seconds,
      intact: b.intact,
      roundTrips,
      rrSeconds,
      outSegs: tcpOutSegs() - before,
    };
  } finally {
    clearTimeout(timer);
    for (const s of [bulk.client, bulk.peer, rr.client, rr.peer]) s.destroy();
    server.close();
  }
}
