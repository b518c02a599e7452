/**
 * BtfBuilder: collects BTF types for an object being written and encodes `.BTF`.
 *
 * Two ways in: `add(spec)` turns the graph form of object-spec.ts (`BtfTypeSpec`, plain objects
 * pointing at each other) into id-based records, one id per distinct spec object and one id per
 * structurally identical scalar/derived type (INT, PTR, ARRAY, TYPEDEF, …); `addType(record)` appends
 * any id-based record (all kinds 1-19) exactly as given. Structs and unions get their id before their
 * members are added, so self-referencing graphs (`struct node { struct node *next; }`) work.
 */
import { match } from 'ts-pattern';
import { encodeBtf } from './btf.js';
import {
  BtfError,
  type BtfFuncLinkage,
  type BtfIntEncoding,
  type BtfMember,
  type BtfType,
  type BtfVarLinkage,
  type BtfVarSecinfo,
} from './btf-types.js';
import type { BtfTypeSpec } from './object-spec.js';
import { StringTableBuilder } from './string-table.js';

/** Name of the INT clang uses as the index type of every ARRAY. */
export const ARRAY_INDEX_TYPE_NAME = '__ARRAY_SIZE_TYPE__';

const bigintAsText = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);

/**
 * A stable structural key for a record (bigints of ENUM64 included). Only ENUM64 holds bigints;
 * the others skip the replacer, which made every key several times slower to build.
 */
function structuralKey(t: BtfType): string {
  return t.kind === 'enum64' ? JSON.stringify(t, bigintAsText) : JSON.stringify(t);
}

type CompositeSpec = Extract<BtfTypeSpec, { kind: 'struct' | 'union' }>;

function isComposite(spec: BtfTypeSpec): spec is CompositeSpec {
  return spec.kind === 'struct' || spec.kind === 'union';
}

/** Builds `.BTF`: types in id order plus a deduplicated string section. */
export class BtfBuilder {
  readonly #types: (BtfType | undefined)[] = [];
  readonly #strings = new StringTableBuilder();
  readonly #specIds = new Map<BtfTypeSpec, number>();
  readonly #keyIds = new Map<string, number>();
  readonly #inProgress = new Set<BtfTypeSpec>();
  #indexTypeId: number | undefined;

  /** Number of types added so far (ids 1..typeCount). */
  get typeCount(): number {
    return this.#types.length;
  }

  /** The strings of this BTF (names, section names, line-info file names and source lines). */
  get strings(): StringTableBuilder {
    return this.#strings;
  }

  /** The record of type `id` added so far. */
  type(id: number): BtfType {
    const t = this.#types[id - 1];
    if (t === undefined) {
      throw new BtfError('BTF_NOT_FOUND', `BTF builder: type id ${id} has not been added (yet)`);
    }
    return t;
  }

  /** Adds a string (once) and returns its offset, e.g. for line-info file names and source lines. */
  addString(s: string): number {
    return this.#strings.add(s);
  }

  /** Appends an id-based record as given and returns its id (no sharing). */
  addType(t: BtfType): number {
    this.#addNames(t);
    this.#types.push(t);
    return this.#types.length;
  }

  /** Adds a graph-form type and everything it points to; returns its id (0 for null = void). */
  add(spec: BtfTypeSpec | null): number {
    if (spec === null) return 0;
    const known = this.#specIds.get(spec);
    if (known !== undefined) return known;
    if (isComposite(spec)) {
      // Reserve the id first so members may point back at this struct.
      this.#types.push(undefined);
      const id = this.#types.length;
      this.#specIds.set(spec, id);
      const members: BtfMember[] = spec.members.map((m) => ({
        name: m.name,
        type: this.add(m.type),
        bitOffset: m.bitOffset,
        bitSize: m.bitSize ?? 0,
      }));
      const record: BtfType = {
        kind: spec.kind,
        name: spec.name,
        size: spec.size,
        kindFlag: members.some((m) => m.bitSize !== 0),
        members,
      };
      this.#addNames(record);
      this.#types[id - 1] = record;
      return id;
    }
    if (this.#inProgress.has(spec)) {
      throw new BtfError(
        'BTF_INVALID_INPUT',
        `BTF builder: a ${spec.kind} type refers back to itself without passing through a struct or union`,
      );
    }
    this.#inProgress.add(spec);
    try {
      const record = this.#recordOf(spec);
      const key = structuralKey(record);
      let id = this.#keyIds.get(key);
      if (id === undefined) {
        id = this.addType(record);
        this.#keyIds.set(key, id);
      }
      this.#specIds.set(spec, id);
      return id;
    } finally {
      this.#inProgress.delete(spec);
    }
  }

  /** Adds an INT once (shared by structure) and returns its id. */
  addInt(name: string, size: number, encoding: BtfIntEncoding = 'none'): number {
    return this.#shared({ kind: 'int', name, size, bitOffset: 0, bits: size * 8, encoding });
  }

  /** The INT clang uses as ARRAY index type (`__ARRAY_SIZE_TYPE__`, 4 bytes, no encoding). */
  arrayIndexType(): number {
    this.#indexTypeId ??= this.addInt(ARRAY_INDEX_TYPE_NAME, 4);
    return this.#indexTypeId;
  }

  /** Adds (or reuses) a PTR to type `target` (0 = void). */
  addPtr(target: number): number {
    return this.#shared({ kind: 'ptr', name: '', type: target });
  }

