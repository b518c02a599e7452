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
  remotePortField,
  runProgram,
  SK_MSG_MD_SIZE,
  SkMsgOffset,
  SOCK_OPS_SIZE,
  SockHashMap,
  SockOpsOffset,
  skMsgAccess,
  sockOpsAccess,
  type VmContext,
  type VmMap,
} from '../../src/vm/index.js';

const text = (ip: Uint8Array) => (ip.length === 4 ? formatIp4(ip) : formatIp6(ip));
const cidrText = (c: Cidr) => `${text(c.ip)}/${c.bits}`;

/**
 * The vm context of a socket view. The bytes are laid out here (with the vm's offsets and its
 * remote_port encoding) rather than through the vm's text-address builders: the views carry raw
 * fields — any family number, leftover IPv4 fields of native IPv6 sockets — and property tests
 * build hundreds of thousands of contexts.
 */
function contextOf(
  kind: 'sock_ops' | 'sk_msg',
  id: number,
  view: SocketView,
  op: number,
  size: number,
): VmContext {
  const sockOps = kind === 'sock_ops';
  const at = sockOps ? SockOpsOffset : SkMsgOffset;
  const bytes = new Uint8Array(sockOps ? SOCK_OPS_SIZE : SK_MSG_MD_SIZE);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(at.family, view.family, true);
  bytes.set(view.remoteIp4, at.remote_ip4);
  bytes.set(view.localIp4, at.local_ip4);
  bytes.set(view.remoteIp6, at.remote_ip6);
  bytes.set(view.localIp6, at.local_ip6);
  dv.setUint32(at.remote_port, remotePortField(view.remotePort), true);
  dv.setUint32(at.local_port, view.localPort, true);
  const socket = { id, cookie: BigInt(0x1000 + id) };
  if (sockOps) {
    dv.setUint32(SockOpsOffset.op, op >>> 0, true);
    dv.setUint32(SockOpsOffset.is_fullsock, 1, true);
    dv.setUint32(SockOpsOffset.state, 1, true); // TCP_ESTABLISHED
    return {
      programType: 'sock_ops',
      bytes,
      check: sockOpsAccess,
      pointers: [],
      socket,
      netnsCookie: view.netnsCookie,
    };
  }
  dv.setUint32(SkMsgOffset.size, size, true);
  return {
    programType: 'sk_msg',
    bytes,
    check: skMsgAccess,
    pointers: [
      { off: SkMsgOffset.data, to: 'packet' },
      { off: SkMsgOffset.data_end, to: 'packet_end' },
    ],
    socket,
    netnsCookie: view.netnsCookie,
    packet: new Uint8Array(size),
  };
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
