/**
 * Runs a `buildSockops()` build in the interpreter (src/vm) against the same scenario the model
 * sees: the model's map contents are encoded with the programs' own encoders into simulated maps,
 * each socket's view becomes a sock_ops or sk_msg context, and the helper calls are read back
 * (the key given to sock_hash_update and msg_redirect_hash, what they returned, where a message
 * went). The interpreter's sockhash is the real store, so collisions and NOEXIST behave as the
 * bytecode makes them behave.
 */
import type { ProgramSpec } from '../../src/asm/object-spec.js';
import {
  type Cidr,
  formatIp4,
  formatIp6,
  type ModelMaps,
  type SocketView,
} from '../../src/model/index.js';
import type { BuiltSockops } from '../../src/programs/build.js';
import {
  encodeEndpointInfo,
  encodeIdentity,
  encodeLpmKey,
  encodePolicyEntry,
  encodePolicyKey,
  encodeServiceInfo,
  encodeServiceKey,
} from '../../src/programs/maps.js';
import { STAT_NAMES, type StatName } from '../../src/programs/stats.js';
import {
  HashMap,
  LpmTrieMap,
  PerCpuArrayMap,
  type RunResult,
  runProgram,
  SK_MSG_MD_SIZE,
  SkMsgOffset,
  SockHashMap,
  SockOpsOffset,
  skMsgContext,
  sockOpsContext,
  type VmContext,
  type VmMap,
} from '../../src/vm/index.js';

const text = (ip: Uint8Array) => (ip.length === 4 ? formatIp4(ip) : formatIp6(ip));
const cidrText = (c: Cidr) => `${text(c.ip)}/${c.bits}`;

/** The vm context of a socket view: the vm's builder for the connection, then the raw fields. */
function contextOf(
  kind: 'sock_ops' | 'sk_msg',
  id: number,
  view: SocketView,
  op: number,
  size: number,
): VmContext {
  const v6 = view.family !== 2;
  const conn = {
    family: v6 ? ('ipv6' as const) : ('ipv4' as const),
    localAddress: v6 ? formatIp6(view.localIp6) : formatIp4(view.localIp4),
    remoteAddress: v6 ? formatIp6(view.remoteIp6) : formatIp4(view.remoteIp4),
    localPort: view.localPort,
    remotePort: view.remotePort,
    netnsCookie: view.netnsCookie,
    socket: { id, cookie: BigInt(0x1000 + id) },
  };
  const ctx = kind === 'sock_ops' ? sockOpsContext(conn, op) : skMsgContext(conn, size);
  // Patch what the view says verbatim: any family number, leftover IPv4 fields of IPv6 sockets.
  const bytes = ctx.bytes.slice();
  const at = kind === 'sock_ops' ? SockOpsOffset : SkMsgOffset;
  new DataView(bytes.buffer).setUint32(at.family, view.family, true);
  bytes.set(view.remoteIp4, at.remote_ip4);
  bytes.set(view.localIp4, at.local_ip4);
  bytes.set(view.remoteIp6, at.remote_ip6);
  bytes.set(view.localIp6, at.local_ip6);
  if (kind === 'sk_msg' && bytes.length !== SK_MSG_MD_SIZE) throw new Error('sk_msg ctx size');
  return { ...ctx, bytes };
}

/** What one sock_ops run did. */
export interface VmEstablished {
  readonly r0: bigint;
  /** Number of helper calls made (0 for callbacks the program ignores). */
  readonly calls: number;
  /** The key passed to sock_hash_update, and its return value (0 or -errno). */
  readonly update?: { readonly key: Uint8Array; readonly ret: bigint; readonly flags: bigint };
}

/** What one sk_msg run did. */
export interface VmSend {
  readonly r0: bigint;
  /** The key passed to msg_redirect_hash, when it was called. */
  readonly lookup?: { readonly key: Uint8Array; readonly flags: bigint };
  /** The socket id the message was redirected to. */
  readonly target: number | undefined;
}

/** A simulated host running one build. */
export class VmAccel {
  readonly maps = new Map<string, VmMap>();
  readonly sockhash: SockHashMap;
  private readonly stats: PerCpuArrayMap | undefined;
  private readonly sockops: ProgramSpec;
  private readonly skMsg: ProgramSpec;

