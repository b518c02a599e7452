/**
 * `.BTF` bytes <-> the id-based model of btf-types.ts: `decodeBtf` (strict, bounded) and
 * `encodeBtf`. The layout (shared/spec/elf-btf-bpf.md §2, libbpf btf.c, kernel btf.c):
 *
 *     struct btf_header {          24 bytes, little-endian
 *       +0  u16 magic = 0xeb9f     bytes 9f eb
 *       +2  u8  version = 1
 *       +3  u8  flags = 0
 *       +4  u32 hdr_len = 24       (longer headers must have zero tail bytes)
 *       +8  u32 type_off           offsets are relative to the END of the header
 *       +12 u32 type_len
 *       +16 u32 str_off
 *       +20 u32 str_len
 *     }
 *     types:   records in id order, id 1 first (id 0 = void has no record)
 *     strings: NUL-separated; first and last byte NUL
 *
 * Record sizes (12-byte common header + kind data):
 *
 *     INT 16 (u32 enc<<24 | bit_offset<<16 | nr_bits)   ARRAY 24 (elem, index, nelems)
 *     STRUCT/UNION 12+12*vlen (name, type, offset)      ENUM 12+8*vlen (name, s32/u32 val)
 *     FUNC_PROTO 12+8*vlen (name, type)                 VAR 16 (u32 linkage)
 *     DATASEC 12+12*vlen (var type, offset, size)       DECL_TAG 16 (s32 component_idx)
 *     ENUM64 12+12*vlen (name, lo32, hi32)              all others 12
 */
import { match } from 'ts-pattern';
import {
  BtfError,
  type BtfFuncLinkage,
  type BtfIntEncoding,
  BtfKind,
  type BtfKindName,
  type BtfType,
  type BtfVarLinkage,
  hex,
} from './btf-types.js';
import { StringTable, StringTableBuilder } from './string-table.js';

/** BTF magic number (`BTF_MAGIC`), stored little-endian as `9f eb`. */
export const BTF_MAGIC = 0xeb9f;
/** Size of the BTF header this module writes. */
export const BTF_HEADER_SIZE = 24;
/** Largest type id the kernel accepts (`BTF_MAX_TYPE`). */
export const BTF_MAX_TYPE = 0xfffff;
/** Largest string offset the kernel accepts (`BTF_MAX_NAME_OFFSET`). */
export const BTF_MAX_NAME_OFFSET = 0xffffff;
/** How deep `resolve`/`sizeof` follow typedefs and modifiers before giving up (libbpf uses 32). */
const MAX_RESOLVE_DEPTH = 32;

/** The decoded BTF header. */
export interface BtfHeader {
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

const KIND_NAMES: readonly (BtfKindName | undefined)[] = (() => {
  const names: (BtfKindName | undefined)[] = [];
  for (const [name, kind] of Object.entries(BtfKind)) names[kind] = name as BtfKindName;
  return names;
})();

const INT_ENCODINGS: Readonly<Record<number, BtfIntEncoding>> = {
  0: 'none',
  1: 'signed',
  2: 'char',
  4: 'bool',
};
const FUNC_LINKAGES: readonly BtfFuncLinkage[] = ['static', 'global', 'extern'];
const VAR_LINKAGES: readonly BtfVarLinkage[] = ['static', 'global', 'extern'];

/** Bytes of kind-specific data after the 12-byte header, per vlen entry or fixed. */
// Switches, not ts-pattern, in trailingSize and btfRecordSize: they run for every type of every
// encode (twice: sizing and writing), a measurable share of building an object.
function trailingSize(kind: BtfKindName, vlen: number): number {
  switch (kind) {
    case 'int':
    case 'var':
    case 'decl_tag':
      return 4;
    case 'array':
      return 12;
    case 'struct':
    case 'union':
    case 'datasec':
    case 'enum64':
      return 12 * vlen;
    case 'enum':
    case 'func_proto':
      return 8 * vlen;
    case 'ptr':
    case 'fwd':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'func':
    case 'float':
    case 'type_tag':
      return 0;
    default:
      kind satisfies never;
      throw new TypeError(`unknown BTF kind ${String(kind)}`);
  }
}

/** Kinds whose vlen field carries entries (FUNC uses it for the linkage). */
const VLEN_KINDS: ReadonlySet<BtfKindName> = new Set([
  'struct',
  'union',
  'enum',
  'enum64',
  'func_proto',
  'datasec',
  'func',
]);
/** Kinds for which the kind_flag has a meaning. */
const KFLAG_KINDS: ReadonlySet<BtfKindName> = new Set([
  'struct',
  'union',
  'enum',
  'enum64',
  'fwd',
  'decl_tag',
  'type_tag',
]);

/** Decoded `.BTF`: types by id, strings, and lookups over them. */
export class Btf {
  /** The decoded header. */
  readonly header: BtfHeader;
  /** `types[i]` is the record of type id `i + 1`. */
  readonly types: readonly BtfType[];
  /** The string section. */
  readonly strings: StringTable;
  /** The bytes this BTF was decoded from. */
  readonly bytes: Uint8Array;
  readonly #recordOffsets: readonly number[];

