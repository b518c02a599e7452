/**
 * Simulated BPF maps with the kernel's semantics for the operations programs and tests use:
 * lookup / update (with BPF_ANY, BPF_NOEXIST, BPF_EXIST) / delete, max_entries, and the kernel's
 * negative errno return values (-ENOENT, -EEXIST, -E2BIG, -EINVAL, -ENOSPC).
 *
 * Programs see a value map's values as memory: a lookup returns the stored buffer itself, so
 * writes through the returned pointer change the map (as in the kernel). Updating an existing key
 * copies the new value into the same buffer.
 *
 * Every map also has a TypeScript-side API (`get`, `set`, `delete`, `entries`) for preparing and
 * inspecting contents in tests; `set` throws a VmError where the kernel returns an errno.
 */
import { match } from 'ts-pattern';
import type { VmSocket } from './connection.js';
import { VmError } from './errors.js';

/** Update flag: create or replace. */
export const BPF_ANY = 0;
/** Update flag: create only (fails with -EEXIST). */
export const BPF_NOEXIST = 1;
/** Update flag: replace only (fails with -ENOENT). */
export const BPF_EXIST = 2;

/** Negative errno values the map operations return, as the kernel's helpers do. */
export const Errno = {
  ENOENT: 2,
  E2BIG: 7,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  EOPNOTSUPP: 95,
} as const;

/** Map types the interpreter simulates, with their BPF_MAP_TYPE_* numbers. */
export const MAP_TYPE_IDS = {
  hash: 1,
  array: 2,
  perf_event_array: 4,
  percpu_array: 6,
  lpm_trie: 11,
  sockmap: 15,
  sockhash: 18,
  ringbuf: 27,
} as const;

/** Name of a simulated map type. */
export type VmMapType = keyof typeof MAP_TYPE_IDS;

/** Size parameters shared by every map. */
export interface MapShape {
  /** Map name (used by `mapRefs` and in messages). */
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function checkShape(shape: MapShape): void {
  for (const [field, v] of [
    ['keySize', shape.keySize],
    ['valueSize', shape.valueSize],
    ['maxEntries', shape.maxEntries],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new VmError('BAD_INPUT', `map ${shape.name}: ${field} ${v} is not a size`);
    }
  }
}

/** Checks an update's flags: only BPF_ANY, BPF_NOEXIST and BPF_EXIST exist for these maps. */
function badFlags(flags: bigint): boolean {
  return flags > BigInt(BPF_EXIST) || flags < 0n;
}

/** Applies the errno of an operation done from TypeScript: 0 passes, anything else throws. */
function orThrow(map: MapShape, op: string, ret: number): void {
  if (ret === 0) return;
  const name = Object.entries(Errno).find(([, v]) => v === -ret)?.[0] ?? `errno ${-ret}`;
  throw new VmError('BAD_INPUT', `${op} on map ${map.name} failed with -${name}`);
}

/** Common base: shape and key/value size checks. */
abstract class MapBase implements MapShape {
  abstract readonly type: VmMapType;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;

  constructor(shape: MapShape) {
    checkShape(shape);
    this.name = shape.name;
    this.keySize = shape.keySize;
    this.valueSize = shape.valueSize;
    this.maxEntries = shape.maxEntries;
  }

  protected checkKey(key: Uint8Array): void {
    if (key.length !== this.keySize) {
      throw new VmError(
        'BAD_INPUT',
        `map ${this.name}: key of ${key.length} bytes, expected ${this.keySize}`,
      );
    }
  }

  protected checkValue(value: Uint8Array): void {
    if (value.length !== this.valueSize) {
      throw new VmError(
        'BAD_INPUT',
        `map ${this.name}: value of ${value.length} bytes, expected ${this.valueSize}`,
      );
    }
  }
}

/** Maps whose values are bytes programs read and write (hash, array, per-CPU array, LPM trie). */
abstract class ValueMapBase extends MapBase {
  /** The stored value buffer for `key` (the program's view), or undefined. */
  abstract lookupElem(key: Uint8Array): Uint8Array | undefined;
  /** bpf_map_update_elem: 0 or a negative errno. */
  abstract updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number;
  /** bpf_map_delete_elem: 0 or a negative errno. */
  abstract deleteElem(key: Uint8Array): number;

