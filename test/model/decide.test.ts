import { describe, expect, it } from 'vitest';
import {
  AccelWorld,
  AF_INET,
  type Connection,
  decideSkMsg,
  decideSockOps,
  EMPTY_MAPS,
  encodeSockKey,
  hex,
  type ModelMaps,
  modelOptions,
  parseIp4,
  parseIp6,
  SOCK_OPS_ACTIVE_ESTABLISHED,
  SOCK_OPS_PASSIVE_ESTABLISHED,
  type SockKey,
  socketViews,
} from '../../src/model/index.js';

const ACTIVE = SOCK_OPS_ACTIVE_ESTABLISHED;
const PASSIVE = SOCK_OPS_PASSIVE_ESTABLISHED;

/** 10.0.0.1:40000 → 10.0.0.2:8080, the golden example of sockmap-reference.md §8. */
const golden: Connection = {
  client: { ip: parseIp4('10.0.0.1'), port: 40000 },
  server: { ip: parseIp4('10.0.0.2'), port: 8080 },
  clientSocket: 'inet',
  serverSocket: 'inet',
  netnsCookie: 4096n,
};

/** Both pod addresses are local endpoints; nothing else is configured. */
const podMaps: ModelMaps = {
  ...EMPTY_MAPS,
  endpoints: [{ ip: parseIp4('10.0.0.0'), bits: 24 }],
};

const zero12 = ' 00'.repeat(12);
const keyHex = (k: SockKey) => hex(encodeSockKey(k));
const insertedKey = (d: ReturnType<typeof decideSockOps>) => {
  if (d.kind !== 'insert') throw new Error(`expected an insert, got ${JSON.stringify(d)}`);
  return keyHex(d.key);
};
const lookupKey = (d: ReturnType<typeof decideSkMsg>) => {
  if (d.kind !== 'lookup') throw new Error('expected a lookup');
  return keyHex(d.key);
};

describe('model: key bytes (sockmap-reference §2.2, §2.3, §8)', () => {
  const options = modelOptions();
  const { client, server } = socketViews(golden);

  it('sk_msg on the client looks up its forward tuple, bytes as Cilium lays them out', () => {
    expect(lookupKey(decideSkMsg(client, podMaps, options))).toBe(
      `0a 00 00 01${zero12} 0a 00 00 02${zero12} 01 00 00 00 9c 40 00 00 1f 90 00 00`,
    );
  });

  it('sock_ops on the server stores the reversed tuple, equal byte for byte to that lookup', () => {
    const stored = insertedKey(decideSockOps(PASSIVE, server, podMaps, options));
    expect(stored).toBe(lookupKey(decideSkMsg(client, podMaps, options)));
  });

  it("the two sockets of a pair are stored under each other's forward tuples", () => {
    expect(insertedKey(decideSockOps(ACTIVE, client, podMaps, options))).toBe(
      `0a 00 00 02${zero12} 0a 00 00 01${zero12} 01 00 00 00 1f 90 00 00 9c 40 00 00`,
    );
    expect(insertedKey(decideSockOps(ACTIVE, client, podMaps, options))).toBe(
      lookupKey(decideSkMsg(server, podMaps, options)),
    );
  });

  it("encodes port 1000 as 03 e8 00 00 (Cyral's bpftool dump)", () => {
    const k: SockKey = {
      family: 'ipv4',
      sip: parseIp4('1.2.3.4'),
      dip: parseIp4('5.6.7.8'),
      sport: 1000,
      dport: 1,
    };
    expect(hex(encodeSockKey(k)).slice(36 * 3)).toBe('03 e8 00 00 00 01 00 00');
  });

  it('with netnsScope appends 4 zero bytes and the little-endian netns cookie (56 bytes)', () => {
    const scoped = modelOptions({ netnsScope: true });
    const bytes = hex(
      encodeSockKey((decideSkMsg(client, podMaps, scoped) as { key: SockKey }).key),
    );
    expect(bytes.split(' ')).toHaveLength(56);
    expect(bytes.slice(44 * 3)).toBe('00 00 00 00 00 10 00 00 00 00 00 00');
  });
});

