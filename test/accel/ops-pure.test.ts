import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCgroup2Dir } from '../../src/accel/cgroup.js';
import { runDemo } from '../../src/accel/demo.js';
import { AccelError } from '../../src/accel/errors.js';
import { hostAddressCidrs } from '../../src/accel/host-addresses.js';
import { UndoJournal } from '../../src/accel/journal.js';
import { formatMetrics } from '../../src/accel/metrics.js';
import {
  type AccelManifest,
  manifestPath,
  readManifest,
  removeManifest,
  writeManifest,
} from '../../src/accel/state.js';
import type { AccelStatus } from '../../src/accel/status.js';
import { tcpOutSegs } from '../../src/accel/traffic.js';
import { STAT_NAMES } from '../../src/programs/stats.js';

describe('host addresses', () => {
  it('every interface address as a single-address CIDR, zones dropped, sorted and unique', () => {
    const fake = {
      lo: [
        { address: '127.0.0.1', family: 'IPv4' },
        { address: '::1', family: 'IPv6' },
      ],
      eth0: [
        { address: '10.0.0.5', family: 'IPv4' },
        { address: 'fe80::1%eth0', family: 'IPv6' },
      ],
      eth1: [{ address: '10.0.0.5', family: 'IPv4' }],
    } as unknown as Parameters<typeof hostAddressCidrs>[0];
    expect(hostAddressCidrs(fake)).toEqual([
      '10.0.0.5/32',
      '127.0.0.1/32',
      '::1/128',
      'fe80::1/128',
    ]);
  });

  it('the real host has at least loopback', () => {
    expect(hostAddressCidrs()).toContain('127.0.0.1/32');
  });
});

