/**
 * fast-check generators for socket-acceleration scenarios: option sets, connections of every kind
 * (AF_INET, dual-stack v4-mapped on either side, native IPv6 with leftover IPv4 fields) and map
 * contents drawn from the same small address and port pools, so endpoint, service, ipcache and
 * policy entries actually hit the generated connections instead of missing almost always.
 */
import fc from 'fast-check';
import {
  type Cidr,
  type Connection,
  type ModelMaps,
  type ModelOptions,
  modelOptions,
  type PolicyEntry,
  parseIp4,
  parseIp6,
} from '../../src/model/index.js';

/** IPv4 addresses connections use (pods on 10.0.0.0/24, loopback, one outside address). */
export const IP4_POOL = [
  '10.0.0.1',
  '10.0.0.2',
  '10.0.0.3',
  '10.0.1.7',
  '127.0.0.1',
  '192.168.5.9',
].map(parseIp4);

/** IPv6 addresses connections use. */
export const IP6_POOL = ['fd00::1', 'fd00::2', 'fd00::1:5', '::1', '2001:db8::9'].map(parseIp6);

/** Ports connections and map entries use (plus random ones). */
export const PORT_POOL = [80, 443, 8080, 9000, 40000, 15001];

const port = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PORT_POOL) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 65535 }) },
);

const ip4 = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...IP4_POOL) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 4 }) },
);

const ip6 = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...IP6_POOL) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 16, maxLength: 16 }) },
);

/** A netns cookie: a few small values (so namespaces repeat) and arbitrary u64s. */
export const netnsCookie = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(1n, 2n, 4097n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);

const sameEndpoint = (c: Connection) =>
  c.client.port === c.server.port && c.client.ip.every((b, i) => b === c.server.ip[i]);

/** A connection of any kind (never from an address and port to itself: that is one socket). */
export const connection: fc.Arbitrary<Connection> = fc
  .oneof(
    fc.record({
      client: fc.record({ ip: ip4, port }),
      server: fc.record({ ip: ip4, port }),
      clientSocket: fc.constantFrom('inet' as const, 'inet6' as const),
      serverSocket: fc.constantFrom('inet' as const, 'inet6' as const),
      netnsCookie,
    }),
    fc.record({
      client: fc.record({ ip: ip6, port }),
      server: fc.record({ ip: ip6, port }),
      clientSocket: fc.constant('inet6' as const),
      serverSocket: fc.constant('inet6' as const),
      netnsCookie,
      ip4Leftover: fc.constantFrom(parseIp4('0.0.0.0'), parseIp4('127.0.0.6')),
    }),
  )
  .filter((c) => !sameEndpoint(c));

const cidr: fc.Arbitrary<Cidr> = fc.oneof(
  fc.record({ ip: ip4, bits: fc.integer({ min: 0, max: 32 }) }),
  fc.record({ ip: ip6, bits: fc.integer({ min: 0, max: 128 }) }),
);

/** Identities: a few that repeat (0 means "unknown", 2 is world) and random ones. */
const identity = fc.oneof(
  fc.constantFrom(0, 2, 100, 1234),
  fc.integer({ min: 0, max: 0xffffffff }),
);

const policyEntry: fc.Arbitrary<PolicyEntry> = fc
  .record({
    identity: fc.oneof(fc.constant(0), identity),
    wildcardPort: fc.boolean(),
    port,
    verdict: fc.oneof(
      fc.constant({ kind: 'allow' as const }),
      fc.constant({ kind: 'deny' as const }),
      fc.record({ kind: fc.constant('proxy' as const), port: fc.integer({ min: 1, max: 65535 }) }),
    ),
  })
  .map((e) => ({
    identity: e.identity,
    port: e.wildcardPort ? 0 : e.port,
    protocol: e.wildcardPort ? 0 : 6,
    verdict: e.verdict,
  }));

/** Map contents for the cilium variant. */
export const maps: fc.Arbitrary<ModelMaps> = fc.record({
  endpoints: fc.array(cidr, { maxLength: 4 }),
  services: fc.array(fc.record({ ip: fc.oneof(ip4, ip6), port }), { maxLength: 3 }),
  ipcache: fc.array(fc.record({ cidr, identity }), { maxLength: 4 }),
  policy: fc.array(policyEntry, { maxLength: 4 }),
});

/** Behavioural options (stats always on, so counters can be compared). */
export const options: fc.Arbitrary<ModelOptions> = fc
  .record({
    variant: fc.constantFrom('cilium' as const, 'minimal' as const),
    ipv6: fc.constantFrom('mapped' as const, 'native' as const),
    netnsScope: fc.boolean(),
  })
  .map((o) => modelOptions({ ...o, stats: true }));