describe('model: sock_ops decisions (sockmap-reference §2.4)', () => {
  const options = modelOptions();
  const { client, server } = socketViews(golden);

  it('ignores every callback other than ACTIVE/PASSIVE_ESTABLISHED', () => {
    for (const op of [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]) {
      expect(decideSockOps(op, client, podMaps, options)).toEqual({ kind: 'ignored' });
    }
  });

  it('skips a destination that is a service frontend, even when it is a local endpoint', () => {
    const maps: ModelMaps = { ...podMaps, services: [{ ip: parseIp4('10.0.0.2'), port: 8080 }] };
    expect(decideSockOps(ACTIVE, client, maps, options)).toEqual({
      kind: 'skipped',
      reason: 'service',
    });
    // Same address, other port: not a frontend.
    const other: ModelMaps = { ...podMaps, services: [{ ip: parseIp4('10.0.0.2'), port: 8081 }] };
    expect(decideSockOps(ACTIVE, client, other, options).kind).toBe('insert');
  });

  it('skips a socket whose remote end is not a local endpoint', () => {
    const maps: ModelMaps = { ...EMPTY_MAPS, endpoints: [{ ip: parseIp4('10.0.0.2'), bits: 32 }] };
    expect(decideSockOps(ACTIVE, client, maps, options).kind).toBe('insert');
    expect(decideSockOps(PASSIVE, server, maps, options)).toEqual({
      kind: 'skipped',
      reason: 'remote',
    });
  });

  it('rewrites the key for a proxy verdict exactly like Cilium (gateway:proxy → local)', () => {
    // Identity of 10.0.0.2 is 1234; egress to it on 8080/TCP goes to proxy port 15001.
    const maps: ModelMaps = {
      ...podMaps,
      ipcache: [{ cidr: { ip: parseIp4('10.0.0.2'), bits: 32 }, identity: 1234 }],
      policy: [
        { identity: 1234, port: 8080, protocol: 6, verdict: { kind: 'proxy', port: 15001 } },
      ],
    };
    const d = decideSockOps(
      ACTIVE,
      client,
      maps,
      modelOptions({ gatewayIp4: parseIp4('10.0.0.254') }),
    );
    expect(d).toMatchObject({ kind: 'insert', via: 'proxy' });
    // sip = IPV4_GATEWAY, sport = proxy port (3a 99 = 15001), dip = local ip, dport = local port.
    expect(insertedKey(d)).toBe(
      `0a 00 00 fe${zero12} 0a 00 00 01${zero12} 01 00 00 00 3a 99 00 00 9c 40 00 00`,
    );
  });

  it('a proxy verdict wins over a missing endpoint, a deny still inserts when the remote is local', () => {
    const proxy: ModelMaps = {
      ...EMPTY_MAPS,
      policy: [{ identity: 2, port: 8080, protocol: 6, verdict: { kind: 'proxy', port: 15001 } }],
    };
    expect(decideSockOps(ACTIVE, client, proxy, options)).toMatchObject({
      kind: 'insert',
      via: 'proxy',
    });
    const deny: ModelMaps = {
      ...podMaps,
      policy: [{ identity: 0, port: 0, protocol: 0, verdict: { kind: 'deny' } }],
    };
    expect(decideSockOps(ACTIVE, client, deny, options)).toMatchObject({
      kind: 'insert',
      via: 'endpoint',
    });
  });

  it('minimal variant inserts every IPv4 socket under its reversed tuple, no maps consulted', () => {
    const minimal = modelOptions({ variant: 'minimal' });
    const maps: ModelMaps = { ...EMPTY_MAPS, services: [{ ip: parseIp4('10.0.0.2'), port: 8080 }] };
    const d = decideSockOps(ACTIVE, client, maps, minimal);
    expect(d).toMatchObject({ kind: 'insert', via: 'any' });
    expect(insertedKey(d)).toBe(lookupKey(decideSkMsg(server, maps, minimal)));
  });

  it('skips families other than AF_INET and AF_INET6', () => {
    expect(decideSockOps(ACTIVE, { ...client, family: 1 }, podMaps, options)).toEqual({
      kind: 'skipped',
      reason: 'family',
    });
  });
});

