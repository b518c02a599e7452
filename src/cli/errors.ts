/**
 * How the CLI reports failures: one clear line on stderr (`tsbpf <command>: <message>`), the
 * stack and causes only with `--verbose`, and an exit status that tells scripts what kind of
 * failure it was.
 *
 * Exit statuses of every command:
 *   0  success
 *   1  the operation failed (program rejected, state conflict, traffic failed)
 *   2  usage error or invalid input (unknown option, bad config file, path is not a cgroup v2 dir)
 *   3  not permitted or not supported here (not root, kernel lacks a feature)
 */
import { match, P } from 'ts-pattern';
import { AccelError } from '../accel/errors.js';
import { BpfError, LoaderError } from '../loader/errors.js';
import { MapEncodeError } from '../programs/maps.js';
import { SockopsOptionError } from '../programs/options.js';
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

/** The exit status for an error thrown by a command. */
export function exitCodeOf(err: unknown): ExitCode {
  return match(err)
    .with(P.instanceOf(UsageError), () => ExitCode.USAGE)
    .with(P.instanceOf(SockopsOptionError), () => ExitCode.USAGE)
    .with(P.instanceOf(MapEncodeError), () => ExitCode.USAGE)
    .with(P.instanceOf(AccelError), (e) =>
      match(e.code)
        .with('ERR_CONFIG', 'ERR_NOT_CGROUP2', () => ExitCode.USAGE)
        .with('ERR_PERMISSION', 'ERR_UNSUPPORTED', () => ExitCode.ENVIRONMENT)
        .with('ERR_CONFLICT', 'ERR_STATE', 'ERR_TRAFFIC', () => ExitCode.FAILED)
        .exhaustive(),
    )
    .with(P.instanceOf(BpfError), (e) =>
      e.errno === 'EPERM' || e.errno === 'EACCES' ? ExitCode.ENVIRONMENT : ExitCode.FAILED,
    )
    .with(P.instanceOf(LoaderError), (e) =>
      match(e.code)
        .with('ERR_UNSUPPORTED', 'ERR_NO_BPFFS', 'ERR_NO_CGROUP2', () => ExitCode.ENVIRONMENT)
        .otherwise(() => ExitCode.FAILED),
    )
    .otherwise(() => ExitCode.FAILED);
}

/** Prints `err` as one line (plus the stack and causes with `verbose`); returns its exit status. */
export function reportError(
  io: CommandIo,
  command: string,
  err: unknown,
  verbose: boolean,
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
  return exitCodeOf(err);
}
