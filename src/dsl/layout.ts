/**
 * Data layouts: scalars, arrays, structs and unions with computed offsets. One declaration serves
 * four uses:
 *
 * - stack objects in programs (`b.stack(SockKey)`, typed field loads and stores by path),
 * - map key and value types (`map(..., { key: SockKey })`, checked by TypeScript),
 * - the BTF emitted for maps (`layout.btf`),
 * - encode/decode of keys and values in JavaScript (`codec(layout).encode(v)` / `.decode(bytes)`),
 *   the codec shape `{ size, encode, decode }` the loader's typed map access accepts.
 *
 * Multi-byte scalars are little-endian (the host order of x86-64 and arm64) except the network
 * order types `be16`/`be32`/`be64`, which the codec writes big-endian.
 *
 * Example, the 20-byte 5-tuple key used by socket acceleration (packed, offsets in bytes):
 *
 *     0       4       8   9   10      12      16      20
 *     +-------+-------+---+---+-------+-------+-------+
 *     | sip4  | dip4  |fam|pd1| pad2  | sport | dport |
 *     +-------+-------+---+---+-------+-------+-------+
 */
import type { BtfTypeSpec } from '../asm/object-spec.js';
import { DslError } from './errors.js';
import { captureLocation } from './source-location.js';

/** Byte order of a scalar's stored bytes. */
export type ByteOrder = 'host' | 'network';

/** A data layout's common surface: size, alignment, BTF, and untyped byte access (see `codec`). */
export abstract class LayoutBase {
  /** Size in bytes. */
  abstract readonly size: number;
  /** Natural alignment in bytes. */
  abstract readonly align: number;
  /** The BTF type describing this layout (shared object, so the BTF writer can dedupe). */
  abstract readonly btf: BtfTypeSpec;
  /** Writes `value` at byte `offset` of `view` (untyped; use `encode`). */
  abstract write(view: DataView, offset: number, value: unknown): void;
  /** Reads the value at byte `offset` of `view` (untyped; use `decode`). */
  abstract read(view: DataView, offset: number): unknown;
}

/** Names of the scalar types. */
export type ScalarName =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 's8'
  | 's16'
  | 's32'
  | 's64'
  | 'be16'
  | 'be32'
  | 'be64';

/** JS representation of a scalar: numbers up to 32 bits, bigint for 64-bit ones. */
export type ScalarJs<N extends ScalarName> = N extends 'u64' | 's64' | 'be64' ? bigint : number;

const btfInt = (name: string, size: 1 | 2 | 4 | 8, signed: boolean): BtfTypeSpec => ({
  kind: 'int',
  name,
  size,
  signed,
  ...(size === 1 && !signed ? { char: false } : {}),
});

/** An integer type of 1, 2, 4 or 8 bytes, host or network byte order. */
export class ScalarType<N extends ScalarName = ScalarName> extends LayoutBase {
  readonly kind = 'scalar';
  /** Type name (`u32`, `be16`, …). */
  readonly name: N;
  override readonly size: 1 | 2 | 4 | 8;
  override readonly align: 1 | 2 | 4 | 8;
  /** Whether values are signed. */
  readonly signed: boolean;
  /** Byte order of the stored bytes. */
  readonly order: ByteOrder;
  override readonly btf: BtfTypeSpec;

  /** Use the exported `u8` … `be64` constants. */
  constructor(name: N, size: 1 | 2 | 4 | 8, signed: boolean, order: ByteOrder, btf: BtfTypeSpec) {
    super();
    this.name = name;
    this.size = size;
    this.align = size;
    this.signed = signed;
    this.order = order;
    this.btf = btf;
  }

  override write(view: DataView, offset: number, value: unknown): void {
    const le = this.order === 'host';
    const bits = this.size * 8;
    if (this.size === 8) {
      if (typeof value !== 'bigint') throw this.rangeError(value);
      const min = this.signed ? -(1n << 63n) : 0n;
      const max = this.signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
      if (value < min || value > max) throw this.rangeError(value);
      view.setBigUint64(offset, BigInt.asUintN(64, value), le);
      return;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) throw this.rangeError(value);
    const min = this.signed ? -(2 ** (bits - 1)) : 0;
    const max = this.signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    if (value < min || value > max) throw this.rangeError(value);
    const u = value < 0 ? value + 2 ** bits : value;
    if (this.size === 1) view.setUint8(offset, u);
    else if (this.size === 2) view.setUint16(offset, u, le);
    else view.setUint32(offset, u, le);
  }

