/**
 * Explicit ownership of kernel file descriptors. Every fd the loader hands out is wrapped in an
 * `Fd` that closes it exactly once: `close()` is idempotent, `[Symbol.dispose]` makes it work with
 * `using`, and using a closed handle throws a clear `LoaderError` instead of silently touching
 * whatever object reused the number. Programs, links and whole loaded objects build on it.
 */
import type { ProgInfo } from './attr.js';
import {
  isProgramFd,
  linkDetach,
  objGet,
  objPin,
  progDetach,
  progInfo,
  progQuery,
  progTestRun,
  type TestRunOptions,
  type TestRunResult,
} from './commands.js';
import { BpfError, LoaderError } from './errors.js';
import type { BpfMap } from './maps.js';
import type { BpfSyscall } from './syscall.js';

/** One owned file descriptor. */
export class Fd implements Disposable {
  readonly #sys: BpfSyscall;
  #fd: number;
  /** What the fd is, for messages (e.g. `map sock_ops_map`). */
  readonly label: string;

  /** Takes ownership of `fd` (a non-negative number returned by the kernel). */
  constructor(sys: BpfSyscall, fd: number, label: string) {
    if (!Number.isInteger(fd) || fd < 0) {
      throw new LoaderError('ERR_BAD_ARGUMENT', `invalid fd ${fd} for ${label}`);
    }
    this.#sys = sys;
    this.#fd = fd;
    this.label = label;
  }

  /** The fd number; throws if closed. */
  get value(): number {
    if (this.#fd < 0) {
      throw new LoaderError('ERR_CLOSED', `${this.label} is closed; its fd can no longer be used`);
    }
    return this.#fd;
  }

  /** True once `close()` ran. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the fd; a second call does nothing. */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    this.#sys.close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A loaded program. */
export class BpfProgram implements Disposable {
  /** The owned program fd. */
  readonly fd: Fd;
  /** The program name (symbol name; the kernel keeps the first 15 characters). */
  readonly name: string;
  /** BPF_PROG_TYPE_* number. */
  readonly type: number;
  /** BPF_* expected attach type passed at load (0 if none). */
  readonly expectedAttachType: number;
  /** ELF section it came from (`sockops`, `sk_msg`, …), or '' when loaded from raw bytes. */
  readonly section: string;
  /** The verifier log, when the load asked for one. */
  readonly verifierLog: string;
  readonly #sys: BpfSyscall;

  constructor(
    sys: BpfSyscall,
    fd: number,
    meta: {
      name: string;
      type: number;
      expectedAttachType?: number;
      section?: string;
      log?: string;
    },
  ) {
    this.#sys = sys;
    this.fd = new Fd(sys, fd, `program ${meta.name}`);
    this.name = meta.name;
    this.type = meta.type;
    this.expectedAttachType = meta.expectedAttachType ?? 0;
    this.section = meta.section ?? '';
    this.verifierLog = meta.log ?? '';
  }

  /** The kernel interface this program was loaded through (attach and query use the same). */
  get sys(): BpfSyscall {
    return this.#sys;
  }

