/**
 * buildSockops(): every option changes what it must (maps, key size, names, sizes, pinning,
 * counters, IPv6 handling, gateway) — checked in the object's bytes (read back with our reader and
 * with llvm-objdump) and, for behaviour, by running the programs in the interpreter.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readObject } from '../../src/asm/object-reader.js';
import {
  EMPTY_MAPS,
  type ModelMaps,
  parseIp4,
  parseIp6,
  SOCK_OPS_ACTIVE_ESTABLISHED,
  SOCK_OPS_PASSIVE_ESTABLISHED,
  socketViews,
} from '../../src/model/index.js';
import { buildSockops } from '../../src/programs/build.js';
import { decodeSockKey } from '../../src/programs/maps.js';
import { SockopsOptionError } from '../../src/programs/options.js';
import { VmAccel } from './vm-harness.js';

const loopback: ModelMaps = {
  ...EMPTY_MAPS,
  endpoints: [
    { ip: parseIp4('127.0.0.0'), bits: 8 },
    { ip: parseIp6('::1'), bits: 128 },
  ],
};

const v4pair = socketViews({
  client: { ip: parseIp4('127.0.0.1'), port: 40000 },
  server: { ip: parseIp4('127.0.0.1'), port: 8080 },
  clientSocket: 'inet',
  serverSocket: 'inet6',
  netnsCookie: 7n,
});

const v6pair = socketViews({
  client: { ip: parseIp6('::1'), port: 40000 },
  server: { ip: parseIp6('::1'), port: 8080 },
  clientSocket: 'inet6',
  serverSocket: 'inet6',
  netnsCookie: 7n,
  ip4Leftover: parseIp4('127.0.0.6'),
});

/** Runs both sides' sock_ops and the client's sk_msg; returns where the message went. */
function pairRedirects(vm: VmAccel, pair: typeof v4pair): number | undefined {
  vm.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, pair.client);
  vm.established(2, SOCK_OPS_PASSIVE_ESTABLISHED, pair.server);
  return vm.send(1, pair.client, 10).target;
}

