/**
 * The two filesystems the loader needs: bpffs (pins) and cgroup v2 (sock_ops attach points).
 * Both are found in /proc/self/mountinfo, or mounted when absent: bpffs at /sys/fs/bpf, cgroup v2
 * at a private path (as Cilium mounts /run/cilium/cgroupv2). Pinning helpers create parent
 * directories and refuse names bpffs would reject (a '.' in a pin name fails with EPERM).
 */
import { readFileSync } from 'node:fs';
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

/** Mount points of `fsType` in mountinfo text (default: this process's), in mount order. */
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
  mountInfo: string,
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

/** Finds a mount of `fsType` or mounts one at `at`; `kind` names the error code and advice. */
function ensureMount(
  sys: BpfSyscall,
  fsType: 'bpf' | 'cgroup2',
  at: string,
  code: 'ERR_NO_BPFFS' | 'ERR_NO_CGROUP2',
  advice: string,
): string {
  const existing = mountsOf(fsType, sys.readMountInfo())[0];
  if (existing) return existing;
  const what = fsType === 'bpf' ? 'no bpffs is mounted' : 'no cgroup v2 hierarchy is mounted';
  const made = sys.mkdirs(at);
  if (typeof made === 'number') {
    throw new LoaderError(
      code,
      `${what} and ${at} cannot be created (${errnoName(-made)}); ${advice}`,
    );
  }
  const ret = sys.mount(fsType === 'bpf' ? 'bpf' : 'none', at, fsType, 0);
  if (ret < 0) {
    const root = -ret === 1 ? ' (needs root / CAP_SYS_ADMIN)' : '';
    throw new LoaderError(
      code,
      `${what} and mounting one at ${at} failed with ${errnoName(-ret)}${root}; ${advice}`,
    );
  }
  return at;
}

/**
 * A bpffs mount point: the first one in mountinfo, else bpffs freshly mounted at `at`
 * (default /sys/fs/bpf). Throws `LoaderError` ERR_NO_BPFFS saying why it could not mount.
 */
export function ensureBpffs(sys: BpfSyscall, at: string = DEFAULT_BPFFS): string {
  return ensureMount(sys, 'bpf', at, 'ERR_NO_BPFFS', `mount one with \`mount -t bpf bpf ${at}\``);
}

/**
 * A cgroup v2 mount point: the first one in mountinfo (here /sys/fs/cgroup/unified on hybrid
 * systems, /sys/fs/cgroup on unified ones), else cgroup2 mounted at `at` (default
 * /run/tsbpf/cgroupv2). Throws `LoaderError` ERR_NO_CGROUP2 saying why none is available.
 */
export function ensureCgroup2(sys: BpfSyscall, at: string = PRIVATE_CGROUP2): string {
  return ensureMount(
    sys,
    'cgroup2',
    at,
    'ERR_NO_CGROUP2',
    'sock_ops programs attach only to cgroup v2 directories (mount one with `mount -t cgroup2 none DIR`)',
  );
}

/**
 * Opens a cgroup v2 directory for attaching (O_RDONLY | O_DIRECTORY). Refuses paths outside a
 * cgroup v2 mount with a clear message (attaching to a cgroup v1 directory fails with EBADF).
 */
export function openCgroup(sys: BpfSyscall, path: string): Fd {
  const info = sys.readMountInfo();
  if (!mountContaining(path, 'cgroup2', info)) {
    throw new LoaderError(
      'ERR_NO_CGROUP2',
      `${path} is not inside a cgroup v2 mount (cgroup2 mounts: ${mountsOf('cgroup2', info).join(', ') || 'none'}); ` +
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

/** Characters allowed in pin names: bpffs refuses '.'; '-' is fine in file names. */
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

/** The bpffs mount containing `dir`, or a `LoaderError` ERR_NO_BPFFS naming the mounts there are. */
function bpffsOf(sys: BpfSyscall, dir: string): string {
  const info = sys.readMountInfo();
  const mount = mountContaining(dir, 'bpf', info);
  if (!mount) {
    throw new LoaderError(
      'ERR_NO_BPFFS',
      `${dir} is not inside a bpffs mount (bpffs mounts: ${mountsOf('bpf', info).join(', ') || 'none'}); ` +
        'pin under /sys/fs/bpf (mount it with `mount -t bpf bpf /sys/fs/bpf`)',
    );
  }
  return mount;
}

/**
 * Creates `dir` and its parents inside bpffs (mkdir -p), refusing paths outside a bpffs mount
 * and directory names with '.' (bpffs refuses them with EPERM). Returns the first directory it
 * created (to remove on failure), or undefined when `dir` existed.
 */
export function ensurePinDir(sys: BpfSyscall, dir: string): string | undefined {
  const mount = bpffsOf(sys, dir);
  const rel = relative(mount, resolve(dir));
  if (rel !== '') for (const part of rel.split(sep)) checkPinName(part);
  const made = sys.mkdirs(dir);
  if (typeof made === 'number') {
    throw new LoaderError(
      'ERR_NO_BPFFS',
      `cannot create pin directory ${dir}: ${errnoName(-made)} (pinning needs write access to bpffs, usually root)`,
    );
  }
  return made;
}

/** Removes a pin (a file in bpffs); true if something was there. */
export function unpin(sys: BpfSyscall, path: string): boolean {
  const ret = sys.unlink(path);
  if (ret === 0) return true;
  if (ret === -2) return false;
  throw new LoaderError('ERR_BAD_ARGUMENT', `cannot unpin ${path}: ${errnoName(-ret)}`);
}

/** Removes a pin directory and every pin below it (only inside bpffs, never the mount itself). */
export function removePinDir(sys: BpfSyscall, dir: string): void {
  const mount = bpffsOf(sys, dir);
  if (resolve(mount) === resolve(dir)) {
    throw new LoaderError(
      'ERR_BAD_ARGUMENT',
      `refusing to remove ${dir}: it is the bpffs mount itself`,
    );
  }
  sys.removeTree(dir);
}