  override read(view: DataView, offset: number): number | bigint {
    const le = this.order === 'host';
    if (this.size === 8) {
      const v = view.getBigUint64(offset, le);
      return this.signed ? BigInt.asIntN(64, v) : v;
    }
    const bits = this.size * 8;
    const u =
      this.size === 1
        ? view.getUint8(offset)
        : this.size === 2
          ? view.getUint16(offset, le)
          : view.getUint32(offset, le);
    return this.signed && u >= 2 ** (bits - 1) ? u - 2 ** bits : u;
  }

  private rangeError(value: unknown): DslError {
    return new DslError(
      'VALUE_RANGE',
      `${String(value)} is not a valid ${this.name} (${this.size === 8 ? 'a bigint' : 'an integer'} in range expected)`,
    );
  }
}

const U8 = btfInt('unsigned char', 1, false);
const U16 = btfInt('unsigned short', 2, false);
const U32 = btfInt('unsigned int', 4, false);
const U64 = btfInt('unsigned long long', 8, false);
const typedef = (name: string, target: BtfTypeSpec): BtfTypeSpec => ({
  kind: 'typedef',
  name,
  target,
});
const T_U16 = typedef('__u16', U16);
const T_U32 = typedef('__u32', U32);
const T_U64 = typedef('__u64', U64);

/** Unsigned 8-bit integer (`__u8`). */
export const u8 = new ScalarType('u8', 1, false, 'host', typedef('__u8', U8));
/** Unsigned 16-bit integer, host order (`__u16`). */
export const u16 = new ScalarType('u16', 2, false, 'host', T_U16);
/** Unsigned 32-bit integer, host order (`__u32`). */
export const u32 = new ScalarType('u32', 4, false, 'host', T_U32);
/** Unsigned 64-bit integer, host order (`__u64`); a bigint in JS. */
export const u64 = new ScalarType('u64', 8, false, 'host', T_U64);
/** Signed 8-bit integer (`__s8`). */
export const s8 = new ScalarType(
  's8',
  1,
  true,
  'host',
  typedef('__s8', btfInt('signed char', 1, true)),
);
/** Signed 16-bit integer (`__s16`). */
export const s16 = new ScalarType(
  's16',
  2,
  true,
  'host',
  typedef('__s16', btfInt('short', 2, true)),
);
/** Signed 32-bit integer (`__s32`). */
export const s32 = new ScalarType('s32', 4, true, 'host', typedef('__s32', btfInt('int', 4, true)));
/** Signed 64-bit integer (`__s64`); a bigint in JS. */
export const s64 = new ScalarType(
  's64',
  8,
  true,
  'host',
  typedef('__s64', btfInt('long long', 8, true)),
);
/** 16-bit integer in network byte order (`__be16`); the codec reads and writes it big-endian. */
export const be16 = new ScalarType('be16', 2, false, 'network', typedef('__be16', T_U16));
/** 32-bit integer in network byte order (`__be32`), e.g. an IPv4 address. */
export const be32 = new ScalarType('be32', 4, false, 'network', typedef('__be32', T_U32));
/** 64-bit integer in network byte order (`__be64`); a bigint in JS. */
export const be64 = new ScalarType('be64', 8, false, 'network', typedef('__be64', T_U64));

/** Any layout: scalar, array, struct or union. */
export type Layout = ScalarType | ArrayType<Layout, number> | StructType | UnionType;

// Recursive type functions carry a depth counter: layouts nest a handful of levels at most, and
// the bound keeps TypeScript from expanding the recursive `Layout` union forever.
type Depth = readonly unknown[];
type Deeper<D extends Depth> = readonly [unknown, ...D];
type TooDeep<D extends Depth> = D['length'] extends 6 ? true : false;

