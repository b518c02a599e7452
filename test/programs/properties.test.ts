/**
 * Issue 5 item 7: fast-check properties of the built bytecode, run in the interpreter and compared
 * with the reference model (src/model), >= 10,000 cases each. Builds are made once per option set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AccelWorld,
  type Connection,
  encodeSockKey,
  hex,
  type ModelMaps,
  type ModelOptions,
  modelOptions,
  SOCK_OPS_ACTIVE_ESTABLISHED,
  SOCK_OPS_PASSIVE_ESTABLISHED,
  socketViews,
} from '../../src/model/index.js';
import { type BuiltSockops, buildSockops } from '../../src/programs/build.js';
import { connection, maps, netnsCookie, options } from './arbitraries.js';
import { VmAccel } from './vm-harness.js';

const RUNS = 10_000;
/** Each property runs 10,000 cases of 2-8 interpreter runs: allow minutes on a loaded 2-core box. */
const TIMEOUT = 600_000;

const builds = new Map<string, BuiltSockops>();
/** The build for a model option set (names and sizes at their defaults). */
function buildFor(o: ModelOptions): BuiltSockops {
  const id = `${o.variant}/${o.ipv6}/${o.netnsScope}/${o.stats}`;
  let b = builds.get(id);
  if (!b) {
    b = buildSockops({
      variant: o.variant,
      ipv6: o.ipv6,
      netnsScope: o.netnsScope,
      stats: o.stats,
    });
    builds.set(id, b);
  }
  return b;
}

const bytesOf = (d: { kind: string; key?: Parameters<typeof encodeSockKey>[0] }) =>
  d.kind === 'insert' || d.kind === 'lookup' ? hex(encodeSockKey(d.key as never)) : undefined;

/** Runs one connection through both the vm and the model; returns both sides' observations. */
function runConnection(conn: Connection, m: ModelMaps, o: ModelOptions) {
  const vm = new VmAccel(buildFor(o), m);
  const world = new AccelWorld(m, o);
  const v = socketViews(conn);
  const steps = {
    vmActive: vm.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v.client, 0),
    modelActive: world.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v.client),
    vmPassive: vm.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, v.server, 1),
    modelPassive: world.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, v.server),
    vmToServer: vm.send(1, v.client, 100, 1),
    modelToServer: world.send(v.client, 100),
    vmToClient: vm.send(2, v.server, 7, 0),
    modelToClient: world.send(v.server, 7),
  };
  return { vm, world, ...steps };
}

