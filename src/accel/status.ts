/**
 * `accel status`: what is attached where (program ids and names, cgroup, pins), the sockets in the
 * SOCKHASH, every stats counter, map fill levels, and the kernel feature probe results — read
 * from the manifest, the pins and the kernel, as data (`--json`) or as text for people.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { AttachedProgram } from '../loader/attach.js';
import { AttachType, MapType, ProgType } from '../loader/constants.js';
import { BpfError } from '../loader/errors.js';
import { featureProbes } from '../loader/probes.js';
import type { BpfSyscall } from '../loader/syscall.js';
import { decodeSockKey, type SockTuple } from '../programs/maps.js';
import { STAT_NAMES, type StatName, sumStats } from '../programs/stats.js';
import { type AccelLocation, liveProblems, resolveLocation } from './enable.js';
import { AccelError } from './errors.js';
import { pinnedMap, pinnedProgram, skMsgOn, sockOpsOn } from './kernel-state.js';
import { type AccelManifest, readManifest } from './state.js';

/** A kernel feature acceleration uses, and whether this kernel has it. */
export interface FeatureResult {
  readonly feature: string;
  readonly supported: boolean;
  /** True when acceleration cannot work without it. */
  readonly required: boolean;
}

/** Fill level of one map. */
export interface MapFill {
  readonly role: string;
  readonly name: string;
  readonly id: number;
  readonly entries: number;
  readonly maxEntries: number;
}

/** One of our programs and where it is pinned and attached. */
export interface ProgramStatus {
  readonly role: 'sockops' | 'sk_msg';
  readonly name: string;
  readonly id: number | undefined;
  readonly tag: string | undefined;
  readonly pin: string;
  readonly pinned: boolean;
  /** Where it is attached: the cgroup or the SOCKHASH name; undefined when it is not. */
  readonly attachedTo: string | undefined;
}

/** Everything `accel status` reports. */
export interface AccelStatus {
  readonly enabled: boolean;
  readonly pinDir: string;
  readonly cgroup: string | undefined;
  readonly variant: string | undefined;
  readonly enabledAt: string | undefined;
  readonly endpoints: readonly string[];
  readonly endpointsSource: string | undefined;
  readonly programs: readonly ProgramStatus[];
  /** Every sock_ops program on the cgroup (ours and others), in run order. */
  readonly cgroupPrograms: readonly AttachedProgram[];
  /** Files in the pin directory. */
  readonly pins: readonly string[];
  /** The sockets in the SOCKHASH (keys decoded), at most `socketLimit` of them. */
  readonly sockets: readonly SockTuple[];
  readonly socketCount: number;
  /** Counters summed over CPUs, as decimal strings (u64 values exceed JSON numbers). */
  readonly stats: Readonly<Record<StatName, string>> | undefined;
  readonly maps: readonly MapFill[];
  readonly features: readonly FeatureResult[];
  /** Differences between the record and the kernel (empty when all is well). */
  readonly problems: readonly string[];
}

/** Options of `accelStatus`. */
export interface StatusOptions extends AccelLocation {
  /** How many sockets to list (all are counted). Default 100. */
  readonly socketLimit?: number;
  /** Skip the feature probes (they load tiny programs). Default false. */
  readonly skipProbes?: boolean;
}