/** The JS value a layout decodes to. */
export type JsValue<L, D extends Depth = []> =
  TooDeep<D> extends true
    ? unknown
    : L extends ScalarType<infer N>
      ? ScalarJs<N>
      : L extends ArrayType<infer E, number>
        ? JsValue<E, Deeper<D>>[]
        : L extends StructType<string, infer F> | UnionType<string, infer F>
          ? { -readonly [K in keyof F]: JsValue<F[K], Deeper<D>> }
          : never;

/** The JS value a layout encodes from: struct fields may be omitted (zero), unions set one member. */
export type JsInput<L, D extends Depth = []> =
  TooDeep<D> extends true
    ? unknown
    : L extends ScalarType<infer N>
      ? ScalarJs<N>
      : L extends ArrayType<infer E, number>
        ? readonly JsInput<E, Deeper<D>>[]
        : L extends StructType<string, infer F> | UnionType<string, infer F>
          ? { readonly [K in keyof F]?: JsInput<F[K], Deeper<D>> }
          : never;

/** A fixed-length array of `length` elements of `elem`. */
export class ArrayType<E extends Layout = Layout, Len extends number = number> extends LayoutBase {
  readonly kind = 'array';
  /** Element layout. */
  readonly elem: E;
  /** Number of elements. */
  readonly length: Len;
  override readonly size: number;
  override readonly align: number;
  override readonly btf: BtfTypeSpec;

  /** Use `array(elem, length)`. */
  constructor(elem: E, length: Len) {
    super();
    this.elem = elem;
    this.length = length;
    this.size = elem.size * length;
    this.align = elem.align;
    this.btf = { kind: 'array', elem: elem.btf, length };
  }

  override write(view: DataView, offset: number, value: unknown): void {
    if (!Array.isArray(value))
      throw new DslError('VALUE_RANGE', 'an array layout encodes an array');
    if (value.length > this.length) {
      throw new DslError(
        'VALUE_RANGE',
        `array of ${this.length} elements cannot hold ${value.length} values`,
      );
    }
    value.forEach((v: unknown, i) => {
      this.elem.write(view, offset + i * this.elem.size, v);
    });
  }

  override read(view: DataView, offset: number): unknown[] {
    return Array.from({ length: this.length }, (_, i) =>
      this.elem.read(view, offset + i * this.elem.size),
    );
  }
}

/** An array of `length` elements of `elem` (natural alignment of the element). */
export function array<E extends Layout, Len extends number>(
  elem: E,
  length: Len,
): ArrayType<E, Len> {
  if (!Number.isInteger(length) || length <= 0) {
    throw new DslError(
      'INVALID_STRUCT',
      `array length must be a positive integer, got ${length}`,
      captureLocation(),
    );
  }
  return new ArrayType(elem, length);
}

/** Field layouts of a struct or union, in declaration order. */
export type Fields = { readonly [name: string]: Layout };

/** One member of a struct or union with its computed byte offset. */
export interface FieldInfo {
  readonly name: string;
  readonly layout: Layout;
  readonly offset: number;
}

/** Layout options of a struct. */
export interface StructOptions {
  /** No padding: every member at alignment 1 (like `__attribute__((packed))`). Default false. */
  readonly packed?: boolean;
}

abstract class Aggregate<Name extends string, F extends Fields> extends LayoutBase {
  /** Type name, also the BTF name. */
  readonly name: Name;
  /** Members with their byte offsets, in declaration order. */
  readonly members: readonly FieldInfo[];
  /** Field layouts as declared. */
  readonly fields: F;

  constructor(name: Name, fields: F, members: readonly FieldInfo[]) {
    super();
    this.name = name;
    this.fields = fields;
    this.members = members;
  }

  override write(view: DataView, offset: number, value: unknown): void {
    if (typeof value !== 'object' || value === null) {
      throw new DslError('VALUE_RANGE', `${this.name} encodes an object`);
    }
    const v = value as Record<string, unknown>;
    for (const key of Object.keys(v)) {
      if (!(key in this.fields)) {
        throw new DslError('VALUE_RANGE', `${this.name} has no field '${key}'`);
      }
    }
    for (const m of this.members) {
      const fv = v[m.name];
      if (fv !== undefined) {
        m.layout.write(view, offset + m.offset, fv);
      }
    }
  }

