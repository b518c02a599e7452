/**
 * The loader end to end on the real kernel: load a clang-built sockops/sk_msg object and the same
 * programs re-emitted by our own ELF writer, pin, attach sock_ops to a test cgroup and sk_msg to
 * the SOCKHASH, and prove socket acceleration happens: TCP connections opened in the cgroup appear
 * in the SOCKHASH, 1 MiB crosses with only handshake and teardown segments on the wire, and the
 * bytes arrive intact. A control run without the programs attached shows the counter would catch
 * a failure. Then detach and unpin and check nothing is left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import { readObject } from '../../src/asm/object-reader.js';
import type { MapSpec, ObjectSpec, ProgramSpec } from '../../src/asm/object-spec.js';
import { writeObject } from '../../src/asm/object-writer.js';
import { codec } from '../../src/dsl/index.js';
import { SkMsg, SockOps } from '../../src/loader/attach.js';
import { MapType, ProgType } from '../../src/loader/constants.js';
import type { BpfLink, LoadedObject } from '../../src/loader/fd.js';
import { removePinDir } from '../../src/loader/fs.js';
import { openPinnedMap, u32Codec } from '../../src/loader/maps.js';
import { loadObject } from '../../src/loader/object-loader.js';
import { systemSyscall } from '../../src/loader/syscall.js';
import { buildSockops } from '../../src/programs/build.js';
import { SockKey } from '../../src/programs/layouts.js';
import {
  createTestBpffsDir,
  createTestCgroup,
  describeKernel,
  type TestDir,
  withProcessInCgroup,
} from './support.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/loader/sockaccel.o');
const TRAFFIC = join(import.meta.dirname, '../fixtures/loader/traffic.mjs');
const ONE_MIB = 1 << 20;

/** Result of one traffic run in a private netns inside `cgroup`. */
interface TrafficResult {
  clientPort: number;
  serverPort: number;
  /** SOCKHASH keys (sport, dport in host order) seen while the connection was open. */
  keysWhileOpen: [number, number][];
  outSegs: number;
  sentSha: string;
  recvSha: string;
  received: number;
}

/** Reads the sport/dport of a 20-byte sock_key (both stored as wire-order u16 in a u32). */
function portsOf(key: Uint8Array): [number, number] {
  const v = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return [swap16(v.getUint32(12, true)), swap16(v.getUint32(16, true))];
}

/** A port stored as a wire-order u16 in the low bytes of a host u32 (`hi lo 00 00`). */
function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/**
 * Runs test/fixtures/loader/traffic.mjs in a new network namespace (its /proc/net/snmp counts
 * only its own segments, whatever else runs on this machine) and in `cgroup`; while the
 * connection is open, `whileOpen` runs (e.g. to read the SOCKHASH).
 */