  /** Use `decodeBtf`; this constructor trusts its arguments. */
  constructor(
    header: BtfHeader,
    types: readonly BtfType[],
    strings: StringTable,
    bytes: Uint8Array,
    recordOffsets: readonly number[],
  ) {
    this.header = header;
    this.types = types;
    this.strings = strings;
    this.bytes = bytes;
    this.#recordOffsets = recordOffsets;
  }

  /** Number of types, not counting void: valid ids are 1..typeCount. */
  get typeCount(): number {
    return this.types.length;
  }

  /** The record of type `id` (1..typeCount); id 0 (void) and unknown ids throw BTF_NOT_FOUND. */
  type(id: number): BtfType {
    const t = Number.isInteger(id) && id >= 1 ? this.types[id - 1] : undefined;
    if (t === undefined) {
      throw new BtfError(
        'BTF_NOT_FOUND',
        `BTF: type id ${id} does not exist (valid ids are 1..${this.types.length}; 0 is void)`,
      );
    }
    return t;
  }

  /** Byte offset in `bytes` of the record of type `id`. */
  recordOffset(id: number): number {
    this.type(id);
    return this.#recordOffsets[id - 1]!;
  }

  /** The string at `offset` of the string section; throws BTF_NOT_FOUND outside it. */
  str(offset: number): string {
    const s = this.strings.get(offset);
    if (s === undefined) {
      throw new BtfError(
        'BTF_NOT_FOUND',
        `BTF: string offset ${offset} is outside the string section (${this.strings.size} bytes)`,
      );
    }
    return s;
  }

  /** Follows typedefs, volatile/const/restrict and type tags from `id`; returns the id reached (0 = void). */
  resolve(id: number): number {
    let cur = id;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      if (cur === 0) return 0;
      const t = this.type(cur);
      if (
        t.kind === 'typedef' ||
        t.kind === 'volatile' ||
        t.kind === 'const' ||
        t.kind === 'restrict' ||
        t.kind === 'type_tag'
      ) {
        cur = t.type;
      } else {
        return cur;
      }
    }
    throw new BtfError(
      'BTF_BAD_REFERENCE',
      `BTF: type id ${id} does not resolve within ${MAX_RESOLVE_DEPTH} typedefs/modifiers (cycle?)`,
    );
  }

  /**
   * Size in bytes of type `id`, as `btf__resolve_size` computes it: INT/ENUM/STRUCT/UNION/FLOAT/
   * DATASEC their size, PTR 8, ARRAY nelems * element size, through typedefs, modifiers and VARs.
   * Throws BTF_NO_SIZE for void, FUNC, FUNC_PROTO and FWD, or when the size exceeds 2^32 - 1.
   */
  sizeof(id: number): number {
    let cur = id;
    let nelems = 1;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      if (cur === 0) break;
      const t = this.type(cur);
      let size: number | undefined;
      switch (t.kind) {
        case 'int':
        case 'struct':
        case 'union':
        case 'enum':
        case 'enum64':
        case 'float':
        case 'datasec':
          size = t.size;
          break;
        case 'ptr':
          size = 8;
          break;
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'type_tag':
        case 'var':
        case 'decl_tag':
          cur = t.type;
          continue;
        case 'array':
          nelems *= t.nelems;
          cur = t.type;
          continue;
        default:
          throw new BtfError(
            'BTF_NO_SIZE',
            `BTF: type id ${id} has no size (reaches ${t.kind.toUpperCase()} [${cur}])`,
          );
      }
      const total = nelems * size;
      if (total > 0xffffffff) {
        throw new BtfError('BTF_NO_SIZE', `BTF: size of type id ${id} exceeds 2^32 - 1 bytes`);
      }
      return total;
    }
    throw new BtfError(
      'BTF_NO_SIZE',
      cur === 0
        ? `BTF: type id ${id} has no size (it is or reaches void)`
        : `BTF: type id ${id} does not resolve to a sized type within ${MAX_RESOLVE_DEPTH} steps`,
    );
  }

  /** The first type id named `name` (of `kind` when given), or undefined. */
  findByName(name: string, kind?: BtfKindName): number | undefined {
    for (let i = 0; i < this.types.length; i++) {
      const t = this.types[i]!;
      if (t.name === name && (kind === undefined || t.kind === kind)) return i + 1;
    }
    return undefined;
  }
}

