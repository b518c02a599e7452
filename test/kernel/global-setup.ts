import { readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mountsOf } from '../../src/loader/fs.js';

/** Removes a cgroup directory tree bottom-up (cgroupfs only allows rmdir of empty cgroups). */
function removeCgroupTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
  } catch (err) {
    console.warn(`tsbpf teardown: could not remove cgroup ${dir}: ${(err as Error).message}`);
  }
}

/**
 * The pid in a `tsbpf-test-<tag>-<pid>-<n>` name (support.ts names them so), or undefined.
 */
function ownerPid(name: string): number | undefined {
  const m = /-(\d+)-\d+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** True when `name` was made by a process that still runs (another test run on this machine). */
function ownerAlive(name: string): boolean {
  const pid = ownerPid(name);
  if (pid === undefined || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True for a leftover this run may remove: ours by name, and not owned by a live process. */
function isLeftover(name: string): boolean {
  return name.startsWith('tsbpf-test') && !ownerAlive(name);
}

/**
 * Removes what kernel tests may have left behind: `tsbpf-test-*` cgroups (at most two levels deep,
 * where our tests create them) and `tsbpf-test-*` entries in every bpffs. Tests clean up after
 * themselves; this is the safety net for a crashed run, and it never touches anything else. Entries
 * whose owning process still runs belong to a concurrent run and are left alone (the test workers of
 * this run have exited by the time the teardown runs). That holds for bpffs entries as much as for
 * cgroups: pins are what keep another run's sk_msg attached to its SOCKHASH.
 */
function removeLeftovers(): void {
  for (const root of mountsOf('cgroup2')) {
    for (const dir of [root, ...childDirs(root)]) {
      for (const name of childNames(dir)) {
        if (isLeftover(name)) removeCgroupTree(join(dir, name));
      }
    }
  }
  for (const root of mountsOf('bpf')) {
    for (const dir of [root, ...childDirs(root)]) {
      for (const name of childNames(dir)) {
        // A live run's pins must stay: removing a SOCKHASH's last pin detaches its sk_msg program
        // (the kernel drops a sockmap's programs with its last user reference), and that run's
        // sockets then go over TCP with sk_msg never running.
        if (isLeftover(name)) rmSync(join(dir, name), { recursive: true, force: true });
      }
    }
  }
}

function childNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function childDirs(dir: string): string[] {
  return childNames(dir)
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    });
}

/** Vitest global setup for the kernel project: clean before the run and again after it. */
export default function setup(): () => void {
  if (process.getuid?.() === 0) removeLeftovers();
  return () => {
    if (process.getuid?.() === 0) removeLeftovers();
  };
}
