/**
 * Properties of the model itself (the bytecode is checked against it in test/programs): the
 * redirect always reaches the peer when both sides are stored, keys of distinct connections never
 * collide, netnsScope separates namespaces, a service or a deny is never accelerated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AccelWorld,
  decideSockOps,
  encodeSockKey,
  hex,
  modelOptions,
  SOCK_OPS_ACTIVE_ESTABLISHED,
  SOCK_OPS_PASSIVE_ESTABLISHED,
  socketViews,
} from '../../src/model/index.js';
import { connection, maps, options } from '../programs/arbitraries.js';

const RUNS = 1000;

describe('model properties', () => {
  it('when both sockets are stored via their reversed tuples, each side redirects to its peer', () => {
    fc.assert(
      fc.property(connection, maps, options, (conn, m, o) => {
        const world = new AccelWorld(m, o);
        const v = socketViews(conn);
        const a = world.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v.client);
        const p = world.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, v.server);
        const toServer = world.send(v.client, 1).target;
        const toClient = world.send(v.server, 1).target;
        // Never to anything but the peer (a proxy key is never the peer's forward tuple here).
        expect([undefined, 2]).toContain(toServer);
        expect([undefined, 1]).toContain(toClient);
        const viaEndpoint = (x: typeof a) =>
          x.insert === 'inserted' && x.decision.kind === 'insert' && x.decision.via !== 'proxy';
        if (viaEndpoint(p)) {
          const d = world.send(v.client, 1).decision;
          expect(toServer).toBe(d.kind === 'lookup' && d.redirect ? 2 : undefined);
        }
        if (viaEndpoint(a)) {
          const d = world.send(v.server, 1).decision;
          expect(toClient).toBe(d.kind === 'lookup' && d.redirect ? 1 : undefined);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('the minimal variant accelerates every IPv4 connection in both directions', () => {
    fc.assert(
      fc.property(connection, (conn) => {
        fc.pre(conn.client.ip.length === 4);
        const world = new AccelWorld(
          { endpoints: [], services: [], ipcache: [], policy: [] },
          modelOptions({ variant: 'minimal' }),
        );
        const v = socketViews(conn);
        world.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v.client);
        world.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, v.server);
        expect(world.send(v.client, 1).target).toBe(2);
        expect(world.send(v.server, 1).target).toBe(1);
      }),
      { numRuns: RUNS },
    );
  });

  it('distinct sockets never share a key; with netnsScope, neither do identical tuples in two netns', () => {
    fc.assert(
      fc.property(connection, connection, options, (c1, c2, o) => {
        const k = (c: typeof c1) => {
          const d = decideSockOps(
            SOCK_OPS_PASSIVE_ESTABLISHED,
            socketViews(c).server,
            { endpoints: [], services: [], ipcache: [], policy: [] },
            { ...o, variant: 'minimal' },
          );
          return d.kind === 'insert' ? hex(encodeSockKey(d.key)) : undefined;
        };
        const k1 = k(c1);
        const k2 = k(c2);
        fc.pre(k1 !== undefined && k2 !== undefined);
        const sameSocket =
          hex(c1.server.ip) === hex(c2.server.ip) &&
          c1.server.port === c2.server.port &&
          hex(c1.client.ip) === hex(c2.client.ip) &&
          c1.client.port === c2.client.port &&
          c1.server.ip.length === c2.server.ip.length;
        const sameNetns = c1.netnsCookie === c2.netnsCookie;
        if (!sameSocket) expect(k1).not.toBe(k2);
        if (o.netnsScope && !sameNetns) expect(k1).not.toBe(k2);
      }),
      { numRuns: RUNS },
    );
  });

  it('a service frontend is never inserted and a denied message is never redirected', () => {
    fc.assert(
      fc.property(connection, maps, options, (conn, m, o) => {
        fc.pre(o.variant === 'cilium');
        const v = socketViews(conn);
        const withService = {
          ...m,
          services: [...m.services, { ip: conn.server.ip, port: conn.server.port }],
        };
        const d = decideSockOps(SOCK_OPS_ACTIVE_ESTABLISHED, v.client, withService, o);
        expect(d.kind).not.toBe('insert');
        const denyAll = {
          ...m,
          policy: [{ identity: 0, port: 0, protocol: 0, verdict: { kind: 'deny' as const } }],
        };
        const world = new AccelWorld(denyAll, o);
        world.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, v.server);
        expect(world.send(v.client, 5).target).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });
});
