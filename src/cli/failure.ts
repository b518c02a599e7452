/**
 * The light half of the CLI's error reporting: exit statuses, UsageError, and printing a failure
 * as one line. It imports nothing, so the entry point and `tsbpf build` use it without loading
 * the loader's and accel's modules (errors.ts classifies their errors for the commands that use
 * them; every module loaded costs start-up time, see docs/benchmarks.md).
 *
 * Exit statuses of every command:
 *   0  success
 *   1  the operation failed (program rejected, state conflict, traffic failed)
 *   2  usage error or invalid input (unknown option, bad config file, path is not a cgroup v2 dir)
 *   3  not permitted or not supported here (not root, kernel lacks a feature)
 */
import type { CommandIo } from './dump.js';

/** Exit statuses (see the module comment). */
export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2, ENVIRONMENT: 3 } as const;

/** One of the exit statuses. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Documentation of the exit statuses, for --help texts. */
export const EXIT_CODES_HELP = `exit status: 0 ok, 1 operation failed, 2 usage error or invalid input,
             3 not permitted or not supported (not root, kernel lacks a feature)`;

/** A bad command line: the message says which argument and what is expected. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
  readonly code = 'ERR_USAGE' as const;
}

/**
 * Prints `err` as one line (plus the stack and causes with `verbose`); returns `code`, the exit
 * status the caller classified it as.
 */
export function printFailure(
  io: CommandIo,
  command: string,
  err: unknown,
  verbose: boolean,
  code: ExitCode,
): ExitCode {
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0] ?? message;
  io.stderr(`tsbpf ${command}: ${verbose ? message : firstLine}\n`);
  if (err instanceof UsageError) io.stderr(`run \`tsbpf ${command} --help\` for the options\n`);
  else if (!verbose) {
    if (firstLine !== message) io.stderr('(more with --verbose)\n');
  }
  if (verbose) {
    let e: unknown = err;
    while (e instanceof Error) {
      io.stderr(`${e.stack ?? `${e.name}: ${e.message}`}\n`);
      e = e.cause;
      if (e !== undefined) io.stderr('caused by:\n');
    }
  }
  return code;
}