/** A type-id reference found while decoding, checked once the number of types is known. */
interface PendingRef {
  readonly id: number;
  readonly at: number;
  readonly ownerId: number;
  readonly field: string;
  /** Kind the referenced type must have, if any. */
  readonly mustBe?: BtfKindName;
}

/**
 * Decodes and validates `.BTF` bytes. Every problem raises a BtfError with the byte offset and
 * what was expected; memory use is bounded by the input size (vlen * record size is checked
 * against the remaining bytes before anything is allocated).
 */
export function decodeBtf(bytes: Uint8Array): Btf {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < BTF_HEADER_SIZE) {
    throw new BtfError(
      'BTF_TRUNCATED',
      `BTF: header at offset 0x0 needs ${BTF_HEADER_SIZE} bytes, only ${bytes.length} present`,
      0,
    );
  }
  const magic = view.getUint16(0, true);
  if (magic !== BTF_MAGIC) {
    throw new BtfError(
      'BTF_BAD_MAGIC',
      magic === 0x9feb
        ? 'BTF: magic at offset 0x0 is big-endian (9f eb swapped); only little-endian BTF is supported'
        : `BTF: magic at offset 0x0 is ${hex(magic)}, expected 0xeb9f (bytes 9f eb)`,
      0,
    );
  }
  const version = view.getUint8(2);
  if (version !== 1) {
    throw new BtfError(
      'BTF_UNSUPPORTED',
      `BTF: version at offset 0x2 is ${version}, expected 1`,
      2,
    );
  }
  const flags = view.getUint8(3);
  if (flags !== 0) {
    throw new BtfError(
      'BTF_UNSUPPORTED',
      `BTF: flags at offset 0x3 are ${hex(flags)}, expected 0`,
      3,
    );
  }
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < BTF_HEADER_SIZE || hdrLen > bytes.length) {
    throw new BtfError(
      'BTF_BAD_HEADER',
      `BTF: hdr_len at offset 0x4 is ${hdrLen}, expected ${BTF_HEADER_SIZE}..${bytes.length} (the data size)`,
      4,
    );
  }
  for (let i = BTF_HEADER_SIZE; i < hdrLen; i++) {
    if (bytes[i] !== 0) {
      throw new BtfError(
        'BTF_UNSUPPORTED',
        `BTF: header byte at offset ${hex(i)} is non-zero; a header longer than ${BTF_HEADER_SIZE} bytes must end in zeros`,
        i,
      );
    }
  }
  const typeOff = view.getUint32(8, true);
  const typeLen = view.getUint32(12, true);
  const strOff = view.getUint32(16, true);
  const strLen = view.getUint32(20, true);
  const dataLen = bytes.length - hdrLen;
  if (strOff + strLen > dataLen) {
    throw new BtfError(
      'BTF_BAD_HEADER',
      `BTF: string section (str_off ${strOff} + str_len ${strLen}, header offset 0x10) runs past the end of the data (${dataLen} bytes after the header)`,
      16,
    );
  }
  if (typeOff + typeLen > strOff) {
    throw new BtfError(
      'BTF_BAD_HEADER',
      `BTF: type section (type_off ${typeOff} + type_len ${typeLen}, header offset 0x8) must end at or before the string section (str_off ${strOff})`,
      8,
    );
  }
  if (typeOff % 4 !== 0) {
    throw new BtfError(
      'BTF_BAD_HEADER',
      `BTF: type_off at offset 0x8 is ${typeOff}, expected a multiple of 4`,
      8,
    );
  }
  const header: BtfHeader = { version, flags, hdrLen, typeOff, typeLen, strOff, strLen };

  const strStart = hdrLen + strOff;
  if (strLen === 0) {
    throw new BtfError(
      'BTF_BAD_STRINGS',
      `BTF: string section at offset ${hex(strStart)} is empty; it must hold at least the NUL of the empty string`,
      strStart,
    );
  }
  if (strLen - 1 > BTF_MAX_NAME_OFFSET) {
    throw new BtfError(
      'BTF_BAD_STRINGS',
      `BTF: string section at offset ${hex(strStart)} is ${strLen} bytes, more than the ${BTF_MAX_NAME_OFFSET + 1} the kernel accepts`,
      strStart,
    );
  }
  if (bytes[strStart] !== 0) {
    throw new BtfError(
      'BTF_BAD_STRINGS',
      `BTF: string section at offset ${hex(strStart)} must start with a NUL byte (the empty string), found ${hex(bytes[strStart]!)}`,
      strStart,
    );
  }
  const strEnd = strStart + strLen;
  if (bytes[strEnd - 1] !== 0) {
    throw new BtfError(
      'BTF_BAD_STRINGS',
      `BTF: string section must end with a NUL byte, found ${hex(bytes[strEnd - 1]!)} at offset ${hex(strEnd - 1)}`,
      strEnd - 1,
    );
  }
  const strings = new StringTable(bytes.subarray(strStart, strEnd));

  const types: BtfType[] = [];
  const recordOffsets: number[] = [];
  const refs: PendingRef[] = [];
  const typeStart = hdrLen + typeOff;
  const typeEnd = typeStart + typeLen;
  let at = typeStart;

  // Names repeat a lot (member names, `(anon)`); look each offset up once.
  const names = new Map<number, string>();
  const name = (off: number, fieldAt: number, what: string): string => {
    const known = names.get(off);
    if (known !== undefined) return known;
    const s = strings.get(off);
    if (s === undefined) {
      throw new BtfError(
        'BTF_BAD_STRINGS',
        `BTF: ${what} name_off ${off} at offset ${hex(fieldAt)} is outside the string section (${strLen} bytes)`,
        fieldAt,
      );
    }
    names.set(off, s);
    return s;
  };
  const u32 = (off: number) => view.getUint32(off, true);

  while (at < typeEnd) {
    const id = types.length + 1;
    const left = typeEnd - at;
    if (left < 12) {
      throw new BtfError(
        'BTF_TRUNCATED',
        `BTF: type record at offset ${hex(at)} (type id ${id}) runs past the end of the type section (needs 12 bytes, ${left} left)`,
        at,
      );
    }
    if (id > BTF_MAX_TYPE) {
      throw new BtfError(
        'BTF_BAD_TYPE',
        `BTF: type record at offset ${hex(at)} would be type id ${id}, more than the kernel's limit of ${BTF_MAX_TYPE}`,
        at,
      );
    }
    const info = u32(at + 4);
    const kindNum = (info >>> 24) & 0x1f;
    const kind = KIND_NAMES[kindNum];
    if (kind === undefined) {
      throw new BtfError(
        'BTF_BAD_TYPE',
        `BTF: type record at offset ${hex(at)} (type id ${id}) has kind ${kindNum}, expected 1..19`,
        at + 4,
      );
    }
    if ((info & 0x60ff0000) !== 0) {
      throw new BtfError(
        'BTF_BAD_TYPE',
        `BTF: type record at offset ${hex(at)} (type id ${id}, ${kind.toUpperCase()}) has reserved info bits set (info ${hex(info)}); bits 16-23 and 29-30 must be zero`,
        at + 4,
      );
    }
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    if (!VLEN_KINDS.has(kind) && vlen !== 0) {
      throw new BtfError(
        'BTF_BAD_TYPE',
        `BTF: type record at offset ${hex(at)} (type id ${id}, ${kind.toUpperCase()}) has vlen ${vlen}, expected 0`,
        at + 4,
      );
    }
    if (!KFLAG_KINDS.has(kind) && kflag) {
      throw new BtfError(
        'BTF_BAD_TYPE',
        `BTF: type record at offset ${hex(at)} (type id ${id}, ${kind.toUpperCase()}) has kind_flag set; only STRUCT, UNION, ENUM, ENUM64, FWD and tags may`,
        at + 4,
      );
    }
    const need = 12 + trailingSize(kind, vlen);
    if (need > left) {
      throw new BtfError(
        'BTF_TRUNCATED',
        `BTF: type record at offset ${hex(at)} (type id ${id}, ${kind.toUpperCase()} vlen ${vlen}) runs past the end of the type section (needs ${need} bytes, ${left} left)`,
        at,
      );
    }
    const typeName = name(u32(at), at, `type id ${id}`);
    const sizeOrType = u32(at + 8);
    const data = at + 12;
    const ref = (refId: number, refAt: number, field: string, mustBe?: BtfKindName) => {
      refs.push({ id: refId, at: refAt, ownerId: id, field, ...(mustBe ? { mustBe } : {}) });
      return refId;
    };
    const record: BtfType = match(kind)
      .returnType<BtfType>()
      .with('int', () => {
        const v = u32(data);
        const encodingBits = (v >>> 24) & 0xff;
        const encoding = INT_ENCODINGS[encodingBits];
        if ((v & 0xf000ff00) !== 0 || encoding === undefined) {
          throw new BtfError(
            'BTF_BAD_TYPE',
            `BTF: INT data ${hex(v)} at offset ${hex(data)} (type id ${id}) is invalid; expected encoding 0/1 SIGNED/2 CHAR/4 BOOL in bits 24-27, bit offset in 16-23, bits in 0-7, the rest zero`,
            data,
          );
        }
        return {
          kind: 'int',
          name: typeName,
          size: sizeOrType,
          bitOffset: (v >>> 16) & 0xff,
          bits: v & 0xff,
          encoding,
        };
      })
      .with('ptr', 'typedef', 'volatile', 'const', 'restrict', (k) => ({
        kind: k,
        name: typeName,
        type: ref(sizeOrType, at + 8, 'type'),
      }))
      .with('type_tag', () => ({
        kind: 'type_tag',
        name: typeName,
        type: ref(sizeOrType, at + 8, 'type'),
        kindFlag: kflag,
      }))
      .with('array', () => ({
        kind: 'array',
        name: typeName,
        type: ref(u32(data), data, 'element type'),
        indexType: ref(u32(data + 4), data + 4, 'index type'),
        nelems: u32(data + 8),
      }))
      .with('struct', 'union', (k) => {
        const members = [];
        for (let i = 0; i < vlen; i++) {
          const m = data + 12 * i;
          const off = u32(m + 8);
          members.push({
            name: name(u32(m), m, `member ${i} of type id ${id}`),
            type: ref(u32(m + 4), m + 4, `member ${i} type`),
            bitOffset: kflag ? off & 0xffffff : off,
            bitSize: kflag ? off >>> 24 : 0,
          });
        }
        return { kind: k, name: typeName, size: sizeOrType, kindFlag: kflag, members };
      })
      .with('enum', () => {
        const values = [];
        for (let i = 0; i < vlen; i++) {
          const e = data + 8 * i;
          values.push({
            name: name(u32(e), e, `value ${i} of type id ${id}`),
            value: kflag ? view.getInt32(e + 4, true) : u32(e + 4),
          });
        }
        return { kind: 'enum', name: typeName, size: sizeOrType, signed: kflag, values };
      })
      .with('enum64', () => {
        const values = [];
        for (let i = 0; i < vlen; i++) {
          const e = data + 12 * i;
          const raw = (BigInt(u32(e + 8)) << 32n) | BigInt(u32(e + 4));
          values.push({
            name: name(u32(e), e, `value ${i} of type id ${id}`),
            value: kflag ? BigInt.asIntN(64, raw) : raw,
          });
        }
        return { kind: 'enum64', name: typeName, size: sizeOrType, signed: kflag, values };
      })
      .with('fwd', () => ({ kind: 'fwd', name: typeName, union: kflag }))
      .with('func', () => {
        const linkage = FUNC_LINKAGES[vlen];
        if (linkage === undefined) {
          throw new BtfError(
            'BTF_BAD_TYPE',
            `BTF: FUNC at offset ${hex(at)} (type id ${id}) has linkage (vlen) ${vlen}, expected 0 static, 1 global or 2 extern`,
            at + 4,
          );
        }
        return {
          kind: 'func',
          name: typeName,
          type: ref(sizeOrType, at + 8, 'type', 'func_proto'),
          linkage,
        };
      })
      .with('func_proto', () => {
        const params = [];
        for (let i = 0; i < vlen; i++) {
          const p = data + 8 * i;
          params.push({
            name: name(u32(p), p, `parameter ${i} of type id ${id}`),
            type: ref(u32(p + 4), p + 4, `parameter ${i} type`),
          });
        }
        return {
          kind: 'func_proto',
          name: typeName,
          returnType: ref(sizeOrType, at + 8, 'return type'),
          params,
        };
      })
      .with('var', () => {
        const raw = u32(data);
        const linkage = VAR_LINKAGES[raw];
        if (linkage === undefined) {
          throw new BtfError(
            'BTF_BAD_TYPE',
            `BTF: VAR at offset ${hex(at)} (type id ${id}) has linkage ${raw} at offset ${hex(data)}, expected 0 static, 1 global or 2 extern`,
            data,
          );
        }
        return { kind: 'var', name: typeName, type: ref(sizeOrType, at + 8, 'type'), linkage };
      })
      .with('datasec', () => {
        const vars = [];
        for (let i = 0; i < vlen; i++) {
          const v = data + 12 * i;
          vars.push({
            type: ref(u32(v), v, `variable ${i}`, 'var'),
            offset: u32(v + 4),
            size: u32(v + 8),
          });
        }
        return { kind: 'datasec', name: typeName, size: sizeOrType, vars };
      })
      .with('float', () => ({ kind: 'float', name: typeName, size: sizeOrType }))
      .with('decl_tag', () => ({
        kind: 'decl_tag',
        name: typeName,
        type: ref(sizeOrType, at + 8, 'type'),
        componentIdx: view.getInt32(data, true),
        kindFlag: kflag,
      }))
      .exhaustive();
    types.push(record);
    recordOffsets.push(at);
    at += need;
  }

  for (const r of refs) {
    const target = r.id >= 1 ? types[r.id - 1] : undefined;
    if (r.id > types.length) {
      throw new BtfError(
        'BTF_BAD_REFERENCE',
        `BTF: ${r.field} of type id ${r.ownerId} at offset ${hex(r.at)} refers to type id ${r.id}, but there are only ${types.length} types`,
        r.at,
      );
    }
    if (r.mustBe !== undefined && target?.kind !== r.mustBe) {
      throw new BtfError(
        'BTF_BAD_REFERENCE',
        `BTF: ${r.field} of type id ${r.ownerId} at offset ${hex(r.at)} refers to type id ${r.id} (${target ? target.kind.toUpperCase() : 'void'}), expected a ${r.mustBe.toUpperCase()}`,
        r.at,
      );
    }
  }

  return new Btf(header, types, strings, bytes, recordOffsets);
}