  constructor(
    readonly built: BuiltSockops,
    content: ModelMaps,
  ) {
    const o = built.options;
    const progs = built.object.programs;
    const find = (name: string) => {
      const p = progs.find((x) => x.name === name);
      if (!p) throw new Error(`program ${name} missing from the build`);
      return p;
    };
    this.sockops = find(o.programNames.sockops);
    this.skMsg = find(o.programNames.skMsg);
    for (const m of built.maps) {
      const shape = {
        name: m.name,
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
      };
      const vm =
        m.role === 'sockhash'
          ? new SockHashMap({ ...shape, valueSize: 4 })
          : m.role === 'stats'
            ? new PerCpuArrayMap({ ...shape, cpus: 2 })
            : m.role === 'endpoints' || m.role === 'ipcache'
              ? new LpmTrieMap(shape)
              : new HashMap(shape);
      this.maps.set(m.role, vm);
    }
    this.sockhash = this.maps.get('sockhash') as SockHashMap;
    this.stats = this.maps.get('stats') as PerCpuArrayMap | undefined;
    if (o.variant === 'cilium') {
      const endpoints = this.maps.get('endpoints') as LpmTrieMap;
      for (const c of content.endpoints)
        endpoints.set(encodeLpmKey(cidrText(c)), encodeEndpointInfo());
      const services = this.maps.get('services') as HashMap;
      for (const s of content.services)
        services.set(encodeServiceKey(text(s.ip), s.port), encodeServiceInfo());
      const ipcache = this.maps.get('ipcache') as LpmTrieMap;
      for (const e of content.ipcache)
        ipcache.set(encodeLpmKey(cidrText(e.cidr)), encodeIdentity(e.identity));
      const policy = this.maps.get('policy') as HashMap;
      for (const p of content.policy) {
        policy.set(
          encodePolicyKey({ identity: p.identity, port: p.port }),
          encodePolicyEntry(p.verdict),
        );
      }
    }
  }

  private run(prog: ProgramSpec, ctx: VmContext, cpu: number): RunResult {
    if (this.stats) this.stats.currentCpu = cpu;
    return runProgram(prog.insns, {
      ctx,
      maps: [...this.maps.values()],
      mapRefs: prog.mapRefs,
      cpu,
    });
  }

  /** Runs sock_ops with callback `op` for socket `id` (on CPU `cpu`). */
  established(id: number, op: number, view: SocketView, cpu = 0): VmEstablished {
    const res = this.run(this.sockops, contextOf('sock_ops', id, view, op, 0), cpu);
    const call = res.calls.find((c) => c.name === 'sock_hash_update');
    return {
      r0: res.r0,
      calls: res.calls.length,
      ...(call?.key ? { update: { key: call.key, ret: call.ret, flags: call.args[3] ?? 0n } } : {}),
    };
  }

  /** Runs sk_msg for a message of `size` bytes sent on socket `id`. */
  send(id: number, view: SocketView, size: number, cpu = 0): VmSend {
    const res = this.run(this.skMsg, contextOf('sk_msg', id, view, 0, size), cpu);
    const call = res.calls.find((c) => c.name === 'msg_redirect_hash');
    return {
      r0: res.r0,
      ...(call?.key ? { lookup: { key: call.key, flags: call.args[3] ?? 0n } } : {}),
      target: res.redirect?.socket.id,
    };
  }

  /** The stats counters summed over the simulated CPUs (all zero without a stats map). */
  counters(): Record<StatName, bigint> {
    return Object.fromEntries(
      STAT_NAMES.map((n, i) => [
        n,
        this.stats
          ? this.stats
              .perCpu(i)
              .reduce((a, v) => a + new DataView(v.buffer).getBigUint64(0, true), 0n)
          : 0n,
      ]),
    ) as Record<StatName, bigint>;
  }

  /** Removes a closed socket's entries, as the kernel does on close. */
  close(id: number): void {
    for (const [key, s] of this.sockhash.entries()) if (s.id === id) this.sockhash.delete(key);
  }
}