  /** The kernel's view of the program (id, tag, map ids, run stats…). */
  info(): ProgInfo & { mapIds: number[] } {
    return progInfo(this.#sys, this.fd.value);
  }

  /** Pins the program at `path` (inside bpffs; see fs.ts `pinPath` for safe paths). */
  pin(path: string): void {
    objPin(this.#sys, this.fd.value, path);
  }

  /** Runs the program once (or `repeat` times) in the kernel with BPF_PROG_TEST_RUN. */
  testRun(opts: TestRunOptions): TestRunResult {
    return progTestRun(this.#sys, this.fd.value, opts);
  }

  /** Closes the program fd (the program stays loaded while pinned or attached). */
  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens the program pinned at `path` (BPF_OBJ_GET), with its name and type read from the kernel,
 * e.g. to attach or detach a program a previous run pinned. Throws a clear error if the pin is
 * missing or is not a program.
 */
export function openPinnedProgram(sys: BpfSyscall, path: string): BpfProgram {
  const fd = objGet(sys, path);
  try {
    if (!isProgramFd(sys, fd)) {
      throw new LoaderError('ERR_BAD_ARGUMENT', `${path} is pinned but is not a program`);
    }
    const info = progInfo(sys, fd);
    return new BpfProgram(sys, fd, { name: info.name, type: info.type });
  } catch (err) {
    sys.close(fd);
    throw err;
  }
}

/**
 * Opens the bpf_link pinned at `path` (a pinned link keeps its program attached after the
 * process that made it exits). `detach()` on the result ends the attachment; unpin the file too.
 */
export function openPinnedLink(sys: BpfSyscall, path: string): BpfLink {
  const fd = objGet(sys, path);
  return new BpfLink(
    sys,
    new Fd(sys, fd, `link ${path}`),
    { kind: 'link' },
    `link pinned at ${path}`,
  );
}

/** How a program is attached, which decides how it is detached. */
export type AttachmentKind =
  | { readonly kind: 'link' }
  | {
      readonly kind: 'prog_attach';
      readonly targetFd: Fd;
      readonly progFd: number;
      readonly attachType: number;
      /**
       * True in multi mode and for sockmaps, where PROG_DETACH removes exactly the program named.
       * False in exclusive/override mode, where the kernel detaches whatever program is attached:
       * there `progId` is checked with PROG_QUERY first, so a program that replaced ours stays.
       */
      readonly detachWithProg: boolean;
      /** Kernel id of the attached program. */
      readonly progId: number;
    };

/**
 * An attachment of a program to a target (a cgroup, a SOCKHASH). `detach()` (or `close()`, or
 * leaving a `using` scope) undoes it: a bpf_link is closed; a PROG_ATTACH attachment is detached
 * with PROG_DETACH. Pinned links (`pin()`) survive the process; call `detach()` to end them.
 */
export class BpfLink implements Disposable {
  readonly #sys: BpfSyscall;
  readonly #how: AttachmentKind;
  /** The link fd (bpf_link), or the target fd held open for detaching (PROG_ATTACH). */
  readonly fd: Fd;
  /** What is attached where, for messages. */
  readonly description: string;
  #detached = false;

  constructor(sys: BpfSyscall, fd: Fd, how: AttachmentKind, description: string) {
    this.#sys = sys;
    this.fd = fd;
    this.#how = how;
    this.description = description;
  }

  /** 'link' for a kernel bpf_link, 'prog_attach' for a legacy PROG_ATTACH attachment. */
  get kind(): 'link' | 'prog_attach' {
    return this.#how.kind;
  }

  /** True once detached. */
  get detached(): boolean {
    return this.#detached;
  }

  /** Pins a bpf_link so it outlives this process (PROG_ATTACH attachments need no pin). */
  pin(path: string): void {
    if (this.#how.kind !== 'link') {
      throw new LoaderError(
        'ERR_BAD_ARGUMENT',
        `${this.description} is a PROG_ATTACH attachment; it stays until detached and cannot be pinned`,
      );
    }
    objPin(this.#sys, this.fd.value, path);
  }

  /** Detaches; a second call does nothing. ENOENT (already detached by someone else) is ignored. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    try {
      if (this.#how.kind === 'link') {
        try {
          linkDetach(this.#sys, this.fd.value);
        } catch (err) {
          if (!(err instanceof BpfError && err.errno === 'ENOLINK')) {
            throw err;
          }
        }
      } else {
        const h = this.#how;
        try {
          const ours =
            h.detachWithProg ||
            progQuery(this.#sys, h.targetFd.value, h.attachType).ids.includes(h.progId);
          if (ours) progDetach(this.#sys, h.targetFd.value, h.progFd, h.attachType);
        } catch (err) {
          if (!(err instanceof BpfError && err.errno === 'ENOENT')) throw err;
        }
      }
    } finally {
      this.fd.close();
      if (this.#how.kind === 'prog_attach') this.#how.targetFd.close();
    }
  }

  /** Detaches and releases the fds. */
  close(): void {
    this.detach();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Everything `loadObject` made live: maps and programs by name, and the BTF fd. Closing it closes
 * every fd it owns; pinned and attached objects stay in the kernel until unpinned or detached.
 */
export class LoadedObject implements Disposable {
  /** Maps by name, in object order. */
  readonly maps: ReadonlyMap<string, BpfMap>;
  /** Programs by name, in object order. */
  readonly programs: ReadonlyMap<string, BpfProgram>;
  /** The object's BTF in the kernel, if it loaded. */
  readonly btfFd: Fd | undefined;
  /** The license the programs were loaded with. */
  readonly license: string;

  constructor(init: {
    maps: ReadonlyMap<string, BpfMap>;
    programs: ReadonlyMap<string, BpfProgram>;
    btfFd?: Fd;
    license: string;
  }) {
    this.maps = init.maps;
    this.programs = init.programs;
    this.btfFd = init.btfFd;
    this.license = init.license;
  }

  /** The map called `name`; throws a clear error naming the maps that exist. */
  map(name: string): BpfMap {
    const m = this.maps.get(name);
    if (!m) {
      throw new LoaderError(
        'ERR_BAD_ARGUMENT',
        `no map '${name}' in this object (maps: ${[...this.maps.keys()].join(', ') || 'none'})`,
      );
    }
    return m;
  }

  /** The program called `name`; throws a clear error naming the programs that exist. */
  program(name: string): BpfProgram {
    const p = this.programs.get(name);
    if (!p) {
      throw new LoaderError(
        'ERR_BAD_ARGUMENT',
        `no program '${name}' in this object (programs: ${[...this.programs.keys()].join(', ') || 'none'})`,
      );
    }
    return p;
  }

  /** Closes every fd of the object (programs, maps, BTF); safe to call twice. */
  close(): void {
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) m.close();
    this.btfFd?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
