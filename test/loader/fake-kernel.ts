/**
 * A fake kernel behind the `BpfSyscall` interface, for unit tests without root (aya-style): it
 * records every call with a copy of its attr, resolves the pointers inside attrs through its own
 * `alloc` table, and simulates the little state the loader relies on: fds, hash-like maps, pins,
 * loaded programs and attachments. Tests script failures with `failNext`.
 */
import type { BpfSyscall, NativeMemory } from '../../src/loader/syscall.js';

/** One recorded bpf(2) call. */
export interface RecordedCall {
  readonly cmd: number;
  /** The attr as the loader passed it (before the fake wrote anything back). */
  readonly attr: Uint8Array;
}

interface FakeMap {
  kind: 'map';
  id: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  mapExtra: bigint;
  entries: Map<string, Uint8Array>;
}

interface FakeProg {
  kind: 'prog';
  id: number;
  type: number;
  name: string;
  insns: Uint8Array;
  license: string;
  expectedAttachType: number;
  btfFd: number;
  funcInfoCnt: number;
  lineInfoCnt: number;
}

interface FakeOther {
  kind: 'btf' | 'dir' | 'link';
  id: number;
}

type FakeObject = FakeMap | FakeProg | FakeOther;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** The scripted response of the next matching call: `-errno`, with an optional log to write. */
export interface ScriptedFailure {
  readonly errno: number;
  /** Written to the PROG_LOAD log buffer (truncated to its size; ENOSPC if it does not fit). */
  readonly log?: string;
  /** How many calls of this command fail (default 1). */
  times?: number;
}

/** A fake kernel. */
export class FakeKernel implements BpfSyscall {
  readonly calls: RecordedCall[] = [];
  readonly closed: number[] = [];
  readonly mounts: { source: string; target: string; fsType: string }[] = [];
  /** Objects by fd (several fds may refer to one object). */
  readonly fds = new Map<number, FakeObject>();
  readonly pins = new Map<string, FakeObject>();
  /** Attachments: target object id + attach type → program ids. */
  readonly attached = new Map<string, number[]>();
  #nextFd = 3;
  #nextId = 1;
  #nextAddr = 0x10000n;
  readonly #mem = new Map<bigint, Uint8Array>();
  readonly #failures = new Map<number, ScriptedFailure[]>();
  /** Which attachment each link made (for LINK_DETACH). */
  readonly #linkOwners = new Map<number, { key: string; progId: number }>();
  /** Verifier log PROG_LOAD writes when a log buffer is given and the load succeeds. */
  successLog = 'processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0\n';

  // ---- memory ----

  alloc(size: number): NativeMemory {
    const address = this.#nextAddr;
    this.#nextAddr += BigInt(Math.max(16, Math.ceil(size / 16) * 16)) + 16n;
    const bytes = new Uint8Array(size);
    this.#mem.set(address, bytes);
    return { address, bytes };
  }

  free(mem: NativeMemory): void {
    if (!this.#mem.delete(mem.address)) throw new Error(`fake: double free of ${mem.address}`);
  }

  /** Native allocations not freed yet. */
  get liveAllocations(): number {
    return this.#mem.size;
  }

  /** `len` bytes at `addr` (must be inside one allocation). */
  read(addr: bigint, len: number): Uint8Array {
    for (const [base, bytes] of this.#mem) {
      if (addr >= base && addr + BigInt(len) <= base + BigInt(bytes.length)) {
        const off = Number(addr - base);
        return bytes.subarray(off, off + len);
      }
    }
    throw new Error(`fake: EFAULT reading ${len} bytes at 0x${addr.toString(16)}`);
  }

  /** A NUL-terminated string at `addr`. */
  readString(addr: bigint): string {
    for (const [base, bytes] of this.#mem) {
      if (addr >= base && addr < base + BigInt(bytes.length)) {
        const sub = bytes.subarray(Number(addr - base));
        const end = sub.indexOf(0);
        return Buffer.from(end < 0 ? sub : sub.subarray(0, end)).toString('utf8');
      }
    }
    throw new Error(`fake: EFAULT reading string at 0x${addr.toString(16)}`);
  }

  // ---- scripting ----

  /** Makes the next call(s) of `cmd` fail with `failure.errno`. */
  failNext(cmd: number, failure: ScriptedFailure): void {
    const list = this.#failures.get(cmd) ?? [];
    list.push({ ...failure, times: failure.times ?? 1 });
    this.#failures.set(cmd, list);
  }

  /** Recorded calls of one command. */
  callsOf(cmd: number): RecordedCall[] {
    return this.calls.filter((c) => c.cmd === cmd);
  }

  /** fds handed out and not closed. */
  get openFds(): number[] {
    return [...this.fds.keys()];
  }

  #newFd(obj: FakeObject): number {
    const fd = this.#nextFd++;
    this.fds.set(fd, obj);
    return fd;
  }

