/**
 * Errors of socket acceleration operations. Each has a `code` that says which kind of problem it
 * is (the CLI maps codes to exit statuses) and a message that says what happened and what to do.
 */

/** What went wrong in an acceleration operation. */
export type AccelErrorCode =
  /** The path given as the cgroup is not a cgroup v2 directory. */
  | 'ERR_NOT_CGROUP2'
  /** The configuration file is unreadable or invalid (the message names the field). */
  | 'ERR_CONFIG'
  /** The pin directory already holds something else (another cgroup, variant, or foreign pins). */
  | 'ERR_CONFLICT'
  /** The recorded state and the kernel disagree (pins or attachments vanished). */
  | 'ERR_STATE'
  /** Not privileged enough (root, or CAP_BPF + CAP_NET_ADMIN + CAP_SYS_ADMIN for cgroups). */
  | 'ERR_PERMISSION'
  /** The kernel lacks a feature acceleration needs (program, map type or helper). */
  | 'ERR_UNSUPPORTED'
  /** The demo's traffic did not complete or its data arrived corrupted. */
  | 'ERR_TRAFFIC';

/** A failed acceleration operation; `cause` keeps the underlying error for `--verbose`. */
export class AccelError extends Error {
  override readonly name: string = 'AccelError';
  readonly code: AccelErrorCode;
  constructor(code: AccelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