  /** A copy of the value stored under `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    return this.lookupElem(key)?.slice();
  }

  /** Stores `value` under `key`; throws a VmError where the kernel would return an errno. */
  set(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.checkKey(key);
    this.checkValue(value);
    orThrow(this, 'update', this.updateElem(key, value, BigInt(flags)));
  }

  /** Deletes `key`; throws a VmError where the kernel would return an errno. */
  delete(key: Uint8Array): void {
    this.checkKey(key);
    orThrow(this, 'delete', this.deleteElem(key));
  }
}

/** BPF_MAP_TYPE_HASH: exact-match keys, at most maxEntries of them (-E2BIG beyond). */
export class HashMap extends ValueMapBase {
  readonly type = 'hash';
  private readonly elems = new Map<string, { key: Uint8Array; value: Uint8Array }>();

  lookupElem(key: Uint8Array): Uint8Array | undefined {
    return this.elems.get(hex(key))?.value;
  }

  updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (badFlags(flags)) return -Errno.EINVAL;
    const existing = this.elems.get(hex(key));
    if (existing && flags === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    if (!existing && flags === BigInt(BPF_EXIST)) return -Errno.ENOENT;
    if (existing) {
      existing.value.set(value);
      return 0;
    }
    if (this.elems.size >= this.maxEntries) return -Errno.E2BIG;
    this.elems.set(hex(key), { key: key.slice(), value: value.slice() });
    return 0;
  }

  deleteElem(key: Uint8Array): number {
    return this.elems.delete(hex(key)) ? 0 : -Errno.ENOENT;
  }

  /** Number of entries. */
  get size(): number {
    return this.elems.size;
  }

  /** Every [key, value] pair (copies), in insertion order. */
  entries(): [Uint8Array, Uint8Array][] {
    return [...this.elems.values()].map((e) => [e.key.slice(), e.value.slice()]);
  }
}

function arrayIndex(key: Uint8Array): number {
  return new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
}

/** A u32 array-map key (little-endian host order). */
export function u32Key(index: number): Uint8Array {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, index >>> 0, true);
  return key;
}

/**
 * BPF_MAP_TYPE_ARRAY: u32 index keys, every element exists (zero-filled) from the start; NOEXIST
 * always fails with -EEXIST, an index >= maxEntries with -E2BIG, delete with -EINVAL.
 */
export class ArrayMap extends ValueMapBase {
  readonly type = 'array';
  private readonly values: Uint8Array[];

  constructor(shape: Omit<MapShape, 'keySize'>) {
    super({ ...shape, keySize: 4 });
    this.values = Array.from({ length: shape.maxEntries }, () => new Uint8Array(shape.valueSize));
  }

  lookupElem(key: Uint8Array): Uint8Array | undefined {
    return this.values[arrayIndex(key)];
  }

  updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (badFlags(flags)) return -Errno.EINVAL;
    const slot = this.values[arrayIndex(key)];
    if (!slot) return -Errno.E2BIG;
    if (flags === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    slot.set(value);
    return 0;
  }

  deleteElem(): number {
    return -Errno.EINVAL;
  }

  /** The live value buffer at `index` (what `ld_imm64 map_value` points into). */
  valueBuffer(index: number): Uint8Array | undefined {
    return this.values[index];
  }
}

/**
 * BPF_MAP_TYPE_PERCPU_ARRAY: like ArrayMap with one value per simulated CPU; programs see the
 * value of `currentCpu`.
 */
export class PerCpuArrayMap extends ValueMapBase {
  readonly type = 'percpu_array';
  /** Number of simulated CPUs. */
  readonly cpus: number;
  /** The CPU the program runs on (selects the value programs see). */
  currentCpu = 0;
  private readonly values: Uint8Array[][];

