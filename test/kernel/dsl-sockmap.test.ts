/**
 * The DSL's sockmap pair in the real kernel: the object built by the DSL (no clang) loads with
 * bpftool/libbpf, the kernel's own line info shows the TypeScript lines, and attached to a test
 * cgroup it accelerates a loopback TCP connection: both established sockets land in the SOCKHASH
 * under their reversed tuples, and the client's bytes reach the server through the sk_msg
 * redirect instead of TCP (the client socket sends no data segments).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sockmapPair } from '../dsl/sockmap-pair.js';
import {
  createTestBpffsDir,
  createTestCgroup,
  describeKernel,
  type TestDir,
  withProcessInCgroup,
} from './support.js';

function bpftool(...args: string[]): string {
  return execFileSync('bpftool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface Exchange {
  /** What the server read. */
  readonly received: Buffer;
  /** `ss -tin` line of the client socket after the send. */
  readonly clientSs: string;
  /** SOCKHASH keys while the connection was open. */
  readonly keys: readonly number[][];
  readonly clientPort: number;
  readonly serverPort: number;
}

/** Opens a loopback connection, sends `payload` from the client and reads it on the server. */
async function exchange(payload: Buffer, mapPath: string): Promise<Exchange> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const serverPort = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(serverPort, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const peer = await accepted;
  try {
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      let n = 0;
      peer.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
        if (n >= payload.length) resolve();
      });
    });
    const dump = JSON.parse(bpftool('-j', 'map', 'dump', 'pinned', mapPath)) as { key: string[] }[];
    const keys = dump.map((e) => e.key.map((b) => Number.parseInt(b, 16)));
    client.write(payload);
    await done;
    const clientPort = client.localPort as number;
    const clientSs = execFileSync(
      'ss',
      ['-tinH', 'state', 'established', `( sport = :${clientPort} )`],
      {
        encoding: 'utf8',
      },
    );
    return { received: Buffer.concat(chunks), clientSs, keys, clientPort, serverPort };
  } finally {
    client.destroy();
    peer.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The 20-byte key the programs build: addresses and ports in network order, family 1. */
function key(sip: number[], dip: number[], sport: number, dport: number): number[] {
  return [
    ...sip,
    ...dip,
    1,
    0,
    0,
    0,
    sport >> 8,
    sport & 0xff,
    0,
    0,
    dport >> 8,
    dport & 0xff,
    0,
    0,
  ];
}

describeKernel('DSL sockmap pair in the kernel', () => {
  let bpffs: TestDir;
  let cgroup: TestDir;
  let work: string;
  let attached = false;
  let msgAttached = false;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tsbpf-dsl-'));
    bpffs = createTestBpffsDir('dsl');
    cgroup = createTestCgroup('dsl');
  });

  afterAll(() => {
    try {
      if (msgAttached) {
        bpftool(
          'prog',
          'detach',
          'pinned',
          join(bpffs.path, 'bpf_redir'),
          'msg_verdict',
          'pinned',
          join(bpffs.path, 'maps', 'sock_ops_map'),
        );
      }
      if (attached)
        bpftool(
          'cgroup',
          'detach',
          cgroup.path,
          'sock_ops',
          'pinned',
          join(bpffs.path, 'bpf_sockops'),
        );
    } finally {
      cgroup.cleanup();
      bpffs.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('loads the clang-free object with bpftool prog loadall', () => {
    const object = join(work, 'pair.o');
    writeFileSync(object, sockmapPair.toElf());
    bpftool('prog', 'loadall', object, bpffs.path, 'pinmaps', join(bpffs.path, 'maps'));
    const show = JSON.parse(
      bpftool('-j', 'prog', 'show', 'pinned', join(bpffs.path, 'bpf_sockops')),
    );
    expect(show).toMatchObject({ type: 'sock_ops', name: 'bpf_sockops' });
  });

  it('carries the TypeScript lines into the kernel line info', () => {
    const xlated = bpftool(
      'prog',
      'dump',
      'xlated',
      'pinned',
      join(bpffs.path, 'bpf_redir'),
      'linum',
    );
    expect(xlated).toContain('int bpf_redir(struct sk_msg_md * ctx):');
    expect(xlated).toMatch(
      /; b\.ctx\.loadPort\(r2, 'remote_port', 'network'\); \[file:test\/dsl\/sockmap-pair\.ts line_num:\d+ line_col:\d+\]/,
    );
    expect(xlated).toMatch(/; b\.call\.msgRedirectHash\(r1, sockMap, key, BpfFlags\.F_INGRESS\);/);
  });

  it('stores both ends of a loopback connection and redirects the client bytes to the server', async () => {
    bpftool('cgroup', 'attach', cgroup.path, 'sock_ops', 'pinned', join(bpffs.path, 'bpf_sockops'));
    attached = true;
    bpftool(
      'prog',
      'attach',
      'pinned',
      join(bpffs.path, 'bpf_redir'),
      'msg_verdict',
      'pinned',
      join(bpffs.path, 'maps', 'sock_ops_map'),
    );
    msgAttached = true;
    const payload = Buffer.alloc(64 * 1024, 0x5a);
    const mapPath = join(bpffs.path, 'maps', 'sock_ops_map');
    const r = await withProcessInCgroup(cgroup.path, () => exchange(payload, mapPath));
    const lo = [127, 0, 0, 1];
    // Each socket is stored under its reversed tuple (remote first): the server-side socket under
    // (client, server), the client under (server, client).
    expect(r.keys).toEqual(
      expect.arrayContaining([
        key(lo, lo, r.clientPort, r.serverPort),
        key(lo, lo, r.serverPort, r.clientPort),
      ]),
    );
    expect(r.received.equals(payload)).toBe(true);
    // The client socket never sent the payload as TCP segments: the sk_msg redirect moved it.
    const sent = /bytes_sent:(\d+)/.exec(r.clientSs);
    expect(Number(sent?.[1] ?? 0)).toBeLessThan(payload.length);
  });
});
