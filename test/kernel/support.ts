/**
 * Shared scaffolding for kernel tests. Every kernel test works only inside what it created:
 * a `tsbpf-test-*` cgroup under the cgroup v2 mount and a `tsbpf-test-*` directory in bpffs.
 * Both are removed in `cleanup()` (call it from `finally` / `afterAll`); the global teardown in
 * global-setup.ts removes anything a crashed run left behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { mountsOf } from '../../src/loader/fs.js';

/** True when the tests run as root (kernel tests need it). */
export const isRoot = process.getuid?.() === 0;

/** True when running in CI, where a skipped kernel test counts as a failure. */
export const inCi = process.env.CI === 'true';

/**
 * `describe` for tests that need the kernel: runs as root; skips when not root on a developer
 * machine; fails loudly when not root in CI (a kernel test that skips in CI is a failure).
 */
export function describeKernel(name: string, body: () => void): void {
  if (isRoot) {
    describe(name, body);
  } else if (inCi) {
    describe(name, () => {
      it('runs as root', () => {
        throw new Error('kernel tests must run as root in CI; run `npm test` as root');
      });
    });
  } else {
    describe.skip(name, body);
  }
}

/** The cgroup v2 mount point (throws with a clear message when there is none). */
export function cgroup2Root(): string {
  const root = mountsOf('cgroup2')[0];
  if (!root) throw new Error('no cgroup v2 mount found in /proc/self/mountinfo');
  return root;
}

/** A bpffs mount point; mounts bpffs at /sys/fs/bpf when none is mounted yet. */
export function bpffsRoot(): string {
  const existing = mountsOf('bpf')[0];
  if (existing) return existing;
  mkdirSync('/sys/fs/bpf', { recursive: true });
  execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  return '/sys/fs/bpf';
}

/** A directory a test created, with the function that removes it. */
export interface TestDir {
  readonly path: string;
  cleanup(): void;
}

let counter = 0;
function uniqueName(tag: string): string {
  counter += 1;
  return `tsbpf-test-${tag}-${process.pid}-${counter}`;
}

/** Creates `<cgroup2 root>/tsbpf-test-<tag>-<pid>-<n>`; cleanup moves nothing and removes it. */
export function createTestCgroup(tag: string): TestDir {
  const path = join(cgroup2Root(), uniqueName(tag));
  mkdirSync(path);
  return {
    path,
    cleanup() {
      if (existsSync(path)) rmdirSync(path);
    },
  };
}

/** Creates `<bpffs>/tsbpf-test-<tag>-<pid>-<n>`; cleanup unpins everything below it and removes it. */
export function createTestBpffsDir(tag: string): TestDir {
  const path = join(bpffsRoot(), uniqueName(tag));
  mkdirSync(path);
  return {
    path,
    cleanup() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** The cgroup v2 path (relative to the mount) this process is in, from /proc/self/cgroup. */
function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : '/';
}

/**
 * Runs `fn` with this whole process moved into the cgroup at `cgroupPath`, then moves it back.
 * Sockets created inside `fn` belong to that cgroup (a socket keeps the cgroup it was created in).
 */
export async function withProcessInCgroup<T>(cgroupPath: string, fn: () => Promise<T>): Promise<T> {
  const home = join(cgroup2Root(), ownCgroup());
  writeFileSync(join(cgroupPath, 'cgroup.procs'), `${process.pid}\n`);
  try {
    return await fn();
  } finally {
    writeFileSync(join(home, 'cgroup.procs'), `${process.pid}\n`);
  }
}

/**
 * Segments sent so far by both ends of the loopback TCP connection whose client uses `clientPort`
 * (`ss -ti` segs_out of each established socket with that port as source or destination). Unlike
 * the namespace-wide OutSegs counter, other traffic on the machine does not move it.
 */
export function connectionSegsOut(clientPort: number): number {
  const out = execFileSync(
    'ss',
    ['-tinH', 'state', 'established', `( sport = :${clientPort} or dport = :${clientPort} )`],
    { encoding: 'utf8' },
  );
  let total = 0;
  for (const m of out.matchAll(/\bsegs_out:(\d+)/g)) total += Number(m[1]);
  return total;
}