  constructor(shape: Omit<MapShape, 'keySize'> & { readonly cpus: number }) {
    super({ ...shape, keySize: 4 });
    if (!Number.isInteger(shape.cpus) || shape.cpus < 1) {
      throw new VmError('BAD_INPUT', `map ${shape.name}: cpus ${shape.cpus} must be at least 1`);
    }
    this.cpus = shape.cpus;
    this.values = Array.from({ length: shape.cpus }, () =>
      Array.from({ length: shape.maxEntries }, () => new Uint8Array(shape.valueSize)),
    );
  }

  private cpuValues(): Uint8Array[] {
    const values = this.values[this.currentCpu];
    if (!values) {
      throw new VmError(
        'BAD_INPUT',
        `map ${this.name}: currentCpu ${this.currentCpu} out of range`,
      );
    }
    return values;
  }

  lookupElem(key: Uint8Array): Uint8Array | undefined {
    return this.cpuValues()[arrayIndex(key)];
  }

  updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (badFlags(flags)) return -Errno.EINVAL;
    const slot = this.cpuValues()[arrayIndex(key)];
    if (!slot) return -Errno.E2BIG;
    if (flags === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    slot.set(value);
    return 0;
  }

  deleteElem(): number {
    return -Errno.EINVAL;
  }

  /** Copies of the value at `index` on every CPU, in CPU order. */
  perCpu(index: number): Uint8Array[] {
    return this.values.map((cpu) => {
      const v = cpu[index];
      if (!v) throw new VmError('BAD_INPUT', `map ${this.name}: index ${index} out of range`);
      return v.slice();
    });
  }
}

/**
 * BPF_MAP_TYPE_LPM_TRIE: keys are `{ u32 prefixlen (host order); u8 data[keySize - 4] }`
 * (network-order data); lookup returns the entry with the longest prefix that matches the data and
 * is no longer than the lookup key's prefixlen. Entries are identified by prefixlen and the first
 * prefixlen bits. A full trie returns -ENOSPC; prefixlen beyond the data bits -EINVAL.
 */
export class LpmTrieMap extends ValueMapBase {
  readonly type = 'lpm_trie';
  private readonly elems = new Map<
    string,
    { prefixlen: number; data: Uint8Array; value: Uint8Array }
  >();

  constructor(shape: MapShape) {
    super(shape);
    if (shape.keySize < 5) {
      throw new VmError('BAD_INPUT', `map ${shape.name}: LPM keys are 4 + at least 1 data byte`);
    }
  }

  private get dataBits(): number {
    return (this.keySize - 4) * 8;
  }

  private split(key: Uint8Array): { prefixlen: number; data: Uint8Array } {
    return { prefixlen: arrayIndex(key), data: key.subarray(4) };
  }

