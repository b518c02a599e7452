/**
 * Issue 5 item 8: the built objects in the real kernel. Each variant is loaded by bpftool (libbpf)
 * from `buildSockops()` bytes, sock_ops is attached to a test cgroup and sk_msg to the SOCKHASH, and
 * real loopback connections run in a private network namespace:
 *
 * - IPv4, v4-mapped through a dual-stack AF_INET6 listener, an AF_INET6 client to an AF_INET
 *   listener, and native IPv6 with ipv6 'native' are redirected: both sockets are in the SOCKHASH
 *   under the expected keys, Tcp OutSegs stays flat while megabytes move, the bytes arrive intact;
 * - a connection to a configured service frontend, or one the policy denies, goes through TCP
 *   (OutSegs grows) and still carries its data;
 * - the stats counters match what the connection did;
 * - sk_msg keeps running when the bpffs pins disappear mid-test (LoadedSockops holds fds).
 */
import { existsSync, rmSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import {
  encodeEndpointInfo,
  encodeLpmKey,
  encodePolicyEntry,
  encodePolicyKey,
  encodeServiceInfo,
  encodeServiceKey,
  encodeSockKey,
} from '../../src/programs/maps.js';
import type { SockopsOptions } from '../../src/programs/options.js';
import { LoadedSockops, runTraffic, type TrafficResult } from '../programs/kernel-support.js';
import { describeKernel } from './support.js';

const BYTES = 4 * 1024 * 1024;
/** Segments a redirected transfer may still cause (window updates, the reply's handshake echo). */
const FLAT = 8;
/** Segments a 4 MiB transfer over TCP needs at the very least (64 KiB per segment on lo). */
const THROUGH_TCP = 60;

const open: LoadedSockops[] = [];
afterEach(() => {
  for (const l of open.splice(0)) l.close();
});

function load(options: SockopsOptions, tag: string): LoadedSockops {
  const l = new LoadedSockops(options, tag);
  open.push(l);
  return l;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The keys sock_ops stores for the two sockets of a connection (each under its reversed tuple). */
function keysOf(t: Pick<TrafficResult, 'client' | 'server'>, v4: boolean) {
  const plain = (a: string) => (v4 ? a.replace(/^::ffff:/, '') : a);
  const c = { ip: plain(t.client.address), port: t.client.port };
  const s = { ip: plain(t.server.address), port: t.server.port };
  return {
    // The server socket, found by the client's forward tuple, and the other way round.
    server: hex(encodeSockKey({ sip: c.ip, sport: c.port, dip: s.ip, dport: s.port })),
    client: hex(encodeSockKey({ sip: s.ip, sport: s.port, dip: c.ip, dport: c.port })),
  };
}

/** Both keys, sorted. */
function expectedKeys(t: Pick<TrafficResult, 'client' | 'server'>, v4: boolean): string[] {
  const k = keysOf(t, v4);
  return [k.server, k.client].sort();
}

function withLoopbackEndpoints(l: LoadedSockops): void {
  l.update('endpoints', encodeLpmKey('127.0.0.0/8'), encodeEndpointInfo(1));
  l.update('endpoints', encodeLpmKey('::1/128'), encodeEndpointInfo(2));
}

async function connect(
  l: LoadedSockops,
  hosts: { listen: string; connect: string; ipv6Only?: boolean },
  inspect: (t: Pick<TrafficResult, 'client' | 'server'>) => unknown = () => l.keys('sockhash'),
): Promise<TrafficResult> {
  const cgroup = l.attach();
  const netns = l.createNetns();
  return runTraffic(
    {
      cgroup,
      netns,
      listenHost: hosts.listen,
      connectHost: hosts.connect,
      ipv6Only: hosts.ipv6Only ?? false,
      port: 7777,
      bytes: BYTES,
    },
    inspect,
  );
}

function expectIntact(r: TrafficResult): void {
  expect(r.received).toBe(BYTES);
  expect(r.receivedSha).toBe(r.sentSha);
}

describeKernel('socket acceleration programs in the kernel', () => {
  it('cilium variant: an IPv4 loopback pair is redirected, keyed as the model says, data intact, counters exact', async () => {
    const l = load({}, 'cilium4');
    withLoopbackEndpoints(l);
    const r = await connect(l, { listen: '127.0.0.1', connect: '127.0.0.1' });
    expect([...(r.inspected as string[])].sort()).toEqual(expectedKeys(r, true));
    expectIntact(r);
    const s = l.stats();
    expect({ ...s, outSegs: r.outSegs }).toMatchObject({
      msg_bytes: BigInt(BYTES + 64),
      outSegs: r.outSegs,
    });
    expect(r.outSegs).toBeLessThanOrEqual(FLAT);
    expect(s).toMatchObject({ inserted: 2n, insert_failed: 0n, skip_family: 0n, skip_service: 0n });
    expect(s).toMatchObject({ skip_remote: 0n, redirect_miss: 0n, policy_denied: 0n });
    expect(s.msg_bytes).toBe(BigInt(BYTES + 64));
    expect(s.msg_redirected).toBeGreaterThanOrEqual(2n);
  });

  it('cilium variant: a v4-mapped AF_INET6 server (dual-stack listener) pairs with an AF_INET client', async () => {
    const l = load({}, 'mapped');
    withLoopbackEndpoints(l);
    const r = await connect(l, { listen: '::', connect: '127.0.0.1' });
    expect(r.server.address).toBe('::ffff:127.0.0.1');
    expect([...(r.inspected as string[])].sort()).toEqual(expectedKeys(r, true));
    expectIntact(r);
    expect(r.outSegs).toBeLessThanOrEqual(FLAT);
  });

  it('cilium variant: an AF_INET6 client to ::ffff:127.0.0.1 pairs with an AF_INET server', async () => {
    const l = load({}, 'mapped6');
    withLoopbackEndpoints(l);
    const r = await connect(l, { listen: '127.0.0.1', connect: '::ffff:127.0.0.1' });
    expect(r.client.address).toBe('::ffff:127.0.0.1');
    expect([...(r.inspected as string[])].sort()).toEqual(expectedKeys(r, true));
    expectIntact(r);
    expect(r.outSegs).toBeLessThanOrEqual(FLAT);
  });

  it("ipv6 'native': a ::1 pair is redirected under 16-byte addresses and family 2", async () => {
    const l = load({ ipv6: 'native' }, 'native6');
    withLoopbackEndpoints(l);
    const r = await connect(l, { listen: '::1', connect: '::1', ipv6Only: true });
    const keys = r.inspected as string[];
    expect([...keys].sort()).toEqual(expectedKeys(r, false));
    expect(keys.every((k) => k.slice(64, 66) === '02')).toBe(true);
    expectIntact(r);
    expect(r.outSegs).toBeLessThanOrEqual(FLAT);
  });

  it("ipv6 'mapped' (Cilium): a native ::1 pair is not inserted and goes through TCP", async () => {
    const l = load({}, 'mapped-native');
    withLoopbackEndpoints(l);
    const r = await connect(l, { listen: '::1', connect: '::1', ipv6Only: true });
    expect(r.inspected).toEqual([]);
    expectIntact(r);
    expect(r.outSegs).toBeGreaterThanOrEqual(THROUGH_TCP);
    expect(l.stats()).toMatchObject({ inserted: 0n, skip_family: 2n });
  });

  it('a connection to a service frontend is not accelerated and still carries its data', async () => {
    const l = load({}, 'service');
    withLoopbackEndpoints(l);
    l.update('services', encodeServiceKey('127.0.0.1', 7777), encodeServiceInfo(1));
    const r = await connect(l, { listen: '127.0.0.1', connect: '127.0.0.1' });
    // Only the server's socket (whose remote, the client, is no frontend) is stored.
    expect(r.inspected).toEqual([keysOf(r, true).server]);
    expectIntact(r);
    expect(r.outSegs).toBeGreaterThanOrEqual(THROUGH_TCP);
    const s = l.stats();
    expect(s).toMatchObject({ inserted: 1n, skip_service: 1n, msg_redirected: 0n });
    expect(s.redirect_miss).toBeGreaterThanOrEqual(1n);
  });

  it('a connection the policy denies is stored but never redirected, and still carries its data', async () => {
    const l = load({}, 'deny');
    withLoopbackEndpoints(l);
    l.update(
      'policy',
      encodePolicyKey({ identity: 0, port: 0 }),
      encodePolicyEntry({ kind: 'deny' }),
    );
    const r = await connect(l, { listen: '127.0.0.1', connect: '127.0.0.1' });
    expect((r.inspected as string[]).length).toBe(2);
    expectIntact(r);
    expect(r.outSegs).toBeGreaterThanOrEqual(THROUGH_TCP);
    const s = l.stats();
    expect(s).toMatchObject({ inserted: 2n, msg_redirected: 0n, msg_bytes: 0n, redirect_miss: 0n });
    expect(s.policy_denied).toBeGreaterThanOrEqual(2n);
  });

  it('minimal variant: every loopback pair is redirected with no maps configured', async () => {
    const l = load({ variant: 'minimal' }, 'minimal');
    expect(l.built.maps.map((m) => m.role)).toEqual(['sockhash']);
    const r = await connect(l, { listen: '::', connect: '127.0.0.1' });
    expect([...(r.inspected as string[])].sort()).toEqual(expectedKeys(r, true));
    expectIntact(r);
    expect(r.outSegs).toBeLessThanOrEqual(FLAT);
  });

  it('identical loopback tuples in two namespaces: with netnsScope each pair is keyed and redirected apart', async () => {
    const l = load({ variant: 'minimal', netnsScope: true, stats: true }, 'twons');
    const cgroup = l.attach();
    const plan = (netns: string) => ({
      cgroup,
      netns,
      listenHost: '127.0.0.1',
      connectHost: '127.0.0.1',
      port: 7777,
      clientPort: 40000,
      bytes: BYTES,
    });
    const [a, b] = [l.createNetns(), l.createNetns()];
    let inner: TrafficResult | undefined;
    // Namespace A connects and waits; B connects (same tuple), moves its data, then A moves its own.
    const outer = await runTraffic(plan(a), async () => {
      inner = await runTraffic(plan(b), () => l.keys('sockhash'));
    });
    if (!inner) throw new Error('the second namespace did not run');
    expect(inner.client).toEqual(outer.client);
    const keys = inner.inspected as string[];
    expect(keys).toHaveLength(4);
    // Two tuples (each side's reversed key), each present once per namespace cookie.
    const tuples = new Set(keys.map((k) => k.slice(0, 88)));
    expect([...tuples].sort()).toEqual(expectedKeys(outer, true));
    expect(new Set(keys.map((k) => k.slice(96))).size).toBe(2);
    for (const r of [outer, inner]) {
      expectIntact(r);
      expect(r.outSegs).toBeLessThanOrEqual(FLAT);
    }
    expect(l.stats()).toMatchObject({
      inserted: 4n,
      insert_failed: 0n,
      msg_bytes: BigInt(2 * (BYTES + 64)),
    });
  });

  it('identical loopback tuples in two namespaces collide without netnsScope (the second pair fails to insert)', async () => {
    const l = load({ variant: 'minimal', stats: true }, 'twons-plain');
    const cgroup = l.attach();
    const plan = (netns: string) => ({
      cgroup,
      netns,
      listenHost: '127.0.0.1',
      connectHost: '127.0.0.1',
      port: 7777,
      clientPort: 40000,
      bytes: 1,
      stopAfterConnect: true,
    });
    const [a, b] = [l.createNetns(), l.createNetns()];
    let keys: string[] = [];
    await runTraffic(plan(a), async () => {
      await runTraffic(plan(b), () => {
        keys = l.keys('sockhash');
      });
    });
    // Cilium's 44-byte key cannot tell the namespaces apart: B's sockets hit EEXIST, and B's
    // messages would be redirected to A's sockets (which is why netnsScope exists).
    expect(keys).toHaveLength(2);
    expect(l.stats()).toMatchObject({ inserted: 2n, insert_failed: 2n });
  });

  it('sk_msg stays attached when the pins are removed mid-test (a concurrent run sweeping bpffs)', async () => {
    // The kernel drops a SOCKHASH's programs with its last user reference (pin or fd), not when
    // the map is freed: sock_ops keeps the map alive and inserting, but new sockets get no sk_msg.
    // LoadedSockops holds its own fds, so removing every pin must not change what the pair does.
    const l = load({ variant: 'minimal', stats: true }, 'unpinned');
    const cgroup = l.attach();
    rmSync(l.dir.path, { recursive: true, force: true });
    expect(existsSync(l.dir.path)).toBe(false);
    const r = await runTraffic(
      {
        cgroup,
        netns: l.createNetns(),
        listenHost: '127.0.0.1',
        connectHost: '127.0.0.1',
        port: 7777,
        bytes: BYTES,
      },
      () => l.keys('sockhash'),
    );
    expect([...(r.inspected as string[])].sort()).toEqual(expectedKeys(r, true));
    expectIntact(r);
    expect(r.outSegs).toBeLessThanOrEqual(FLAT);
    expect(l.stats()).toMatchObject({ inserted: 2n, msg_bytes: BigInt(BYTES + 64) });
  });

  it('netnsScope: keys carry the namespace cookie (56 bytes) and the pair is still redirected', async () => {
    const l = load({ netnsScope: true, variant: 'minimal', stats: true }, 'netns');
    const r = await connect(l, { listen: '127.0.0.1', connect: '127.0.0.1' });
    const keys = r.inspected as string[];
    expect(keys).toHaveLength(2);
    expect(keys.every((k) => k.length === 112)).toBe(true);
    // Same namespace: both keys end with the same non-zero cookie; the 44-byte prefixes are the model's.
    const cookies = new Set(keys.map((k) => k.slice(96)));
    expect(cookies.size).toBe(1);
    expect([...cookies][0]).not.toBe('0'.repeat(16));
    expect(keys.map((k) => k.slice(0, 88)).sort()).toEqual(expectedKeys(r, true));
    expectIntact(r);
    expect(r.outSegs).toBeLessThanOrEqual(FLAT);
    expect(l.stats()).toMatchObject({ inserted: 2n, msg_bytes: BigInt(BYTES + 64) });
  });
});
