/**
 * The socket acceleration objects through our own loader (src/loader), straight from the bytes of
 * `buildSockops()` — no file, no bpftool: load, fill the endpoints trie with the typed encoders,
 * attach sock_ops to a test cgroup and sk_msg to the SOCKHASH, move data over loopback in a private
 * netns, and read the SOCKHASH keys and the per-CPU counters back through the loader's map access.
 * Also: `npm run build:bpf` output loads with `bpftool prog loadall … pinmaps …`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadObject, SkMsg, SockOps } from '../../src/loader/index.js';
import { buildSockops } from '../../src/programs/build.js';
import { encodeEndpointInfo, encodeLpmKey, encodeSockKey } from '../../src/programs/maps.js';
import { STAT_NAMES } from '../../src/programs/stats.js';
import { bpftool, runTraffic } from '../programs/kernel-support.js';
import { createTestBpffsDir, createTestCgroup, describeKernel } from './support.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanups.splice(0).reverse()) {
    try {
      f();
    } catch {
      // Keep cleaning up the rest.
    }
  }
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);

describeKernel('socket acceleration through our loader', () => {
  it('loads buildSockops() bytes, attaches, redirects a loopback pair and reads keys and counters back', async () => {
    const built = buildSockops();
    const obj = loadObject(built.elf, { onWarning: () => undefined });
    cleanups.push(() => obj.close());
    obj.map('tsbpf_endpoints').update(encodeLpmKey('127.0.0.0/8'), encodeEndpointInfo(1));

    const cgroup = createTestCgroup('loader');
    cleanups.push(() => cgroup.cleanup());
    const ops = SockOps.from(obj.program('bpf_sockops')).attach(cgroup.path);
    cleanups.push(() => ops.close());
    const msg = SkMsg.from(obj.program('bpf_redir')).attach(obj.map('tsbpf_sockhash'));
    cleanups.push(() => msg.close());
    const netns = `tsbpf-test-loader-${process.pid}`;
    execFileSync('ip', ['netns', 'add', netns]);
    cleanups.push(() => execFileSync('ip', ['netns', 'delete', netns]));
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);

    const bytes = 2 * 1024 * 1024;
    const r = await runTraffic(
      {
        cgroup: cgroup.path,
        netns,
        listenHost: '127.0.0.1',
        connectHost: '127.0.0.1',
        port: 7777,
        bytes,
      },
      () => [...obj.map('tsbpf_sockhash').keys()].map(hex).sort(),
    );
    const c = { ip: r.client.address, port: r.client.port };
    const s = { ip: r.server.address, port: r.server.port };
    expect(r.inspected).toEqual(
      [
        hex(encodeSockKey({ sip: c.ip, sport: c.port, dip: s.ip, dport: s.port })),
        hex(encodeSockKey({ sip: s.ip, sport: s.port, dip: c.ip, dport: c.port })),
      ].sort(),
    );
    expect(r.receivedSha).toBe(r.sentSha);
    expect(r.outSegs).toBeLessThanOrEqual(8);

    // Per-CPU counters: one 8-byte slot per possible CPU in each lookup.
    const stats = obj.map('tsbpf_stats');
    const counter = (name: (typeof STAT_NAMES)[number]) => {
      const v = stats.lookup(u32(STAT_NAMES.indexOf(name)));
      if (!v) return -1n;
      const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
      let sum = 0n;
      for (let at = 0; at + 8 <= v.length; at += 8) sum += view.getBigUint64(at, true);
      return sum;
    };
    expect(counter('inserted')).toBe(2n);
    expect(counter('msg_bytes')).toBe(BigInt(bytes + 64));
    expect(counter('redirect_miss')).toBe(0n);
  });

  it('npm run build:bpf writes both objects with listings, and each loads with bpftool prog loadall … pinmaps …', () => {
    const out = mkdtempSync(join(tmpdir(), 'tsbpf-build-bpf-'));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-bpf.ts', out], {
      cwd: join(import.meta.dirname, '../..'),
    });
    for (const name of ['sockaccel', 'sockaccel-minimal']) {
      expect(existsSync(join(out, `${name}.lst`))).toBe(true);
      const dir = createTestBpffsDir(`buildbpf-${name}`);
      cleanups.push(() => dir.cleanup());
      bpftool(
        'prog',
        'loadall',
        join(out, `${name}.o`),
        join(dir.path, 'progs'),
        'pinmaps',
        join(dir.path, 'maps'),
      );
      expect(readdirSync(join(dir.path, 'progs')).sort()).toEqual(['bpf_redir', 'bpf_sockops']);
      const maps = readdirSync(join(dir.path, 'maps')).sort();
      expect(maps).toEqual(
        name === 'sockaccel'
          ? [
              'tsbpf_endpoints',
              'tsbpf_ipcache',
              'tsbpf_policy',
              'tsbpf_services',
              'tsbpf_sockhash',
              'tsbpf_stats',
            ]
          : ['tsbpf_sockhash'],
      );
    }
  });
});