const INT_ENCODING_BITS: Readonly<Record<BtfIntEncoding, number>> = {
  none: 0,
  signed: 1,
  char: 2,
  bool: 4,
};
const FUNC_LINKAGE_CODES: Readonly<Record<BtfFuncLinkage, number>> = {
  static: 0,
  global: 1,
  extern: 2,
};
const VAR_LINKAGE_CODES: Readonly<Record<BtfVarLinkage, number>> = {
  static: 0,
  global: 1,
  extern: 2,
};

/** The code of a named value, rejecting names outside the table (callers may be untyped JS). */
function checkOneOf<K extends string>(
  table: Readonly<Record<K, number>>,
  value: K,
  id: number,
  field: string,
): number {
  const code = Object.hasOwn(table, value) ? table[value] : undefined;
  if (code === undefined) {
    throw new BtfError(
      'BTF_INVALID_INPUT',
      `BTF encode: ${field} of type id ${id} is ${JSON.stringify(value)}, expected one of ${Object.keys(table).join(', ')}`,
    );
  }
  return code;
}

function checkU32(value: number, id: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new BtfError(
      'BTF_INVALID_INPUT',
      `BTF encode: ${field} of type id ${id} is ${value}, expected an integer 0..2^32-1`,
    );
  }
  return value;
}

