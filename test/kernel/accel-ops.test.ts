/**
 * Kernel tests of the acceleration operations: enable (idempotent, atomic, refuses non-cgroup
 * paths), status, disable (connections accelerated before keep working), the agent (SIGTERM
 * cleans up) and the demo. Everything happens in tsbpf-test-* cgroups and bpffs directories
 * these tests create, with manifests in a temporary state directory; nothing touches
 * /sys/fs/bpf/tsbpf or a real cgroup.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { disableAccel } from '../../src/accel/disable.js';
import { enableAccel } from '../../src/accel/enable.js';
import { AccelError } from '../../src/accel/errors.js';
import { readManifest } from '../../src/accel/state.js';
import { accelStatus } from '../../src/accel/status.js';
import { main } from '../../src/cli/main.js';
import { SockOps } from '../../src/loader/attach.js';
import { AttachType, BpfCmd } from '../../src/loader/constants.js';
import { type BpfSyscall, systemSyscall } from '../../src/loader/syscall.js';
import { STAT_NAMES } from '../../src/programs/stats.js';
import {
  connectionSegsOut,
  createTestBpffsDir,
  createTestCgroup,
  describeKernel,
  type TestDir,
  withProcessInCgroup,
} from './support.js';

/** Captures a CLI run. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

/** A connected loopback pair created inside `cgroup` (so sock_ops sees it). */
async function connectedPair(cgroup: string): Promise<{
  server: net.Server;
  client: net.Socket;
  peer: net.Socket;
  close(): void;
}> {
  return withProcessInCgroup(cgroup, async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect({ host: '127.0.0.1', port });
    await once(client, 'connect');
    const [peer] = await accepted;
    return {
      server,
      client,
      peer,
      close() {
        client.destroy();
        peer.destroy();
        server.close();
      },
    };
  });
}

/** Sends `bytes` random bytes from `from` to `to`; resolves with whether the sha256 matched. */
async function transfer(from: net.Socket, to: net.Socket, bytes: number): Promise<boolean> {
  const data = randomBytes(bytes);
  const got = createHash('sha256');
  let n = 0;
  const done = new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      got.update(chunk);
      n += chunk.length;
      if (n >= bytes) {
        to.off('data', onData);
        resolve();
      }
    };
    to.on('data', onData);
  });
  from.write(data);
  await done;
  return got.digest('hex') === createHash('sha256').update(data).digest('hex');
}

const HOST = () => ['127.0.0.1/32', '::1/128'];

