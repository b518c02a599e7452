/**
 * `accel disable`: detaches sock_ops from the cgroup and sk_msg from the SOCKHASH, unpins
 * everything and removes the pin directory and the manifest. Sockets already in the SOCKHASH leave
 * it when the map is freed (the last reference was the pin), and the kernel restores their normal
 * TCP path, so connections accelerated before keep working. Safe when nothing is enabled.
 */
import { existsSync, readdirSync } from 'node:fs';
import { SkMsg, SockOps } from '../loader/attach.js';
import { ensureBpffs, removePinDir } from '../loader/fs.js';
import { type AccelLocation, errorCodeOf, resolveLocation } from './enable.js';
import { AccelError } from './errors.js';
import { pinnedMap, pinnedProgram } from './kernel-state.js';
import { type AccelManifest, readManifest, removeManifest } from './state.js';

/** What `disableAccel` did. */
export interface DisableResult {
  /** False when nothing was enabled. */
  readonly changed: boolean;
  /** Each step taken, for people. */
  readonly steps: readonly string[];
  /** One line for people. */
  readonly message: string;
}

/** Turns acceleration off for the pin directory of `loc` (see the module comment). */
export function disableAccel(loc: AccelLocation = {}): DisableResult {
  const { sys, pinDir, stateDir } = resolveLocation(loc);
  let manifest: AccelManifest | undefined;
  let unreadable = false;
  try {
    manifest = readManifest(stateDir, pinDir);
  } catch (err) {
    if (!(err instanceof AccelError && err.code === 'ERR_STATE')) throw err;
    unreadable = true;
  }
  const pinDirExists = existsSync(pinDir);
  if (!manifest && !unreadable && !pinDirExists) {
    return { changed: false, steps: [], message: `nothing enabled in ${pinDir}; nothing to do` };
  }
  if (!manifest && pinDirExists && readdirSync(pinDir).length > 0) {
    throw new AccelError(
      'ERR_STATE',
      `${pinDir} holds pins (${readdirSync(pinDir).join(', ')}) but tsbpf has no record of enabling them; ` +
        'inspect them with `bpftool prog show pinned PATH` and remove them with rm if they are stale',
    );
  }
  const steps: string[] = [];
  try {
    if (manifest) {
      steps.push(...detachRecorded(manifest));
    }
    if (existsSync(pinDir)) {
      ensureBpffs(sys);
      removePinDir(sys, pinDir);
      steps.push(`removed ${pinDir}`);
    }
    if (removeManifest(stateDir, pinDir)) steps.push('removed the manifest');
  } catch (err) {
    throw new AccelError(
      err instanceof AccelError ? err.code : errorCodeOf(err),
      `cannot disable acceleration in ${pinDir}: ${(err as Error).message} (done so far: ${steps.join(', ') || 'nothing'})`,
      { cause: err },
    );
  }
  return {
    changed: true,
    steps,
    message: `disabled socket acceleration${manifest ? ` on ${manifest.cgroup}` : ''}: ${steps.join(', ')}`,
  };

  function detachRecorded(m: AccelManifest): string[] {
    const done: string[] = [];
    const ops = pinnedProgram(sys, m.programs.sockops.pin);
    const opsId = ops?.id ?? m.programs.sockops.id;
    if (existsSync(m.cgroup)) {
      const ids = SockOps.detach(sys, m.cgroup, opsId);
      if (ids.length > 0)
        done.push(`detached sock_ops ${m.programs.sockops.name} from ${m.cgroup}`);
    }
    const sockhash = m.maps.find((x) => x.role === 'sockhash');
    const map = sockhash ? pinnedMap(sys, sockhash.pin) : undefined;
    if (map) {
      try {
        const msgId = pinnedProgram(sys, m.programs.skMsg.pin)?.id ?? m.programs.skMsg.id;
        const ids = SkMsg.detach(map, msgId);
        if (ids.length > 0) done.push(`detached sk_msg ${m.programs.skMsg.name} from ${map.name}`);
      } finally {
        map.close();
      }
    }
    return done;
  }
}
