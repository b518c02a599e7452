/**
 * Feature probes: does this kernel have a program type, a map type, a helper for a program type,
 * bpf_links for an attach type? Each probe asks the kernel with the smallest possible object (a
 * two-instruction program, a one-entry map), as libbpf's `libbpf_probe_bpf_*` and cilium/ebpf's
 * `features` package do, and caches the answer per kernel interface. `checkObjectSupport` probes
 * exactly what an object uses and refuses early with a message naming what is missing — instead of
 * a bare EINVAL from the middle of a load.
 *
 * Probes need the privileges a load needs; without them they throw the EPERM `BpfError` rather
 * than report "unsupported".
 */

import { encodeLinkCreate, encodeMapCreate } from './attr.js';
import { bpfTry, progLoad } from './commands.js';
import { AttachType, MapType, nameOf, ProgType } from './constants.js';
import { BpfError, Errno, LoaderError, VerifierError } from './errors.js';
import type { BpfSyscall } from './syscall.js';

/** `mov64 r0, 0; exit` */
const RETURN_ZERO = Uint8Array.of(0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0);

/** `call helper; mov64 r0, 0; exit` */
function callHelper(id: number): Uint8Array {
  const b = new Uint8Array(24);
  b[0] = 0x85;
  new DataView(b.buffer).setInt32(4, id, true);
  b.set(RETURN_ZERO, 8);
  return b;
}

/** Expected attach types some program types need to load at all. */
const PROBE_ATTACH_TYPE: Readonly<Record<number, number>> = {
  [ProgType.CGROUP_SOCK_ADDR]: AttachType.CGROUP_INET4_CONNECT,
  [ProgType.SK_LOOKUP]: 36,
  [ProgType.CGROUP_SOCKOPT]: 21,
};

/** Key, value and extra attributes of a minimal map of each type. */
function minimalMap(type: number): {
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
} {
  switch (type) {
    case MapType.RINGBUF:
      return { keySize: 0, valueSize: 0, maxEntries: 4096 };
    case MapType.QUEUE:
    case MapType.STACK:
      return { keySize: 0, valueSize: 4, maxEntries: 1 };
    case MapType.LPM_TRIE:
      return { keySize: 8, valueSize: 4, maxEntries: 1, mapFlags: 1 };
    case MapType.BLOOM_FILTER:
      return { keySize: 0, valueSize: 4, maxEntries: 1 };
    default:
      return { keySize: 4, valueSize: 4, maxEntries: 1 };
  }
}

/** Names of helpers a sockops/sk_msg object is likely to call (for messages). */
export const HELPER_NAMES: Readonly<Record<number, string>> = {
  1: 'map_lookup_elem',
  2: 'map_update_elem',
  3: 'map_delete_elem',
  5: 'ktime_get_ns',
  6: 'trace_printk',
  7: 'get_prandom_u32',
  14: 'get_current_pid_tgid',
  46: 'get_socket_cookie',
  49: 'setsockopt',
  53: 'sock_map_update',
  57: 'getsockopt',
  59: 'sock_ops_cb_flags_set',
  60: 'msg_redirect_map',
  61: 'msg_apply_bytes',
  62: 'msg_cork_bytes',
  63: 'msg_pull_data',
  70: 'sock_hash_update',
  71: 'msg_redirect_hash',
  90: 'msg_push_data',
  91: 'msg_pop_data',
  122: 'get_netns_cookie',
  130: 'ringbuf_output',
};

/** A helper's display name: `bpf_msg_redirect_hash#71`, or `helper #N`. */
export function helperName(id: number): string {
  const n = HELPER_NAMES[id];
  return n ? `bpf_${n}#${id}` : `helper #${id}`;
}

/** Cached feature probes against one kernel interface. */
export class FeatureProbes {
  readonly #sys: BpfSyscall;
  readonly #cache = new Map<string, boolean>();

  constructor(sys: BpfSyscall) {
    this.#sys = sys;
  }