function checkRange(value: number, lo: number, hi: number, id: number, field: string): number {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new BtfError(
      'BTF_INVALID_INPUT',
      `BTF encode: ${field} of type id ${id} is ${value}, expected an integer ${lo}..${hi}`,
    );
  }
  return value;
}

/** Size in bytes of the encoded record of `t`. */
export function btfRecordSize(t: BtfType): number {
  let vlen = 0;
  switch (t.kind) {
    case 'struct':
    case 'union':
      vlen = t.members.length;
      break;
    case 'enum':
    case 'enum64':
      vlen = t.values.length;
      break;
    case 'func_proto':
      vlen = t.params.length;
      break;
    case 'datasec':
      vlen = t.vars.length;
      break;
  }
  return 12 + trailingSize(t.kind, vlen);
}

/**
 * Encodes types (id 1 first) into `.BTF` bytes with a 24-byte header. Names go into `strings`
 * (a fresh table when omitted; pass the builder's table to keep strings added for line info).
 * Throws BTF_INVALID_INPUT for values that do not fit their fields or references to missing ids.
 */
export function encodeBtf(
  types: readonly BtfType[],
  strings: StringTableBuilder = new StringTableBuilder(),
): Uint8Array {
  if (types.length > BTF_MAX_TYPE) {
    throw new BtfError(
      'BTF_INVALID_INPUT',
      `BTF encode: ${types.length} types, more than the kernel's limit of ${BTF_MAX_TYPE}`,
    );
  }
  let typeLen = 0;
  for (const t of types) typeLen += btfRecordSize(t);
  const typeBytes = new Uint8Array(typeLen);
  const view = new DataView(typeBytes.buffer);
  const count = types.length;
  let at = 0;
  for (let i = 0; i < types.length; i++) {
    const t = types[i]!;
    const id = i + 1;
    const put = (off: number, v: number) => view.setUint32(off, v, true);
    const typeRef = (v: number, field: string) => checkRange(v, 0, count, id, field);
    const nameOff = (s: string) => strings.add(s);
    const info = (vlen: number, kflag: boolean) =>
      ((kflag ? 0x80000000 : 0) |
        (BtfKind[t.kind] << 24) |
        checkRange(vlen, 0, 0xffff, id, 'vlen')) >>>
      0;
    put(at, nameOff(t.name));
    const data = at + 12;
    // A switch, not ts-pattern: every type of every object written goes through here, and
    // match()'s per-call pattern objects were a hot spot of buildSockops(). `never` keeps it
    // exhaustive.
    switch (t.kind) {
      case 'int': {
        put(at + 4, info(0, false));
        put(at + 8, checkU32(t.size, id, 'size'));
        const enc = checkOneOf(INT_ENCODING_BITS, t.encoding, id, 'encoding');
        put(
          data,
          (enc << 24) |
            (checkRange(t.bitOffset, 0, 255, id, 'bitOffset') << 16) |
            checkRange(t.bits, 0, 255, id, 'bits'),
        );
        break;
      }
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict': {
        put(at + 4, info(0, false));
        put(at + 8, typeRef(t.type, 'type'));
        break;
      }
      case 'type_tag': {
        put(at + 4, info(0, t.kindFlag));
        put(at + 8, typeRef(t.type, 'type'));
        break;
      }
      case 'array': {
        put(at + 4, info(0, false));
        put(at + 8, 0);
        put(data, typeRef(t.type, 'element type'));
        put(data + 4, typeRef(t.indexType, 'index type'));
        put(data + 8, checkU32(t.nelems, id, 'nelems'));
        break;
      }
      case 'struct':
      case 'union': {
        put(at + 4, info(t.members.length, t.kindFlag));
        put(at + 8, checkU32(t.size, id, 'size'));
        t.members.forEach((m, j) => {
          const o = data + 12 * j;
          put(o, nameOff(m.name));
          put(o + 4, typeRef(m.type, `member ${j} type`));
          if (t.kindFlag) {
            const off = checkRange(m.bitOffset, 0, 0xffffff, id, `member ${j} bitOffset`);
            put(
              o + 8,
              ((checkRange(m.bitSize, 0, 255, id, `member ${j} bitSize`) << 24) | off) >>> 0,
            );
          } else {
            checkRange(m.bitSize, 0, 0, id, `member ${j} bitSize (needs kindFlag)`);
            put(o + 8, checkU32(m.bitOffset, id, `member ${j} bitOffset`));
          }
        });
        break;
      }
      case 'enum': {
        put(at + 4, info(t.values.length, t.signed));
        put(at + 8, checkU32(t.size, id, 'size'));
        t.values.forEach((v, j) => {
          const o = data + 8 * j;
          put(o, nameOff(v.name));
          const value = t.signed
            ? checkRange(v.value, -0x80000000, 0x7fffffff, id, `value ${j}`)
            : checkU32(v.value, id, `value ${j}`);
          put(o + 4, value >>> 0);
        });
        break;
      }
      case 'enum64': {
        put(at + 4, info(t.values.length, t.signed));
        put(at + 8, checkU32(t.size, id, 'size'));
        t.values.forEach((v, j) => {
          const o = data + 12 * j;
          const lo = t.signed ? -(1n << 63n) : 0n;
          const hi = t.signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
          if (v.value < lo || v.value > hi) {
            throw new BtfError(
              'BTF_INVALID_INPUT',
              `BTF encode: value ${j} of type id ${id} is ${v.value}, expected ${lo}..${hi}`,
            );
          }
          const raw = BigInt.asUintN(64, v.value);
          put(o, nameOff(v.name));
          put(o + 4, Number(raw & 0xffffffffn));
          put(o + 8, Number(raw >> 32n));
        });
        break;
      }
      case 'fwd': {
        put(at + 4, info(0, t.union));
        put(at + 8, 0);
        break;
      }
      case 'func': {
        put(at + 4, info(checkOneOf(FUNC_LINKAGE_CODES, t.linkage, id, 'linkage'), false));
        put(at + 8, typeRef(t.type, 'type'));
        if (types[t.type - 1]?.kind !== 'func_proto') {
          throw new BtfError(
            'BTF_INVALID_INPUT',
            `BTF encode: FUNC ${JSON.stringify(t.name)} (type id ${id}) must refer to a FUNC_PROTO, got type id ${t.type}`,
          );
        }
        break;
      }
      case 'func_proto': {
        put(at + 4, info(t.params.length, false));
        put(at + 8, typeRef(t.returnType, 'return type'));
        t.params.forEach((p, j) => {
          const o = data + 8 * j;
          put(o, nameOff(p.name));
          put(o + 4, typeRef(p.type, `parameter ${j} type`));
        });
        break;
      }
      case 'var': {
        put(at + 4, info(0, false));
        put(at + 8, typeRef(t.type, 'type'));
        put(data, checkOneOf(VAR_LINKAGE_CODES, t.linkage, id, 'linkage'));
        break;
      }
      case 'datasec': {
        put(at + 4, info(t.vars.length, false));
        put(at + 8, checkU32(t.size, id, 'size'));
        t.vars.forEach((v, j) => {
          const o = data + 12 * j;
          put(o, typeRef(v.type, `variable ${j}`));
          if (types[v.type - 1]?.kind !== 'var') {
            throw new BtfError(
              'BTF_INVALID_INPUT',
              `BTF encode: variable ${j} of DATASEC ${JSON.stringify(t.name)} (type id ${id}) must be a VAR, got type id ${v.type}`,
            );
          }
          put(o + 4, checkU32(v.offset, id, `variable ${j} offset`));
          put(o + 8, checkU32(v.size, id, `variable ${j} size`));
        });
        break;
      }
      case 'float': {
        put(at + 4, info(0, false));
        put(at + 8, checkU32(t.size, id, 'size'));
        break;
      }
      case 'decl_tag': {
        put(at + 4, info(0, t.kindFlag));
        put(at + 8, typeRef(t.type, 'type'));
        view.setInt32(data, checkRange(t.componentIdx, -1, 0x7fffffff, id, 'componentIdx'), true);
        break;
      }
      default:
        t satisfies never;
    }
    at += btfRecordSize(t);
  }
  const strBytes = strings.encode();
  if (strBytes.length - 1 > BTF_MAX_NAME_OFFSET) {
    throw new BtfError(
      'BTF_INVALID_INPUT',
      `BTF encode: string section is ${strBytes.length} bytes, more than the ${BTF_MAX_NAME_OFFSET + 1} the kernel accepts`,
    );
  }
  const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + strBytes.length);
  const hv = new DataView(out.buffer);
  hv.setUint16(0, BTF_MAGIC, true);
  hv.setUint8(2, 1);
  hv.setUint8(3, 0);
  hv.setUint32(4, BTF_HEADER_SIZE, true);
  hv.setUint32(8, 0, true);
  hv.setUint32(12, typeLen, true);
  hv.setUint32(16, typeLen, true);
  hv.setUint32(20, strBytes.length, true);
  out.set(typeBytes, BTF_HEADER_SIZE);
  out.set(strBytes, BTF_HEADER_SIZE + typeLen);
  return out;
}