  private static masked(data: Uint8Array, prefixlen: number): Uint8Array {
    const out = new Uint8Array(data.length);
    for (let bit = 0; bit < prefixlen; bit += 8) {
      const i = bit / 8;
      const keep = Math.min(8, prefixlen - bit);
      out[i] = (data[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
    }
    return out;
  }

  private id(prefixlen: number, data: Uint8Array): string {
    return `${prefixlen}/${hex(LpmTrieMap.masked(data, prefixlen))}`;
  }

  lookupElem(key: Uint8Array): Uint8Array | undefined {
    const { prefixlen, data } = this.split(key);
    for (let len = Math.min(prefixlen, this.dataBits); len >= 0; len--) {
      const hit = this.elems.get(this.id(len, data));
      if (hit) return hit.value;
    }
    return undefined;
  }

  updateElem(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    const { prefixlen, data } = this.split(key);
    if (badFlags(flags) || prefixlen > this.dataBits) return -Errno.EINVAL;
    const id = this.id(prefixlen, data);
    const existing = this.elems.get(id);
    if (existing && flags === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    if (!existing && flags === BigInt(BPF_EXIST)) return -Errno.ENOENT;
    if (existing) {
      existing.value.set(value);
      return 0;
    }
    if (this.elems.size >= this.maxEntries) return -Errno.ENOSPC;
    this.elems.set(id, {
      prefixlen,
      data: LpmTrieMap.masked(data, prefixlen),
      value: value.slice(),
    });
    return 0;
  }

  deleteElem(key: Uint8Array): number {
    const { prefixlen, data } = this.split(key);
    if (prefixlen > this.dataBits) return -Errno.EINVAL;
    return this.elems.delete(this.id(prefixlen, data)) ? 0 : -Errno.ENOENT;
  }

  /** Number of entries. */
  get size(): number {
    return this.elems.size;
  }
}

/** An LPM trie key: u32 prefixlen (little-endian host order) followed by the network-order data. */
export function lpmKey(prefixlen: number, data: Uint8Array): Uint8Array {
  const key = new Uint8Array(4 + data.length);
  new DataView(key.buffer).setUint32(0, prefixlen, true);
  key.set(data, 4);
  return key;
}

/** Sock maps: values are simulated sockets, inserted by programs or by tests. */
abstract class SocketMapBase extends MapBase {
  /** The socket stored under `key`, or undefined. */
  abstract lookupSocket(key: Uint8Array): VmSocket | undefined;
  /** Inserts `socket` under `key` with BPF_ANY/NOEXIST/EXIST semantics: 0 or a negative errno. */
  abstract updateSocket(key: Uint8Array, socket: VmSocket, flags: bigint): number;
  /** Removes `key`: 0 or -ENOENT. */
  abstract deleteElem(key: Uint8Array): number;

  /** The socket stored under `key` (TypeScript side). */
  get(key: Uint8Array): VmSocket | undefined {
    this.checkKey(key);
    return this.lookupSocket(key);
  }

  /** Inserts a socket from TypeScript; throws a VmError where the kernel returns an errno. */
  set(key: Uint8Array, socket: VmSocket, flags = BPF_ANY): void {
    this.checkKey(key);
    orThrow(this, 'update', this.updateSocket(key, socket, BigInt(flags)));
  }

  /** Deletes `key` from TypeScript; throws a VmError for a missing key. */
  delete(key: Uint8Array): void {
    this.checkKey(key);
    orThrow(this, 'delete', this.deleteElem(key));
  }
}

/** BPF_MAP_TYPE_SOCKHASH: arbitrary keys to sockets (value size 4 or 8). */
export class SockHashMap extends SocketMapBase {
  readonly type = 'sockhash';
  private readonly elems = new Map<string, { key: Uint8Array; socket: VmSocket }>();

  constructor(shape: Omit<MapShape, 'valueSize'> & { readonly valueSize?: 4 | 8 }) {
    super({ ...shape, valueSize: shape.valueSize ?? 4 });
  }

  lookupSocket(key: Uint8Array): VmSocket | undefined {
    return this.elems.get(hex(key))?.socket;
  }

  updateSocket(key: Uint8Array, socket: VmSocket, flags: bigint): number {
    if (badFlags(flags)) return -Errno.EINVAL;
    const existing = this.elems.get(hex(key));
    if (existing && flags === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    if (!existing && flags === BigInt(BPF_EXIST)) return -Errno.ENOENT;
    if (!existing && this.elems.size >= this.maxEntries) return -Errno.E2BIG;
    this.elems.set(hex(key), { key: key.slice(), socket });
    return 0;
  }

  deleteElem(key: Uint8Array): number {
    return this.elems.delete(hex(key)) ? 0 : -Errno.ENOENT;
  }

  /** Number of entries. */
  get size(): number {
    return this.elems.size;
  }

  /** Every [key, socket] pair, in insertion order. */
  entries(): [Uint8Array, VmSocket][] {
    return [...this.elems.values()].map((e) => [e.key.slice(), e.socket]);
  }
}

/** BPF_MAP_TYPE_SOCKMAP: u32 index keys to sockets; an index >= maxEntries gives -E2BIG. */
export class SockArrayMap extends SocketMapBase {
  readonly type = 'sockmap';
  private readonly slots: (VmSocket | undefined)[];

  constructor(shape: Omit<MapShape, 'keySize' | 'valueSize'> & { readonly valueSize?: 4 | 8 }) {
    super({ ...shape, keySize: 4, valueSize: shape.valueSize ?? 4 });
    this.slots = new Array<VmSocket | undefined>(shape.maxEntries).fill(undefined);
  }

  lookupSocket(key: Uint8Array): VmSocket | undefined {
    return this.slots[arrayIndex(key)];
  }

  updateSocket(key: Uint8Array, socket: VmSocket, flags: bigint): number {
    if (badFlags(flags)) return -Errno.EINVAL;
    const index = arrayIndex(key);
    if (index >= this.maxEntries) return -Errno.E2BIG;
    const existing = this.slots[index];
    if (existing && flags === BigInt(BPF_NOEXIST)) return -Errno.EEXIST;
    if (!existing && flags === BigInt(BPF_EXIST)) return -Errno.ENOENT;
    this.slots[index] = socket;
    return 0;
  }

  deleteElem(key: Uint8Array): number {
    const index = arrayIndex(key);
    if (index >= this.maxEntries) return -Errno.EINVAL;
    if (!this.slots[index]) return -Errno.ENOENT;
    this.slots[index] = undefined;
    return 0;
  }
}

/** One record a program wrote with bpf_ringbuf_output or bpf_perf_event_output. */
export interface OutputRecord {
  readonly data: Uint8Array;
  readonly flags: bigint;
  /** perf_event_output only: the CPU index selected by the flags (BPF_F_CURRENT_CPU resolved). */
  readonly cpu?: number;
}

/** BPF_MAP_TYPE_RINGBUF: captures records; maxEntries is the buffer size in bytes. */
export class RingBufMap extends MapBase {
  readonly type = 'ringbuf';
  /** Records output so far, oldest first. */
  readonly records: OutputRecord[] = [];
  private used = 0;

  constructor(shape: { readonly name: string; readonly maxEntries: number }) {
    super({ ...shape, keySize: 0, valueSize: 0 });
  }

  /** bpf_ringbuf_output: 0, or -EAGAIN (-11) when the record (plus its 8-byte header) does not fit. */
  output(data: Uint8Array, flags: bigint): number {
    const need = 8 + Math.ceil(data.length / 8) * 8;
    if (this.used + need > this.maxEntries) return -11;
    this.used += need;
    this.records.push({ data, flags });
    return 0;
  }
}

/** BPF_MAP_TYPE_PERF_EVENT_ARRAY: captures records per CPU. */
export class PerfEventArrayMap extends MapBase {
  readonly type = 'perf_event_array';
  /** Records output so far, oldest first. */
  readonly records: OutputRecord[] = [];

  constructor(shape: { readonly name: string; readonly maxEntries: number }) {
    super({ ...shape, keySize: 4, valueSize: 4 });
  }
}

/** Any simulated map. */
export type VmMap =
  | HashMap
  | ArrayMap
  | PerCpuArrayMap
  | LpmTrieMap
  | SockHashMap
  | SockArrayMap
  | RingBufMap
  | PerfEventArrayMap;

/** Maps whose values are bytes (the ones bpf_map_lookup/update/delete_elem work on). */
export type ValueMap = HashMap | ArrayMap | PerCpuArrayMap | LpmTrieMap;

/** Sock maps (the ones the sock_*_update and msg_redirect_* helpers work on). */
export type SocketMap = SockHashMap | SockArrayMap;

/** Whether a map holds byte values. */
export function isValueMap(map: VmMap): map is ValueMap {
  return match(map.type)
    .with('hash', 'array', 'percpu_array', 'lpm_trie', () => true)
    .with('sockhash', 'sockmap', 'ringbuf', 'perf_event_array', () => false)
    .exhaustive();
}

/** Whether a map holds sockets. */
export function isSocketMap(map: VmMap): map is SocketMap {
  return map.type === 'sockhash' || map.type === 'sockmap';
}