async function runTraffic(
  cgroup: string,
  whileOpen: () => [number, number][],
): Promise<TrafficResult> {
  const child: ChildProcess = spawn(
    'unshare',
    [
      '-n',
      'sh',
      '-c',
      `ip link set lo up && echo $$ > "${cgroup}/cgroup.procs" && exec "${process.execPath}" "${TRAFFIC}" ${ONE_MIB}`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    const connected = JSON.parse(String(first.value)) as { clientPort: number; serverPort: number };
    const keysWhileOpen = whileOpen();
    child.stdin!.write('go\n');
    const done = JSON.parse(String((await lines.next()).value)) as Omit<
      TrafficResult,
      'keysWhileOpen' | 'clientPort' | 'serverPort'
    >;
    return { ...connected, keysWhileOpen, ...done };
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

/** The programs and maps of a parsed object as an ObjectSpec, to re-emit with our writer. */
function specOf(bytes: Uint8Array): ObjectSpec {
  const obj = readObject(bytes);
  const programs: ProgramSpec[] = obj.programs.map((p) => ({
    name: p.name,
    section: p.section,
    insns: p.insns as Insn[],
    mapRefs: p.relocations.flatMap((r) =>
      r.target.kind === 'map' ? [{ insn: r.insn, map: r.target.map }] : [],
    ),
    lines: p.lineInfo.map((l) => ({
      insn: l.insn,
      file: l.file,
      text: l.text,
      line: l.line,
      col: l.col,
    })),
  }));
  const maps: MapSpec[] = obj.maps.map((m) => ({
    name: m.name,
    type: m.type,
    key: m.keySize,
    value: m.valueSize,
    maxEntries: m.maxEntries,
    pinning: m.pinning,
  }));
  return { license: obj.license ?? 'GPL', programs, maps };
}

describeKernel('loader: socket acceleration end to end', () => {
  const sys = systemSyscall();
  let cgroup: TestDir;
  let pins: TestDir;

  beforeAll(() => {
    cgroup = createTestCgroup('loader-accel');
    pins = createTestBpffsDir('loader-accel');
  });

  afterAll(() => {
    pins?.cleanup();
    cgroup?.cleanup();
  });

  it('without the programs, 1 MiB over loopback costs many TCP segments (the control)', async () => {
    const r = await runTraffic(cgroup.path, () => []);
    expect(r.recvSha).toBe(r.sentSha);
    expect(r.outSegs).toBeGreaterThan(20);
  });

  /** The objects under test: names of their programs and SOCKHASH, and how to read its keys. */
  interface Variant {
    readonly bytes: () => Uint8Array;
    readonly sockops: string;
    readonly redir: string;
    readonly map: string;
    /** Whether the programs carry line info (clang -g and our DSL do; the writer round trip too). */
    readonly lineInfo: boolean;
    readonly ports: (map: import('../../src/loader/maps.js').BpfMap) => [number, number][];
  }
  const clangBytes = () => new Uint8Array(readFileSync(FIXTURE));
  const accelNames = { sockops: 'accel_sockops', redir: 'accel_redir', map: 'accel_map' };
  const project = buildSockops({ variant: 'minimal', pin: true });
  const variants: Record<'clang' | 'writer' | 'project', Variant> = {
    clang: {
      bytes: clangBytes,
      ...accelNames,
      lineInfo: true,
      ports: (m) => [...m.keys()].map(portsOf),
    },
    writer: {
      bytes: () => writeObject(specOf(clangBytes())),
      ...accelNames,
      lineInfo: true,
      ports: (m) => [...m.keys()].map(portsOf),
    },
    project: {
      bytes: () => project.elf,
      sockops: project.programs.sockops.name,
      redir: project.programs.skMsg.name,
      map: project.maps.find((m) => m.role === 'sockhash')!.name,
      lineInfo: true,
      // Typed map access with the DSL's own struct declaration as the key codec.
      ports: (m) =>
        [...m.typed(codec(SockKey), u32Codec).keys()].map((k): [number, number] => [
          swap16(Number(k.sport)),
          swap16(Number(k.dport)),
        ]),
    },
  };

  for (const [name, v] of Object.entries(variants)) {
    it(`${name} object: sockets land in the SOCKHASH, 1 MiB crosses with only handshake + teardown segments, intact`, async () => {
      const pinDir = join(pins.path, name);
      const warnings: string[] = [];
      let obj: LoadedObject | undefined;
      const links: BpfLink[] = [];
      try {
        obj = loadObject(v.bytes(), { sys, pinDir, onWarning: (m) => warnings.push(m) });
        expect(warnings).toEqual([]);
        const map = obj.map(v.map);
        expect(map.type).toBe(MapType.SOCKHASH);
        expect(map.pinnedAt).toBe(join(pinDir, v.map));
        const sockops = obj.program(v.sockops);
        const redir = obj.program(v.redir);
        expect([sockops.type, redir.type]).toEqual([ProgType.SOCK_OPS, ProgType.SK_MSG]);
        // Both programs carry the object's func/line info into the kernel.
        expect(sockops.info()).toMatchObject({ nrFuncInfo: 1 });
        if (v.lineInfo) expect(redir.info().nrLineInfo).toBeGreaterThan(5);
        sockops.pin(join(pinDir, v.sockops));
        redir.pin(join(pinDir, v.redir));

        links.push(SockOps.from(sockops).attach(cgroup.path, { mode: 'multi' }));
        links.push(SkMsg.from(redir).attach(map));
        expect(SockOps.query(sys, cgroup.path).programs.map((p) => p.name)).toEqual([v.sockops]);
        expect(SockOps.query(sys, cgroup.path).attachFlags).toBe(2);
        expect(SkMsg.query(map).programs.map((p) => p.name)).toEqual([v.redir]);

        const r = await runTraffic(cgroup.path, () => v.ports(map));
        expect(r.keysWhileOpen).toEqual(
          expect.arrayContaining([
            [r.clientPort, r.serverPort],
            [r.serverPort, r.clientPort],
          ]),
        );
        expect(r.received).toBe(ONE_MIB);
        expect(r.recvSha).toBe(r.sentSha);
        // 3 for the handshake, at most 4 for the teardown (FIN, ACK each way): no data segments.
        expect(r.outSegs).toBeLessThanOrEqual(7);
        // Sockets leave the SOCKHASH when they close.
        expect([...map.keys()]).toEqual([]);
      } finally {
        for (const l of links) l.detach();
        obj?.close();
      }
      expect(SockOps.query(sys, cgroup.path).programs).toEqual([]);
      // The pinned map outlives the object; its msg_verdict program is gone.
      {
        using pinned = openPinnedMap(sys, join(pinDir, v.map));
        expect(SkMsg.query(pinned).programs).toEqual([]);
      }
      removePinDir(sys, pinDir);
      expect(existsSync(pinDir)).toBe(false);
    });
  }

  it('connections this process opens after moving into the cgroup land in the SOCKHASH and carry data intact', async () => {
    using obj = loadObject(FIXTURE, { sys, pinDir: join(pins.path, 'inproc') });
    const map = obj.map('accel_map');
    using _ops = SockOps.from(obj.program('accel_sockops')).attach(cgroup.path);
    using _msg = SkMsg.from(obj.program('accel_redir')).attach(map);
    const payload = randomBytes(256 * 1024);
    const { clientPort, serverPort, keys, received } = await withProcessInCgroup(
      cgroup.path,
      async () => {
        const server = net.createServer();
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const serverPort = (server.address() as net.AddressInfo).port;
        const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
        const client = net.connect(serverPort, '127.0.0.1');
        await new Promise<void>((r) => client.once('connect', r));
        const peer = await accepted;
        const keys = [...map.keys()].map(portsOf);
        const chunks: Buffer[] = [];
        peer.on('data', (d: Buffer) => chunks.push(d));
        const ended = new Promise<void>((r) => peer.once('end', r));
        client.end(payload);
        await ended;
        peer.destroy();
        server.close();
        return { clientPort: client.localPort!, serverPort, keys, received: Buffer.concat(chunks) };
      },
    );
    expect(keys).toHaveLength(2);
    expect(keys).toEqual(
      expect.arrayContaining([
        [clientPort, serverPort],
        [serverPort, clientPort],
      ]),
    );
    expect(createHash('sha256').update(received).digest('hex')).toBe(
      createHash('sha256').update(payload).digest('hex'),
    );
  });

  it('a second load reuses the map pinned by name, and closing leaves only the pin', () => {
    const pinDir = join(pins.path, 'reuse');
    const first = loadObject(FIXTURE, { sys, pinDir });
    const second = loadObject(FIXTURE, { sys, pinDir });
    try {
      expect(second.map('accel_map').info().id).toBe(first.map('accel_map').info().id);
      expect(readdirSync(pinDir)).toEqual(['accel_map']);
    } finally {
      first.close();
      second.close();
    }
  });
});
