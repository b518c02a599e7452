/**
 * Attaching, detaching and querying the two program types of socket acceleration, with typed
 * handles in the style of aya (`SockOps.from(prog).attach(cgroup)`, `SkMsg.from(prog).attach(map)`):
 *
 * - sock_ops → a cgroup v2 directory (attach type BPF_CGROUP_SOCK_OPS). Modes: `exclusive` (the
 *   only program; attaching again replaces it), `override` (a descendant cgroup's program replaces
 *   it) and `multi` (programs run in attach order). PROG_ATTACH is the baseline: the attachment
 *   lives on after the process exits, like bpftool's. With `link: true` a bpf_link is created
 *   instead (multi semantics; it ends when its last fd closes unless pinned).
 * - sk_msg → a SOCKMAP or SOCKHASH (attach type BPF_SK_MSG_VERDICT), by PROG_ATTACH, or a
 *   sockmap bpf_link (kernel 6.10+) with `link: true`.
 *
 * Both kinds come back as a `BpfLink` whose `detach()`/`close()` undoes the attachment.
 */
import { match } from 'ts-pattern';
import {
  linkCreate,
  progAttach,
  progDetach,
  progGetFdById,
  progInfo,
  progQuery,
} from './commands.js';
import { AttachFlags, AttachType, MapType, nameOf, ProgType } from './constants.js';
import { BpfError, errnoName, LoaderError } from './errors.js';
import { BpfLink, type BpfProgram, Fd } from './fd.js';
import { openCgroup } from './fs.js';
import type { BpfMap } from './maps.js';
import type { BpfSyscall } from './syscall.js';

/** How a cgroup program shares its cgroup with others. */
export type CgroupAttachMode = 'exclusive' | 'override' | 'multi';

/** Options of `SockOps.attach`. */
export interface CgroupAttachOptions {
  /** Default `exclusive` (PROG_ATTACH) or `multi` when `link` is set. */
  readonly mode?: CgroupAttachMode;
  /** Create a bpf_link (LINK_CREATE) instead of a PROG_ATTACH attachment; implies multi mode. */
  readonly link?: boolean;
}

/** Options of `SkMsg.attach`. */
export interface MapAttachOptions {
  /** Create a sockmap bpf_link (6.10+) instead of a PROG_ATTACH attachment. */
  readonly link?: boolean;
}

/** One program attached to a target, as PROG_QUERY and the program's info report it. */
export interface AttachedProgram {
  readonly id: number;
  /** Kernel program name ('' if the program vanished between query and lookup). */
  readonly name: string;
  /** BPF_PROG_TYPE_* number (0 if it vanished). */
  readonly type: number;
  /** Program tag (hex). */
  readonly tag: string;
}

/** What PROG_QUERY reports for a target. */
export interface AttachQuery {
  /** Flags of the attachment: 0 exclusive, 1 override, 2 multi. */
  readonly attachFlags: number;
  readonly programs: AttachedProgram[];
}

/** The PROG_ATTACH flags of a mode. */
export function attachFlagsOf(mode: CgroupAttachMode): number {
  return match(mode)
    .with('exclusive', () => 0)
    .with('override', () => AttachFlags.ALLOW_OVERRIDE)
    .with('multi', () => AttachFlags.ALLOW_MULTI)
    .exhaustive();
}

function requireType(prog: BpfProgram, type: number, what: string): void {
  if (prog.type !== type) {
    throw new LoaderError(
      'ERR_BAD_ARGUMENT',
      `program ${prog.name} is ${nameOf(ProgType, prog.type)}, not ${nameOf(ProgType, type)}; ` +
        `it cannot be used as ${what}`,
    );
  }
}

/** Program ids attached to `targetFd` with names and types looked up by id. */
export function queryAttached(
  sys: BpfSyscall,
  targetFd: number,
  attachType: number,
  queryFlags = 0,
): AttachQuery {
  const q = progQuery(sys, targetFd, attachType, queryFlags);
  const programs = q.ids.map((id): AttachedProgram => {
    let fd: number;
    try {
      fd = progGetFdById(sys, id);
    } catch (err) {
      if (err instanceof BpfError && err.errno === 'ENOENT')
        return { id, name: '', type: 0, tag: '' };
      throw err;
    }
    try {
      const info = progInfo(sys, fd);
      return { id, name: info.name, type: info.type, tag: info.tag };
    } finally {
      sys.close(fd);
    }
  });
  return { attachFlags: q.attachFlags, programs };
}

/** A sock_ops program, ready to attach to cgroups. */
export class SockOps {
  /** The loaded program (type SOCK_OPS). */
  readonly program: BpfProgram;

  private constructor(program: BpfProgram) {
    this.program = program;
  }

  /** Wraps a loaded program; refuses programs that are not sock_ops. */
  static from(program: BpfProgram): SockOps {
    requireType(program, ProgType.SOCK_OPS, 'a sock_ops program');
    return new SockOps(program);
  }

