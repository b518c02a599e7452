/**
 * The one door to the kernel: bpf(2) and the few other system calls the loader needs, behind the
 * `BpfSyscall` interface so that unit tests swap in a fake kernel (as aya does with
 * `override_syscall`) and everything above this file runs without root.
 *
 * The real implementation calls libc's `syscall(__NR_bpf = 321, cmd, attr, size)` through koffi.
 * Conventions shared by every implementation:
 *
 * - a call returns its non-negative result, or `-errno` on failure (kernel style, so a fake only
 *   returns numbers and nothing needs thread-local state);
 * - `attr` is passed in place: fields the kernel writes back (log_true_size, prog_cnt, info_len,
 *   retval…) are visible in the same `Uint8Array` after the call;
 * - memory that an attr *points to* (keys, values, log buffers, insns, info structs) comes from
 *   `alloc()`: it has a stable address for the kernel and a `bytes` view for us. Free it with
 *   `free()`; `withMemory` does both around a callback.
 */
import {
  constants as fsConstants,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';

/** Memory with a fixed address that a bpf attr can point to. */
export interface NativeMemory {
  /** The address to write into a `__aligned_u64` pointer field. */
  readonly address: bigint;
  /** A view of the memory (length = the size asked for). */
  readonly bytes: Uint8Array;
}

/** The system calls the loader makes; returns are results or `-errno`. */
export interface BpfSyscall {
  /** bpf(2): `cmd`, with `attr` passed by pointer and `attr.length` as the size. */
  bpf(cmd: number, attr: Uint8Array): number;
  /** Allocates `size` zeroed bytes the kernel can read and write through `address`. */
  alloc(size: number): NativeMemory;
  /** Releases memory from `alloc`. */
  free(mem: NativeMemory): void;
  /** close(2). */
  close(fd: number): number;
  /** fcntl(fd, F_DUPFD_CLOEXEC): a second fd for the same object (needs no privilege, unlike GET_FD_BY_ID). */
  dup(fd: number): number;
  /** open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC): the fd a cgroup attach needs. */
  openDirectory(path: string): number;
  /** mount(2) with no data string. */
  mount(source: string, target: string, fsType: string, flags: number): number;
  /** The text of /proc/self/mountinfo (where bpffs and cgroup2 are mounted). */
  readMountInfo(): string;
  /** mkdir -p: returns the first directory created, undefined if `path` existed; `-errno` on failure. */
  mkdirs(path: string): string | undefined | number;
  /** unlink(2) of a pin: 0 or `-errno`. */
  unlink(path: string): number;
  /** Removes a directory tree of pins (rm -rf). */
  removeTree(path: string): void;
}

/** open(2) flag: close the fd in exec'd children (not in Node's fs.constants). */
const O_CLOEXEC = 0o2000000;
/** fcntl(2) command: duplicate to the lowest free fd >= arg, with close-on-exec. */
const F_DUPFD_CLOEXEC = 1030;

/** x86-64 system call number of bpf(2). */
export const NR_BPF_X86_64 = 321;
/** arm64 (generic table) system call number of bpf(2). */
export const NR_BPF_ARM64 = 280;

/** Runs `fn` with freshly allocated native buffers of the given sizes, freeing them afterwards. */
export function withMemory<T>(
  sys: BpfSyscall,
  sizes: readonly number[],
  fn: (mems: NativeMemory[]) => T,
): T {
  const mems: NativeMemory[] = [];
  try {
    for (const size of sizes) mems.push(sys.alloc(size));
    return fn(mems);
  } finally {
    for (const mem of mems) sys.free(mem);
  }
}

/** Copies `data` into new native memory (the caller frees it). */
export function allocCopy(sys: BpfSyscall, data: Uint8Array): NativeMemory {
  const mem = sys.alloc(data.length);
  mem.bytes.set(data);
  return mem;
}

// koffi's types are loaded lazily, so that importing the loader never loads a native addon
// (unit tests with a fake kernel, or platforms without one, never touch it).
type KoffiModule = typeof import('koffi');

interface LibcFunctions {
  koffi: KoffiModule;
  bpf: (nr: number, cmd: number, attr: Uint8Array, size: number) => number | bigint;
  close: (fd: number) => number;
  fcntl: (fd: number, cmd: number, arg: number) => number;
  mount: (src: string, target: string, fsType: string, flags: number, data: null) => number;
}

/**
 * The real kernel through koffi and glibc. `syscall()` is declared with the four fixed arguments of
 * bpf(2): on x86-64 and arm64 the integer/pointer arguments of a variadic call travel in the same
 * registers as a fixed-argument call, and glibc's `syscall` is a register shuffle that never uses
 * `va_arg`. errno is reset before each call and read straight after it; koffi saves it right after
 * the native call returns, before any JavaScript runs.
 */
export class KoffiSyscall implements BpfSyscall {
  readonly #libc: LibcFunctions;
  readonly #nr: number;
  /** Native allocations still owned, by address (to free them and to catch double frees). */
  readonly #live = new Map<bigint, unknown>();

  private constructor(libc: LibcFunctions, nr: number) {
    this.#libc = libc;
    this.#nr = nr;
  }

  /** Loads libc through koffi (throws when koffi or libc.so.6 is unavailable). */
  static create(): KoffiSyscall {
    if (process.platform !== 'linux') {
      throw new Error(`tsbpf: bpf(2) exists only on Linux (this is ${process.platform})`);
    }
    let koffi: KoffiModule;
    let lib: ReturnType<KoffiModule['load']>;
    try {
      koffi = createRequire(import.meta.url)('koffi') as KoffiModule;
      lib = koffi.load('libc.so.6');
    } catch (err) {
      throw new Error(
        `tsbpf: cannot reach the kernel: koffi could not load glibc's libc.so.6 (${(err as Error).message}); ` +
          'the loader needs Linux with glibc and the koffi native module for this platform',
      );
    }
    const libc: LibcFunctions = {
      koffi,
      bpf: lib.func('long syscall(long nr, int cmd, void *attr, unsigned int size)'),
      close: lib.func('int close(int fd)'),
      // fcntl is variadic in C; its third argument is an int in the integer registers either way.
      fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
      mount: lib.func(
        'int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data)',
      ),
    };
    const nr = process.arch === 'arm64' ? NR_BPF_ARM64 : NR_BPF_X86_64;
    if (process.arch !== 'x64' && process.arch !== 'arm64') {
      throw new Error(`tsbpf: bpf(2) system call number unknown for architecture ${process.arch}`);
    }
    return new KoffiSyscall(libc, nr);
  }

  bpf(cmd: number, attr: Uint8Array): number {
    const { koffi } = this.#libc;
    koffi.errno(0);
    const ret = Number(this.#libc.bpf(this.#nr, cmd, attr, attr.length));
    if (ret < 0) return -(koffi.errno() || 22);
    return ret;
  }

  alloc(size: number): NativeMemory {
    const { koffi } = this.#libc;
    // koffi.alloc of 0 bytes is not meaningful; keep at least one byte so address is non-null.
    const n = Math.max(1, size);
    const ptr = koffi.alloc('uint8_t', n);
    const address = koffi.address(ptr);
    const bytes = new Uint8Array(koffi.view(ptr, n), 0, size);
    bytes.fill(0);
    this.#live.set(address, ptr);
    return { address, bytes };
  }

  free(mem: NativeMemory): void {
    const ptr = this.#live.get(mem.address);
    if (ptr === undefined) return;
    this.#live.delete(mem.address);
    this.#libc.koffi.free(ptr);
  }

  close(fd: number): number {
    const { koffi } = this.#libc;
    koffi.errno(0);
    const ret = this.#libc.close(fd);
    return ret < 0 ? -(koffi.errno() || 9) : 0;
  }

  dup(fd: number): number {
    const { koffi } = this.#libc;
    koffi.errno(0);
    const ret = this.#libc.fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return ret < 0 ? -(koffi.errno() || 9) : ret;
  }

  openDirectory(path: string): number {
    try {
      return openSync(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | O_CLOEXEC);
    } catch (err) {
      return -errnoOfNodeError(err);
    }
  }

  mount(source: string, target: string, fsType: string, flags: number): number {
    const { koffi } = this.#libc;
    koffi.errno(0);
    const ret = this.#libc.mount(source, target, fsType, flags, null);
    return ret < 0 ? -(koffi.errno() || 1) : 0;
  }

  readMountInfo(): string {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  }

  mkdirs(path: string): string | undefined | number {
    try {
      return mkdirSync(path, { recursive: true });
    } catch (err) {
      return -errnoOfNodeError(err);
    }
  }

  unlink(path: string): number {
    try {
      unlinkSync(path);
      return 0;
    } catch (err) {
      return -errnoOfNodeError(err);
    }
  }

  removeTree(path: string): void {
    rmSync(path, { recursive: true, force: true });
  }
}

/** The errno number of a Node system error (`err.code === 'ENOENT'` → 2), EIO when unknown. */
export function errnoOfNodeError(err: unknown): number {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const n = (osConstants.errno as Record<string, number | undefined>)[code];
    if (n !== undefined) return n;
  }
  return 5;
}

let defaultSyscall: KoffiSyscall | undefined;

/** The process-wide real kernel interface (created on first use). */
export function systemSyscall(): BpfSyscall {
  defaultSyscall ??= KoffiSyscall.create();
  return defaultSyscall;
}