describe('model: IPv6 (sockmap-reference §2.4 IPv6, §5 dual-stack)', () => {
  const mapped: Connection = {
    client: { ip: parseIp4('127.0.0.1'), port: 50000 },
    server: { ip: parseIp4('127.0.0.1'), port: 9000 },
    clientSocket: 'inet',
    serverSocket: 'inet6',
    netnsCookie: 1n,
  };
  const loopMaps: ModelMaps = {
    ...EMPTY_MAPS,
    endpoints: [{ ip: parseIp4('127.0.0.0'), bits: 8 }],
  };

  it('a v4-mapped AF_INET6 server socket gets the same IPv4 key as an AF_INET one', () => {
    const { client, server } = socketViews(mapped);
    const options = modelOptions();
    const stored = insertedKey(decideSockOps(PASSIVE, server, loopMaps, options));
    expect(stored).toBe(lookupKey(decideSkMsg(client, loopMaps, options)));
    expect(stored.split(' ')[32]).toBe('01');
    const inet = socketViews({ ...mapped, serverSocket: 'inet' }).server;
    expect(stored).toBe(insertedKey(decideSockOps(PASSIVE, inet, loopMaps, options)));
  });

  it('takes the IPv4 addresses of a v4-mapped socket from its IPv6 fields', () => {
    const { server } = socketViews(mapped);
    const junk = { ...server, remoteIp4: parseIp4('9.9.9.9'), localIp4: parseIp4('8.8.8.8') };
    expect(insertedKey(decideSockOps(PASSIVE, junk, loopMaps, modelOptions()))).toBe(
      insertedKey(decideSockOps(PASSIVE, server, loopMaps, modelOptions())),
    );
  });

  const native: Connection = {
    client: { ip: parseIp6('::1'), port: 50000 },
    server: { ip: parseIp6('::1'), port: 9000 },
    clientSocket: 'inet6',
    serverSocket: 'inet6',
    netnsCookie: 1n,
    ip4Leftover: parseIp4('127.0.0.6'),
  };
  const v6Maps: ModelMaps = { ...EMPTY_MAPS, endpoints: [{ ip: parseIp6('::1'), bits: 128 }] };

  it('ipv6 mapped: a native IPv6 socket is skipped even though its IPv4 fields say 127.0.0.6', () => {
    const { server } = socketViews(native);
    expect(server.remoteIp4).toEqual(parseIp4('127.0.0.6'));
    const maps: ModelMaps = { ...v6Maps, endpoints: [{ ip: parseIp4('127.0.0.0'), bits: 8 }] };
    expect(decideSockOps(PASSIVE, server, maps, modelOptions())).toEqual({
      kind: 'skipped',
      reason: 'family',
    });
    expect(decideSkMsg(server, maps, modelOptions())).toEqual({ kind: 'unsupported' });
  });

  it('ipv6 native: keys carry all 16 address bytes and family 2', () => {
    const { client, server } = socketViews(native);
    const options = modelOptions({ ipv6: 'native' });
    const stored = insertedKey(decideSockOps(PASSIVE, server, v6Maps, options));
    const one = `${' 00'.repeat(15).slice(1)} 01`;
    expect(stored).toBe(`${one} ${one} 02 00 00 00 c3 50 00 00 23 28 00 00`);
    expect(stored).toBe(lookupKey(decideSkMsg(client, v6Maps, options)));
  });

  it('ipv6 native: an IPv6 address never matches an IPv4 endpoint CIDR', () => {
    const { server } = socketViews(native);
    const maps: ModelMaps = { ...EMPTY_MAPS, endpoints: [{ ip: parseIp4('0.0.0.0'), bits: 0 }] };
    expect(decideSockOps(PASSIVE, server, maps, modelOptions({ ipv6: 'native' }))).toEqual({
      kind: 'skipped',
      reason: 'remote',
    });
  });
});

describe('model: sk_msg verdicts (sockmap-reference §2.5, §2.6)', () => {
  const { client } = socketViews(golden);
  const options = modelOptions();
  const withPolicy = (policy: ModelMaps['policy'], ipcache: ModelMaps['ipcache'] = []) =>
    decideSkMsg(client, { ...podMaps, policy, ipcache }, options);

  it('no policy entry allows (verdict 0) and redirects', () => {
    expect(withPolicy([])).toMatchObject({ verdict: 0, redirect: true });
  });

  it('deny never redirects; proxy redirects with the byte-swapped port as verdict', () => {
    expect(
      withPolicy([{ identity: 2, port: 8080, protocol: 6, verdict: { kind: 'deny' } }]),
    ).toMatchObject({ verdict: -181, redirect: false });
    expect(
      withPolicy([
        { identity: 2, port: 8080, protocol: 6, verdict: { kind: 'proxy', port: 15001 } },
      ]),
    ).toMatchObject({ verdict: 0x993a, redirect: true });
  });

  it('looks up identity in the ipcache by longest prefix; a miss or identity 0 is world (2)', () => {
    const deny3 = { identity: 3, port: 8080, protocol: 6, verdict: { kind: 'deny' } } as const;
    const cache = [
      { cidr: { ip: parseIp4('10.0.0.0'), bits: 8 }, identity: 3 },
      { cidr: { ip: parseIp4('10.0.0.0'), bits: 30 }, identity: 4 },
    ];
    expect(withPolicy([deny3], cache)).toMatchObject({ redirect: true }); // /30 wins: identity 4
    expect(withPolicy([deny3], cache.slice(0, 1))).toMatchObject({ redirect: false });
    const zero = [{ cidr: { ip: parseIp4('10.0.0.2'), bits: 32 }, identity: 0 }];
    const denyWorld = { ...deny3, identity: 2 };
    expect(withPolicy([denyWorld], zero)).toMatchObject({ redirect: false });
  });

  it('policy lookup order: exact, then L4-only, then L3-only, then allow-all', () => {
    const e = (identity: number, port: number, protocol: number, kind: 'allow' | 'deny') => ({
      identity,
      port,
      protocol,
      verdict: { kind } as const,
    });
    expect(
      withPolicy([
        e(0, 0, 0, 'deny'),
        e(2, 0, 0, 'deny'),
        e(0, 8080, 6, 'deny'),
        e(2, 8080, 6, 'allow'),
      ]),
    ).toMatchObject({ redirect: true });
    expect(
      withPolicy([e(0, 0, 0, 'deny'), e(2, 0, 0, 'deny'), e(0, 8080, 6, 'allow')]),
    ).toMatchObject({
      redirect: true,
    });
    expect(withPolicy([e(0, 0, 0, 'deny'), e(2, 0, 0, 'allow')])).toMatchObject({ redirect: true });
    expect(withPolicy([e(0, 0, 0, 'deny')])).toMatchObject({ redirect: false });
    // Protocol must match: a UDP entry is not consulted for TCP.
    expect(withPolicy([e(2, 8080, 17, 'deny')])).toMatchObject({ redirect: true });
  });

  it('minimal variant never consults policy', () => {
    const maps: ModelMaps = {
      ...EMPTY_MAPS,
      policy: [{ identity: 0, port: 0, protocol: 0, verdict: { kind: 'deny' } }],
    };
    expect(decideSkMsg(client, maps, modelOptions({ variant: 'minimal' }))).toMatchObject({
      verdict: 0,
      redirect: true,
    });
  });
});

