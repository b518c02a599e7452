/**
 * Kernel-test plumbing for the socket acceleration programs, done with bpftool so that the object
 * is checked by an independent loader (libbpf 1.1): load with `prog loadall … pinmaps …`, fill and
 * read maps, attach sock_ops to a test cgroup and sk_msg to the SOCKHASH, and run real loopback
 * traffic in a network namespace of its own (so Tcp OutSegs counts only this test's segments).
 * Everything lives under a bpffs dir, cgroup and netns the test created; `close()` removes it all.
 *
 * Pins alone do not keep a SOCKHASH's sk_msg attachment: the kernel drops a sockmap's programs
 * when the map's last *user* reference goes (`map_release_uref` = `sock_hash_release_progs` in
 * net/core/sock_map.c), and user references are pins and fds only, not the sock_ops program that
 * keeps the map alive. With the pins gone the map still works (sock_ops inserts, dumps by id see
 * both sockets) but sockets added afterwards get no msg_parser, so sk_msg never runs and the data
 * silently goes over TCP. So this process holds an fd on every program and map from load to
 * close(), whatever happens to the pins.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mapInfo, objGet, progInfo } from '../../src/loader/commands.js';
import { Fd } from '../../src/loader/fd.js';
import { systemSyscall } from '../../src/loader/syscall.js';
import { type BuiltSockops, buildSockops } from '../../src/programs/build.js';
import type { SockopsMapRole } from '../../src/programs/maps.js';
import type { SockopsOptions } from '../../src/programs/options.js';
import { STAT_NAMES, type StatName } from '../../src/programs/stats.js';
import { createTestBpffsDir, createTestCgroup, type TestDir } from '../kernel/support.js';

const CHILD = fileURLToPath(new URL('./traffic-child.mjs', import.meta.url));

/** Runs bpftool and returns stdout (throws with bpftool's stderr on failure). */
export function bpftool(...args: string[]): string {
  try {
    return execFileSync('bpftool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`bpftool ${args.join(' ')} failed: ${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

const hexArgs = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0'));

let seq = 0;

/** A build loaded by bpftool into a test bpffs dir. */
export class LoadedSockops {
  readonly built: BuiltSockops;
  readonly dir: TestDir;
  readonly objectPath: string;
  private cgroup: TestDir | undefined;
  private readonly namespaces: string[] = [];
  /** Kernel ids of the programs and maps, read right after loading: every later bpftool call
   * goes by id, so it still works if something removes the pins. */
  private readonly progIds = new Map<string, number>();
  private readonly mapIds = new Map<string, number>();
  /** Our own fds on every program and map, opened from the pins right after loading and closed
   * last in close(): they are the user references that keep sk_msg attached to the SOCKHASH
   * (and the programs alive) even if someone removes the pins mid-test. */
  private readonly held: Fd[] = [];

  constructor(options: SockopsOptions, tag: string) {
    this.built = buildSockops(options);
    seq += 1;
    this.objectPath = join(tmpdir(), `tsbpf-test-${tag}-${process.pid}-${seq}.o`);
    writeFileSync(this.objectPath, this.built.elf);
    this.dir = createTestBpffsDir(tag);
    try {
      bpftool(
        'prog',
        'loadall',
        this.objectPath,
        join(this.dir.path, 'progs'),
        'pinmaps',
        join(this.dir.path, 'maps'),
      );
      const sys = systemSyscall();
      const hold = (path: string) => {
        const fd = new Fd(sys, objGet(sys, path), path);
        this.held.push(fd);
        return fd.value;
      };
      for (const which of ['sockops', 'skMsg'] as const) {
        this.progIds.set(which, progInfo(sys, hold(this.progPin(which))).id);
      }
      for (const m of this.built.maps) {
        this.mapIds.set(m.role, mapInfo(sys, hold(this.mapPin(m.role))).id);
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** bpftool arguments naming a program by id. */
  private progRef(which: 'sockops' | 'skMsg'): string[] {
    return ['id', String(this.progIds.get(which))];
  }

  /** bpftool arguments naming a map by id. */
  private mapRef(role: SockopsMapRole): string[] {
    const id = this.mapIds.get(role);
    if (id === undefined) throw new Error(`this build has no ${role} map`);
    return ['id', String(id)];
  }

  /** Pin path of a program by its name. */
  progPin(which: 'sockops' | 'skMsg'): string {
    return join(this.dir.path, 'progs', this.built.programs[which].name);
  }

  /** Pin path of a map by role. */
  mapPin(role: SockopsMapRole): string {
    const m = this.built.maps.find((x) => x.role === role);
    if (!m) throw new Error(`this build has no ${role} map`);
    return join(this.dir.path, 'maps', m.name);
  }

  /** `bpftool map update` of one entry. */
  update(role: SockopsMapRole, key: Uint8Array, value: Uint8Array): void {
    bpftool(
      'map',
      'update',
      ...this.mapRef(role),
      'key',
      'hex',
      ...hexArgs(key),
      'value',
      'hex',
      ...hexArgs(value),
    );
  }

  /** The keys of a map (hex strings without separators). */
  keys(role: SockopsMapRole): string[] {
    const out = JSON.parse(bpftool('-j', 'map', 'dump', ...this.mapRef(role))) as {
      key: string[];
    }[];
    return out.map((e) => e.key.map((b) => b.replace(/^0x/, '')).join(''));
  }

  /** The stats counters summed over CPUs. */
  stats(): Record<StatName, bigint> {
    // bpftool prints hex byte arrays, or plain numbers when the map has BTF; accept both.
    type Raw = string[] | number;
    const out = JSON.parse(bpftool('-j', 'map', 'dump', ...this.mapRef('stats'))) as {
      key: Raw;
      values: { cpu: number; value: Raw }[];
    }[];
    const num = (r: Raw): bigint => {
      if (typeof r === 'number') return BigInt(r);
      const bytes = Uint8Array.from(r.map((b) => Number.parseInt(b, 16)));
      const padded = new Uint8Array(8);
      padded.set(bytes.subarray(0, 8));
      return new DataView(padded.buffer).getBigUint64(0, true);
    };
    const sums = Object.fromEntries(STAT_NAMES.map((n) => [n, 0n])) as Record<StatName, bigint>;
    for (const e of out) {
      const name = STAT_NAMES[Number(num(e.key))];
      if (!name) continue;
      for (const v of e.values) sums[name] += num(v.value);
    }
    return sums;
  }

  /** Attaches sk_msg to the SOCKHASH, then sock_ops to a new test cgroup; returns the cgroup path.
   * In that order because a socket takes the map's sk_msg program when it is inserted: one
   * inserted before the attach would never run it. */
  attach(): string {
    bpftool('prog', 'attach', ...this.progRef('skMsg'), 'msg_verdict', ...this.mapRef('sockhash'));
    this.cgroup = createTestCgroup('sockops');
    bpftool('cgroup', 'attach', this.cgroup.path, 'sock_ops', ...this.progRef('sockops'));
    return this.cgroup.path;
  }

  /** A fresh network namespace with loopback up; returns its name. */
  createNetns(): string {
    const name = `tsbpf-test-${process.pid}-${seq}-${this.namespaces.length}`;
    execFileSync('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** Detaches, unpins, removes the cgroup, netns and object file. Safe to call after failures. */
  close(): void {
    const quiet = (f: () => void) => {
      try {
        f();
      } catch {
        // Cleanup continues past anything that was never set up.
      }
    };
    if (this.cgroup) {
      const cg = this.cgroup;
      quiet(() => bpftool('cgroup', 'detach', cg.path, 'sock_ops', ...this.progRef('sockops')));
      quiet(() => cg.cleanup());
    }
    quiet(() =>
      bpftool(
        'prog',
        'detach',
        ...this.progRef('skMsg'),
        'msg_verdict',
        ...this.mapRef('sockhash'),
      ),
    );
    for (const ns of this.namespaces) quiet(() => execFileSync('ip', ['netns', 'delete', ns]));
    quiet(() => this.dir.cleanup());
    for (const fd of this.held.splice(0)) fd.close();
    quiet(() => execFileSync('rm', ['-f', this.objectPath]));
  }
}

/** What the traffic child reports. */
export interface TrafficResult {
  readonly client: { readonly address: string; readonly port: number };
  readonly server: { readonly address: string; readonly port: number };
  readonly sentSha: string;
  readonly receivedSha: string;
  readonly received: number;
  readonly outSegs: number;
  /** What `whileConnected` returned. */
  readonly inspected: unknown;
}

/** How the child connects. */
export interface TrafficPlan {
  readonly cgroup: string;
  readonly netns: string;
  readonly listenHost: string;
  readonly connectHost: string;
  readonly port: number;
  readonly bytes: number;
  readonly ipv6Only?: boolean;
  readonly pieces?: number;
  /** Bind the client to this port (to build identical tuples in two namespaces). */
  readonly clientPort?: number;
  /** Stop after `whileConnected` (no data moves; sent/received fields are then empty). */
  readonly stopAfterConnect?: boolean;
}

/** Runs one connection in the netns; `whileConnected` runs after the handshake, before the data. */
export async function runTraffic(
  plan: TrafficPlan,
  whileConnected: (t: Pick<TrafficResult, 'client' | 'server'>) => unknown,
): Promise<TrafficResult> {
  // The shell joins the cgroup, then becomes `ip netns exec … node child`: every socket the child
  // opens belongs to the cgroup. (Inside `ip netns exec` /sys is remounted, so the child could not
  // reach the cgroup itself.)
  const launcher = 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"';
  const child = spawn(
    'sh',
    [
      '-c',
      launcher,
      'sh',
      plan.cgroup,
      'ip',
      'netns',
      'exec',
      plan.netns,
      process.execPath,
      CHILD,
      JSON.stringify(plan),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += String(c);
  });
  const lines = readline.createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const next = async () => {
    const r = await Promise.race([
      iterator.next(),
      once(child, 'exit').then(() => ({ done: true, value: undefined })),
    ]);
    if (r.done || r.value === undefined) throw new Error(`traffic child ended early: ${stderr}`);
    return JSON.parse(r.value as string);
  };
  try {
    const connected = await next();
    const inspected = await whileConnected(connected);
    if (plan.stopAfterConnect) {
      return { ...connected, sentSha: '', receivedSha: '', received: 0, outSegs: 0, inspected };
    }
    child.stdin.write('go\n');
    const done = await next();
    return { ...connected, ...done, inspected };
  } finally {
    child.stdin.end();
    if (child.exitCode === null) child.kill();
    lines.close();
  }
}
