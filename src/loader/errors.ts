/**
 * Errors of the loader. Every failure of a bpf(2) command becomes a `BpfError` that keeps the
 * low-level facts (command, errno name and number) and says in plain words what to do about it;
 * a program the verifier rejects becomes a `VerifierError` carrying the whole verifier log.
 * Failures that are not a system call (a bad object, an incompatible pinned map, a missing kernel
 * feature, a missing filesystem) are `LoaderError`s with their own codes.
 */
import { readFileSync } from 'node:fs';
import { match, P } from 'ts-pattern';
import type { BpfCommandName } from './constants.js';
import { explainVerifierLog, type VerifierExplanation } from './verifier/explain.js';

/** Linux errno numbers by name (x86-64 and arm64 share them), plus the kernel-internal ENOTSUPP. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOLINK: 67,
  ENOTEMPTY: 39,
  ELOOP: 40,
  EOPNOTSUPP: 95,
  /** Kernel-internal "not supported" (524) that leaks out of bpf(2); libc has no name for it. */
  ENOTSUPP: 524,
} as const;

/** An errno name the loader knows, e.g. `'EPERM'`. */
export type ErrnoName = keyof typeof Errno;

/** The name of an errno number (`1` → `'EPERM'`), or `'E<n>'` for numbers not in the table. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(Errno)) if (value === errno) return name;
  return `E${errno}`;
}

/** Where a failing command was pointed at, to make its message concrete. */
export interface BpfErrorContext {
  /** A bpffs path (OBJ_PIN, OBJ_GET). */
  readonly path?: string;
  /** A program or map name. */
  readonly name?: string;
  /** Free text appended to the message (what the caller was doing). */
  readonly detail?: string;
  /**
   * kernel.unprivileged_bpf_disabled when the caller is not root (0 allowed, 1 and 2 disabled);
   * `BpfError` fills it in for EPERM.
   */
  readonly unprivilegedBpfDisabled?: number;
}

/** kernel.unprivileged_bpf_disabled if this process is not root and the sysctl is readable. */
export function unprivilegedBpfSetting(): number | undefined {
  if (process.getuid?.() === 0) return undefined;
  try {
    return Number(readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim());
  } catch {
    return undefined;
  }
}

const PRIVILEGES =
  'needs root, or the capabilities CAP_BPF and CAP_NET_ADMIN (CAP_SYS_ADMIN for some operations, ' +
  'e.g. getting objects by id); run as root or grant them (e.g. `sudo`, or `setcap cap_bpf,cap_net_admin+ep`)';

/**
 * What a failed bpf(2) command means and what to do about it, by command and errno.
 * The text is what a person reads in `err.message` after the `BPF_<CMD> failed (ERRNO)` prefix.
 */
