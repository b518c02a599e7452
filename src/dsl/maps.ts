/**
 * Map declarations. A map is declared once and used three ways: programs reference it (each use
 * is an `ld_imm64` relocated to the map at load time, `ProgramSpec.mapRefs`), the object builder
 * writes its definition into `.maps` with BTF, and user space encodes and decodes its keys and
 * values with the same layouts.
 *
 * The map type is part of the TypeScript type, so a SOCKMAP passed where a helper needs a SOCKHASH
 * does not compile, and the key layout is too, so a key of the wrong struct does not compile.
 */
import type { MapSpec } from '../asm/object-spec.js';
import { DslError } from './errors.js';
import { type Codec, codec, type JsInput, type JsValue, type Layout } from './layout.js';
import { captureLocation, type SourceLocation } from './source-location.js';

/** BPF_MAP_TYPE_* numbers by name (include/uapi/linux/bpf.h, Linux 6.18). */
export const MAP_TYPES = {
  hash: 1,
  array: 2,
  prog_array: 3,
  perf_event_array: 4,
  percpu_hash: 5,
  percpu_array: 6,
  stack_trace: 7,
  cgroup_array: 8,
  lru_hash: 9,
  lru_percpu_hash: 10,
  lpm_trie: 11,
  array_of_maps: 12,
  hash_of_maps: 13,
  devmap: 14,
  sockmap: 15,
  cpumap: 16,
  xskmap: 17,
  sockhash: 18,
  cgroup_storage: 19,
  reuseport_sockarray: 20,
  percpu_cgroup_storage: 21,
  queue: 22,
  stack: 23,
  sk_storage: 24,
  devmap_hash: 25,
  struct_ops: 26,
  ringbuf: 27,
  inode_storage: 28,
  task_storage: 29,
  bloom_filter: 30,
  user_ringbuf: 31,
  cgrp_storage: 32,
  arena: 33,
} as const;

/** A map type name. */
export type MapTypeName = keyof typeof MAP_TYPES;

/** A key or value: a layout (struct, scalar, array, union) or a plain byte size. */
export type KeySpec = Layout | number;

/** Map flags (BPF_F_*) that commonly appear in definitions. */
export const MapFlags = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  MMAPABLE: 1 << 10,
} as const;

/** The JS type a key/value spec decodes to (raw bytes for size-only specs). */
export type SpecJs<K extends KeySpec> = K extends Layout ? JsValue<K> : Uint8Array;
/** The JS type a key/value spec encodes from. */
export type SpecInput<K extends KeySpec> = K extends Layout ? JsInput<K> : Uint8Array;

/** What `map()` takes. */
export interface MapOptions<T extends MapTypeName, K extends KeySpec, V extends KeySpec> {
  readonly type: T;
  /** Key layout or size in bytes (omit for ring buffers, queues and stacks). */
  readonly key?: K;
  /** Value layout or size in bytes (omit for ring buffers). */
  readonly value?: V;
  readonly maxEntries: number;
  /** BPF_F_* flags. */
  readonly flags?: number;
  /** 'by_name' pins the map at `<pin root>/<name>` (LIBBPF_PIN_BY_NAME). */
  readonly pinning?: 'none' | 'by_name';
}

const NAME = /^[A-Za-z0-9_]{1,15}$/;
const KEY4 = new Set<MapTypeName>([
  'array',
  'percpu_array',
  'prog_array',
  'perf_event_array',
  'cgroup_array',
  'sockmap',
  'devmap',
  'cpumap',
  'xskmap',
  'array_of_maps',
]);
const NO_KEY = new Set<MapTypeName>(['ringbuf', 'user_ringbuf', 'queue', 'stack', 'bloom_filter']);
const NO_VALUE = new Set<MapTypeName>(['ringbuf', 'user_ringbuf']);

function byteSize(spec: KeySpec | undefined): number {
  return spec === undefined ? 0 : typeof spec === 'number' ? spec : spec.size;
}

class RawBytesCodec implements Codec<Uint8Array> {
  constructor(readonly size: number) {}
  encode(value: Uint8Array): Uint8Array {
    if (value.length !== this.size) {
      throw new DslError('VALUE_RANGE', `expected ${this.size} bytes, got ${value.length}`);
    }
    return Uint8Array.from(value);
  }
  decode(bytes: Uint8Array): Uint8Array {
    return bytes.slice(0, this.size);
  }
}

function codecOf<K extends KeySpec>(spec: K | undefined): Codec<SpecJs<K>, SpecInput<K>> {
  if (spec === undefined || typeof spec === 'number') {
    return new RawBytesCodec(byteSize(spec)) as unknown as Codec<SpecJs<K>, SpecInput<K>>;
  }
  return codec(spec) as unknown as Codec<SpecJs<K>, SpecInput<K>>;
}

/** A declared map. Pass it to helpers (`b.call.sockHashUpdate(r1, m, key, 0)`) or `b.ldMap`. */
export class MapDef<
  T extends MapTypeName = MapTypeName,
  K extends KeySpec = KeySpec,
  V extends KeySpec = KeySpec,
