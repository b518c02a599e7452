/**
 * Checks that a path is a cgroup v2 directory before anything is attached to it: it exists, is a
 * directory inside a cgroup2 mount, and has the `cgroup.procs` file every cgroup v2 directory has.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mountContaining, mountsOf } from '../loader/fs.js';
import { AccelError } from './errors.js';

/**
 * The real path of the cgroup v2 directory `path`, or an AccelError ERR_NOT_CGROUP2 saying why
 * it is not one. `mountInfo` is the text of /proc/self/mountinfo.
 */
export function checkCgroup2Dir(path: string, mountInfo: string): string {
  const refuse = (why: string) =>
    new AccelError(
      'ERR_NOT_CGROUP2',
      `${path} is not a cgroup v2 directory: ${why}; sock_ops programs attach only to cgroup v2 directories`,
    );
  if (!existsSync(path)) throw refuse('it does not exist (create a cgroup with mkdir)');
  const real = realpathSync(path);
  if (!statSync(real).isDirectory()) throw refuse('it is not a directory');
  if (!mountContaining(real, 'cgroup2', mountInfo)) {
    const mounts = mountsOf('cgroup2', mountInfo);
    throw refuse(
      `it is outside every cgroup2 mount (cgroup2 is mounted at ${mounts.join(', ') || 'nowhere'})`,
    );
  }
  if (!existsSync(join(real, 'cgroup.procs'))) throw refuse('it has no cgroup.procs file');
  return real;
}
