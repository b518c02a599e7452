import { readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Mount points of every filesystem of `fsType`, read from /proc/self/mountinfo. */
function mountsOf(fsType: string): string[] {
  const found: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const after = line.slice(sep + 3).split(' ');
    if (after[0] === fsType) found.push(line.slice(0, sep).split(' ')[4] ?? '');
  }
  return found.filter((p) => p !== '');
}

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
 * Removes what kernel tests may have left behind: `tsbpf-test-*` cgroups (at most two levels deep,
 * where our tests create them) and `tsbpf-test-*` entries in every bpffs. Tests clean up after
 * themselves; this is the safety net for a crashed run, and it never touches anything else.
 */
function removeLeftovers(): void {
  for (const root of mountsOf('cgroup2')) {
    for (const dir of [root, ...childDirs(root)]) {
      for (const name of childNames(dir)) {
        if (name.startsWith('tsbpf-test')) removeCgroupTree(join(dir, name));
      }
    }
  }
  for (const root of mountsOf('bpf')) {
    for (const dir of [root, ...childDirs(root)]) {
      for (const name of childNames(dir)) {
        if (name.startsWith('tsbpf-test'))
          rmSync(join(dir, name), { recursive: true, force: true });
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