> {
  /** Map name (symbol and kernel name, at most 15 characters of [A-Za-z0-9_]). */
  readonly name: string;
  /** Map type name. */
  readonly type: T;
  /** Key layout or byte size (0 when the type has no key). */
  readonly key: K;
  /** Value layout or byte size (0 when the type has no value). */
  readonly value: V;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinning: 'none' | 'by_name';
  /** Where the map was declared. */
  readonly location: SourceLocation;
  /** Encodes/decodes keys in user space. */
  readonly keyCodec: Codec<SpecJs<K>, SpecInput<K>>;
  /** Encodes/decodes values in user space. */
  readonly valueCodec: Codec<SpecJs<V>, SpecInput<V>>;

  /** Use `map(name, options)`. */
  constructor(name: string, options: MapOptions<T, K, V>, location: SourceLocation) {
    this.name = name;
    this.type = options.type;
    this.key = (options.key ?? 0) as K;
    this.value = (options.value ?? 0) as V;
    this.keySize = byteSize(options.key);
    this.valueSize = byteSize(options.value);
    this.maxEntries = options.maxEntries;
    this.flags = options.flags ?? 0;
    this.pinning = options.pinning ?? 'none';
    this.location = location;
    this.keyCodec = codecOf(options.key);
    this.valueCodec = codecOf(options.value);
  }

  /** BPF_MAP_TYPE_* number. */
  get typeId(): number {
    return MAP_TYPES[this.type];
  }

  /** The definition as the ELF object writer takes it. */
  toSpec(): MapSpec {
    const asSpec = (s: KeySpec) => (typeof s === 'number' ? s : s.btf);
    return {
      name: this.name,
      type: this.typeId,
      key: asSpec(this.key),
      value: asSpec(this.value),
      maxEntries: this.maxEntries,
      ...(this.flags !== 0 ? { flags: this.flags } : {}),
      ...(this.pinning === 'by_name' ? { pinning: 'by_name' as const } : {}),
    };
  }
}

/** Any map whose type is one of T. */
export type MapOf<T extends MapTypeName> = MapDef<T, KeySpec, KeySpec>;

function validate(name: string, o: MapOptions<MapTypeName, KeySpec, KeySpec>, loc: SourceLocation) {
  const fail = (detail: string): never => {
    throw new DslError('INVALID_MAP', `map ${name}: ${detail}`, loc);
  };
  if (!NAME.test(name)) {
    throw new DslError(
      'INVALID_NAME',
      `map name '${name}' must be 1-15 characters of [A-Za-z0-9_] (the kernel keeps 15, bpffs pin paths reject '.')`,
      loc,
    );
  }
  if (!(o.type in MAP_TYPES)) fail(`unknown map type '${String(o.type)}'`);
  if (!Number.isInteger(o.maxEntries) || o.maxEntries <= 0 || o.maxEntries > 0xffffffff) {
    fail(`maxEntries must be a positive 32-bit integer, got ${o.maxEntries}`);
  }
  for (const [what, spec] of [
    ['key', o.key],
    ['value', o.value],
  ] as const) {
    if (typeof spec === 'number' && (!Number.isInteger(spec) || spec < 0)) {
      fail(`${what} size must be a non-negative integer, got ${spec}`);
    }
  }
  const keySize = byteSize(o.key);
  const valueSize = byteSize(o.value);
  if (NO_KEY.has(o.type)) {
    if (keySize !== 0) fail(`${o.type} maps have no key; omit it`);
  } else if (keySize === 0) {
    fail('a key (layout or byte size) is required');
  }
  if (KEY4.has(o.type) && keySize !== 4) fail(`${o.type} keys are 4 bytes (u32), not ${keySize}`);
  if (NO_VALUE.has(o.type)) {
    if (valueSize !== 0) fail(`${o.type} maps have no value; omit it`);
  } else if (valueSize === 0) {
    fail('a value (layout or byte size) is required');
  }
  if ((o.type === 'sockhash' || o.type === 'sockmap') && valueSize !== 4 && valueSize !== 8) {
    fail(`${o.type} values are socket fds: 4 or 8 bytes, not ${valueSize}`);
  }
  if (o.type === 'sockhash' && keySize > 512) fail(`sockhash keys are at most 512 bytes`);
  if (o.type === 'ringbuf' || o.type === 'user_ringbuf') {
    const n = o.maxEntries;
    if (n % 4096 !== 0 || (n & (n - 1)) !== 0) {
      fail(`ring buffer size (maxEntries) must be a power of 2 and a multiple of 4096, got ${n}`);
    }
  }
  if (o.flags !== undefined && (!Number.isInteger(o.flags) || o.flags < 0)) {
    fail(`flags must be a non-negative integer, got ${o.flags}`);
  }
}

/**
 * Declares a map. The name is validated (1–15 characters of [A-Za-z0-9_]) and so are the
 * type-specific sizes (SOCKHASH values 4 or 8 bytes, array keys 4 bytes, ring buffer size a
 * power-of-2 multiple of the page size), each error naming the declaration's file:line:col.
 */
export function map<const T extends MapTypeName, K extends KeySpec = 0, V extends KeySpec = 0>(
  name: string,
  options: MapOptions<T, K, V>,
): MapDef<T, K, V> {
  const loc = captureLocation();
  validate(name, options, loc);
  return new MapDef(name, options, loc);
}