  // ---- syscalls ----

  close(fd: number): number {
    if (!this.fds.delete(fd)) return -9;
    this.closed.push(fd);
    return 0;
  }

  readonly #dirIds = new Map<string, number>();

  dup(fd: number): number {
    const obj = this.fds.get(fd);
    return obj ? this.#newFd(obj) : -9;
  }

  openDirectory(path: string): number {
    if (path.includes('missing')) return -2;
    let id = this.#dirIds.get(path);
    if (id === undefined) {
      id = this.#nextId++;
      this.#dirIds.set(path, id);
    }
    return this.#newFd({ kind: 'dir', id });
  }

  mount(source: string, target: string, fsType: string): number {
    this.mounts.push({ source, target, fsType });
    return 0;
  }

  /** mountinfo lines the fake reports (bpffs and cgroup2 mounted where this machine has them). */
  mountInfo = [
    '22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw',
    '30 22 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
    '40 22 0:40 / /sys/fs/bpf rw,nosuid - bpf bpf rw,mode=700',
  ].join('\n');

  /** Directories created with mkdirs. */
  readonly dirs = new Set<string>();

  readMountInfo(): string {
    return this.mountInfo;
  }

  mkdirs(path: string): string | undefined | number {
    const parts = path.split('/').filter((p) => p !== '');
    let first: string | undefined;
    for (let i = 1; i <= parts.length; i++) {
      const d = `/${parts.slice(0, i).join('/')}`;
      if (d === '/sys' || d === '/sys/fs' || d === '/sys/fs/bpf' || this.dirs.has(d)) continue;
      this.dirs.add(d);
      first ??= d;
    }
    return first;
  }

  unlink(path: string): number {
    return this.pins.delete(path) ? 0 : -2;
  }

  removeTree(path: string): void {
    for (const p of [...this.pins.keys()])
      if (p === path || p.startsWith(`${path}/`)) this.pins.delete(p);
    for (const d of [...this.dirs]) if (d === path || d.startsWith(`${path}/`)) this.dirs.delete(d);
  }

