/**
 * The exit status of the errors `tsbpf build` can meet: a bad argument, option or map value is a
 * usage error. In its own module so that the build command classifies its failures without
 * loading the loader's and accel's error modules (errors.ts builds on this for every command).
 */
import { MapEncodeError } from '../programs/maps.js';
import { SockopsOptionError } from '../programs/options.js';
import { ExitCode, UsageError } from './failure.js';

/** USAGE for a bad argument, option or map value; undefined for any other error. */
export function buildPathExitCode(err: unknown): ExitCode | undefined {
  return err instanceof UsageError ||
    err instanceof SockopsOptionError ||
    err instanceof MapEncodeError
    ? ExitCode.USAGE
    : undefined;
}
