/**
 * User-space map access: create maps, read and write elements as raw bytes (for foreign objects)
 * or through typed codecs (the DSL's struct declarations implement `MapCodec`; the loader never
 * imports the DSL), iterate keys with MAP_GET_NEXT_KEY, and pin by name the libbpf way: reuse a
 * compatible pinned map, refuse an incompatible one naming the field that differs.
 */
import { readFileSync } from 'node:fs';
import type { MapInfo } from './attr.js';
import {
  mapCreate,
  mapDelete,
  mapGetNextKey,
  mapInfo,
  mapLookup,
  mapUpdate,
  objGet,
  objGetTry,
  objPin,
} from './commands.js';
import { MapType, nameOf, UpdateFlags } from './constants.js';
import { BpfError, Errno, LoaderError } from './errors.js';
import { Fd } from './fd.js';
import type { BpfSyscall } from './syscall.js';

/**
 * Converts between a JavaScript value and the bytes of a map key or value. `size` is the byte
 * size the map was created with; `encode` must return exactly that many bytes.
 */
export interface MapCodec<V> {
  readonly size: number;
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

/** A little-endian u32 key or value. */
export const u32Codec: MapCodec<number> = {
  size: 4,
  encode(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return b;
  },
  decode(b) {
    return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  },
};

/** A little-endian u64 key or value (as bigint). */
export const u64Codec: MapCodec<bigint> = {
  size: 8,
  encode(v) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    return b;
  },
  decode(b) {
    return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
  },
};

/** Raw bytes of a fixed size. */
export function bytesCodec(size: number): MapCodec<Uint8Array> {
  return {
    size,
    encode(v) {
      if (v.length !== size) {
        throw new LoaderError('ERR_BAD_ARGUMENT', `expected ${size} bytes, got ${v.length}`);
      }
      return v;
    },
    decode(b) {
      return b;
    },
  };
}

/** What a map is, as given to BPF_MAP_CREATE and compared when reusing a pinned map. */
export interface MapDefinition {
  /** Kernel map name, at most 15 characters of [A-Za-z0-9_]. */
  readonly name: string;
  /** BPF_MAP_TYPE_* number. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags?: number;
  readonly mapExtra?: bigint;
  readonly numaNode?: number;
  readonly innerMapFd?: number;
  /** BTF key/value types (ignored for map types that refuse them, like SOCKHASH). */
  readonly btf?: { readonly fd: number; readonly keyTypeId: number; readonly valueTypeId: number };
}

/** Map types the kernel refuses BTF key/value types for (libbpf creates them without BTF). */
const NO_BTF_TYPES: ReadonlySet<number> = new Set([
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.STACK_TRACE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  MapType.DEVMAP_HASH,
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.QUEUE,
  MapType.STACK,
  MapType.RINGBUF,
]);

const PERCPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

let possibleCpus: number | undefined;
/** Number of possible CPUs (per-CPU map values hold one 8-aligned slot per possible CPU). */
export function possibleCpuCount(): number {
  if (possibleCpus !== undefined) return possibleCpus;
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let n = 0;
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - (a ?? 0) + 1;
  }
  possibleCpus = n;
  return n;
}

/** A map in the kernel, owned through its fd. Keys and values are raw bytes. */
export class BpfMap implements Disposable {
  readonly #sys: BpfSyscall;
  /** The owned map fd. */
  readonly fd: Fd;
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly mapExtra: bigint;
  /** Where the map is pinned, if this handle pinned it or was opened from a pin. */
  pinnedAt: string | undefined;

  constructor(sys: BpfSyscall, fd: number, def: MapDefinition, pinnedAt?: string) {
    this.#sys = sys;
    this.fd = new Fd(sys, fd, `map ${def.name}`);
    this.name = def.name;
    this.type = def.type;
    this.keySize = def.keySize;
    this.valueSize = def.valueSize;
    this.maxEntries = def.maxEntries;
    this.flags = def.flags ?? 0;
    this.mapExtra = def.mapExtra ?? 0n;
    this.pinnedAt = pinnedAt;
  }

  /** The kernel interface this map was created through. */
  get sys(): BpfSyscall {
    return this.#sys;
  }

