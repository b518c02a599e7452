/**
 * `accel enable`: builds the socket acceleration object, loads it, fills its maps, pins maps and
 * programs in the pin directory, attaches sk_msg to the SOCKHASH and then sock_ops to the cgroup
 * (last, so sockets are only inserted once everything they need is in place), and records a
 * manifest. Idempotent: when the manifest and the kernel already show the same build on the same
 * cgroup, nothing changes (only the endpoints are brought in step with the host). Atomic: any
 * failure undoes every step done so far, newest first.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { match } from 'ts-pattern';
import { attachFlagsOf, SkMsg, SockOps } from '../loader/attach.js';
import { progAttach } from '../loader/commands.js';
import { AttachType } from '../loader/constants.js';
import type { LoadedObject } from '../loader/fd.js';
import {
  ensureBpffs,
  ensurePinDir,
  openCgroup,
  pinPath,
  removePinDir,
  unpin,
} from '../loader/fs.js';
import type { BpfMap } from '../loader/maps.js';
import { loadObject } from '../loader/object-loader.js';
import { type BpfSyscall, systemSyscall } from '../loader/syscall.js';
import { type BuiltSockops, buildSockops } from '../programs/build.js';
import type { SockopsVariant } from '../programs/options.js';
import { checkCgroup2Dir } from './cgroup.js';
import {
  type AccelConfig,
  checkConfigForVariant,
  configEntries,
  EMPTY_CONFIG,
  endpointEntries,
  type MapEntryBytes,
} from './config.js';
import { AccelError } from './errors.js';
import { hostAddressCidrs } from './host-addresses.js';
import { UndoJournal } from './journal.js';
import { pinnedMap, pinnedProgram, skMsgOn, sockOpsOn } from './kernel-state.js';
import {
  type AccelManifest,
  DEFAULT_PIN_DIR,
  DEFAULT_STATE_DIR,
  type ManifestMap,
  type ManifestProgram,
  readManifest,
  removeManifest,
  writeManifest,
} from './state.js';

/** Where acceleration state lives; shared by every operation. */
export interface AccelLocation {
  /** Kernel interface (default: the real one). Tests pass a wrapper to inject failures. */
  readonly sys?: BpfSyscall;
  /** bpffs directory for the pins (default /sys/fs/bpf/tsbpf). */
  readonly pinDir?: string;
  /** Directory of the manifests (default /run/tsbpf/state). */
  readonly stateDir?: string;
}

/** Options of `enableAccel`. */
export interface EnableOptions extends AccelLocation {
  /** The cgroup v2 directory whose sockets are accelerated. */
  readonly cgroup: string;
  /** Default: the config's variant, else 'cilium'. */
  readonly variant?: SockopsVariant;
  /** Endpoints, services, identities and policy (default: host endpoints, nothing else). */
  readonly config?: AccelConfig;
  /** The host's addresses as CIDRs (default: every interface's; tests pass their own). */
  readonly hostAddresses?: () => string[];
  /** Receives warnings from the loader. */
  readonly onWarning?: (message: string) => void;
}

/** What `enableAccel` did. */
export type EnableAction = 'enabled' | 'unchanged' | 'endpoints-updated';

/** The outcome of `enableAccel`. */
export interface EnableResult {
  readonly action: EnableAction;
  readonly manifest: AccelManifest;
  /** One line for people: what happened. */
  readonly message: string;
}

