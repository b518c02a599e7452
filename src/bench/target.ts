/**
 * What a benchmark runs against: a throwaway cgroup (`tsbpf-test-bench-*` under the cgroup v2
 * mount), either bare (plain TCP) or with a `buildSockops()` variant loaded from memory, sock_ops
 * attached to the cgroup and sk_msg to the SOCKHASH. The 'cilium' variant only accelerates pairs
 * whose peer is a local endpoint, so its endpoints map gets 127.0.0.0/8 and ::1 (loopback counts
 * as local, as for a node's own pods). `close()` detaches, unloads and removes the cgroup.
 *
 * A `sleep` keeper process lives in each cgroup for the target's lifetime: an empty cgroup can be
 * removed by anyone (the kernel tests' teardown removes empty `tsbpf-test-*` cgroups it finds),
 * and removing it would silently detach the programs between two runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { SkMsg, SockOps } from '../loader/attach.js';
import type { BpfLink, LoadedObject } from '../loader/fd.js';
import { ensureCgroup2 } from '../loader/fs.js';
import { loadObject } from '../loader/object-loader.js';
import { type BpfSyscall, systemSyscall } from '../loader/syscall.js';
import { buildSockops } from '../programs/build.js';
import { encodeEndpointInfo, encodeLpmKey } from '../programs/maps.js';
import type { SockopsVariant } from '../programs/options.js';
import { STAT_INDEX, type StatName } from '../programs/stats.js';

let made = 0;

/** A cgroup the bench created, optionally with the acceleration programs attached. */
export class BenchTarget implements Disposable {
  /** The cgroup directory processes are moved into. */
  readonly cgroup: string;
  /** The variant attached, or undefined for plain TCP. */
  readonly variant: SockopsVariant | undefined;
  readonly #object: LoadedObject | undefined;
  readonly #links: BpfLink[] = [];
  readonly #statsMap: string | undefined;
  #keeper: ChildProcess | undefined;

  private constructor(
    cgroup: string,
    variant: SockopsVariant | undefined,
    object: LoadedObject | undefined,
    statsMap: string | undefined,
  ) {
    this.cgroup = cgroup;
    this.variant = variant;
    this.#object = object;
    this.#statsMap = statsMap;
  }

  /** Creates the cgroup and, for a variant, loads and attaches the programs. */
  static create(
    variant: SockopsVariant | undefined,
    sys: BpfSyscall = systemSyscall(),
  ): BenchTarget {
    made += 1;
    const cgroup = join(
      ensureCgroup2(sys),
      `tsbpf-test-bench-${variant ?? 'plain'}-${process.pid}-${made}`,
    );
    mkdirSync(cgroup);
    if (!variant) return new BenchTarget(cgroup, undefined, undefined, undefined).#keep();
    let object: LoadedObject | undefined;
    try {
      // Stats on for both variants: the counters prove the runs were really redirected.
      const built = buildSockops({ variant, stats: true });
      object = loadObject(built.elf, { sys, onWarning: () => {} });
      const roleName = (role: string) => built.maps.find((m) => m.role === role)?.name;
      const endpoints = roleName('endpoints');
      if (endpoints) {
        const map = object.map(endpoints);
        map.update(encodeLpmKey('127.0.0.0/8'), encodeEndpointInfo(1));
        map.update(encodeLpmKey('::1/128'), encodeEndpointInfo(2));
      }
      const target = new BenchTarget(cgroup, variant, object, roleName('stats'));
      const sockhash = object.map(roleName('sockhash')!);
      target.#links.push(
        SockOps.from(object.program(built.programs.sockops.name)).attach(cgroup, {
          mode: 'multi',
        }),
      );
      target.#links.push(SkMsg.from(object.program(built.programs.skMsg.name)).attach(sockhash));
      return target.#keep();
    } catch (e) {
      object?.close();
      rmdirSync(cgroup);
      throw e;
    }
  }

  /** Starts the keeper process inside the cgroup. */
  #keep(): this {
    const procs = join(this.cgroup, 'cgroup.procs');
    this.#keeper = spawn('/bin/sh', ['-c', `echo $$ > '${procs}' && exec sleep 86400`], {
      stdio: 'ignore',
    });
    return this;
  }

  /** The stats counters summed over CPUs (empty without a stats map). */
  stats(): Partial<Record<StatName, number>> {
    if (!this.#object || !this.#statsMap) return {};
    const map = this.#object.map(this.#statsMap);
    const out: Partial<Record<StatName, number>> = {};
    for (const [name, index] of Object.entries(STAT_INDEX) as [StatName, number][]) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, index, true);
      const value = map.lookup(key);
      if (!value) continue;
      // PERCPU_ARRAY of u64: one 8-byte slot per possible CPU.
      const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
      let sum = 0n;
      for (let off = 0; off + 8 <= value.byteLength; off += 8) sum += view.getBigUint64(off, true);
      out[name] = Number(sum);
    }
    return out;
  }

  /** Detaches, unloads and removes the cgroup (its processes have exited by now). */
  close(): void {
    for (const link of this.#links.splice(0)) {
      try {
        link.detach();
      } catch {
        // Keep tearing down: the cgroup removal below detaches whatever is left.
      }
    }
    this.#object?.close();
    this.#keeper?.kill('SIGKILL');
    // Wait (at most 2 s) until the keeper has left the cgroup, then remove it.
    const deadline = Date.now() + 2000;
    const procs = join(this.cgroup, 'cgroup.procs');
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      try {
        if (readFileSync(procs, 'utf8').trim() === '') break;
      } catch {
        return; // already gone
      }
      if (Date.now() > deadline) break;
      Atomics.wait(sleeper, 0, 0, 20);
    }
    try {
      rmdirSync(this.cgroup);
    } catch {
      // Still busy: the kernel tests' teardown removes leftover tsbpf-test-* cgroups.
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