  /** Bytes a lookup returns: value_size, or one 8-aligned slot per possible CPU for per-CPU maps. */
  get lookupSize(): number {
    return PERCPU_TYPES.has(this.type)
      ? Math.ceil(this.valueSize / 8) * 8 * possibleCpuCount()
      : this.valueSize;
  }

  #checkKey(key: Uint8Array): void {
    if (key.length !== this.keySize) {
      throw new LoaderError(
        'ERR_BAD_ARGUMENT',
        `map ${this.name}: key has ${key.length} bytes, the map's key_size is ${this.keySize}`,
      );
    }
  }

  /** The value at `key`, or undefined. */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.#checkKey(key);
    return mapLookup(this.#sys, this.fd.value, key, this.lookupSize);
  }

  /** Sets `key` to `value` (flags: UpdateFlags.ANY, NOEXIST or EXIST). */
  update(key: Uint8Array, value: Uint8Array, flags: number = UpdateFlags.ANY): void {
    this.#checkKey(key);
    mapUpdate(this.#sys, this.fd.value, key, value, flags);
  }

  /** Deletes `key`; true if it was there. */
  delete(key: Uint8Array): boolean {
    this.#checkKey(key);
    return mapDelete(this.#sys, this.fd.value, key);
  }

  /** Every key, by MAP_GET_NEXT_KEY (a key deleted during iteration may restart a hash walk). */
  *keys(): Generator<Uint8Array> {
    let key: Uint8Array | undefined;
    for (;;) {
      key = mapGetNextKey(this.#sys, this.fd.value, key, this.keySize);
      if (key === undefined) return;
      yield key;
    }
  }

  /**
   * Every [key, value]; keys that vanish between the two calls are skipped. SOCKMAP/SOCKHASH
   * values are only readable with value_size 8 (the socket cookie); use `keys()` for them.
   */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) yield [key, value];
    }
  }

  /** The kernel's view of the map (id, sizes, flags, BTF ids). */
  info(): MapInfo {
    return mapInfo(this.#sys, this.fd.value);
  }

  /** Pins the map at `path` (inside bpffs; parents must exist). */
  pin(path: string): void {
    objPin(this.#sys, this.fd.value, path);
    this.pinnedAt = path;
  }

  /** A typed view of this map through key and value codecs. */
  typed<K, V>(key: MapCodec<K>, value: MapCodec<V>): TypedMap<K, V> {
    return new TypedMap(this, key, value);
  }

  /** Closes the map fd (the map lives on while pinned or used by a loaded program). */
  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A map seen through codecs: `get`/`set`/`delete`/`keys`/`entries` on JavaScript values. */
export class TypedMap<K, V> {
  /** The underlying raw map. */
  readonly map: BpfMap;
  readonly #key: MapCodec<K>;
  readonly #value: MapCodec<V>;

  constructor(map: BpfMap, key: MapCodec<K>, value: MapCodec<V>) {
    if (key.size !== map.keySize || value.size !== map.valueSize) {
      throw new LoaderError(
        'ERR_BAD_ARGUMENT',
        `map ${map.name} has key_size ${map.keySize} / value_size ${map.valueSize}, ` +
          `the codecs have ${key.size} / ${value.size}`,
      );
    }
    this.map = map;
    this.#key = key;
    this.#value = value;
  }

  /** The value at `key`, or undefined. */
  get(key: K): V | undefined {
    const v = this.map.lookup(this.#key.encode(key));
    return v === undefined ? undefined : this.#value.decode(v);
  }

  /** Sets `key` to `value`. */
  set(key: K, value: V, flags: number = UpdateFlags.ANY): void {
    this.map.update(this.#key.encode(key), this.#value.encode(value), flags);
  }

  /** Deletes `key`; true if it was there. */
  delete(key: K): boolean {
    return this.map.delete(this.#key.encode(key));
  }

  /** Every key, decoded. */
  *keys(): Generator<K> {
    for (const k of this.map.keys()) yield this.#key.decode(k);
  }

  /** Every [key, value], decoded. */
  *entries(): Generator<[K, V]> {
    for (const [k, v] of this.map.entries()) yield [this.#key.decode(k), this.#value.decode(v)];
  }
}

/** BPF_MAP_CREATE for `def` (BTF types are dropped for map types that refuse them). */
export function createMap(sys: BpfSyscall, def: MapDefinition): BpfMap {
  const btf = def.btf && !NO_BTF_TYPES.has(def.type) ? def.btf : undefined;
  const fd = mapCreate(sys, {
    mapType: def.type,
    keySize: def.keySize,
    valueSize: def.valueSize,
    maxEntries: def.maxEntries,
    mapFlags: def.flags ?? 0,
    innerMapFd: def.innerMapFd,
    numaNode: def.numaNode,
    name: def.name,
    btfFd: btf?.fd,
    btfKeyTypeId: btf?.keyTypeId,
    btfValueTypeId: btf?.valueTypeId,
    mapExtra: def.mapExtra,
  });
  return new BpfMap(sys, fd, def);
}

/** Opens the map pinned at `path`, reading its definition from the kernel. */
export function openPinnedMap(sys: BpfSyscall, path: string): BpfMap {
  const fd = objGet(sys, path);
  try {
    const info = mapInfo(sys, fd);
    return new BpfMap(sys, fd, definitionOf(info), path);
  } catch (err) {
    sys.close(fd);
    if (err instanceof BpfError && err.errno === 'EINVAL') {
      throw new LoaderError('ERR_BAD_ARGUMENT', `${path} is pinned but is not a map`);
    }
    throw err;
  }
}

/** A MapDefinition from what the kernel reports. */
export function definitionOf(info: MapInfo): MapDefinition {
  return {
    name: info.name,
    type: info.type,
    keySize: info.keySize,
    valueSize: info.valueSize,
    maxEntries: info.maxEntries,
    flags: info.mapFlags,
    mapExtra: info.mapExtra,
  };
}

/**
 * Why a pinned map cannot stand in for `def` (libbpf's `map_is_reuse_compat`): the first of type,
 * key_size, value_size, max_entries, map_flags, map_extra that differs, or undefined if none.
 */
export function pinnedMapMismatch(def: MapDefinition, info: MapInfo): string | undefined {
  const fields: [string, number | bigint, number | bigint, (v: number | bigint) => string][] = [
    ['type', def.type, info.type, (v) => `${nameOf(MapType, Number(v))} (${v})`],
    ['key_size', def.keySize, info.keySize, String],
    ['value_size', def.valueSize, info.valueSize, String],
    ['max_entries', def.maxEntries, info.maxEntries, String],
    ['map_flags', def.flags ?? 0, info.mapFlags, (v) => `0x${v.toString(16)}`],
    ['map_extra', def.mapExtra ?? 0n, info.mapExtra, (v) => `0x${v.toString(16)}`],
  ];
  for (const [field, want, have, show] of fields) {
    if (BigInt(want) !== BigInt(have))
      return `${field} is ${show(have)} in the pinned map but ${show(want)} in the object`;
  }
  return undefined;
}

/**
 * The map `def` pinned at `path`: reuses a compatible map already pinned there, refuses an
 * incompatible one (naming the differing field), or creates the map and pins it.
 */
export function createOrReuseMap(
  sys: BpfSyscall,
  def: MapDefinition,
  path: string,
): { map: BpfMap; reused: boolean } {
  const existing = objGetTry(sys, path);
  if (existing >= 0) {
    let info: MapInfo;
    try {
      info = mapInfo(sys, existing);
    } catch (err) {
      sys.close(existing);
      throw err;
    }
    const why = pinnedMapMismatch(def, info);
    if (why !== undefined) {
      sys.close(existing);
      throw new LoaderError(
        'ERR_PINNED_MAP_INCOMPATIBLE',
        `map ${def.name}: cannot reuse the map pinned at ${path}: ${why}; ` +
          `remove the pin (rm ${path}) to create a fresh map, or make the definitions agree`,
      );
    }
    return { map: new BpfMap(sys, existing, def, path), reused: true };
  }
  if (existing !== -Errno.ENOENT) throw new BpfError('OBJ_GET', -existing, { path });
  const map = createMap(sys, def);
  try {
    map.pin(path);
  } catch (err) {
    map.close();
    throw err;
  }
  return { map, reused: false };
}
