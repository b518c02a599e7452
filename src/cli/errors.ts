/**
 * How the CLI reports failures: one clear line on stderr (`tsbpf <command>: <message>`), the
 * stack and causes only with `--verbose`, and an exit status that tells scripts what kind of
 * failure it was (the statuses are listed in failure.ts). This module adds the loader's and
 * accel's errors to the build path's classification in build-errors.ts; `tsbpf build` does not
 * load it.
 */
import { match, P } from 'ts-pattern';
import { AccelError } from '../accel/errors.js';
import { BpfError, LoaderError } from '../loader/errors.js';
import { buildPathExitCode } from './build-errors.js';
import type { CommandIo } from './dump.js';
import { ExitCode, printFailure } from './failure.js';

export { EXIT_CODES_HELP, ExitCode, UsageError } from './failure.js';

/** The exit status for an error thrown by a command. */
export function exitCodeOf(err: unknown): ExitCode {
  return (
    buildPathExitCode(err) ??
    match(err)
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
      .otherwise(() => ExitCode.FAILED)
  );
}

/** Prints `err` as one line (plus the stack and causes with `verbose`); returns its exit status. */
export function reportError(
  io: CommandIo,
  command: string,
  err: unknown,
  verbose: boolean,
): ExitCode {
  return printFailure(io, command, err, verbose, exitCodeOf(err));
}
