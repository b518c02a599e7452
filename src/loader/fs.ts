/**
 * The two filesystems the loader needs: bpffs (pins) and cgroup v2 (sock_ops attach points).
 * Both are found in /proc/self/mountinfo, or mounted when absent: bpffs at /sys/fs/bpf, cgroup v2
 * at a private path (as Cilium mounts /run/cilium/cgroupv2). Pinning helpers create parent
 * directories and refuse names bpffs would reject (a '.' in a pin name fails with EPERM).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { errnoName, LoaderError } from './errors.js';
import { Fd } from './fd.js';
import type { BpfSyscall } from './syscall.js';

/** One line of /proc/self/mountinfo, the fields the loader uses. */
export interface MountEntry {
  /** Mount point, with the kernel's octal escapes (`\040` for space) decoded. */
  readonly mountPoint: string;
  /** Filesystem type (`bpf`, `cgroup2`, …). */
  readonly fsType: string;
  /** Mount source (`bpf`, `cgroup2`, `none`, …). */
  readonly source: string;
  /** Per-mount options (`rw,nosuid,…`). */
  readonly options: string;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

/**
 * Parses /proc/self/mountinfo text: `id parent major:minor root mountpoint options [optional…] -
 * fstype source superoptions`. Malformed lines are skipped.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const sepAt = line.indexOf(' - ');
    if (sepAt < 0) continue;
    const before = line.slice(0, sepAt).split(' ');
    const after = line.slice(sepAt + 3).split(' ');
    const mountPoint = before[4];
    const options = before[5];
    const fsType = after[0];
    if (!mountPoint || !fsType || options === undefined) continue;
    entries.push({
      mountPoint: unescapeMountField(mountPoint),
      fsType,
      source: unescapeMountField(after[1] ?? ''),
      options,
    });
  }
  return entries;
}

/** Mount points of `fsType` in this process's mount namespace, in mount order. */
export function mountsOf(fsType: string, mountInfo?: string): string[] {
  const text = mountInfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  return parseMountInfo(text)
    .filter((m) => m.fsType === fsType)
    .map((m) => m.mountPoint);
}

/** The default bpffs mount point. */
export const DEFAULT_BPFFS = '/sys/fs/bpf';
/** Where the loader mounts its own cgroup v2 hierarchy when the system has none. */
export const PRIVATE_CGROUP2 = '/run/tsbpf/cgroupv2';

/** The mount (of `fsType`) that contains `path`, or undefined. */
export function mountContaining(
  path: string,
  fsType: string,
  mountInfo?: string,
): string | undefined {
  const abs = resolve(path);
  let best: string | undefined;
  for (const mp of mountsOf(fsType, mountInfo)) {
    const rel = relative(mp, abs);
    const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
    if (inside && (best === undefined || mp.length > best.length)) best = mp;
  }
  return best;
}

/**
 * A bpffs mount point: the first one in mountinfo, else bpffs freshly mounted at `at`
 * (default /sys/fs/bpf). Throws `LoaderError` ERR_NO_BPFFS saying why it could not mount.
 */
export function ensureBpffs(sys: BpfSyscall, at: string = DEFAULT_BPFFS): string {
  const existing = mountsOf('bpf')[0];
  if (existing) return existing;
  try {
    mkdirSync(at, { recursive: true });
  } catch (err) {
    throw new LoaderError(
      'ERR_NO_BPFFS',
      `no bpffs is mounted and ${at} cannot be created (${(err as Error).message}); ` +
        'mount one with `mount -t bpf bpf /sys/fs/bpf`',
    );
  }
  const ret = sys.mount('bpf', at, 'bpf', 0);
  if (ret < 0) {
    throw new LoaderError(
      'ERR_NO_BPFFS',
      `no bpffs is mounted and mounting one at ${at} failed with ${errnoName(-ret)}` +
        `${-ret === 1 ? ' (needs root / CAP_SYS_ADMIN)' : ''}; mount one with \`mount -t bpf bpf ${at}\``,
    );
  }
  return at;
}

/**
 * A cgroup v2 mount point: the first one in mountinfo (here /sys/fs/cgroup/unified on hybrid
 * systems, /sys/fs/cgroup on unified ones), else cgroup2 mounted at `at` (default
 * /run/tsbpf/cgroupv2). Throws `LoaderError` ERR_NO_CGROUP2 saying why none is available.
 */
export function ensureCgroup2(sys: BpfSyscall, at: string = PRIVATE_CGROUP2): string {
  const existing = mountsOf('cgroup2')[0];
  if (existing) return existing;
  try {
    mkdirSync(at, { recursive: true });
  } catch (err) {
    throw new LoaderError(
      'ERR_NO_CGROUP2',
      `no cgroup v2 hierarchy is mounted and ${at} cannot be created (${(err as Error).message})`,
    );
  }
  const ret = sys.mount('none', at, 'cgroup2', 0);
  if (ret < 0) {
    throw new LoaderError(
      'ERR_NO_CGROUP2',
      `no cgroup v2 hierarchy is mounted and mounting one at ${at} failed with ${errnoName(-ret)}` +
        `${-ret === 1 ? ' (needs root / CAP_SYS_ADMIN)' : ''}; sock_ops programs attach only to ` +
        'cgroup v2 directories (cgroup v1 is not supported by the kernel for this)',
    );
  }
  return at;
}

/**
 * Opens a cgroup v2 directory for attaching (O_RDONLY | O_DIRECTORY). Refuses paths outside a
 * cgroup v2 mount with a clear message (attaching to a cgroup v1 directory fails with EBADF).
 */
export function openCgroup(sys: BpfSyscall, path: string, mountInfo?: string): Fd {
  if (!mountContaining(path, 'cgroup2', mountInfo)) {
    throw new LoaderError(
      'ERR_NO_CGROUP2',
      `${path} is not inside a cgroup v2 mount (cgroup2 mounts: ${mountsOf('cgroup2', mountInfo).join(', ') || 'none'}); ` +
        'sock_ops programs attach to cgroup v2 directories only',
    );
  }
  const fd = sys.openDirectory(path);
  if (fd < 0) {
    throw new LoaderError(
      'ERR_NO_CGROUP2',
      `cannot open cgroup ${path}: ${errnoName(-fd)}${-fd === 2 ? ' (no such cgroup; create it with mkdir)' : ''}`,
    );
  }
  return new Fd(sys, fd, `cgroup ${path}`);
}

/** Characters allowed in pin names: bpffs refuses '.', the kernel's object names allow [A-Za-z0-9_.]. */
const PIN_NAME = /^[A-Za-z0-9_-]+$/;

/** Checks a single pin name component; throws `LoaderError` ERR_BAD_ARGUMENT when bpffs would refuse it. */
export function checkPinName(name: string): void {
  if (!PIN_NAME.test(name) || name.length > 255) {
    throw new LoaderError(
      'ERR_BAD_ARGUMENT',
      `pin name '${name}' is not allowed: use letters, digits, '_' and '-' only ` +
        "(bpffs refuses '.', which libbpf replaces with '_')",
    );
  }
}

/** `dir/name` after checking `name` (see `checkPinName`). */
export function pinPath(dir: string, name: string): string {
  checkPinName(name);
  return join(dir, name);
}

/**
 * Creates `dir` and its parents inside bpffs (mkdir -p), refusing paths outside a bpffs mount
 * and directory names with '.' (bpffs refuses them with EPERM). Returns the first directory it
 * created (to remove on failure), or undefined when `dir` existed.
 */
export function ensurePinDir(dir: string, mountInfo?: string): string | undefined {
  const mount = mountContaining(dir, 'bpf', mountInfo);
  if (!mount) {
    throw new LoaderError(
      'ERR_NO_BPFFS',
      `${dir} is not inside a bpffs mount (bpffs mounts: ${mountsOf('bpf', mountInfo).join(', ') || 'none'}); ` +
        'pin under /sys/fs/bpf (mount it with `mount -t bpf bpf /sys/fs/bpf`)',
    );
  }
  const rel = relative(mount, resolve(dir));
  if (rel !== '') for (const part of rel.split(sep)) checkPinName(part);
  try {
    return mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new LoaderError(
      'ERR_NO_BPFFS',
      `cannot create pin directory ${dir}: ${(err as Error).message} (pinning needs write access to bpffs, usually root)`,
    );
  }
}

/** Removes a pin (a file in bpffs); true if something was there. */
export function unpin(path: string): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).isDirectory()) {
    throw new LoaderError(
      'ERR_BAD_ARGUMENT',
      `${path} is a directory, not a pin; use removePinDir`,
    );
  }
  rmSync(path);
  return true;
}

/** Removes a pin directory and every pin below it (only inside bpffs). */
export function removePinDir(dir: string, mountInfo?: string): void {
  const mount = mountContaining(dir, 'bpf', mountInfo);
  if (!mount || resolve(mount) === resolve(dir)) {
    throw new LoaderError(
      'ERR_BAD_ARGUMENT',
      `refusing to remove ${dir}: not a directory inside a bpffs mount (the mount itself is never removed)`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}