describe('sockops bytecode against the model (vm)', () => {
  it(
    "(a)+(b) both sides stored and looked up under the model's keys, byte for byte; sk_msg reaches only the peer",
    () => {
      fc.assert(
        fc.property(connection, maps, options, (conn, m, o) => {
          const r = runConnection(conn, m, o);
          for (const [vmRun, model] of [
            [r.vmActive, r.modelActive],
            [r.vmPassive, r.modelPassive],
          ] as const) {
            expect(vmRun.r0).toBe(0n);
            expect(vmRun.update ? hex(vmRun.update.key) : undefined).toBe(bytesOf(model.decision));
            if (vmRun.update) {
              expect(vmRun.update.flags).toBe(1n); // BPF_NOEXIST
              expect(vmRun.update.ret === 0n ? 'inserted' : 'failed').toBe(
                model.insert === 'inserted' ? 'inserted' : 'failed',
              );
            }
          }
          for (const [vmRun, model, peer] of [
            [r.vmToServer, r.modelToServer, 2],
            [r.vmToClient, r.modelToClient, 1],
          ] as const) {
            expect(vmRun.r0).toBe(1n); // SK_PASS, always
            expect(vmRun.lookup ? hex(vmRun.lookup.key) : undefined).toBe(
              model.decision.kind === 'lookup' && model.decision.redirect
                ? bytesOf(model.decision)
                : undefined,
            );
            if (vmRun.lookup) expect(vmRun.lookup.flags).toBe(1n); // BPF_F_INGRESS
            expect(vmRun.target).toBe(model.target);
            expect([undefined, peer]).toContain(vmRun.target);
          }
          expect(r.vm.counters()).toEqual(r.world.counters);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    '(c) distinct connections never share a key; with netnsScope identical tuples in two netns do not either',
    () => {
      const twoConnections = fc
        .tuple(connection, fc.oneof(connection, fc.constant(undefined)), netnsCookie, options)
        .map(([c1, c2, cookie, o]) => ({
          c1,
          // Either an arbitrary second connection or the same tuple in another namespace.
          c2: c2 ?? { ...c1, netnsCookie: cookie },
          o,
        }));
      fc.assert(
        fc.property(twoConnections, ({ c1, c2, o }) => {
          const m: ModelMaps = { endpoints: [], services: [], ipcache: [], policy: [] };
          const mo = modelOptions({ ...o, variant: 'minimal' });
          const vm = new VmAccel(buildFor(mo), m);
          const world = new AccelWorld(m, mo);
          const [a, b] = [socketViews(c1), socketViews(c2)];
          const keys = [
            vm.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, a.client),
            vm.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, a.server),
            vm.established(3, SOCK_OPS_ACTIVE_ESTABLISHED, b.client),
            vm.established(4, SOCK_OPS_PASSIVE_ESTABLISHED, b.server),
          ].map((x) => (x.update ? hex(x.update.key) : undefined));
          world.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, a.client);
          world.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, a.server);
          world.established(3, SOCK_OPS_ACTIVE_ESTABLISHED, b.client);
          world.established(4, SOCK_OPS_PASSIVE_ESTABLISHED, b.server);
          const sameTuple =
            hex(c1.client.ip) === hex(c2.client.ip) &&
            hex(c1.server.ip) === hex(c2.server.ip) &&
            c1.client.port === c2.client.port &&
            c1.server.port === c2.server.port;
          const separate = !sameTuple || (mo.netnsScope && c1.netnsCookie !== c2.netnsCookie);
          const toA = vm.send(1, a.client, 1).target;
          const toB = vm.send(3, b.client, 1).target;
          expect([toA, toB]).toEqual([
            world.send(a.client, 1).target,
            world.send(b.client, 1).target,
          ]);
          if (separate) {
            for (const [i, j] of [
              [0, 2],
              [0, 3],
              [1, 2],
              [1, 3],
            ] as const) {
              if (keys[i] !== undefined) expect(keys[i]).not.toBe(keys[j]);
            }
            // Each client's message reaches its own server, never the other connection's.
            if (keys[1] !== undefined) expect(toA).toBe(2);
            if (keys[3] !== undefined) expect(toB).toBe(4);
          }
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    '(d) a service frontend is never inserted, a deny never redirects, a proxy verdict rewrites the key like Cilium',
    () => {
      const verdictCase = fc.record({
        conn: connection,
        m: maps,
        o: options.map((o) => ({ ...o, variant: 'cilium' as const })),
        proxyPort: fc.integer({ min: 1, max: 65535 }),
        which: fc.constantFrom('service', 'deny', 'proxy'),
      });
      fc.assert(
        fc.property(verdictCase, ({ conn, m, o, proxyPort, which }) => {
          const v = socketViews(conn);
          const wild = (kind: 'deny' | 'proxy') => ({
            identity: 0,
            port: 0,
            protocol: 0,
            verdict: kind === 'deny' ? { kind } : { kind, port: proxyPort },
          });
          const content: ModelMaps =
            which === 'service'
              ? { ...m, services: [...m.services, { ip: conn.server.ip, port: conn.server.port }] }
              : { ...m, policy: [wild(which as 'deny' | 'proxy')] };
          const vm = new VmAccel(buildFor(o), content);
          const world = new AccelWorld(content, o);
          const ins = vm.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v.client);
          const model = world.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v.client);
          expect(ins.update ? hex(ins.update.key) : undefined).toBe(bytesOf(model.decision));
          if (which === 'service') expect(ins.update).toBeUndefined();
          if (which === 'deny') {
            vm.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, v.server);
            const sent = vm.send(1, v.client, 10);
            expect(sent.lookup).toBeUndefined();
            expect(sent.target).toBeUndefined();
          }
          if (which === 'proxy' && ins.update) {
            // sip = gateway, sport = proxy port, dip = local address, dport = local port.
            const k = ins.update.key;
            const ipLen = v.client.family === 10 && conn.client.ip.length === 16 ? 16 : 4;
            const gateway = ipLen === 4 ? o.gatewayIp4 : o.gatewayIp6;
            expect(hex(k.subarray(0, ipLen))).toBe(hex(gateway));
            expect(hex(k.subarray(36, 40))).toBe(
              hex(Uint8Array.from([proxyPort >> 8, proxyPort & 0xff, 0, 0])),
            );
            expect(hex(k.subarray(16, 16 + ipLen))).toBe(hex(conn.client.ip));
            expect(hex(k.subarray(40, 44))).toBe(
              hex(Uint8Array.from([conn.client.port >> 8, conn.client.port & 0xff, 0, 0])),
            );
          }
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    '(e) every other sock_ops callback does nothing and returns 0',
    () => {
      const otherOp = fc.oneof(
        fc.integer({ min: 0, max: 15 }).filter((op) => op !== 4 && op !== 5),
        fc.integer({ min: 16, max: 0xffffffff }),
      );
      fc.assert(
        fc.property(connection, maps, options, otherOp, (conn, m, o, op) => {
          const vm = new VmAccel(buildFor(o), m);
          for (const [id, view] of [
            [1, socketViews(conn).client],
            [2, socketViews(conn).server],
          ] as const) {
            const r = vm.established(id, op, view);
            expect(r.r0).toBe(0n);
            expect(r.calls).toBe(0);
          }
          expect(vm.sockhash.size).toBe(0);
          expect(Object.values(vm.counters()).every((c) => c === 0n)).toBe(true);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});