  /** Attaches to the cgroup v2 directory `cgroupPath` (see `CgroupAttachOptions`). */
  attach(cgroupPath: string, opts: CgroupAttachOptions = {}): BpfLink {
    const sys = this.program.sys;
    const mode = opts.mode ?? (opts.link ? 'multi' : 'exclusive');
    const cgroup = openCgroup(sys, cgroupPath);
    const what = `sock_ops ${this.program.name} on ${cgroupPath}`;
    try {
      if (opts.link) {
        if (mode !== 'multi') {
          throw new LoaderError(
            'ERR_BAD_ARGUMENT',
            `a bpf_link on a cgroup always runs in multi mode; mode '${mode}' needs PROG_ATTACH (link: false)`,
          );
        }
        const fd = linkCreate(sys, this.program.fd.value, cgroup.value, AttachType.CGROUP_SOCK_OPS);
        cgroup.close();
        return new BpfLink(sys, new Fd(sys, fd, `link ${what}`), { kind: 'link' }, what);
      }
      progAttach(
        sys,
        cgroup.value,
        this.program.fd.value,
        AttachType.CGROUP_SOCK_OPS,
        attachFlagsOf(mode),
      );
    } catch (err) {
      cgroup.close();
      throw err;
    }
    // The link keeps its own fd of the program: detaching in multi mode must name the program
    // even after the caller closed theirs.
    const progFd = dupOrThrow(sys, this.program.fd.value);
    const progHandle = new Fd(sys, progFd, `program ${this.program.name} (attachment)`);
    return new BpfLink(
      sys,
      progHandle,
      {
        kind: 'prog_attach',
        targetFd: cgroup,
        progFd,
        attachType: AttachType.CGROUP_SOCK_OPS,
        detachWithProg: mode === 'multi',
        progId: this.program.info().id,
      },
      what,
    );
  }

  /** What is attached to `cgroupPath` for sock_ops (ids and names, in run order). */
  static query(
    sys: BpfSyscall,
    cgroupPath: string,
    opts: { effective?: boolean } = {},
  ): AttachQuery {
    using cgroup = openCgroup(sys, cgroupPath);
    return queryAttached(sys, cgroup.value, AttachType.CGROUP_SOCK_OPS, opts.effective ? 1 : 0);
  }

  /**
   * Detaches sock_ops program `progId` (or, without it, every sock_ops program) from
   * `cgroupPath`, whoever attached it (e.g. a previous run). Returns the ids detached.
   */
  static detach(sys: BpfSyscall, cgroupPath: string, progId?: number): number[] {
    using cgroup = openCgroup(sys, cgroupPath);
    return detachByQuery(sys, cgroup.value, AttachType.CGROUP_SOCK_OPS, progId);
  }
}

/** An sk_msg program, ready to attach to a SOCKMAP or SOCKHASH. */
export class SkMsg {
  /** The loaded program (type SK_MSG). */
  readonly program: BpfProgram;

  private constructor(program: BpfProgram) {
    this.program = program;
  }

  /** Wraps a loaded program; refuses programs that are not sk_msg. */
  static from(program: BpfProgram): SkMsg {
    requireType(program, ProgType.SK_MSG, 'an sk_msg verdict program');
    return new SkMsg(program);
  }

  /** Attaches as the msg_verdict program of `map` (a SOCKMAP or SOCKHASH). */
  attach(map: BpfMap, opts: MapAttachOptions = {}): BpfLink {
    if (map.type !== MapType.SOCKHASH && map.type !== MapType.SOCKMAP) {
      throw new LoaderError(
        'ERR_BAD_ARGUMENT',
        `map ${map.name} is ${nameOf(MapType, map.type)}; sk_msg programs attach to a SOCKMAP or SOCKHASH`,
      );
    }
    const sys = this.program.sys;
    const what = `sk_msg ${this.program.name} on map ${map.name}`;
    if (opts.link) {
      const fd = linkCreate(sys, this.program.fd.value, map.fd.value, AttachType.SK_MSG_VERDICT);
      return new BpfLink(sys, new Fd(sys, fd, `link ${what}`), { kind: 'link' }, what);
    }
    progAttach(sys, map.fd.value, this.program.fd.value, AttachType.SK_MSG_VERDICT);
    // Own fds of both ends, so the attachment can be detached after the caller closed theirs.
    const mapFd = new Fd(sys, dupOrThrow(sys, map.fd.value), `map ${map.name} (attachment)`);
    const progFd = dupOrThrow(sys, this.program.fd.value);
    return new BpfLink(
      sys,
      new Fd(sys, progFd, `program ${this.program.name} (attachment)`),
      {
        kind: 'prog_attach',
        targetFd: mapFd,
        progFd,
        attachType: AttachType.SK_MSG_VERDICT,
        detachWithProg: true,
        progId: this.program.info().id,
      },
      what,
    );
  }

  /** What is attached to `map` as msg_verdict. */
  static query(map: BpfMap): AttachQuery {
    return queryAttached(map.sys, map.fd.value, AttachType.SK_MSG_VERDICT);
  }

  /** Detaches sk_msg program `progId` (or every one) from `map`; returns the ids detached. */
  static detach(map: BpfMap, progId?: number): number[] {
    return detachByQuery(map.sys, map.fd.value, AttachType.SK_MSG_VERDICT, progId);
  }
}

/** A duplicate of `fd` (F_DUPFD_CLOEXEC) or a LoaderError saying why there is none. */
function dupOrThrow(sys: BpfSyscall, fd: number): number {
  const ret = sys.dup(fd);
  if (ret < 0) {
    throw new LoaderError(
      'ERR_CLOSED',
      `cannot duplicate fd ${fd} for the attachment: ${errnoName(-ret)}`,
    );
  }
  return ret;
}

function detachByQuery(
  sys: BpfSyscall,
  targetFd: number,
  attachType: number,
  progId: number | undefined,
): number[] {
  const q = progQuery(sys, targetFd, attachType);
  const detached: number[] = [];
  for (const id of q.ids) {
    if (progId !== undefined && id !== progId) continue;
    const fd = progGetFdById(sys, id);
    try {
      progDetach(sys, targetFd, fd, attachType);
      detached.push(id);
    } finally {
      sys.close(fd);
    }
  }
  return detached;
}