/** Probes the kernel for what socket acceleration needs (and the optional bpf_links). */
export function probeFeatures(sys: BpfSyscall): FeatureResult[] {
  const p = featureProbes(sys);
  const safe = (probe: () => boolean): boolean => {
    try {
      return probe();
    } catch (err) {
      // Without privileges every probe fails alike: say so instead of reporting "unsupported".
      if (err instanceof BpfError && (err.errno === 'EPERM' || err.errno === 'EACCES')) {
        throw new AccelError(
          'ERR_PERMISSION',
          `probing the kernel's BPF features needs root or CAP_BPF (${err.message})`,
          { cause: err },
        );
      }
      if (err instanceof BpfError) return false;
      throw err;
    }
  };
  const list: [string, boolean, () => boolean][] = [
    ['program type sock_ops', true, () => p.programType(ProgType.SOCK_OPS)],
    ['program type sk_msg', true, () => p.programType(ProgType.SK_MSG)],
    ['map type sockhash', true, () => p.mapType(MapType.SOCKHASH)],
    ['map type lpm_trie', true, () => p.mapType(MapType.LPM_TRIE)],
    ['map type percpu_array', true, () => p.mapType(MapType.PERCPU_ARRAY)],
    ['helper sock_hash_update (sock_ops)', true, () => p.helper(ProgType.SOCK_OPS, 70)],
    ['helper msg_redirect_hash (sk_msg)', true, () => p.helper(ProgType.SK_MSG, 71)],
    ['helper get_netns_cookie (sock_ops)', false, () => p.helper(ProgType.SOCK_OPS, 122)],
    [
      'bpf_link for cgroup sock_ops',
      false,
      () => p.link(ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS),
    ],
    ['bpf_link for sk_msg', false, () => p.link(ProgType.SK_MSG, AttachType.SK_MSG_VERDICT)],
  ];
  return list.map(([feature, required, probe]) => ({
    feature,
    required,
    supported: safe(probe),
  }));
}

function countKeys(keys: Iterable<Uint8Array>): number {
  let n = 0;
  for (const _ of keys) n += 1;
  return n;
}

/** Reads the state of acceleration for the pin directory of `options`. */
export function accelStatus(options: StatusOptions = {}): AccelStatus {
  const { sys, pinDir, stateDir } = resolveLocation(options);
  const limit = options.socketLimit ?? 100;
  const features = options.skipProbes ? [] : probeFeatures(sys);
  const m: AccelManifest | undefined = readManifest(stateDir, pinDir);
  const pins = existsSync(pinDir) ? readdirSync(pinDir).sort() : [];
  if (!m) {
    return {
      enabled: false,
      pinDir,
      cgroup: undefined,
      variant: undefined,
      enabledAt: undefined,
      endpoints: [],
      endpointsSource: undefined,
      programs: [],
      cgroupPrograms: [],
      pins,
      sockets: [],
      socketCount: 0,
      stats: undefined,
      maps: [],
      features,
      problems: pins.length > 0 ? [`${pinDir} holds pins tsbpf has no record of`] : [],
    };
  }
  const onCgroup = sockOpsOn(sys, m.cgroup);
  const sockhash = m.maps.find((x) => x.role === 'sockhash');
  const onMap = sockhash ? skMsgOn(sys, sockhash.pin) : undefined;
  const program = (
    role: 'sockops' | 'sk_msg',
    rec: AccelManifest['programs']['sockops'],
    attachedTo: string | undefined,
    attached: readonly AttachedProgram[] | undefined,
  ): ProgramStatus => {
    const live = pinnedProgram(sys, rec.pin);
    return {
      role,
      name: rec.name,
      id: live?.id,
      tag: live?.tag,
      pin: rec.pin,
      pinned: live !== undefined,
      attachedTo: live && attached?.some((p) => p.id === live.id) ? attachedTo : undefined,
    };
  };
  const programs = [
    program('sockops', m.programs.sockops, m.cgroup, onCgroup?.programs),
    program('sk_msg', m.programs.skMsg, sockhash?.name, onMap?.programs),
  ];
  const maps: MapFill[] = [];
  let sockets: SockTuple[] = [];
  let socketCount = 0;
  let stats: Record<StatName, string> | undefined;
  for (const rec of m.maps) {
    const map = pinnedMap(sys, rec.pin);
    if (!map) continue;
    try {
      const keys = [...map.keys()];
      if (rec.role === 'sockhash') {
        socketCount = keys.length;
        sockets = keys.slice(0, limit).map(decodeSockKey);
      }
      if (rec.role === 'stats') {
        const perCpu = STAT_NAMES.map((_, i) => {
          const key = new Uint8Array(4);
          new DataView(key.buffer).setUint32(0, i, true);
          const value = map.lookup(key) ?? new Uint8Array(0);
          const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
          return Array.from({ length: value.length / 8 }, (_, c) => view.getBigUint64(c * 8, true));
        });
        const sums = sumStats(perCpu);
        stats = Object.fromEntries(STAT_NAMES.map((n) => [n, sums[n].toString()])) as Record<
          StatName,
          string
        >;
      }
      maps.push({
        role: rec.role,
        name: rec.name,
        id: map.info().id,
        entries: countKeys(keys),
        maxEntries: map.maxEntries,
      });
    } finally {
      map.close();
    }
  }
  return {
    enabled: true,
    pinDir,
    cgroup: m.cgroup,
    variant: m.variant,
    enabledAt: m.enabledAt,
    endpoints: m.endpoints,
    endpointsSource: m.endpointsSource,
    programs,
    cgroupPrograms: onCgroup?.programs ?? [],
    pins,
    sockets,
    socketCount,
    stats,
    maps,
    features,
    problems: liveProblems(sys, m),
  };
}

