/**
 * Plumbing of the conformance suite: compile scenarios.c, a test cgroup that holds the socket
 * acceleration programs (attachable and detachable mid-run for the lifecycle scenario), and
 * running one scenario in a cgroup to get its JSON verdict.
 *
 * Each cgroup holds a `sleep` keeper for its lifetime: an empty `tsbpf-test-*` cgroup may be
 * removed by a concurrent kernel-test teardown, which would silently detach the programs.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { runIn } from '../../src/bench/process.js';
import { SkMsg, SockOps } from '../../src/loader/attach.js';
import type { BpfLink, LoadedObject } from '../../src/loader/fd.js';
import { loadObject } from '../../src/loader/object-loader.js';
import { buildSockops } from '../../src/programs/build.js';
import { encodeEndpointInfo, encodeLpmKey } from '../../src/programs/maps.js';
import type { SockopsOptions } from '../../src/programs/options.js';
import { STAT_INDEX } from '../../src/programs/stats.js';
import { createTestCgroup, type TestDir } from '../kernel/support.js';

/** scenarios.c beside this file. */
export const SCENARIOS_SOURCE = join(import.meta.dirname, 'scenarios.c');

/** Compiles scenarios.c into `dir`; returns the binary. */
export function buildScenarios(dir: string): string {
  const out = join(dir, 'scenarios');
  execFileSync('cc', ['-O2', '-Wall', '-o', out, SCENARIOS_SOURCE], { stdio: 'pipe' });
  return out;
}

/** One scenario's verdict. */
export interface Verdict {
  readonly scenario: string;
  readonly pass: boolean;
  readonly detail: string;
}

/** Parses the verdict line; a missing or malformed one is a harness failure (throws). */
export function parseVerdict(stdout: string, expected: string): Verdict {
  const line = stdout.trim().split('\n').pop() ?? '';
  const v = JSON.parse(line) as Verdict;
  if (v.scenario !== expected || typeof v.pass !== 'boolean') {
    throw new Error(`scenario ${expected} printed no verdict: ${stdout}`);
  }
  return v;
}

/** Runs scenario `name` once inside `cgroup`. */
export async function runScenario(bin: string, cgroup: string, name: string): Promise<Verdict> {
  const out = await runIn(cgroup, [bin, name], 60_000);
  return parseVerdict(out.stdout, name);
}

/** A test cgroup, with the acceleration programs loaded (attached on `enable()`). */
export class ConformanceCgroup {
  readonly dir: TestDir;
  readonly #object: LoadedObject | undefined;
  readonly #names: { sockops: string; skMsg: string; sockhash: string; stats: string | undefined };
  readonly #links: BpfLink[] = [];
  readonly #keeper: ChildProcess;

  /** `options` undefined: a plain cgroup without programs. */
  constructor(tag: string, options: SockopsOptions | undefined) {
    this.dir = createTestCgroup(tag);
    this.#keeper = spawn(
      '/bin/sh',
      ['-c', `echo $$ > '${join(this.dir.path, 'cgroup.procs')}' && exec sleep 86400`],
      { stdio: 'ignore' },
    );
    if (!options) {
      this.#names = { sockops: '', skMsg: '', sockhash: '', stats: undefined };
      return;
    }
    const built = buildSockops({ stats: true, ...options });
    this.#object = loadObject(built.elf, { onWarning: () => {} });
    const role = (r: string) => built.maps.find((m) => m.role === r)?.name;
    const endpoints = role('endpoints');
    if (endpoints) {
      // Loopback counts as local (a node's own endpoints), as `tsbpf accel` configures it.
      this.#object.map(endpoints).update(encodeLpmKey('127.0.0.0/8'), encodeEndpointInfo(1));
      this.#object.map(endpoints).update(encodeLpmKey('::1/128'), encodeEndpointInfo(2));
    }
    this.#names = {
      sockops: built.programs.sockops.name,
      skMsg: built.programs.skMsg.name,
      sockhash: role('sockhash')!,
      stats: role('stats'),
    };
  }

  get path(): string {
    return this.dir.path;
  }

  /** Attaches sock_ops to the cgroup and sk_msg to the SOCKHASH. */
  enable(): void {
    const obj = this.#object;
    if (!obj || this.#links.length > 0) return;
    this.#links.push(
      SockOps.from(obj.program(this.#names.sockops)).attach(this.path, { mode: 'multi' }),
    );
    this.#links.push(
      SkMsg.from(obj.program(this.#names.skMsg)).attach(obj.map(this.#names.sockhash)),
    );
  }

  /** Detaches both programs (established sockets stay in the SOCKHASH until they close). */
  disable(): void {
    for (const l of this.#links.splice(0).reverse()) l.detach();
  }

  /** The msg_redirected counter summed over CPUs (0 without programs). */
  redirected(): number {
    if (!this.#object || !this.#names.stats) return 0;
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, STAT_INDEX.msg_redirected, true);
    const v = this.#object.map(this.#names.stats).lookup(key);
    if (!v) return 0;
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    let sum = 0n;
    for (let o = 0; o + 8 <= v.byteLength; o += 8) sum += view.getBigUint64(o, true);
    return Number(sum);
  }

  /** Detaches, unloads, stops the keeper and removes the cgroup. */
  async close(): Promise<void> {
    try {
      this.disable();
    } finally {
      this.#object?.close();
      if (this.#keeper.exitCode === null && this.#keeper.signalCode === null) {
        const gone = new Promise((r) => this.#keeper.once('close', r));
        this.#keeper.kill('SIGKILL');
        await gone;
      }
      for (let i = 0; i < 50; i++) {
        if (readFileSync(join(this.path, 'cgroup.procs'), 'utf8').trim() === '') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      this.dir.cleanup();
    }
  }
}

/**
 * The lifecycle scenario: the binary opens connection A and says "ready"; `atFirst` runs (enable)
 * and it is told "go"; it opens B, moves data on both and says "ready"; `atSecond` runs (disable)
 * and it is told "go"; it moves data on both again and prints the verdict.
 */
export async function runLifecycle(
  bin: string,
  cgroup: string,
  atFirst: () => void,
  atSecond: () => void,
): Promise<Verdict> {
  const child = spawn(
    '/bin/sh',
    ['-c', `echo $$ > '${join(cgroup, 'cgroup.procs')}' && exec '${bin}' lifecycle`],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const lines = createInterface({ input: child.stdout! });
    let readies = 0;
    let last = '';
    for await (const line of lines) {
      last = line;
      if (line === 'ready') {
        readies += 1;
        (readies === 1 ? atFirst : atSecond)();
        child.stdin!.write('go\n');
      } else break;
    }
    return parseVerdict(last, 'lifecycle');
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