export function explainBpfFailure(
  command: BpfCommandName,
  errno: string,
  ctx: BpfErrorContext = {},
): string {
  const path = ctx.path ?? '';
  return match<[BpfCommandName, string], string>([command, errno])
    .with([P._, 'EPERM'], ([cmd]) =>
      cmd === 'OBJ_PIN' && path !== ''
        ? `cannot pin at ${path}: the path is not inside a bpffs mount, or a name in it contains '.' ` +
          `(bpffs refuses dots); pin under a mounted bpffs (e.g. /sys/fs/bpf) with [A-Za-z0-9_] names, ` +
          `or the process ${PRIVILEGES}`
        : `operation not permitted: the process ${PRIVILEGES}. If it already is root, check ` +
          `kernel.unprivileged_bpf_disabled, an LSM policy, or RLIMIT_MEMLOCK on kernels older than 5.11` +
          (ctx.unprivilegedBpfDisabled !== undefined && ctx.unprivilegedBpfDisabled !== 0
            ? ` (this process is not root and kernel.unprivileged_bpf_disabled is ${ctx.unprivilegedBpfDisabled}: ` +
              'the kernel refuses bpf(2) to unprivileged users)'
            : ''),
    )
    .with(['OBJ_GET', 'ENOENT'], ['OBJ_PIN', 'ENOENT'], () =>
      path !== ''
        ? `nothing at ${path}: bpffs is not mounted there or the path is wrong (mount it with ` +
          '`mount -t bpf bpf /sys/fs/bpf`, and create parent directories before pinning)'
        : 'pin path not found: bpffs is not mounted or the path is wrong',
    )
    .with(
      ['OBJ_PIN', 'EEXIST'],
      () =>
        `${path || 'the pin path'} is already pinned: unpin it (remove the file) or pick another name`,
    )
    .with(
      ['OBJ_GET', 'EACCES'],
      ['OBJ_PIN', 'EACCES'],
      () =>
        `no permission on ${path || 'the pin path'}: check the file mode of the bpffs entry and its parents`,
    )
    .with([P.union('MAP_LOOKUP_ELEM', 'MAP_DELETE_ELEM', 'MAP_GET_NEXT_KEY'), 'ENOENT'], ([cmd]) =>
      cmd === 'MAP_GET_NEXT_KEY'
        ? 'no more keys: the map is empty or the iteration reached its end'
        : 'no such key in the map',
    )
    .with(['MAP_UPDATE_ELEM', 'EEXIST'], () => 'the key exists already (flag NOEXIST was given)')
    .with(['MAP_UPDATE_ELEM', 'ENOENT'], () => 'the key does not exist (flag EXIST was given)')
    .with(['MAP_UPDATE_ELEM', 'E2BIG'], () => 'the map is full (max_entries reached)')
    .with(
      ['MAP_UPDATE_ELEM', 'EOPNOTSUPP'],
      () =>
        'a SOCKMAP/SOCKHASH value must be the fd of a TCP socket in LISTEN or ESTABLISHED state (or UDP)',
    )
    .with(
      ['MAP_LOOKUP_ELEM', 'ENOSPC'],
      () =>
        'SOCKMAP/SOCKHASH lookups from user space need value_size 8 (they return the socket cookie)',
    )
    .with(
      ['MAP_CREATE', 'EINVAL'],
      () =>
        'the kernel refused the map definition: check type, key/value size (SOCKHASH: value 4 or 8), ' +
        'max_entries > 0, flags valid for the type, and the name (at most 15 characters of [A-Za-z0-9_.])',
    )
    .with(['MAP_CREATE', 'E2BIG'], () => 'key or value too large for this map type')
    .with(
      ['MAP_CREATE', 'ENOMEM'],
      () =>
        'not enough memory for the map: lower max_entries (or raise RLIMIT_MEMLOCK on kernels < 5.11)',
    )
    .with(
      [P.union('MAP_CREATE', 'BTF_LOAD'), 'ENOTSUPP'],
      () =>
        'not supported: this map type cannot carry BTF key/value types (create SOCKMAP/SOCKHASH without BTF)',
    )
    .with(
      ['PROG_LOAD', 'EINVAL'],
      () =>
        'the kernel rejected the program: malformed instructions, an unknown program type, a bad name ' +
        '(at most 15 characters of [A-Za-z0-9_.]), or inconsistent func/line info; see the verifier log',
    )
    .with(
      ['PROG_LOAD', 'EACCES'],
      () =>
        'the verifier rejected the program as unsafe; see the verifier log for the failing instruction',
    )
    .with(
      ['PROG_LOAD', 'ENOSPC'],
      () => 'the verifier log buffer was too small (the loader grows it; this means it gave up)',
    )
    .with(
      ['PROG_LOAD', 'E2BIG'],
      () =>
        'the program is too large or an attr/record tail is non-zero (e.g. func_info records larger than the kernel knows)',
    )
    .with(
      ['BTF_LOAD', 'EINVAL'],
      () => 'the kernel rejected the BTF (see its log); the object can still load without BTF',
    )
    .with(
      [P.union('PROG_ATTACH', 'LINK_CREATE'), 'EINVAL'],
      () =>
        'attach refused: the program type does not match the attach type, the target is not a cgroup v2 ' +
        'directory / SOCKMAP / SOCKHASH, the program is already attached in multi mode, or the flags ' +
        'conflict with what is attached already',
    )
    .with(
      [P.union('PROG_ATTACH', 'LINK_CREATE'), 'EPERM'],
      () =>
        `attach not permitted: a program attached with other flags (exclusive vs multi/override) ` +
        `sits on this cgroup or a parent, or the process ${PRIVILEGES}`,
    )
    .with(
      [P.union('PROG_ATTACH', 'LINK_CREATE'), 'EBADF'],
      () => 'bad fd: the target must be an open cgroup v2 directory or a SOCKMAP/SOCKHASH map fd',
    )
    .with(['PROG_DETACH', 'ENOENT'], () => 'nothing attached there (or not this program)')
    .with(
      ['PROG_DETACH', 'EINVAL'],
      () => 'detach refused: in multi mode, and for SOCKMAP/SOCKHASH, detach needs the program fd',
    )
    .with(
      [P.union('PROG_GET_FD_BY_ID', 'MAP_GET_FD_BY_ID'), 'ENOENT'],
      () => 'no object with this id (it was unloaded)',
    )
    .with(
      ['PROG_TEST_RUN', 'ENOTSUPP'],
      () =>
        'this program type has no BPF_PROG_TEST_RUN (sock_ops and sk_msg do not); use src/vm instead',
    )
    .with(
      [P._, 'ENOTSUPP'],
      [P._, 'EOPNOTSUPP'],
      () => 'the kernel does not support this operation for this object type',
    )
    .with(
      [P._, 'E2BIG'],
      () => 'argument too big: an attr tail or a size is larger than this kernel accepts',
    )
    .with([P._, 'ENOSPC'], () => 'no space: a buffer or the map is too small')
    .with([P._, 'EEXIST'], () => 'already exists')
    .with([P._, 'EBADF'], () => 'bad file descriptor: the fd was closed or is of the wrong kind')
    .with(
      [P._, 'EINVAL'],
      () => 'invalid argument (an attr field, flag or size this command refuses)',
    )
    .with([P._, 'ENOMEM'], () => 'out of memory')
    .with([P._, 'EFAULT'], () => 'bad address: a pointer in the attr is invalid (a loader bug)')
    .with([P._, 'ENOSYS'], () => 'this kernel has no bpf(2) system call (CONFIG_BPF_SYSCALL=n)')
    .with([P._, 'ENOENT'], () => 'not found')
    .with([P._, 'EBUSY'], () => 'busy: the object is in use')
    .with([P._, P.string], ([, e]) => `failed with ${e}`)
    .exhaustive();
}