function tuple(t: SockTuple): string {
  const host = (a: string) => (a.includes(':') ? `[${a}]` : a);
  return `${host(t.sip)}:${t.sport} -> ${host(t.dip)}:${t.dport}`;
}

/** The status as text for people. */
export function formatStatus(s: AccelStatus): string {
  const lines: string[] = [];
  if (!s.enabled) {
    lines.push(`socket acceleration: not enabled (pin dir ${s.pinDir})`);
    if (s.pins.length > 0) lines.push(`  pins present: ${s.pins.join(', ')}`);
  } else {
    lines.push(`socket acceleration: enabled (${s.variant} variant, since ${s.enabledAt})`);
    lines.push(`  cgroup:   ${s.cgroup}`);
    lines.push(`  pin dir:  ${s.pinDir} (${s.pins.join(', ')})`);
    for (const p of s.programs) {
      const where = p.attachedTo ? `attached to ${p.attachedTo}` : 'NOT attached';
      lines.push(
        `  ${p.role.padEnd(8)}  ${p.name} id ${p.id ?? '-'} tag ${p.tag ?? '-'}, ${where}${p.pinned ? '' : ', NOT pinned'}`,
      );
    }
    const others = s.cgroupPrograms.filter((c) => !s.programs.some((p) => p.id === c.id));
    if (others.length > 0) {
      lines.push(
        `  other sock_ops on the cgroup: ${others.map((o) => `${o.name || '?'} (id ${o.id})`).join(', ')}`,
      );
    }
    lines.push(
      `  endpoints (${s.endpointsSource}): ${s.endpoints.length ? s.endpoints.join(', ') : 'none'}`,
    );
    lines.push(`  sockets in the SOCKHASH: ${s.socketCount}`);
    for (const t of s.sockets) lines.push(`    ${tuple(t)}`);
    if (s.socketCount > s.sockets.length) {
      lines.push(`    … ${s.socketCount - s.sockets.length} more`);
    }
    if (s.stats) {
      lines.push('  counters:');
      for (const n of STAT_NAMES) lines.push(`    ${n.padEnd(15)} ${s.stats[n]}`);
    }
    lines.push('  maps:');
    for (const m of s.maps) {
      const pct = ((100 * m.entries) / m.maxEntries).toFixed(1);
      lines.push(
        `    ${m.name.padEnd(16)} ${String(m.entries).padStart(6)} / ${m.maxEntries} (${pct}%)`,
      );
    }
    for (const p of s.problems) lines.push(`  problem: ${p}`);
  }
  if (s.features.length > 0) {
    lines.push('kernel features:');
    for (const f of s.features) {
      const mark = f.supported ? 'yes' : f.required ? 'NO (required)' : 'no';
      lines.push(`  ${f.feature.padEnd(36)} ${mark}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