describe('model: a host of sockets (NOEXIST, capacity, counters)', () => {
  it('redirects each side to its peer and counts inserts, redirects and bytes', () => {
    const world = new AccelWorld(podMaps, modelOptions());
    const { client, server } = socketViews(golden);
    expect(world.established(1, ACTIVE, client).insert).toBe('inserted');
    expect(world.established(2, PASSIVE, server).insert).toBe('inserted');
    expect(world.send(client, 100).target).toBe(2);
    expect(world.send(server, 7).target).toBe(1);
    expect(world.counters).toMatchObject({ inserted: 2n, msg_redirected: 2n, msg_bytes: 107n });
  });

  it('identical tuples in two netns collide without netnsScope (EEXIST) and not with it', () => {
    const a = socketViews(golden);
    const b = socketViews({ ...golden, netnsCookie: 8192n });
    const plain = new AccelWorld(podMaps, modelOptions());
    plain.established(1, PASSIVE, a.server);
    expect(plain.established(3, PASSIVE, b.server).insert).toBe('EEXIST');
    expect(plain.send(b.client, 1).target).toBe(1); // cross-delivery: the pitfall netnsScope fixes
    expect(plain.counters.insert_failed).toBe(1n);

    const scoped = new AccelWorld(podMaps, modelOptions({ netnsScope: true }));
    scoped.established(1, PASSIVE, a.server);
    expect(scoped.established(3, PASSIVE, b.server).insert).toBe('inserted');
    expect(scoped.send(a.client, 1).target).toBe(1);
    expect(scoped.send(b.client, 1).target).toBe(3);
  });

  it('a full SOCKHASH refuses inserts (E2BIG) and a closed socket leaves the map', () => {
    const world = new AccelWorld(podMaps, modelOptions({ sockhashSize: 1 }));
    const { client, server } = socketViews(golden);
    world.established(1, ACTIVE, client);
    expect(world.established(2, PASSIVE, server).insert).toBe('E2BIG');
    world.close(1);
    expect(world.established(2, PASSIVE, server).insert).toBe('inserted');
  });

  it('counts skips by reason, misses and policy denies; keeps nothing without stats', () => {
    const maps: ModelMaps = {
      ...podMaps,
      services: [{ ip: parseIp4('10.0.0.9'), port: 80 }],
      policy: [{ identity: 2, port: 7, protocol: 6, verdict: { kind: 'deny' } }],
    };
    const world = new AccelWorld(maps, modelOptions());
    const { client } = socketViews(golden);
    world.established(1, ACTIVE, { ...client, family: 99 });
    world.established(1, ACTIVE, { ...client, remoteIp4: parseIp4('10.0.0.9'), remotePort: 80 });
    world.established(1, ACTIVE, { ...client, remoteIp4: parseIp4('192.168.0.1') });
    world.send(client, 10); // nobody stored the server: a miss
    world.send({ ...client, remotePort: 7 }, 10); // denied
    expect(world.counters).toMatchObject({
      skip_family: 1n,
      skip_service: 1n,
      skip_remote: 1n,
      redirect_miss: 1n,
      policy_denied: 1n,
      inserted: 0n,
    });
    const quiet = new AccelWorld(maps, modelOptions({ variant: 'minimal' }));
    quiet.established(1, ACTIVE, client);
    expect(Object.values(quiet.counters).every((v) => v === 0n)).toBe(true);
    expect(modelOptions({ variant: 'minimal', stats: true }).stats).toBe(true);
    expect(client.family).toBe(AF_INET);
  });
});