  override read(view: DataView, offset: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const m of this.members) out[m.name] = m.layout.read(view, offset + m.offset);
    return out;
  }
}

function checkFields(kind: string, name: string, fields: Fields): void {
  const loc = captureLocation();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new DslError('INVALID_STRUCT', `${kind} name '${name}' is not a C identifier`, loc);
  }
  const names = Object.keys(fields);
  if (names.length === 0) {
    throw new DslError('INVALID_STRUCT', `${kind} ${name} has no fields`, loc);
  }
  for (const f of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f)) {
      throw new DslError(
        'INVALID_STRUCT',
        `field '${f}' of ${kind} ${name} is not a C identifier`,
        loc,
      );
    }
  }
}

/** A C struct: members laid out in order with natural alignment, or packed. */
export class StructType<Name extends string = string, F extends Fields = Fields> extends Aggregate<
  Name,
  F
> {
  readonly kind = 'struct';
  override readonly size: number;
  override readonly align: number;
  /** Whether the struct is packed. */
  readonly packed: boolean;
  override readonly btf: BtfTypeSpec;

  /** Use `struct(name, fields, options)`. */
  constructor(name: Name, fields: F, options: StructOptions = {}) {
    checkFields('struct', name, fields);
    const packed = options.packed ?? false;
    let offset = 0;
    let align = 1;
    const members: FieldInfo[] = [];
    for (const [fname, layout] of Object.entries(fields)) {
      const a = packed ? 1 : layout.align;
      offset = Math.ceil(offset / a) * a;
      members.push({ name: fname, layout, offset });
      offset += layout.size;
      align = Math.max(align, a);
    }
    super(name, fields, members);
    this.packed = packed;
    this.align = align;
    this.size = Math.ceil(offset / align) * align;
    this.btf = {
      kind: 'struct',
      name,
      size: this.size,
      members: members.map((m) => ({ name: m.name, type: m.layout.btf, bitOffset: m.offset * 8 })),
    };
  }

  /** Byte offset of a member path such as `'sport'` or `'addr.v4'` or `'ip6[2]'`. */
  offsetOf<T extends StructType>(this: T, path: FieldPath<T>): number {
    return resolvePath(this, path).offset;
  }
}

/** A C union: every member at offset 0; size is the largest member's, rounded to alignment. */
export class UnionType<Name extends string = string, F extends Fields = Fields> extends Aggregate<
  Name,
  F
> {
  readonly kind = 'union';
  override readonly size: number;
  override readonly align: number;
  override readonly btf: BtfTypeSpec;

  /** Use `union(name, fields)`. */
  constructor(name: Name, fields: F) {
    checkFields('union', name, fields);
    const members = Object.entries(fields).map(([fname, layout]) => ({
      name: fname,
      layout,
      offset: 0,
    }));
    super(name, fields, members);
    this.align = Math.max(...members.map((m) => m.layout.align));
    this.size = Math.ceil(Math.max(...members.map((m) => m.layout.size)) / this.align) * this.align;
    this.btf = {
      kind: 'union',
      name,
      size: this.size,
      members: members.map((m) => ({ name: m.name, type: m.layout.btf, bitOffset: 0 })),
    };
  }
}

/** Declares a struct. Field order is declaration order; `{ packed: true }` removes padding. */
export function struct<const Name extends string, const F extends Fields>(
  name: Name,
  fields: F,
  options?: StructOptions,
): StructType<Name, F> {
  return new StructType(name, fields, options);
}

/** Declares a union (all members at offset 0). */
export function union<const Name extends string, const F extends Fields>(
  name: Name,
  fields: F,
): UnionType<Name, F> {
  return new UnionType(name, fields);
}

type PathsOf<L, P extends string, D extends Depth> =
  TooDeep<D> extends true
    ? never
    : L extends ScalarType
      ? P
      : L extends ArrayType<infer E, number>
        ? PathsOf<E, `${P}[${number}]`, Deeper<D>>
        : L extends StructType<string, infer G> | UnionType<string, infer G>
          ? {
              [K in keyof G & string]: PathsOf<G[K], P extends '' ? K : `${P}.${K}`, Deeper<D>>;
            }[keyof G & string]
          : never;