/** Codes of `LoaderError`: failures that are not a single system call. */
export type LoaderErrorCode =
  | 'ERR_BAD_OBJECT'
  | 'ERR_BAD_ARGUMENT'
  | 'ERR_PINNED_MAP_INCOMPATIBLE'
  | 'ERR_UNSUPPORTED'
  | 'ERR_NO_BPFFS'
  | 'ERR_NO_CGROUP2'
  | 'ERR_CLOSED';

/** A failure of the loader that is not one bpf(2) call: `code` says which kind. */
export class LoaderError extends Error {
  override readonly name: string = 'LoaderError';
  readonly code: LoaderErrorCode;
  constructor(code: LoaderErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** A failed bpf(2) command (or close/open/mount around it), with what it means. */
export class BpfError extends Error {
  override readonly name: string = 'BpfError';
  /** `'ERR_BPF_SYSCALL'`, or `'ERR_BPF_VERIFIER'` for a `VerifierError`. */
  readonly code: 'ERR_BPF_SYSCALL' | 'ERR_BPF_VERIFIER';
  /** The bpf(2) command, e.g. `'PROG_LOAD'`. */
  readonly command: BpfCommandName;
  /** The errno name, e.g. `'EPERM'`. */
  readonly errno: string;
  /** The errno number, e.g. 1. */
  readonly errnoNumber: number;
  /** The bpffs path involved, if any. */
  readonly path: string | undefined;

  constructor(
    command: BpfCommandName,
    errnoNumber: number,
    ctx: BpfErrorContext = {},
    message?: string,
    code: 'ERR_BPF_SYSCALL' | 'ERR_BPF_VERIFIER' = 'ERR_BPF_SYSCALL',
  ) {
    const errno = errnoName(errnoNumber);
    if (errno === 'EPERM' && ctx.unprivilegedBpfDisabled === undefined) {
      const setting = unprivilegedBpfSetting();
      if (setting !== undefined) ctx = { ...ctx, unprivilegedBpfDisabled: setting };
    }
    const what = ctx.name ? ` (${ctx.name})` : '';
    const detail = ctx.detail ? ` [${ctx.detail}]` : '';
    super(
      message ??
        `BPF_${command}${what} failed with ${errno}: ${explainBpfFailure(command, errno, ctx)}${detail}`,
    );
    this.code = code;
    this.command = command;
    this.errno = errno;
    this.errnoNumber = errnoNumber;
    this.path = ctx.path;
  }
}

/** One `.BTF.ext` line_info record as loaded with the program (insn index within the program). */
export interface LoadedLineInfo {
  /** Instruction index (slots) from the start of the program. */
  readonly insn: number;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly text: string;
}

/** What a `VerifierError` is built from. */
export interface VerifierErrorInit {
  /** The program name (as given to PROG_LOAD). */
  readonly progName: string;
  /** errno of the failed PROG_LOAD (EACCES or EINVAL usually). */
  readonly errno: number;
  /** The whole verifier log, never truncated. */
  readonly log: string;
  /** Number of instruction slots in the program. */
  readonly insnCount: number;
  /** The program's line info, when the object had `.BTF.ext` (for source mapping). */
  readonly lineInfo?: readonly LoadedLineInfo[];
  /** BPF_PROG_TYPE of the program, so the explanation can name context fields. */
  readonly progType?: number;
}

/**
 * Index of the instruction the verifier stopped at: the last instruction line (`N: (op) …`) of
 * the log, which in level 1 and 2 logs is the instruction the error message that follows refers
 * to. Returns undefined for logs without instruction lines (e.g. a BTF or func_info problem).
 */
export function failingInsnIndex(log: string): number | undefined {
  const re = /^(\d+): \([0-9a-f]{2}\)/gm;
  let last: number | undefined;
  for (let m = re.exec(log); m !== null; m = re.exec(log)) last = Number(m[1]);
  return last;
}

/** The verifier's own error text: the last non-empty lines of the log that are not statistics. */
export function verifierSummary(log: string): string {
  const lines = log
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
  const isStats = (l: string) =>
    /^processed \d+ insns/.test(l) || /^verification time/.test(l) || /^stack depth/.test(l);
  const meaningful = lines.filter((l) => !isStats(l));
  return meaningful[meaningful.length - 1] ?? '(empty verifier log)';
}

/**
 * The verifier rejected a program. Keeps the whole log (`log`), the errno, the program name and
 * the failing instruction index parsed from the log (`insnIndex`). src/loader/verifier extends
 * this with source mapping and hints; the constructor stays this simple on purpose.
 */
export class VerifierError extends BpfError {
  override readonly name: string = 'VerifierError';
  /** The program the verifier rejected. */
  readonly progName: string;
  /** The whole verifier log. */
  readonly log: string;
  /** Instruction slots in the program. */
  readonly insnCount: number;
  /** The instruction the verifier stopped at, if the log names one. */
  readonly insnIndex: number | undefined;
  /** The program's line info, if it was loaded with one. */
  readonly lineInfo: readonly LoadedLineInfo[] | undefined;
  /** The rejection explained (source location, code frame, registers, hint): src/loader/verifier. */
  readonly explanation: VerifierExplanation;

  constructor(init: VerifierErrorInit, message?: string) {
    const insnIndex = failingInsnIndex(init.log);
    const at = insnIndex === undefined ? '' : ` at instruction ${insnIndex}`;
    const explanation = explainVerifierLog(init.log, {
      programName: init.progName,
      errno: errnoName(init.errno),
      ...(init.lineInfo ? { lineInfo: init.lineInfo } : {}),
      ...(init.progType === undefined ? {} : { progType: init.progType }),
    });
    super(
      'PROG_LOAD',
      init.errno,
      { name: init.progName },
      message ??
        `the verifier rejected program ${init.progName}${at} (${errnoName(init.errno)}): ` +
          `${verifierSummary(init.log)} — the whole log (${init.log.length} bytes) is in err.log` +
          `\n${explanation.body}`,
      'ERR_BPF_VERIFIER',
    );
    this.explanation = explanation;
    this.progName = init.progName;
    this.log = init.log;
    this.insnCount = init.insnCount;
    this.insnIndex = insnIndex;
    this.lineInfo = init.lineInfo;
  }
}