  /** Adds (or reuses) an ARRAY of `nelems` elements of type `elem`. */
  addArray(elem: number, nelems: number): number {
    const indexType = this.arrayIndexType();
    return this.#shared({ kind: 'array', name: '', type: elem, indexType, nelems });
  }

  /** Adds (or reuses) a FUNC_PROTO. */
  addFuncProto(
    returnType: number,
    params: readonly { readonly name: string; readonly type: number }[],
  ): number {
    return this.#shared({ kind: 'func_proto', name: '', returnType, params });
  }

  /** Adds a FUNC `name` with the FUNC_PROTO `protoId`; linkage `global` for programs. */
  addFunc(name: string, protoId: number, linkage: BtfFuncLinkage = 'global'): number {
    return this.addType({ kind: 'func', name, type: protoId, linkage });
  }

  /** Adds a VAR `name` of `type`; maps use linkage `global` (libbpf requires it). */
  addVar(name: string, type: number, linkage: BtfVarLinkage = 'global'): number {
    return this.addType({ kind: 'var', name, type, linkage });
  }

  /** Adds a DATASEC `name` of `size` bytes holding `vars` (VAR ids with offsets and sizes). */
  addDatasec(name: string, size: number, vars: readonly BtfVarSecinfo[]): number {
    return this.addType({ kind: 'datasec', name, size, vars });
  }

  /** Encodes `.BTF`: 24-byte header, the types in id order, the string section. */
  encode(): Uint8Array {
    const types: BtfType[] = [];
    for (const t of this.#types) {
      if (t === undefined) {
        throw new BtfError(
          'BTF_INVALID_INPUT',
          'BTF builder: encode() called while a struct is still being added',
        );
      }
      types.push(t);
    }
    return encodeBtf(types, this.#strings);
  }

  #shared(record: BtfType): number {
    const key = structuralKey(record);
    let id = this.#keyIds.get(key);
    if (id === undefined) {
      id = this.addType(record);
      this.#keyIds.set(key, id);
    }
    return id;
  }

  /** Adds the names of a record to the string table now, so offsets follow insertion order. */
  #addNames(t: BtfType): void {
    this.#strings.add(t.name);
    // A switch, not ts-pattern: every type of every object written comes here (a measured hot
    // spot of buildSockops()).
    switch (t.kind) {
      case 'struct':
      case 'union':
        for (const m of t.members) this.#strings.add(m.name);
        break;
      case 'enum':
      case 'enum64':
        for (const v of t.values) this.#strings.add(v.name);
        break;
      case 'func_proto':
        for (const q of t.params) this.#strings.add(q.name);
        break;
      default:
        break;
    }
  }

  #recordOf(spec: Exclude<BtfTypeSpec, CompositeSpec>): BtfType {
    return match(spec)
      .returnType<BtfType>()
      .with({ kind: 'int' }, (s) => {
        // The kernel allows one encoding bit; BOOL wins over CHAR, CHAR over SIGNED.
        const encoding: BtfIntEncoding = s.bool
          ? 'bool'
          : s.char
            ? 'char'
            : s.signed
              ? 'signed'
              : 'none';
        return {
          kind: 'int',
          name: s.name,
          size: s.size,
          bitOffset: 0,
          bits: s.size * 8,
          encoding,
        };
      })
      .with({ kind: 'ptr' }, (s) => ({ kind: 'ptr', name: '', type: this.add(s.target) }))
      .with({ kind: 'array' }, (s) => ({
        kind: 'array',
        name: '',
        type: this.add(s.elem),
        indexType: this.arrayIndexType(),
        nelems: s.length,
      }))
      .with({ kind: 'enum' }, (s) => {
        const fits32 = s.values.every((v) =>
          s.signed
            ? v.value >= -0x80000000 && v.value <= 0x7fffffff
            : v.value >= 0 && v.value <= 0xffffffff,
        );
        if (fits32) {
          return { kind: 'enum', name: s.name, size: s.size, signed: s.signed, values: s.values };
        }
        if (s.size !== 8) {
          throw new BtfError(
            'BTF_INVALID_INPUT',
            `BTF builder: enum ${JSON.stringify(s.name)} has values beyond 32 bits but size ${s.size}; use size 8`,
          );
        }
        return {
          kind: 'enum64',
          name: s.name,
          size: 8,
          signed: s.signed,
          values: s.values.map((v) => {
            if (!Number.isSafeInteger(v.value)) {
              throw new BtfError(
                'BTF_INVALID_INPUT',
                `BTF builder: enum ${JSON.stringify(s.name)} value ${v.name} = ${v.value} is not an exact integer`,
              );
            }
            return { name: v.name, value: BigInt(v.value) };
          }),
        };
      })
      .with({ kind: 'fwd' }, (s) => ({ kind: 'fwd', name: s.name, union: s.union }))
      .with({ kind: 'typedef' }, (s) => ({
        kind: 'typedef',
        name: s.name,
        type: this.add(s.target),
      }))
      .with({ kind: 'volatile' }, { kind: 'const' }, { kind: 'restrict' }, (s) => ({
        kind: s.kind,
        name: '',
        type: this.add(s.target),
      }))
      .with({ kind: 'func_proto' }, (s) => ({
        kind: 'func_proto',
        name: '',
        returnType: this.add(s.ret),
        params: s.params.map((p) => ({ name: p.name, type: this.add(p.type) })),
      }))
      .exhaustive();
  }
}
