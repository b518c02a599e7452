/** Filesystem discovery, pin paths, attach handles and probes, through the fake kernel. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attachFlagsOf, SkMsg, SockOps } from '../../src/loader/attach.js';
import { objPin, progLoad } from '../../src/loader/commands.js';
import { BpfCmd, MapType, ProgType } from '../../src/loader/constants.js';
import { BpfProgram, openPinnedProgram } from '../../src/loader/fd.js';
import {
  checkPinName,
  ensureBpffs,
  ensureCgroup2,
  ensurePinDir,
  mountContaining,
  openCgroup,
  parseMountInfo,
  pinPath,
  removePinDir,
} from '../../src/loader/fs.js';
import { createMap } from '../../src/loader/maps.js';
import { checkObjectSupport, featureProbes } from '../../src/loader/probes.js';
import { FakeKernel } from './fake-kernel.js';

const RET0 = Uint8Array.of(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0);

function program(k: FakeKernel, type: number, name: string): BpfProgram {
  const { fd } = progLoad(k, { progType: type, name, insns: RET0, license: 'GPL' });
  return new BpfProgram(k, fd, { name, type });
}

describe('mountinfo', () => {
  it('parses mount points and types, decoding octal escapes', () => {
    const text = [
      '36 35 98:0 /mnt1 /mnt\\040with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
      '40 22 0:40 / /sys/fs/bpf rw,nosuid,nodev shared:3 - bpf bpf rw,mode=700',
      'garbage line',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountPoint: '/mnt with space', fsType: 'ext3', source: '/dev/root', options: 'rw,noatime' },
      { mountPoint: '/sys/fs/bpf', fsType: 'bpf', source: 'bpf', options: 'rw,nosuid,nodev' },
    ]);
  });

  it('finds the innermost mount of a type containing a path', () => {
    const k = new FakeKernel();
    const info = k.readMountInfo();
    expect(mountContaining('/sys/fs/bpf/a/b', 'bpf', info)).toBe('/sys/fs/bpf');
    expect(mountContaining('/sys/fs/bpfx', 'bpf', info)).toBeUndefined();
    expect(mountContaining('/sys/fs/cgroup/unified/x', 'cgroup2', info)).toBe(
      '/sys/fs/cgroup/unified',
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        expect(Array.isArray(parseMountInfo(text))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('bpffs and cgroup2', () => {
  it('uses existing mounts and mounts at the default paths only when there are none', () => {
    const k = new FakeKernel();
    expect(ensureBpffs(k)).toBe('/sys/fs/bpf');
    expect(ensureCgroup2(k)).toBe('/sys/fs/cgroup/unified');
    expect(k.mounts).toEqual([]);
    k.mountInfo = '22 1 0:21 / /sys rw - sysfs sysfs rw';
    expect(ensureBpffs(k)).toBe('/sys/fs/bpf');
    expect(ensureCgroup2(k)).toBe('/run/tsbpf/cgroupv2');
    expect(k.mounts).toEqual([
      { source: 'bpf', target: '/sys/fs/bpf', fsType: 'bpf' },
      { source: 'none', target: '/run/tsbpf/cgroupv2', fsType: 'cgroup2' },
    ]);
  });

  it('explains a failed mount', () => {
    const k = new FakeKernel();
    k.mountInfo = '';
    k.mount = () => -1;
    expect(() => ensureBpffs(k)).toThrow(
      /no bpffs is mounted and mounting one at \/sys\/fs\/bpf failed with EPERM \(needs root/,
    );
    expect(() => ensureCgroup2(k)).toThrow(
      /ERR|cgroup v2 hierarchy is mounted and mounting one.*EPERM/,
    );
  });

  it('opens only cgroup v2 directories', () => {
    const k = new FakeKernel();
    expect(() => openCgroup(k, '/sys/fs/cgroup/cpu/x')).toThrow(
      /not inside a cgroup v2 mount \(cgroup2 mounts: \/sys\/fs\/cgroup\/unified\)/,
    );
    expect(() => openCgroup(k, '/sys/fs/cgroup/unified/missing')).toThrow(/no such cgroup/);
    using fd = openCgroup(k, '/sys/fs/cgroup/unified/test');
    expect(fd.value).toBeGreaterThan(0);
  });
});

describe('pin paths', () => {
  it("refuses '.' and other characters bpffs or shells would trip on", () => {
    for (const bad of ['a.b', '', '../x', 'a/b', 'sp ace'])
      expect(() => checkPinName(bad)).toThrow(/not allowed/);
    expect(pinPath('/sys/fs/bpf/x', 'sock_ops_map')).toBe('/sys/fs/bpf/x/sock_ops_map');
  });

  it('creates pin directories only inside bpffs and reports the first one created', () => {
    const k = new FakeKernel();
    expect(ensurePinDir(k, '/sys/fs/bpf/a/b')).toBe('/sys/fs/bpf/a');
    expect(ensurePinDir(k, '/sys/fs/bpf/a/b')).toBeUndefined();
    expect(() => ensurePinDir(k, '/tmp/pins')).toThrow(/not inside a bpffs mount/);
    expect(() => ensurePinDir(k, '/sys/fs/bpf/a.b')).toThrow(/not allowed/);
    expect(() => removePinDir(k, '/sys/fs/bpf')).toThrow(/the bpffs mount itself/);
    removePinDir(k, '/sys/fs/bpf/a');
    expect(k.dirs.size).toBe(0);
  });
});

describe('attach handles', () => {
  it('maps modes to PROG_ATTACH flags', () => {
    expect([attachFlagsOf('exclusive'), attachFlagsOf('override'), attachFlagsOf('multi')]).toEqual(
      [0, 1, 2],
    );
  });

  it('refuses programs of the wrong type and maps that are not sockmaps, naming both', () => {
    const k = new FakeKernel();
    using msg = program(k, ProgType.SK_MSG, 'redir');
    using ops = program(k, ProgType.SOCK_OPS, 'ops');
    expect(() => SockOps.from(msg)).toThrow(/program redir is SK_MSG, not SOCK_OPS/);
    expect(() => SkMsg.from(ops)).toThrow(/program ops is SOCK_OPS, not SK_MSG/);
    using hash = createMap(k, {
      name: 'h',
      type: MapType.HASH,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
    });
    expect(() => SkMsg.from(msg).attach(hash)).toThrow(
      /map h is HASH; sk_msg programs attach to a SOCKMAP or SOCKHASH/,
    );
  });

  it('attaches sock_ops with PROG_ATTACH flags, detaches by program, and leaks no fd', () => {
    const k = new FakeKernel();
    const ops = program(k, ProgType.SOCK_OPS, 'ops');
    const link = SockOps.from(ops).attach('/sys/fs/cgroup/unified/t', { mode: 'multi' });
    const attach = k.callsOf(BpfCmd.PROG_ATTACH)[0]!.attr;
    expect(new DataView(attach.buffer).getUint32(8, true)).toBe(3);
    expect(new DataView(attach.buffer).getUint32(12, true)).toBe(2);
    expect(SockOps.query(k, '/sys/fs/cgroup/unified/t').programs.map((p) => p.name)).toEqual([
      'ops',
    ]);
    ops.close();
    link.detach();
    link.detach();
    expect(k.callsOf(BpfCmd.PROG_DETACH)).toHaveLength(1);
    const detach = k.callsOf(BpfCmd.PROG_DETACH)[0]!.attr;
    expect(new DataView(detach.buffer).getUint32(4, true)).not.toBe(0);
    expect(k.openFds).toEqual([]);
  });

  it('attaches sk_msg to a SOCKHASH with its own fds, so detaching works after the caller closed theirs', () => {
    const k = new FakeKernel();
    const msg = program(k, ProgType.SK_MSG, 'redir');
    const hash = createMap(k, {
      name: 'h',
      type: MapType.SOCKHASH,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
    });
    const link = SkMsg.from(msg).attach(hash);
    expect(SkMsg.query(hash).programs.map((p) => [p.name, p.type])).toEqual([
      ['redir', ProgType.SK_MSG],
    ]);
    msg.close();
    const attach = new DataView(k.callsOf(BpfCmd.PROG_ATTACH)[0]!.attr.buffer);
    expect(attach.getUint32(8, true)).toBe(7);
    link.detach();
    expect(SkMsg.query(hash).programs).toEqual([]);
    hash.close();
    expect(k.openFds).toEqual([]);
  });

  it('reopens a pinned program with its name and type, and refuses a pinned map', () => {
    const k = new FakeKernel();
    using ops = program(k, ProgType.SOCK_OPS, 'ops');
    objPin(k, ops.fd.value, '/sys/fs/bpf/p/ops');
    using again = openPinnedProgram(k, '/sys/fs/bpf/p/ops');
    expect(again).toMatchObject({ name: 'ops', type: ProgType.SOCK_OPS });
    expect(again.info().id).toBe(ops.info().id);
    using hash = createMap(k, {
      name: 'h',
      type: MapType.HASH,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
    });
    objPin(k, hash.fd.value, '/sys/fs/bpf/p/h');
    expect(() => openPinnedProgram(k, '/sys/fs/bpf/p/h')).toThrow(/pinned but is not a program/);
    expect(() => openPinnedProgram(k, '/sys/fs/bpf/p/none')).toThrow(
      /nothing at \/sys\/fs\/bpf\/p\/none/,
    );
  });

  it('refuses a bpf_link in exclusive mode', () => {
    const k = new FakeKernel();
    using ops = program(k, ProgType.SOCK_OPS, 'ops');
    expect(() =>
      SockOps.from(ops).attach('/sys/fs/cgroup/unified/t', { link: true, mode: 'exclusive' }),
    ).toThrow(/always runs in multi mode/);
    expect(k.openFds).toEqual([ops.fd.value]);
  });
});

describe('probes', () => {
  it('caches answers and names every missing feature at once', () => {
    const k = new FakeKernel();
    k.failNext(BpfCmd.MAP_CREATE, { errno: 22 });
    k.failNext(BpfCmd.PROG_LOAD, { errno: 22, times: 2 });
    expect(() =>
      checkObjectSupport(k, {
        programs: [{ progType: ProgType.SK_MSG, helpers: [71] }],
        mapTypes: [MapType.SOCKHASH],
      }),
    ).toThrow(/lacks what the object needs: map type SOCKHASH \(18\); program type SK_MSG \(16\)/);
    const calls = k.calls.length;
    expect(featureProbes(k).mapType(MapType.SOCKHASH)).toBe(false);
    expect(featureProbes(k).programType(ProgType.SK_MSG)).toBe(false);
    expect(k.calls.length).toBe(calls);
  });

  it('tells a missing helper (verifier: cannot use helper) from one refused only for its arguments', () => {
    const k = new FakeKernel();
    const p = featureProbes(k);
    expect(p.programType(ProgType.SK_MSG)).toBe(true);
    k.failNext(BpfCmd.PROG_LOAD, {
      errno: 22,
      times: 2,
      log: '0: (85) call bpf_sock_hash_update#70\nprogram of this type cannot use helper bpf_sock_hash_update#70\n',
    });
    expect(p.helper(ProgType.SK_MSG, 70)).toBe(false);
    k.failNext(BpfCmd.PROG_LOAD, {
      errno: 13,
      times: 2,
      log: '0: (85) call bpf_msg_redirect_hash#71\nR1 !read_ok\n',
    });
    expect(p.helper(ProgType.SK_MSG, 71)).toBe(true);
  });
});
