/**
 * Resource lifecycle on the real kernel: attach modes and detach, links, nothing left behind after
 * detach + unpin, no fd leaks over 1,000 load/close cycles, and the unprivileged path (a child
 * running as nobody gets the clear EPERM message and leaves nothing behind).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SkMsg, SockOps } from '../../src/loader/attach.js';
import { getNextId, mapGetFdById, progGetFdById, progInfo } from '../../src/loader/commands.js';
import { AttachType, ProgType } from '../../src/loader/constants.js';
import { BpfError, LoaderError } from '../../src/loader/errors.js';
import { openPinnedLink, openPinnedProgram } from '../../src/loader/fd.js';
import { ensureBpffs, ensureCgroup2, mountsOf, openCgroup, unpin } from '../../src/loader/fs.js';
import { loadObject } from '../../src/loader/object-loader.js';
import { featureProbes } from '../../src/loader/probes.js';
import { systemSyscall } from '../../src/loader/syscall.js';
import { createTestBpffsDir, createTestCgroup, describeKernel, type TestDir } from './support.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/loader/sockaccel.o');
const UNPRIVILEGED = join(import.meta.dirname, '../fixtures/loader/unprivileged.ts');
const ROOT = join(import.meta.dirname, '../..');

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Waits until the kernel has freed program or map `id` (freeing is RCU/workqueue-deferred). */
async function objectGone(kind: 'prog' | 'map', id: number): Promise<boolean> {
  const sys = systemSyscall();
  for (let i = 0; i < 100; i++) {
    try {
      sys.close(kind === 'prog' ? progGetFdById(sys, id) : mapGetFdById(sys, id));
    } catch (err) {
      if (err instanceof BpfError && err.errno === 'ENOENT') return true;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describeKernel('loader: attach modes, cleanup and leaks', () => {
  const sys = systemSyscall();
  let cgroup: TestDir;
  let pins: TestDir;

  beforeAll(() => {
    cgroup = createTestCgroup('loader-life');
    pins = createTestBpffsDir('loader-life');
  });

  afterAll(() => {
    pins?.cleanup();
    cgroup?.cleanup();
  });

  it('finds the existing bpffs and cgroup v2 mounts instead of mounting new ones', () => {
    expect(ensureBpffs(sys)).toBe(mountsOf('bpf')[0]);
    expect(ensureCgroup2(sys)).toBe(mountsOf('cgroup2')[0]);
    expect(() => openCgroup(sys, '/tmp')).toThrow(LoaderError);
    expect(() => openCgroup(sys, '/tmp')).toThrow(/not inside a cgroup v2 mount/);
  });

  it('exclusive mode replaces, override reports flag 1, multi runs several; detach empties PROG_QUERY', () => {
    using a = loadObject(FIXTURE, { sys, pinDir: join(pins.path, 'modes-a') });
    using b = loadObject(FIXTURE, { sys, pinDir: join(pins.path, 'modes-b') });
    const pa = SockOps.from(a.program('accel_sockops'));
    const pb = SockOps.from(b.program('accel_sockops'));
    const ida = pa.program.info().id;
    const idb = pb.program.info().id;

    const ex1 = pa.attach(cgroup.path);
    const ex2 = pb.attach(cgroup.path);
    let q = SockOps.query(sys, cgroup.path);
    expect(q).toMatchObject({ attachFlags: 0 });
    expect(q.programs.map((p) => p.id)).toEqual([idb]);
    // ex1's program was replaced: detaching it must not remove the program that replaced it.
    ex1.detach();
    expect(SockOps.query(sys, cgroup.path).programs.map((p) => p.id)).toEqual([idb]);
    ex2.detach();
    expect(SockOps.query(sys, cgroup.path).programs).toEqual([]);

    const ov = pa.attach(cgroup.path, { mode: 'override' });
    expect(SockOps.query(sys, cgroup.path).attachFlags).toBe(1);
    ov.detach();

    const m1 = pa.attach(cgroup.path, { mode: 'multi' });
    const m2 = pb.attach(cgroup.path, { mode: 'multi' });
    q = SockOps.query(sys, cgroup.path);
    expect(q.attachFlags).toBe(2);
    expect(q.programs.map((p) => [p.id, p.name])).toEqual([
      [ida, 'accel_sockops'],
      [idb, 'accel_sockops'],
    ]);
    m1.detach();
    expect(SockOps.query(sys, cgroup.path).programs.map((p) => p.id)).toEqual([idb]);
    m2.close();
    m2.close();
    expect(SockOps.query(sys, cgroup.path).programs).toEqual([]);
  });

  it('bpf_links: 6.18 offers links for cgroup sock_ops and sockmap sk_msg; closing the link detaches', () => {
    const probes = featureProbes(sys);
    expect(probes.link(ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS)).toBe(true);
    expect(probes.link(ProgType.SK_MSG, AttachType.SK_MSG_VERDICT)).toBe(true);
    // A socket filter has no attach type at all: no link.
    expect(probes.link(ProgType.SOCKET_FILTER, AttachType.CGROUP_SOCK_OPS)).toBe(false);
    using obj = loadObject(FIXTURE, { sys, pinDir: join(pins.path, 'links') });
    const map = obj.map('accel_map');
    {
      using l1 = SockOps.from(obj.program('accel_sockops')).attach(cgroup.path, { link: true });
      using l2 = SkMsg.from(obj.program('accel_redir')).attach(map, { link: true });
      expect([l1.kind, l2.kind]).toEqual(['link', 'link']);
      expect(SockOps.query(sys, cgroup.path).programs.map((p) => p.name)).toEqual([
        'accel_sockops',
      ]);
      expect(SkMsg.query(map).programs.map((p) => p.name)).toEqual(['accel_redir']);
    }
    expect(SockOps.query(sys, cgroup.path).programs).toEqual([]);
    expect(SkMsg.query(map).programs).toEqual([]);

    // A pinned link outlives its handle; reopened from the pin, it detaches.
    const linkPin = join(pins.path, 'links', 'ops_link');
    const l3 = SockOps.from(obj.program('accel_sockops')).attach(cgroup.path, { link: true });
    l3.pin(linkPin);
    l3.fd.close();
    expect(SockOps.query(sys, cgroup.path).programs.map((p) => p.name)).toEqual(['accel_sockops']);
    using reopened = openPinnedLink(sys, linkPin);
    reopened.detach();
    expect(SockOps.query(sys, cgroup.path).programs).toEqual([]);
    expect(unpin(sys, linkPin)).toBe(true);
  });

  it('detach and unpin leave nothing: no pins, empty PROG_QUERY, programs and maps freed', async () => {
    const pinDir = join(pins.path, 'gone');
    const obj = loadObject(FIXTURE, { sys, pinDir });
    const sockops = obj.program('accel_sockops');
    const redir = obj.program('accel_redir');
    const ids = [sockops.info().id, redir.info().id];
    const mapId = obj.map('accel_map').info().id;
    sockops.pin(join(pinDir, 'accel_sockops'));
    {
      // A pin reopens as the same program; the map's pin is refused as a program.
      using again = openPinnedProgram(sys, join(pinDir, 'accel_sockops'));
      expect(again).toMatchObject({ name: 'accel_sockops', type: ProgType.SOCK_OPS });
      expect(again.info().id).toBe(ids[0]);
      expect(() => openPinnedProgram(sys, join(pinDir, 'accel_map'))).toThrow(
        /pinned but is not a program/,
      );
    }
    const l1 = SockOps.from(sockops).attach(cgroup.path, { mode: 'multi' });
    const l2 = SkMsg.from(redir).attach(obj.map('accel_map'));
    obj.close();
    // Attachments and pins keep everything alive after the object's fds are closed.
    expect(SockOps.query(sys, cgroup.path).programs.map((p) => p.id)).toEqual([ids[0]]);
    l1.detach();
    l2.detach();
    pins.cleanup();
    pins = createTestBpffsDir('loader-life');
    expect(SockOps.query(sys, cgroup.path).programs).toEqual([]);
    for (const id of ids) expect(await objectGone('prog', id)).toBe(true);
    expect(await objectGone('map', mapId)).toBe(true);
  });

  it('1,000 load/close cycles leave /proc/self/fd unchanged', () => {
    const bytes = readFileSync(FIXTURE);
    const pinDir = join(pins.path, 'cycles');
    loadObject(bytes, { sys, pinDir }).close(); // warm up: koffi, probes cache, pin dir
    const before = openFdCount();
    for (let i = 0; i < 1000; i++) {
      const obj = loadObject(bytes, { sys, pinDir });
      obj.close();
    }
    expect(openFdCount()).toBe(before);
  });

  it('as nobody: every operation fails with the clear EPERM message and nothing is left behind', () => {
    // A pin directory nobody could write to, so a leftover would show.
    const shared = join(pins.path, 'unpriv');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', UNPRIVILEGED, join(shared, 'objs')],
      {
        uid: 65534,
        gid: 65534,
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, HOME: '/tmp' },
        timeout: 60_000,
      },
    );
    expect(child.status, child.stderr).toBe(0);
    const out = JSON.parse(child.stdout) as {
      uid: number;
      results: { what: string; ok: boolean; name: string; errno: string; message: string }[];
    };
    expect(out.uid).toBe(65534);
    expect(out.results).toHaveLength(3);
    for (const r of out.results) {
      expect(r).toMatchObject({ ok: false, name: 'BpfError', errno: 'EPERM' });
      expect(r.message).toMatch(/needs root, or the capabilities CAP_BPF and CAP_NET_ADMIN/);
      const sysctl = Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8'));
      if (sysctl !== 0)
        expect(r.message).toContain(`kernel.unprivileged_bpf_disabled is ${sysctl}`);
    }
    expect(readdirSync(shared)).toEqual([]);
    // No program of uid 65534 exists.
    for (
      let id = getNextId(sys, 'PROG_GET_NEXT_ID', 0);
      id !== undefined;
      id = getNextId(sys, 'PROG_GET_NEXT_ID', id)
    ) {
      let fd: number;
      try {
        fd = progGetFdById(sys, id);
      } catch {
        continue;
      }
      try {
        expect(progInfo(sys, fd).createdByUid).not.toBe(65534);
      } finally {
        sys.close(fd);
      }
    }
  });
});