describe('checkCgroup2Dir', () => {
  const info = (mount: string) =>
    `30 1 0:26 / ${mount} rw,nosuid shared:4 - cgroup2 cgroup2 rw\n22 1 0:5 / / rw - ext4 /dev/root rw\n`;

  it('refuses a missing path, a file and a directory outside every cgroup2 mount, with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-cg-'));
    try {
      writeFileSync(join(dir, 'file'), '');
      const reason = (path: string, mount: string) => {
        try {
          checkCgroup2Dir(path, info(mount));
        } catch (err) {
          expect((err as AccelError).code).toBe('ERR_NOT_CGROUP2');
          return (err as Error).message;
        }
        return 'accepted';
      };
      expect(reason(join(dir, 'nope'), '/sys/fs/cgroup')).toMatch(/does not exist/);
      expect(reason(join(dir, 'file'), dir)).toMatch(/it is not a directory/);
      expect(reason(dir, '/sys/fs/cgroup')).toMatch(
        /outside every cgroup2 mount \(cgroup2 is mounted at \/sys\/fs\/cgroup\)/,
      );
      // Inside the "mount" but without cgroup.procs: not a cgroup directory either.
      expect(reason(dir, dir)).toMatch(/it has no cgroup\.procs file/);
      writeFileSync(join(dir, 'cgroup.procs'), '');
      expect(reason(dir, dir)).toBe('accepted');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('UndoJournal', () => {
  it('undoes newest first, keeps going past a failing undo and reports it', () => {
    const done: string[] = [];
    const j = new UndoJournal();
    j.record('a', () => done.push('a'));
    j.record('b', () => {
      throw new Error('boom');
    });
    j.record('c', () => done.push('c'));
    expect(j.rollback()).toEqual(['b: boom']);
    expect(done).toEqual(['c', 'a']);
    expect(j.rollback()).toEqual([]);
  });

  it('commit forgets the steps', () => {
    const j = new UndoJournal();
    let undone = false;
    j.record('x', () => {
      undone = true;
    });
    j.commit();
    j.rollback();
    expect(undone).toBe(false);
  });
});

describe('manifest', () => {
  const manifest: AccelManifest = {
    version: 1,
    pinDir: '/sys/fs/bpf/tsbpf',
    cgroup: '/sys/fs/cgroup/app',
    variant: 'cilium',
    objectSha256: 'ab',
    configSha256: 'cd',
    endpointsSource: 'host',
    endpoints: ['127.0.0.1/32'],
    programs: {
      sockops: { name: 'bpf_sockops', id: 1, tag: 't1', pin: '/sys/fs/bpf/tsbpf/bpf_sockops' },
      skMsg: { name: 'bpf_redir', id: 2, tag: 't2', pin: '/sys/fs/bpf/tsbpf/bpf_redir' },
    },
    maps: [
      { role: 'sockhash', name: 'tsbpf_sockhash', id: 3, pin: '/sys/fs/bpf/tsbpf/tsbpf_sockhash' },
    ],
    enabledAt: '2026-01-01T00:00:00.000Z',
  };

  it('round-trips through the state directory, one file per pin directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-state-'));
    try {
      expect(readManifest(dir, manifest.pinDir)).toBeUndefined();
      writeManifest(dir, manifest);
      expect(manifestPath(dir, manifest.pinDir)).toBe(join(dir, 'sys_fs_bpf_tsbpf.json'));
      expect(readManifest(dir, manifest.pinDir)).toEqual(manifest);
      expect(readManifest(dir, '/sys/fs/bpf/other')).toBeUndefined();
      expect(removeManifest(dir, manifest.pinDir)).toBe(true);
      expect(removeManifest(dir, manifest.pinDir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('a damaged manifest is an ERR_STATE that says how to clean up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-state-'));
    try {
      writeFileSync(manifestPath(dir, '/sys/fs/bpf/x'), '{"version": 7}');
      expect(() => readManifest(dir, '/sys/fs/bpf/x')).toThrow(
        /not a tsbpf manifest of version 1; run `tsbpf accel disable --pin-dir \/sys\/fs\/bpf\/x`/,
      );
      writeFileSync(manifestPath(dir, '/sys/fs/bpf/x'), '{');
      expect(() => readManifest(dir, '/sys/fs/bpf/x')).toThrow(/is unreadable/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('metrics', () => {
  const status: AccelStatus = {
    enabled: true,
    pinDir: '/sys/fs/bpf/t"x',
    cgroup: '/sys/fs/cgroup/app',
    variant: 'cilium',
    enabledAt: 'now',
    endpoints: ['127.0.0.1/32'],
    endpointsSource: 'host',
    programs: [
      {
        role: 'sockops',
        name: 'bpf_sockops',
        id: 1,
        tag: 'a',
        pin: 'p',
        pinned: true,
        attachedTo: '/cg',
      },
      {
        role: 'sk_msg',
        name: 'bpf_redir',
        id: 2,
        tag: 'b',
        pin: 'q',
        pinned: true,
        attachedTo: undefined,
      },
    ],
    cgroupPrograms: [],
    pins: [],
    sockets: [],
    socketCount: 4,
    stats: Object.fromEntries(
      STAT_NAMES.map((n, i) => [n, String(10n ** 18n + BigInt(i))]),
    ) as AccelStatus['stats'],
    maps: [{ role: 'sockhash', name: 'tsbpf_sockhash', id: 3, entries: 4, maxEntries: 65535 }],
    features: [],
    problems: [],
  };

  it('exposes every counter (full u64 precision), sockets, attachment and fill in the text format', () => {
    const text = formatMetrics(status);
    expect(text).toContain('tsbpf_accel_enabled{pin_dir="/sys/fs/bpf/t\\"x"} 1\n');
    expect(text).toContain('tsbpf_accel_program_attached{program="bpf_redir",role="sk_msg"} 0\n');
    expect(text).toContain('tsbpf_accel_sockets 4\n');
    expect(text).toContain('# TYPE tsbpf_accel_msg_redirected_total counter\n');
    expect(text).toContain('tsbpf_accel_msg_redirected_total 1000000000000000005\n');
    expect(text).toContain(
      'tsbpf_accel_map_max_entries{map="tsbpf_sockhash",role="sockhash"} 65535\n',
    );
    for (const line of text.trimEnd().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? \d+)$/);
    }
  });
});

describe('tcpOutSegs', () => {
  it('reads OutSegs by column name', () => {
    const snmp =
      'Ip: Forwarding\nIp: 1\nTcp: RtoAlgorithm InSegs OutSegs RetransSegs\nTcp: 1 100 4242 0\n';
    expect(tcpOutSegs(snmp)).toBe(4242);
    expect(() => tcpOutSegs('Tcp: A\nTcp: 1\n')).toThrow(/no Tcp OutSegs/);
  });
});

describe('runDemo', () => {
  it('refuses to start without root, saying what to run, before touching anything', async () => {
    const error = await runDemo({ uid: 1000 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AccelError);
    expect((error as AccelError).code).toBe('ERR_PERMISSION');
    expect((error as Error).message).toMatch(/^the demo needs root: .*sudo npx tsbpf accel demo/);
  });
});