  bpf(cmd: number, attr: Uint8Array): number {
    this.calls.push({ cmd, attr: attr.slice() });
    const scripted = this.#failures.get(cmd)?.[0];
    const v = new DataView(attr.buffer, attr.byteOffset, attr.byteLength);
    if (scripted) {
      scripted.times = (scripted.times ?? 1) - 1;
      if (scripted.times <= 0) this.#failures.get(cmd)!.shift();
      if (cmd === 5 && scripted.log !== undefined)
        return this.#writeLog(v, scripted.log, -scripted.errno);
      return -scripted.errno;
    }
    switch (cmd) {
      case 0:
        return this.#newFd({
          kind: 'map',
          id: this.#nextId++,
          type: v.getUint32(0, true),
          keySize: v.getUint32(4, true),
          valueSize: v.getUint32(8, true),
          maxEntries: v.getUint32(12, true),
          flags: v.getUint32(16, true),
          name: Buffer.from(attr.subarray(28, 44)).toString('utf8').replace(/\0.*$/s, ''),
          mapExtra: attr.length >= 72 ? v.getBigUint64(64, true) : 0n,
          entries: new Map(),
        });
      case 1:
      case 2:
      case 3:
      case 4:
        return this.#elem(cmd, v);
      case 5:
        return this.#progLoad(v);
      case 6: {
        const obj = this.fds.get(v.getUint32(8, true));
        const path = this.readString(v.getBigUint64(0, true));
        if (!obj) return -9;
        if (this.pins.has(path)) return -17;
        this.pins.set(path, obj);
        return 0;
      }
      case 7: {
        const obj = this.pins.get(this.readString(v.getBigUint64(0, true)));
        return obj ? this.#newFd(obj) : -2;
      }
      case 8:
      case 9:
      case 28:
        return this.#attach(cmd, v);
      case 13:
      case 14: {
        const id = v.getUint32(0, true);
        for (const obj of [...this.fds.values(), ...this.pins.values()]) {
          if (obj.id === id && obj.kind === (cmd === 13 ? 'prog' : 'map')) return this.#newFd(obj);
        }
        return -2;
      }
      case 15:
        return this.#info(v);
      case 16: {
        const target = this.fds.get(v.getUint32(0, true));
        if (!target) return -9;
        const ids = this.attached.get(`${target.id}/${v.getUint32(4, true)}`) ?? [];
        const cap = v.getUint32(24, true);
        const ptr = v.getBigUint64(16, true);
        v.setUint32(24, ids.length, true);
        if (ptr !== 0n) {
          const out = this.read(ptr, 4 * cap);
          const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
          ids.slice(0, cap).forEach((id, i) => {
            dv.setUint32(4 * i, id, true);
          });
          if (cap < ids.length) return -28;
        }
        return 0;
      }
      case 18:
        return this.#newFd({ kind: 'btf', id: this.#nextId++ });
      case 11:
      case 12: {
        // PROG/MAP_GET_NEXT_ID: the smallest live id of that kind above start_id.
        const kind = cmd === 11 ? 'prog' : 'map';
        const start = v.getUint32(0, true);
        const ids = [...new Set([...this.fds.values(), ...this.pins.values()])]
          .filter((o) => o.kind === kind && o.id > start)
          .map((o) => o.id)
          .sort((a, b) => a - b);
        if (ids[0] === undefined) return -2;
        v.setUint32(4, ids[0], true);
        return 0;
      }
      case 34: {
        const link = this.fds.get(v.getUint32(0, true));
        if (link?.kind !== 'link') return -22;
        for (const [key, list] of this.attached) {
          const owner = this.#linkOwners.get(link.id);
          if (owner && key === owner.key) list.splice(list.indexOf(owner.progId), 1);
        }
        this.#linkOwners.delete(link.id);
        return 0;
      }
      default:
        return -22;
    }
  }

  #elem(cmd: number, v: DataView): number {
    const obj = this.fds.get(v.getUint32(0, true));
    if (obj?.kind !== 'map') return -9;
    const keyPtr = v.getBigUint64(8, true);
    const valPtr = v.getBigUint64(16, true);
    if (cmd === 4) {
      const keys = [...obj.entries.keys()];
      const at = keyPtr === 0n ? -1 : keys.indexOf(hex(this.read(keyPtr, obj.keySize)));
      const next = keys[at + 1];
      if (next === undefined) return -2;
      this.read(valPtr, obj.keySize).set(Buffer.from(next, 'hex'));
      return 0;
    }
    const key = hex(this.read(keyPtr, obj.keySize));
    if (cmd === 1) {
      const val = obj.entries.get(key);
      if (!val) return -2;
      this.read(valPtr, obj.valueSize).set(val);
      return 0;
    }
    if (cmd === 3) {
      if (valPtr !== 0n || v.getBigUint64(24, true) !== 0n) return -22;
      return obj.entries.delete(key) ? 0 : -2;
    }
    const flags = v.getBigUint64(24, true);
    const exists = obj.entries.has(key);
    if (flags === 1n && exists) return -17;
    if (flags === 2n && !exists) return -2;
    if (!exists && obj.entries.size >= obj.maxEntries) return -7;
    obj.entries.set(key, this.read(valPtr, obj.valueSize).slice());
    return 0;
  }

  #writeLog(v: DataView, log: string, ret: number): number {
    const level = v.getUint32(24, true);
    const size = v.getUint32(28, true);
    const buf = v.getBigUint64(32, true);
    if (level === 0 || buf === 0n) return ret;
    const bytes = new TextEncoder().encode(log);
    v.setUint32(140, bytes.length + 1, true);
    const out = this.read(buf, size);
    if (bytes.length + 1 > size) {
      // Rotating mode keeps the tail, NUL-terminated.
      out.set(bytes.subarray(bytes.length - (size - 1)));
      out[size - 1] = 0;
      return -28;
    }
    out.set(bytes);
    out[bytes.length] = 0;
    return ret;
  }

  #progLoad(v: DataView): number {
    const insnCnt = v.getUint32(4, true);
    const prog: FakeProg = {
      kind: 'prog',
      id: this.#nextId++,
      type: v.getUint32(0, true),
      name: Buffer.from(new Uint8Array(v.buffer, v.byteOffset + 48, 16))
        .toString('utf8')
        .replace(/\0.*$/s, ''),
      insns: this.read(v.getBigUint64(8, true), insnCnt * 8).slice(),
      license: this.readString(v.getBigUint64(16, true)),
      expectedAttachType: v.getUint32(68, true),
      btfFd: v.getUint32(72, true),
      funcInfoCnt: v.getUint32(88, true),
      lineInfoCnt: v.getUint32(104, true),
    };
    const withLog = v.getUint32(24, true) !== 0;
    if (withLog) {
      const r = this.#writeLog(v, this.successLog, 0);
      if (r < 0) return r;
    }
    return this.#newFd(prog);
  }

  #attach(cmd: number, v: DataView): number {
    const isLink = cmd === 28;
    const target = this.fds.get(v.getUint32(isLink ? 4 : 0, true));
    const prog = this.fds.get(v.getUint32(isLink ? 0 : 4, true));
    const type = v.getUint32(8, true);
    if (!target) return -9;
    const key = `${target.id}/${type}`;
    const list = this.attached.get(key) ?? [];
    if (cmd === 9) {
      const idx = prog ? list.indexOf(prog.id) : 0;
      if (list.length === 0 || idx < 0) return -2;
      list.splice(idx, 1);
      return 0;
    }
    if (prog?.kind !== 'prog') return -9;
    const flags = v.getUint32(12, true);
    if (flags === 2 || isLink) {
      if (list.includes(prog.id)) return -22;
      list.push(prog.id);
    } else {
      list.splice(0, list.length, prog.id);
    }
    this.attached.set(key, list);
    if (!isLink) return 0;
    const linkId = this.#nextId++;
    this.#linkOwners.set(linkId, { key, progId: prog.id });
    return this.#newFd({ kind: 'link', id: linkId });
  }

  #info(v: DataView): number {
    const obj = this.fds.get(v.getUint32(0, true));
    if (!obj) return -9;
    const len = v.getUint32(4, true);
    const out = this.read(v.getBigUint64(8, true), len);
    const o = new DataView(out.buffer, out.byteOffset, out.byteLength);
    if (obj.kind === 'map') {
      o.setUint32(0, obj.type, true);
      o.setUint32(4, obj.id, true);
      o.setUint32(8, obj.keySize, true);
      o.setUint32(12, obj.valueSize, true);
      o.setUint32(16, obj.maxEntries, true);
      o.setUint32(20, obj.flags, true);
      out.set(new TextEncoder().encode(obj.name).subarray(0, 15), 24);
      o.setBigUint64(80, obj.mapExtra, true);
      v.setUint32(4, Math.min(len, 104), true);
      return 0;
    }
    if (obj.kind === 'prog') {
      o.setUint32(0, obj.type, true);
      o.setUint32(4, obj.id, true);
      o.setUint32(20, obj.insns.length, true);
      out.set(new TextEncoder().encode(obj.name).subarray(0, 15), 64);
      o.setUint32(144, obj.funcInfoCnt, true);
      o.setUint32(148, obj.lineInfoCnt, true);
      v.setUint32(4, Math.min(len, 232), true);
      return 0;
    }
    return -22;
  }
}