type AllPathsOf<L, P extends string, D extends Depth> =
  TooDeep<D> extends true
    ? never
    :
        | P
        | (L extends ArrayType<infer E, number>
            ? AllPathsOf<E, `${P}[${number}]`, Deeper<D>>
            : L extends StructType<string, infer G> | UnionType<string, infer G>
              ? {
                  [K in keyof G & string]: AllPathsOf<
                    G[K],
                    P extends '' ? K : `${P}.${K}`,
                    Deeper<D>
                  >;
                }[keyof G & string]
              : never);

/** Paths to the scalar members of a layout (`'sport'`, `'addr.v4'`, `'ip6[1]'`; `''` for a scalar). */
export type ScalarPath<L> = PathsOf<L, '', []>;

/** Paths to any member of a layout, including aggregates and the whole object (`''`). */
export type FieldPath<L> = AllPathsOf<L, '', []>;

/** The result of resolving a member path: where it is and what it holds. */
export interface ResolvedPath {
  readonly offset: number;
  readonly layout: Layout;
}

const SEGMENT = /^(?:\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\])/;

/** Resolves a member path (`a.b[2].c`) to its byte offset and layout; throws on unknown members. */
export function resolvePath(layout: Layout, path: string): ResolvedPath {
  let rest = path;
  let offset = 0;
  let cur: Layout = layout;
  while (rest.length > 0) {
    const m = SEGMENT.exec(rest);
    if (!m) throw new DslError('UNKNOWN_FIELD', `malformed member path '${path}'`);
    rest = rest.slice(m[0].length);
    if (m[1] !== undefined) {
      if (cur.kind !== 'struct' && cur.kind !== 'union') {
        throw new DslError('UNKNOWN_FIELD', `'${path}': ${m[1]} is a member of a non-struct value`);
      }
      const member: FieldInfo | undefined = cur.members.find((f) => f.name === m[1]);
      if (!member) {
        throw new DslError('UNKNOWN_FIELD', `${cur.kind} ${cur.name} has no member '${m[1]}'`);
      }
      offset += member.offset;
      cur = member.layout;
    } else {
      const index = Number(m[2]);
      if (cur.kind !== 'array') {
        throw new DslError('UNKNOWN_FIELD', `'${path}': [${index}] indexes a non-array value`);
      }
      if (index >= cur.length) {
        throw new DslError(
          'UNKNOWN_FIELD',
          `'${path}': index ${index} is outside the array of ${cur.length}`,
        );
      }
      offset += index * cur.elem.size;
      cur = cur.elem;
    }
  }
  return { offset, layout: cur };
}

/** Scalar member ranges of a layout (where padding is not), as [offset, size] pairs. */
export function scalarRanges(layout: Layout, base = 0): [number, number][] {
  switch (layout.kind) {
    case 'scalar':
      return [[base, layout.size]];
    case 'array':
      return Array.from({ length: layout.length }, (_, i) =>
        scalarRanges(layout.elem, base + i * layout.elem.size),
      ).flat();
    case 'struct':
    case 'union':
      return layout.members.flatMap((m) => scalarRanges(m.layout, base + m.offset));
  }
}

/** A user-space codec: the shape the loader's typed map access accepts. */
export interface Codec<T, In = T> {
  /** Encoded size in bytes. */
  readonly size: number;
  /** Encodes a value into exactly `size` bytes. */
  encode(value: In): Uint8Array;
  /** Decodes the first `size` bytes. */
  decode(bytes: Uint8Array): T;
}

/** The typed codec of a layout: encodes JS values to its bytes and back (padding is zero). */
export function codec<L extends Layout>(layout: L): Codec<JsValue<L>, JsInput<L>> {
  return {
    size: layout.size,
    encode(value: JsInput<L>): Uint8Array {
      const bytes = new Uint8Array(layout.size);
      layout.write(new DataView(bytes.buffer), 0, value);
      return bytes;
    },
    decode(bytes: Uint8Array): JsValue<L> {
      if (bytes.length < layout.size) {
        throw new DslError(
          'VALUE_RANGE',
          `cannot decode ${layout.size} bytes from a buffer of ${bytes.length}: pass the whole key or value`,
        );
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return layout.read(view, 0) as JsValue<L>;
    },
  };
}