describe('buildSockops', () => {
  it('default: the cilium variant with all six maps, Cilium-sized SOCKHASH of 44-byte keys', () => {
    const b = buildSockops();
    expect(
      b.maps.map((m) => [m.role, m.name, m.type, m.keySize, m.valueSize, m.maxEntries]),
    ).toEqual([
      ['sockhash', 'tsbpf_sockhash', 18, 44, 4, 65535],
      ['endpoints', 'tsbpf_endpoints', 11, 24, 4, 1024],
      ['services', 'tsbpf_services', 1, 20, 4, 1024],
      ['ipcache', 'tsbpf_ipcache', 11, 24, 4, 16384],
      ['policy', 'tsbpf_policy', 1, 8, 4, 4096],
      ['stats', 'tsbpf_stats', 6, 4, 8, 9],
    ]);
    expect(b.maps.filter((m) => m.type === 11).every((m) => m.flags === 1)).toBe(true);
    expect(b.programs.sockops).toMatchObject({ name: 'bpf_sockops', section: 'sockops' });
    expect(b.programs.skMsg).toMatchObject({ name: 'bpf_redir', section: 'sk_msg' });
  });

  it('writes an object our reader and llvm-objdump read back: sections, maps, license, line info', () => {
    const b = buildSockops();
    const obj = readObject(b.elf);
    expect(obj.license).toBe('Dual BSD/GPL');
    expect(obj.programs.map((p) => [p.name, p.section])).toEqual([
      ['bpf_sockops', 'sockops'],
      ['bpf_redir', 'sk_msg'],
    ]);
    const shape = (m: { name: string; keySize: number; valueSize: number; maxEntries: number }) =>
      [m.name, m.keySize, m.valueSize, m.maxEntries].join(' ');
    expect(obj.maps.map(shape).sort()).toEqual(b.maps.map(shape).sort());
    for (const p of obj.programs) {
      expect(p.insns.length).toBe(
        p.name === 'bpf_sockops' ? b.programs.sockops.insns : b.programs.skMsg.insns,
      );
      expect(p.lineInfo.length).toBeGreaterThan(0);
      expect(p.lineInfo.every((l) => l.file.startsWith('src/programs/'))).toBe(true);
    }
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-build-'));
    try {
      writeFileSync(join(dir, 'o.o'), b.elf);
      const text = execFileSync('llvm-objdump', ['-d', join(dir, 'o.o')], { encoding: 'utf8' });
      expect(text).toContain('<bpf_sockops>:');
      expect(text).toContain('<bpf_redir>:');
      expect(text).toMatch(/\bcall 70\b/); // sock_hash_update
      expect(text).toMatch(/\bcall 71\b/); // msg_redirect_hash
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the listing shows each instruction with the TypeScript line that emitted it', () => {
    const b = buildSockops();
    expect(b.listing).toContain('sock-ops.ts');
    expect(b.listing).toContain('sk-msg.ts');
    expect(b.listing).toMatch(/call/);
  });

  it("variant 'minimal': only the SOCKHASH, and every IPv4 pair is redirected without configuration", () => {
    const b = buildSockops({ variant: 'minimal' });
    expect(b.maps.map((m) => m.role)).toEqual(['sockhash']);
    expect(pairRedirects(new VmAccel(b, EMPTY_MAPS), v4pair)).toBe(2);
    // The cilium variant needs the remote end in the endpoints map.
    expect(pairRedirects(new VmAccel(buildSockops(), EMPTY_MAPS), v4pair)).toBeUndefined();
    expect(pairRedirects(new VmAccel(buildSockops(), loopback), v4pair)).toBe(2);
    expect(b.programs.sockops.insns).toBeLessThan(buildSockops().programs.sockops.insns);
  });

  it('stats: counters for the cilium variant by default, for minimal only when asked', () => {
    expect(buildSockops({ stats: false }).maps.map((m) => m.role)).not.toContain('stats');
    const b = buildSockops({ variant: 'minimal', stats: true });
    expect(b.maps.map((m) => m.role)).toEqual(['sockhash', 'stats']);
    const vm = new VmAccel(b, EMPTY_MAPS);
    pairRedirects(vm, v4pair);
    expect(vm.counters()).toMatchObject({ inserted: 2n, msg_redirected: 1n, msg_bytes: 10n });
    const quiet = new VmAccel(buildSockops({ stats: false }), loopback);
    expect(pairRedirects(quiet, v4pair)).toBe(2);
  });

  it("ipv6: 'mapped' skips native IPv6 sockets (even with 127.0.0.6 in their IPv4 fields), 'native' keys them", () => {
    expect(pairRedirects(new VmAccel(buildSockops(), loopback), v6pair)).toBeUndefined();
    const native = new VmAccel(buildSockops({ ipv6: 'native' }), loopback);
    expect(pairRedirects(native, v6pair)).toBe(2);
    const keys = native.sockhash.entries().map(([k]) => decodeSockKey(k));
    expect(keys).toContainEqual({ sip: '::1', dip: '::1', sport: 40000, dport: 8080 });
    expect(keys).toContainEqual({ sip: '::1', dip: '::1', sport: 8080, dport: 40000 });
    // v4-mapped sockets still get IPv4 keys in native mode.
    expect(pairRedirects(new VmAccel(buildSockops({ ipv6: 'native' }), loopback), v4pair)).toBe(2);
  });

  it('netnsScope: 56-byte keys ending in the netns cookie', () => {
    const b = buildSockops({ netnsScope: true });
    expect(b.maps[0]).toMatchObject({ role: 'sockhash', keySize: 56 });
    const vm = new VmAccel(b, loopback);
    expect(pairRedirects(vm, v4pair)).toBe(2);
    for (const [k] of vm.sockhash.entries()) expect(decodeSockKey(k).netnsCookie).toBe(7n);
  });

  it('gatewayIp4 / gatewayIp6 are the source of keys rewritten for a proxy verdict', () => {
    const proxied: ModelMaps = {
      ...loopback,
      policy: [{ identity: 0, port: 0, protocol: 0, verdict: { kind: 'proxy', port: 15001 } }],
    };
    const vm = new VmAccel(buildSockops({ gatewayIp4: '10.1.2.3' }), proxied);
    vm.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v4pair.client);
    expect(decodeSockKey(vm.sockhash.entries()[0]?.[0] ?? new Uint8Array(44))).toEqual({
      sip: '10.1.2.3',
      sport: 15001,
      dip: '127.0.0.1',
      dport: 40000,
    });
    const vm6 = new VmAccel(buildSockops({ ipv6: 'native', gatewayIp6: 'fd00::99' }), proxied);
    vm6.established(1, SOCK_OPS_ACTIVE_ESTABLISHED, v6pair.client);
    expect(decodeSockKey(vm6.sockhash.entries()[0]?.[0] ?? new Uint8Array(44))).toMatchObject({
      sip: 'fd00::99',
      sport: 15001,
    });
  });

  it('names, program names, sizes and pinning reach the object', () => {
    const b = buildSockops({
      names: { sockhash: 'cilium_sock_ops', policy: 'my_policy' },
      programNames: { sockops: 'cil_sockops', skMsg: 'cil_redir' },
      sizes: { sockhash: 4096, ipcache: 7 },
      pin: true,
    });
    const obj = readObject(b.elf);
    expect(obj.programs.map((p) => p.name)).toEqual(['cil_sockops', 'cil_redir']);
    const byName = new Map(obj.maps.map((m) => [m.name, m]));
    expect(byName.get('cilium_sock_ops')?.maxEntries).toBe(4096);
    expect(byName.get('tsbpf_ipcache')?.maxEntries).toBe(7);
    expect(byName.has('my_policy')).toBe(true);
    expect(obj.maps.every((m) => m.pinning === 'by_name')).toBe(true);
    expect(readObject(buildSockops().elf).maps.every((m) => m.pinning === 'none')).toBe(true);
  });

  it('rejects bad options before generating anything', () => {
    expect(() => buildSockops({ names: { stats: 'a_name_that_is_too_long' } })).toThrow(
      SockopsOptionError,
    );
    expect(() => buildSockops({ sizes: { sockhash: 0 } })).toThrow(/sizes.sockhash/);
  });
});