  #cached(key: string, probe: () => boolean): boolean {
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    const result = probe();
    this.#cache.set(key, result);
    return result;
  }

  /** True if programs of `progType` load. */
  programType(progType: number): boolean {
    return this.#cached(`prog:${progType}`, () => {
      try {
        const { fd } = progLoad(this.#sys, {
          progType,
          expectedAttachType: PROBE_ATTACH_TYPE[progType] ?? 0,
          name: 'tsbpf_probe',
          insns: RETURN_ZERO,
          license: 'GPL',
        });
        this.#sys.close(fd);
        return true;
      } catch (err) {
        if (err instanceof VerifierError) return false;
        if (err instanceof BpfError && (err.errno === 'EINVAL' || err.errno === 'E2BIG'))
          return false;
        throw err;
      }
    });
  }

  /** True if maps of `mapType` can be created. */
  mapType(mapType: number): boolean {
    return this.#cached(`map:${mapType}`, () => {
      const m = minimalMap(mapType);
      const fd = bpfTry(this.#sys, 'MAP_CREATE', encodeMapCreate({ mapType, ...m }));
      if (fd >= 0) {
        this.#sys.close(fd);
        return true;
      }
      if (fd === -Errno.EINVAL || fd === -Errno.E2BIG || fd === -Errno.ENOTSUPP) return false;
      throw new BpfError('MAP_CREATE', -fd, {
        detail: `probing map type ${nameOf(MapType, mapType)}`,
      });
    });
  }

  /**
   * True if programs of `progType` may call helper `helperId`. A program that only calls the
   * helper is loaded with a log: "invalid func" / "unknown func" / "cannot use helper" mean no;
   * any other rejection (arguments not set up) means the helper exists for this type.
   */
  helper(progType: number, helperId: number): boolean {
    return this.#cached(`helper:${progType}:${helperId}`, () => {
      if (!this.programType(progType)) return false;
      try {
        const { fd } = progLoad(this.#sys, {
          progType,
          expectedAttachType: PROBE_ATTACH_TYPE[progType] ?? 0,
          name: 'tsbpf_probe',
          insns: callHelper(helperId),
          license: 'GPL',
          logSize: 64 * 1024,
        });
        this.#sys.close(fd);
        return true;
      } catch (err) {
        if (err instanceof VerifierError) {
          const tail = err.log.trimEnd().split('\n').slice(-5).join('\n');
          return !/invalid func|unknown func|cannot use helper|cannot call GPL-restricted/.test(
            tail,
          );
        }
        if (err instanceof BpfError && err.errno === 'EINVAL') return false;
        throw err;
      }
    });
  }

  /**
   * True if the kernel offers bpf_links (LINK_CREATE) for `attachType` with programs of
   * `progType`. Probed with a real program and an invalid target fd: the kernel checks the
   * program and the attach type first (EINVAL when links are not offered for them), then the
   * target (EBADF), so EBADF means links are supported.
   */
  link(progType: number, attachType: number): boolean {
    return this.#cached(`link:${progType}:${attachType}`, () => {
      if (!this.programType(progType)) return false;
      const { fd: progFd } = progLoad(this.#sys, {
        progType,
        expectedAttachType: attachType,
        name: 'tsbpf_probe',
        insns: RETURN_ZERO,
        license: 'GPL',
      });
      try {
        const ret = bpfTry(
          this.#sys,
          'LINK_CREATE',
          encodeLinkCreate({ progFd, targetFd: 0x7fffffff, attachType }),
        );
        if (ret >= 0) {
          this.#sys.close(ret);
          return true;
        }
        if (ret === -Errno.EPERM) throw new BpfError('LINK_CREATE', Errno.EPERM);
        return ret === -Errno.EBADF;
      } finally {
        this.#sys.close(progFd);
      }
    });
  }
}

const probesBySys = new WeakMap<BpfSyscall, FeatureProbes>();

/** The process-wide probe cache of a kernel interface. */
export function featureProbes(sys: BpfSyscall): FeatureProbes {
  let p = probesBySys.get(sys);
  if (!p) {
    p = new FeatureProbes(sys);
    probesBySys.set(sys, p);
  }
  return p;
}

/** What an object needs from the kernel. */
export interface ObjectRequirements {
  /** Program types, each with the helper ids its programs call. */
  readonly programs: readonly { readonly progType: number; readonly helpers: readonly number[] }[];
  /** Map types. */
  readonly mapTypes: readonly number[];
}

/**
 * Probes everything in `req` and throws `LoaderError` ERR_UNSUPPORTED naming exactly what this
 * kernel lacks (program types, map types, helpers per program type). Does nothing if all exist.
 */
export function checkObjectSupport(sys: BpfSyscall, req: ObjectRequirements): void {
  const probes = featureProbes(sys);
  const missing: string[] = [];
  for (const t of new Set(req.mapTypes)) {
    if (!probes.mapType(t)) missing.push(`map type ${nameOf(MapType, t)} (${t})`);
  }
  const byType = new Map<number, Set<number>>();
  for (const p of req.programs) {
    const set = byType.get(p.progType) ?? new Set<number>();
    for (const h of p.helpers) set.add(h);
    byType.set(p.progType, set);
  }
  for (const [progType, helpers] of byType) {
    const typeName = `${nameOf(ProgType, progType)} (${progType})`;
    if (!probes.programType(progType)) {
      missing.push(`program type ${typeName}`);
      continue;
    }
    for (const h of [...helpers].sort((a, b) => a - b)) {
      if (!probes.helper(progType, h))
        missing.push(`helper ${helperName(h)} for ${typeName} programs`);
    }
  }
  if (missing.length > 0) {
    throw new LoaderError(
      'ERR_UNSUPPORTED',
      `this kernel lacks what the object needs: ${missing.join('; ')}. ` +
        'Use a newer kernel (or one built with the missing options), or an object that avoids them',
    );
  }
}