describeKernel('accel operations', () => {
  let cgroup: TestDir;
  let bpffs: TestDir;
  let stateDir: string;
  let pinDir: string;

  beforeAll(() => {
    cgroup = createTestCgroup('accel');
    bpffs = createTestBpffsDir('accel');
    stateDir = mkdtempSync(join(tmpdir(), 'tsbpf-test-state-'));
    pinDir = join(bpffs.path, 'pins');
  });

  afterAll(() => {
    try {
      disableAccel({ pinDir, stateDir });
    } finally {
      bpffs.cleanup();
      cgroup.cleanup();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('refuses a path that is not a cgroup v2 directory and leaves nothing behind', async () => {
    expect(() => enableAccel({ cgroup: stateDir, pinDir, stateDir })).toThrow(
      /is not a cgroup v2 directory: it is outside every cgroup2 mount/,
    );
    expect(() =>
      enableAccel({ cgroup: join(cgroup.path, 'no-such-child'), pinDir, stateDir }),
    ).toThrow(/does not exist/);
    const r = await cli([
      'accel',
      'enable',
      '--cgroup',
      bpffs.path,
      '--pin-dir',
      pinDir,
      '--state-dir',
      stateDir,
    ]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/not a cgroup v2 directory/);
    expect(existsSync(pinDir)).toBe(false);
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('rolls back everything when the last step (attaching sock_ops) fails', () => {
    const real = systemSyscall();
    // Fails PROG_ATTACH of a sock_ops program (attr: target_fd, attach_bpf_fd, attach_type at 8).
    const failing: BpfSyscall = {
      bpf(cmd, attr) {
        const type = new DataView(attr.buffer, attr.byteOffset, attr.byteLength).getUint32(8, true);
        if (cmd === BpfCmd.PROG_ATTACH && type === AttachType.CGROUP_SOCK_OPS) return -16; // EBUSY
        return real.bpf(cmd, attr);
      },
      alloc: (size) => real.alloc(size),
      free: (mem) => real.free(mem),
      close: (fd) => real.close(fd),
      dup: (fd) => real.dup(fd),
      openDirectory: (path) => real.openDirectory(path),
      mount: (source, target, fsType, flags) => real.mount(source, target, fsType, flags),
      readMountInfo: () => real.readMountInfo(),
      mkdirs: (path) => real.mkdirs(path),
      unlink: (path) => real.unlink(path),
      removeTree: (path) => real.removeTree(path),
    };
    let error: unknown;
    try {
      enableAccel({ cgroup: cgroup.path, pinDir, stateDir, sys: failing, hostAddresses: HOST });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AccelError);
    expect((error as Error).message).toMatch(/EBUSY.*everything done so far was rolled back/s);
    expect(existsSync(pinDir)).toBe(false);
    expect(readManifest(stateDir, pinDir)).toBeUndefined();
    expect(SockOps.query(real, cgroup.path).programs).toEqual([]);
  });

  it('enables, then a second enable changes nothing and says so; endpoints follow the host', async () => {
    const first = enableAccel({ cgroup: cgroup.path, pinDir, stateDir, hostAddresses: HOST });
    expect(first.action).toBe('enabled');
    const attached = SockOps.query(systemSyscall(), cgroup.path).programs.map((p) => p.id);
    expect(attached).toEqual([first.manifest.programs.sockops.id]);
    expect(readdirSync(pinDir).sort()).toEqual(
      [
        'bpf_redir',
        'bpf_sockops',
        'tsbpf_endpoints',
        'tsbpf_ipcache',
        'tsbpf_policy',
        'tsbpf_services',
        'tsbpf_sockhash',
        'tsbpf_stats',
      ].sort(),
    );

    const second = enableAccel({ cgroup: cgroup.path, pinDir, stateDir, hostAddresses: HOST });
    expect(second.action).toBe('unchanged');
    expect(second.message).toMatch(/nothing changed/);
    expect(second.manifest.programs).toEqual(first.manifest.programs);
    expect(SockOps.query(systemSyscall(), cgroup.path).programs.map((p) => p.id)).toEqual(attached);

    const viaCli = await cli([
      'accel',
      'enable',
      '--cgroup',
      cgroup.path,
      '--pin-dir',
      pinDir,
      '--state-dir',
      stateDir,
      '--config',
      await writeConfig(stateDir, { endpoints: ['127.0.0.1/32', '::1/128'] }),
    ]);
    // A config with endpoints is a different configuration source: refused with the reason.
    expect(viaCli.code).toBe(1);
    expect(viaCli.err).toMatch(
      /already enabled with endpoints from host; run `tsbpf accel disable/,
    );

    const moved = enableAccel({
      cgroup: cgroup.path,
      pinDir,
      stateDir,
      hostAddresses: () => ['127.0.0.1/32', '10.99.0.1/32'],
    });
    expect(moved.action).toBe('endpoints-updated');
    expect(moved.message).toMatch(/\+1 -1/);
    const status = accelStatus({ pinDir, stateDir, skipProbes: true });
    expect(status.maps.find((m) => m.role === 'endpoints')?.entries).toBe(2);

    expect(() =>
      enableAccel({
        cgroup: cgroup.path,
        pinDir,
        stateDir,
        variant: 'minimal',
        hostAddresses: HOST,
      }),
    ).toThrow(/already enabled with variant cilium/);
  });

  it('status --json reports attachments, sockets, every counter, map fill and kernel features', async () => {
    const pair = await connectedPair(cgroup.path);
    try {
      expect(await transfer(pair.client, pair.peer, 1 << 16)).toBe(true);
      const r = await cli([
        'accel',
        'status',
        '--json',
        '--pin-dir',
        pinDir,
        '--state-dir',
        stateDir,
      ]);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.out);
      expect(s.enabled).toBe(true);
      expect(s.cgroup).toBe(cgroup.path);
      expect(
        s.programs.map((p: { name: string; attachedTo: string }) => [p.name, p.attachedTo]),
      ).toEqual([
        ['bpf_sockops', cgroup.path],
        ['bpf_redir', 'tsbpf_sockhash'],
      ]);
      expect(s.socketCount).toBe(2);
      const ports = s.sockets.map((t: { sport: number; dport: number }) =>
        [t.sport, t.dport].sort(),
      );
      expect(ports[0]).toEqual([pair.client.localPort, pair.peer.localPort].sort());
      expect(Object.keys(s.stats)).toEqual([...STAT_NAMES]);
      expect(BigInt(s.stats.inserted)).toBeGreaterThanOrEqual(2n);
      expect(BigInt(s.stats.msg_redirected)).toBeGreaterThan(0n);
      expect(s.maps.find((m: { role: string }) => m.role === 'sockhash')).toMatchObject({
        entries: 2,
        maxEntries: 65535,
      });
      expect(
        s.features.filter(
          (f: { required: boolean; supported: boolean }) => f.required && !f.supported,
        ),
      ).toEqual([]);
      expect(s.problems).toEqual([]);
      const text = await cli(['accel', 'status', '--pin-dir', pinDir, '--state-dir', stateDir]);
      expect(text.out).toMatch(/sockets in the SOCKHASH: 2/);
      expect(text.out).toMatch(/msg_redirected\s+\d+/);
    } finally {
      pair.close();
    }
  });

  it('disable detaches and unpins; a connection accelerated before keeps working afterwards', async () => {
    const pair = await connectedPair(cgroup.path);
    try {
      const before = accelStatus({ pinDir, stateDir, skipProbes: true });
      expect(before.socketCount).toBe(2);
      expect(await transfer(pair.client, pair.peer, 1 << 20)).toBe(true);

      const r = await cli(['accel', 'disable', '--pin-dir', pinDir, '--state-dir', stateDir]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/detached sock_ops bpf_sockops .*detached sk_msg bpf_redir .*removed/);
      expect(existsSync(pinDir)).toBe(false);
      expect(SockOps.query(systemSyscall(), cgroup.path).programs).toEqual([]);

      // The connection still carries data both ways, intact. It stays on the sk_msg path until
      // it closes: its psock holds the sk_msg program, which holds the SOCKHASH (the kernel
      // drops a socket's psock on close or map free, and the map cannot be freed before that).
      const segs = connectionSegsOut(pair.client.localPort!);
      expect(await transfer(pair.client, pair.peer, 1 << 20)).toBe(true);
      expect(await transfer(pair.peer, pair.client, 1 << 20)).toBe(true);
      expect(connectionSegsOut(pair.client.localPort!) - segs).toBeLessThan(10);

      // A connection made after disable goes through TCP.
      const fresh = await connectedPair(cgroup.path);
      try {
        const freshSegs = connectionSegsOut(fresh.client.localPort!);
        expect(await transfer(fresh.client, fresh.peer, 1 << 20)).toBe(true);
        expect(connectionSegsOut(fresh.client.localPort!) - freshSegs).toBeGreaterThan(10);
      } finally {
        fresh.close();
      }

      const again = await cli(['accel', 'disable', '--pin-dir', pinDir, '--state-dir', stateDir]);
      expect(again.code).toBe(0);
      expect(again.out).toMatch(/nothing enabled .*nothing to do/);
    } finally {
      pair.close();
    }
  });

  it('accel run enables, serves metrics, and cleans up on SIGTERM', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'accel',
        'run',
        '--cgroup',
        cgroup.path,
        '--pin-dir',
        pinDir,
        '--state-dir',
        stateDir,
        '--metrics-port',
        '0',
        '--poll-ms',
        '200',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`agent did not start: ${out}`)), 60_000);
        const check = () => {
          const m = /serving metrics on (http:\S+)/.exec(out);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        };
        child.stdout?.on('data', check);
        child.once('exit', () => reject(new Error(`agent exited: ${out}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect(SockOps.query(systemSyscall(), cgroup.path).programs).toHaveLength(1);
      const body = await (await fetch(url)).text();
      expect(body).toMatch(/^tsbpf_accel_enabled\{pin_dir="[^"]+"\} 1$/m);
      expect(body).toMatch(/^tsbpf_accel_sockets \d+$/m);
      for (const n of STAT_NAMES)
        expect(body).toMatch(new RegExp(`^tsbpf_accel_${n}_total \\d+$`, 'm'));
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(out).toMatch(/SIGTERM, disabling/);
      expect(existsSync(pinDir)).toBe(false);
      expect(readManifest(stateDir, pinDir)).toBeUndefined();
      expect(SockOps.query(systemSyscall(), cgroup.path).programs).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('accel demo measures plain and accelerated traffic, shows the bypass, and removes everything', async () => {
    const parent = createTestCgroup('demo');
    const pins = createTestBpffsDir('demo');
    try {
      const r = await cli([
        'accel',
        'demo',
        '--cgroup-parent',
        parent.path,
        '--bpffs-parent',
        pins.path,
        '--name-prefix',
        'tsbpf-test-demo',
        '--state-dir',
        stateDir,
        '--bulk-mib',
        '4',
        '--round-trips',
        '300',
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/created cgroup .*\/tsbpf-test-demo-/);
      expect(r.out).toMatch(/^bulk 4 MiB\s+\d+ MiB\/s\s+\d+ MiB\/s\s+[\d.]+x$/m);
      expect(r.out).toMatch(/^request\/response ×300\s+\d+ \/s\s+\d+ \/s\s+[\d.]+x$/m);
      expect(r.out).toMatch(/^sha256 intact\s+yes\s+yes$/m);
      expect(r.out).toMatch(/bytes bypassed TCP: yes \(sk_msg redirected \d+ messages/);
      expect(
        readdirSync(parent.path, { withFileTypes: true }).filter((d) => d.isDirectory()),
      ).toEqual([]);
      expect(readdirSync(pins.path)).toEqual([]);
    } finally {
      pins.cleanup();
      parent.cleanup();
    }
  });
});

async function writeConfig(dir: string, config: unknown): Promise<string> {
  const { writeFileSync } = await import('node:fs');
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}
