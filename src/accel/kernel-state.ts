/**
 * Reading back what `accel enable` left in the kernel, from its pins: the pinned programs' ids and
 * tags, the pinned maps, and what is attached to the cgroup and the SOCKHASH.
 */
import { existsSync } from 'node:fs';
import { type AttachQuery, SkMsg, SockOps } from '../loader/attach.js';
import { objGetTry, progInfo } from '../loader/commands.js';
import { BpfError } from '../loader/errors.js';
import { type BpfMap, openPinnedMap } from '../loader/maps.js';
import type { BpfSyscall } from '../loader/syscall.js';

/** A pinned program's kernel identity. */
export interface PinnedProgramInfo {
  readonly id: number;
  readonly name: string;
  readonly tag: string;
}

/** The program pinned at `path`, or undefined when nothing is pinned there. */
export function pinnedProgram(sys: BpfSyscall, path: string): PinnedProgramInfo | undefined {
  const fd = objGetTry(sys, path);
  if (fd < 0) return undefined;
  try {
    const info = progInfo(sys, fd);
    return { id: info.id, name: info.name, tag: info.tag };
  } finally {
    sys.close(fd);
  }
}

/** The map pinned at `path` (the caller closes it), or undefined when nothing is pinned there. */
export function pinnedMap(sys: BpfSyscall, path: string): BpfMap | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return openPinnedMap(sys, path);
  } catch (err) {
    if (err instanceof BpfError && err.errno === 'ENOENT') return undefined;
    throw err;
  }
}

/** What is attached as sock_ops to `cgroup`, or undefined when the cgroup is gone. */
export function sockOpsOn(sys: BpfSyscall, cgroup: string): AttachQuery | undefined {
  if (!existsSync(cgroup)) return undefined;
  return SockOps.query(sys, cgroup);
}

/** What is attached as msg_verdict to the SOCKHASH pinned at `path`, if it is pinned. */
export function skMsgOn(sys: BpfSyscall, path: string): AttachQuery | undefined {
  const map = pinnedMap(sys, path);
  if (!map) return undefined;
  try {
    return SkMsg.query(map);
  } finally {
    map.close();
  }
}