/** The options every accel build uses: counters on for both variants (status and metrics read them). */
function buildFor(variant: SockopsVariant): BuiltSockops {
  return buildSockops({ variant, stats: true });
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The pin directory, state directory and syscall layer with their defaults. */
export function resolveLocation(loc: AccelLocation): {
  sys: BpfSyscall;
  pinDir: string;
  stateDir: string;
} {
  return {
    sys: loc.sys ?? systemSyscall(),
    pinDir: loc.pinDir ?? DEFAULT_PIN_DIR,
    stateDir: loc.stateDir ?? DEFAULT_STATE_DIR,
  };
}

/** The endpoints wanted for a variant and config, and where they come from. */
function desiredEndpoints(
  variant: SockopsVariant,
  config: AccelConfig,
  host: () => string[],
): { source: 'host' | 'config'; cidrs: string[] } {
  if (variant === 'minimal') return { source: 'config', cidrs: [] };
  return config.endpoints
    ? { source: 'config', cidrs: [...config.endpoints] }
    : { source: 'host', cidrs: host() };
}

/**
 * Makes the endpoints map hold exactly `cidrs`: adds the missing ones and deletes the others.
 * Returns how many were added and removed.
 */
export function syncEndpoints(
  map: BpfMap,
  current: readonly string[],
  cidrs: readonly string[],
): { added: number; removed: number } {
  const want = new Set(cidrs);
  const have = new Set(current);
  const added = cidrs.filter((c) => !have.has(c));
  const removed = current.filter((c) => !want.has(c));
  for (const e of endpointEntries(added)) map.update(e.key, e.value);
  for (const e of endpointEntries(removed)) map.delete(e.key);
  return { added: added.length, removed: removed.length };
}

function sameEndpoints(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

function fill(map: BpfMap, entries: readonly MapEntryBytes[]): void {
  for (const e of entries) map.update(e.key, e.value);
}

/** Turns on socket acceleration for a cgroup (see the module comment). */
export function enableAccel(options: EnableOptions): EnableResult {
  const { sys, pinDir, stateDir } = resolveLocation(options);
  const config = options.config ?? EMPTY_CONFIG;
  const variant = options.variant ?? config.variant ?? 'cilium';
  checkConfigForVariant(config, variant);
  const cgroup = checkCgroup2Dir(options.cgroup, sys.readMountInfo());
  const built = buildFor(variant);
  const objectSha256 = sha256(built.elf);
  const entries = configEntries(config);
  const configSha256 = sha256(
    JSON.stringify(
      [entries.services, entries.ipcache, entries.policy].map((list) =>
        list.map((e) => [Buffer.from(e.key).toString('hex'), Buffer.from(e.value).toString('hex')]),
      ),
    ),
  );
  const endpoints = desiredEndpoints(variant, config, options.hostAddresses ?? hostAddressCidrs);

  const existing = readManifest(stateDir, pinDir);
  if (existing) {
    return reconcile(sys, stateDir, existing, {
      cgroup,
      variant,
      objectSha256,
      configSha256,
      endpoints,
    });
  }
  if (existsSync(pinDir) && readdirSync(pinDir).length > 0) {
    throw new AccelError(
      'ERR_CONFLICT',
      `${pinDir} already holds pins that tsbpf did not record (${readdirSync(pinDir).join(', ')}); ` +
        'choose another --pin-dir or remove them (bpftool, rm) first',
    );
  }

  ensureBpffs(sys);
  const journal = new UndoJournal();
  // Closed after the rollback (in `finally`): undoing the attachments needs the map's fd.
  let obj: LoadedObject | undefined;
  try {
    const createdDir = ensurePinDir(sys, pinDir);
    if (createdDir !== undefined) {
      journal.record(`remove ${createdDir}`, () => removePinDir(sys, createdDir));
    }
    const loaded = loadObject(built.elf, {
      sys,
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    obj = loaded;
    const byRole = new Map(built.maps.map((m) => [m.role, loaded.map(m.name)]));
    const roleMap = (role: 'endpoints' | 'services' | 'ipcache' | 'policy') => {
      const m = byRole.get(role);
      if (!m) throw new AccelError('ERR_STATE', `the ${variant} build has no ${role} map`);
      return m;
    };
    if (variant === 'cilium') {
      fill(roleMap('endpoints'), endpointEntries(endpoints.cidrs));
      fill(roleMap('services'), entries.services);
      fill(roleMap('ipcache'), entries.ipcache);
      fill(roleMap('policy'), entries.policy);
    }
    const maps: ManifestMap[] = built.maps.map((m) => {
      const path = pinPath(pinDir, m.name);
      const map = loaded.map(m.name);
      map.pin(path);
      journal.record(`unpin ${path}`, () => unpin(sys, path));
      return { role: m.role, name: m.name, id: map.info().id, pin: path };
    });
    const pinProgram = (name: string): ManifestProgram => {
      const path = pinPath(pinDir, name);
      const prog = loaded.program(name);
      prog.pin(path);
      journal.record(`unpin ${path}`, () => unpin(sys, path));
      const info = prog.info();
      return { name, id: info.id, tag: info.tag, pin: path };
    };
    const programs = {
      sockops: pinProgram(built.programs.sockops.name),
      skMsg: pinProgram(built.programs.skMsg.name),
    };
    // PROG_ATTACH directly rather than through BpfLink handles: those keep fds of the map and the
    // cgroup open, and an open SOCKHASH fd would keep the sockets in it (and their redirection)
    // alive after `disable` for as long as this process runs (e.g. the agent).
    const sockhash = loaded.map(built.maps.find((m) => m.role === 'sockhash')?.name ?? '');
    const skMsg = SkMsg.from(loaded.program(programs.skMsg.name)).program;
    progAttach(sys, sockhash.fd.value, skMsg.fd.value, AttachType.SK_MSG_VERDICT);
    journal.record(`detach sk_msg ${programs.skMsg.name}`, () =>
      SkMsg.detach(sockhash, programs.skMsg.id),
    );
    const sockOps = SockOps.from(loaded.program(programs.sockops.name)).program;
    {
      using cgroupFd = openCgroup(sys, cgroup);
      progAttach(
        sys,
        cgroupFd.value,
        sockOps.fd.value,
        AttachType.CGROUP_SOCK_OPS,
        attachFlagsOf('multi'),
      );
    }
    journal.record(`detach sock_ops ${programs.sockops.name}`, () =>
      SockOps.detach(sys, cgroup, programs.sockops.id),
    );
    const manifest: AccelManifest = {
      version: 1,
      pinDir,
      cgroup,
      variant,
      objectSha256,
      configSha256,
      endpointsSource: endpoints.source,
      endpoints: endpoints.cidrs,
      programs,
      maps,
      enabledAt: new Date().toISOString(),
    };
    writeManifest(stateDir, manifest);
    journal.commit();
    return {
      action: 'enabled',
      manifest,
      message:
        `enabled ${variant} socket acceleration on ${cgroup}: sock_ops ${programs.sockops.name} ` +
        `(id ${programs.sockops.id}), sk_msg ${programs.skMsg.name} (id ${programs.skMsg.id}), ` +
        `pins in ${pinDir}, ${endpoints.cidrs.length} endpoints`,
    };
  } catch (err) {
    const failures = journal.rollback();
    removeManifest(stateDir, pinDir);
    const base = err instanceof Error ? err.message : String(err);
    const undone = failures.length
      ? ` (rollback incomplete: ${failures.join('; ')})`
      : ' (everything done so far was rolled back)';
    if (err instanceof AccelError) {
      throw new AccelError(err.code, `${base}${undone}`, { cause: err });
    }
    throw new AccelError(
      errorCodeOf(err),
      `cannot enable acceleration on ${cgroup}: ${base}${undone}`,
      { cause: err },
    );
  } finally {
    obj?.close();
  }
}

/** The AccelError code for a failure from below (permissions and missing features stand out). */
export function errorCodeOf(err: unknown): AccelError['code'] {
  const e = err as { errno?: string; code?: string };
  if (e.errno === 'EPERM' || e.errno === 'EACCES') return 'ERR_PERMISSION';
  return match(e.code)
    .with('ERR_UNSUPPORTED', () => 'ERR_UNSUPPORTED' as const)
    .with('ERR_NO_CGROUP2', () => 'ERR_NOT_CGROUP2' as const)
    .otherwise(() => 'ERR_STATE' as const);
}

/** What a fresh enable would record, to compare with an existing manifest. */
interface Wanted {
  readonly cgroup: string;
  readonly variant: SockopsVariant;
  readonly objectSha256: string;
  readonly configSha256: string;
  readonly endpoints: { source: 'host' | 'config'; cidrs: string[] };
}

/**
 * A second enable for a pin directory that already has a manifest: nothing to do when the kernel
 * shows the recorded programs attached and the build and configuration are the same; the endpoints
 * follow the host; anything else is a conflict the operator resolves with `accel disable`.
 */
function reconcile(
  sys: BpfSyscall,
  stateDir: string,
  m: AccelManifest,
  want: Wanted,
): EnableResult {
  const disableHint = `run \`tsbpf accel disable --pin-dir ${m.pinDir}\` first`;
  const differs = [
    m.cgroup !== want.cgroup && `cgroup ${m.cgroup}`,
    m.variant !== want.variant && `variant ${m.variant}`,
    m.objectSha256 !== want.objectSha256 && 'a different build of the programs',
    m.configSha256 !== want.configSha256 && 'different services, identities or policy',
    m.endpointsSource !== want.endpoints.source && `endpoints from ${m.endpointsSource}`,
  ].filter((x): x is string => typeof x === 'string');
  if (differs.length > 0) {
    throw new AccelError(
      'ERR_CONFLICT',
      `${m.pinDir} is already enabled with ${differs.join(', ')}; ${disableHint}`,
    );
  }
  const problems = liveProblems(sys, m);
  if (problems.length > 0) {
    throw new AccelError(
      'ERR_STATE',
      `${m.pinDir} was enabled but the kernel no longer matches (${problems.join('; ')}); ${disableHint}`,
    );
  }
  if (sameEndpoints(m.endpoints, want.endpoints.cidrs)) {
    return {
      action: 'unchanged',
      manifest: m,
      message: `already enabled on ${m.cgroup} (pins in ${m.pinDir}); nothing changed`,
    };
  }
  const endpointsMap = m.maps.find((x) => x.role === 'endpoints');
  const map = endpointsMap ? pinnedMap(sys, endpointsMap.pin) : undefined;
  if (!map) {
    throw new AccelError('ERR_STATE', `the endpoints map of ${m.pinDir} is gone; ${disableHint}`);
  }
  try {
    const { added, removed } = syncEndpoints(map, m.endpoints, want.endpoints.cidrs);
    const manifest = { ...m, endpoints: want.endpoints.cidrs };
    writeManifest(stateDir, manifest);
    return {
      action: 'endpoints-updated',
      manifest,
      message: `already enabled on ${m.cgroup}; endpoints updated (+${added} -${removed})`,
    };
  } finally {
    map.close();
  }
}

/** Differences between a manifest and the kernel (empty when everything is in place). */
export function liveProblems(sys: BpfSyscall, m: AccelManifest): string[] {
  const problems: string[] = [];
  const ops = pinnedProgram(sys, m.programs.sockops.pin);
  const msg = pinnedProgram(sys, m.programs.skMsg.pin);
  if (!ops) problems.push(`${m.programs.sockops.pin} is not pinned`);
  else if (ops.id !== m.programs.sockops.id) problems.push(`${m.programs.sockops.pin} changed`);
  if (!msg) problems.push(`${m.programs.skMsg.pin} is not pinned`);
  else if (msg.id !== m.programs.skMsg.id) problems.push(`${m.programs.skMsg.pin} changed`);
  const onCgroup = sockOpsOn(sys, m.cgroup);
  if (!onCgroup) problems.push(`cgroup ${m.cgroup} is gone`);
  else if (!onCgroup.programs.some((p) => p.id === m.programs.sockops.id)) {
    problems.push(`sock_ops is not attached to ${m.cgroup}`);
  }
  const sockhash = m.maps.find((x) => x.role === 'sockhash');
  const onMap = sockhash ? skMsgOn(sys, sockhash.pin) : undefined;
  if (!onMap) problems.push('the SOCKHASH is not pinned');
  else if (!onMap.programs.some((p) => p.id === m.programs.skMsg.id)) {
    problems.push('sk_msg is not attached to the SOCKHASH');
  }
  return problems;
}
