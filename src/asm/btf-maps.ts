/**
 * BTF-defined maps, the libbpf way (`bpf_helpers.h` `__uint`/`__type`; spec §2.3, §2.4):
 *
 *     struct {                                  STRUCT '(anon)' size = 8 * fields
 *       __uint(type, BPF_MAP_TYPE_SOCKHASH);      'type'        PTR -> ARRAY(int, nelems 18)   @0
 *       __type(key, struct sock_key);             'key'         PTR -> STRUCT sock_key         @64
 *       __type(value, int);                       'value'       PTR -> INT int                 @128
 *       __uint(max_entries, 65535);               'max_entries' PTR -> ARRAY(int, 65535)       @192
 *     } sock_ops_map SEC(".maps");              VAR 'sock_ops_map' linkage global
 *                                               DATASEC '.maps' {VAR, offset, size}
 *
 * Each field is a pointer (8 zero bytes in `.maps`); integers are encoded in the array length.
 * This module writes such definitions from `MapSpec`s, parses them back like libbpf's
 * `parse_btf_map_def`, and applies the DATASEC fix-up a raw loader needs before BPF_BTF_LOAD.
 */
import { type Btf, decodeBtf } from './btf.js';
import type { BtfBuilder } from './btf-builder.js';
import { BtfError, type BtfMember, hex } from './btf-types.js';
import type { MapSpec } from './object-spec.js';

/** Name of the ELF section (and DATASEC) holding BTF map definitions. */
export const MAPS_SECTION = '.maps';
/** libbpf's `LIBBPF_PIN_BY_NAME`. */
export const LIBBPF_PIN_BY_NAME = 1;

const MAP_NAME = /^[A-Za-z0-9_]{1,15}$/;

/** Where one map's definition sits in `.maps`. */
export interface MapLayout {
  readonly name: string;
  /** Byte offset of the definition in `.maps` (the map symbol's st_value). */
  readonly offset: number;
  /** Size of the definition (8 bytes per field; the map symbol's st_size). */
  readonly size: number;
  /** The VAR type id of the map. */
  readonly varId: number;
}

/** Result of writing map definitions: `.maps` size, each map's place, the DATASEC id. */
export interface MapsLayout {
  /** Size of the zero-filled `.maps` section. */
  readonly sectionSize: number;
  readonly maps: readonly MapLayout[];
  /** The DATASEC '.maps' type id (undefined when there are no maps). */
  readonly datasecId: number | undefined;
}

/**
 * Adds the BTF of every map (anonymous STRUCT of pointer members, VAR with global linkage) and
 * one DATASEC `.maps` with the true section size and offsets, and returns the `.maps` layout.
 * Throws BTF_INVALID_INPUT for bad names, duplicate names or values that do not fit a u32.
 */
export function encodeMapDefinitions(builder: BtfBuilder, maps: readonly MapSpec[]): MapsLayout {
  if (maps.length === 0) return { sectionSize: 0, maps: [], datasecId: undefined };
  const intId = builder.addInt('int', 4, 'signed');
  const uintField = (name: string, n: number): BtfMember => {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new BtfError(
        'BTF_INVALID_INPUT',
        `map definition: ${name} is ${n}, expected an integer 0..2^32-1`,
      );
    }
    return { name, type: builder.addPtr(builder.addArray(intId, n)), bitOffset: 0, bitSize: 0 };
  };
  const seen = new Set<string>();
  const layouts: MapLayout[] = [];
  let offset = 0;
  for (const m of maps) {
    if (!MAP_NAME.test(m.name)) {
      throw new BtfError(
        'BTF_INVALID_INPUT',
        `map definition: name ${JSON.stringify(m.name)} must be 1-15 characters of [A-Za-z0-9_] (kernel map name, bpffs pin file)`,
      );
    }
    if (seen.has(m.name)) {
      throw new BtfError('BTF_INVALID_INPUT', `map definition: two maps are named ${m.name}`);
    }
    seen.add(m.name);
    const fields: BtfMember[] = [uintField('type', m.type)];
    fields.push(
      typeof m.key === 'number'
        ? uintField('key_size', m.key)
        : { name: 'key', type: builder.addPtr(builder.add(m.key)), bitOffset: 0, bitSize: 0 },
    );
    fields.push(
      typeof m.value === 'number'
        ? uintField('value_size', m.value)
        : { name: 'value', type: builder.addPtr(builder.add(m.value)), bitOffset: 0, bitSize: 0 },
    );
    fields.push(uintField('max_entries', m.maxEntries));
    if (m.flags !== undefined && m.flags !== 0) fields.push(uintField('map_flags', m.flags));
    if (m.pinning === 'by_name') fields.push(uintField('pinning', LIBBPF_PIN_BY_NAME));
    const members = fields.map((f, i) => ({ ...f, bitOffset: 64 * i }));
    const size = 8 * members.length;
    const structId = builder.addType({ kind: 'struct', name: '', size, kindFlag: false, members });
    const varId = builder.addVar(m.name, structId, 'global');
    layouts.push({ name: m.name, offset, size, varId });
    offset += size;
  }
  const datasecId = builder.addDatasec(
    MAPS_SECTION,
    offset,
    layouts.map((l) => ({ type: l.varId, offset: l.offset, size: l.size })),
  );
  return { sectionSize: offset, maps: layouts, datasecId };
}

/** One map definition parsed from BTF, with the values libbpf would pass to BPF_MAP_CREATE. */
export interface MapDefinition {
  readonly name: string;
  /** The VAR type id. */
  readonly varId: number;
  /** Byte offset of the definition in `.maps`. */
  readonly offset: number;
  /** Size given in the DATASEC. */
  readonly size: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly numaNode: number;
  readonly pinning: 'none' | 'by_name';
  readonly mapExtra: number;
  /** BTF type id of the key (0 when given by `key_size`). */
  readonly keyTypeId: number;
  /** BTF type id of the value (0 when given by `value_size`). */
  readonly valueTypeId: number;
}

function mapError(message: string, offset?: number): BtfError {
  return new BtfError('BTF_MAP_DEFINITION', message, offset);
}

/**
 * Parses every map of DATASEC `.maps` like libbpf's `bpf_object__init_user_btf_map` and
 * `parse_btf_map_def` (strict mode, as bpftool uses it). `mapsSectionSize` is the size of the ELF
 * `.maps` section; `symbols` (map name -> st_value of its GLOBAL OBJECT symbol) supplies offsets
 * when the DATASEC still has clang's size 0. Unknown fields, missing `type`, non-global linkage,
 * non-struct definitions and conflicting sizes are rejected with libbpf's reasons.
 */
export function parseMapDefinitions(
  btf: Btf,
  mapsSectionSize: number,
  symbols?: ReadonlyMap<string, number>,
): MapDefinition[] {
  const secId = btf.findByName(MAPS_SECTION, 'datasec');
  if (secId === undefined) throw mapError(`DATASEC '${MAPS_SECTION}' not found in BTF`);
  const sec = btf.type(secId);
  if (sec.kind !== 'datasec') throw mapError(`DATASEC '${MAPS_SECTION}' not found in BTF`);
  const defs: MapDefinition[] = [];
  sec.vars.forEach((vi, i) => {
    const v = btf.type(vi.type);
    if (v.kind !== 'var') {
      throw mapError(
        `map #${i}: DATASEC entry is ${v.kind.toUpperCase()} [${vi.type}], expected a VAR`,
      );
    }
    const name = v.name;
    if (name === '') throw mapError(`map #${i}: empty name`);
    let offset = vi.offset;
    if (sec.size === 0) {
      const sym = symbols?.get(name);
      if (sym === undefined) {
        throw mapError(
          `map '${name}': DATASEC '${MAPS_SECTION}' has size 0 (clang output) and no symbol gives the map's offset; pass the ELF symbol values`,
        );
      }
      offset = sym;
    }
    if (offset + vi.size > mapsSectionSize) {
      throw mapError(
        `map '${name}' BTF data is corrupted: definition at offset ${offset} size ${vi.size} runs past the ${mapsSectionSize}-byte '${MAPS_SECTION}' section`,
      );
    }
    if (v.linkage !== 'global') {
      throw mapError(`map '${name}': unsupported map linkage ${v.linkage}; maps must be global`);
    }
    const defId = btf.resolve(v.type);
    const def = defId === 0 ? undefined : btf.type(defId);
    if (def?.kind !== 'struct') {
      throw mapError(
        `map '${name}': unexpected def kind ${def ? def.kind.toUpperCase() : 'void'}, expected a STRUCT`,
      );
    }
    if (def.size > vi.size) {
      throw mapError(
        `map '${name}': invalid def size: struct is ${def.size} bytes, DATASEC entry ${vi.size}`,
      );
    }
    defs.push({
      name,
      varId: vi.type,
      offset,
      size: vi.size,
      ...parseMapFields(btf, name, def.members),
    });
  });
  return defs;
}

type MapFields = Omit<MapDefinition, 'name' | 'varId' | 'offset' | 'size'>;

function parseMapFields(btf: Btf, mapName: string, members: readonly BtfMember[]): MapFields {
  let type: number | undefined;
  let keySize = 0;
  let valueSize = 0;
  let maxEntries = 0;
  let mapFlags = 0;
  let numaNode = 0;
  let pinning: 'none' | 'by_name' = 'none';
  let mapExtra = 0;
  let keyTypeId = 0;
  let valueTypeId = 0;

  const intField = (m: BtfMember): number => {
    const ptrId = btf.resolve(m.type);
    const ptr = ptrId === 0 ? undefined : btf.type(ptrId);
    if (ptr?.kind !== 'ptr') {
      throw mapError(
        `map '${mapName}': attr '${m.name}': expected PTR, got ${ptr ? ptr.kind.toUpperCase() : 'void'}`,
      );
    }
    const arr = ptr.type === 0 ? undefined : btf.type(ptr.type);
    if (arr?.kind !== 'array') {
      throw mapError(
        `map '${mapName}': attr '${m.name}': expected ARRAY, got ${arr ? arr.kind.toUpperCase() : 'void'}`,
      );
    }
    return arr.nelems;
  };
  const typeField = (m: BtfMember, what: 'key' | 'value'): { id: number; size: number } => {
    const ptr = m.type === 0 ? undefined : btf.type(m.type);
    if (ptr?.kind !== 'ptr') {
      throw mapError(
        `map '${mapName}': ${what} spec is not PTR: ${ptr ? ptr.kind.toUpperCase() : 'void'}`,
      );
    }
    let size: number;
    try {
      size = btf.sizeof(ptr.type);
    } catch (e) {
      throw mapError(
        `map '${mapName}': can't determine ${what} size for type [${ptr.type}]: ${(e as Error).message}`,
      );
    }
    return { id: ptr.type, size };
  };
  const sameSize = (what: 'key' | 'value', old: number, now: number) => {
    if (old !== 0 && old !== now) {
      throw mapError(`map '${mapName}': conflicting ${what} size ${old} != ${now}`);
    }
  };

  for (const m of members) {
    switch (m.name) {
      case 'type':
        type = intField(m);
        break;
      case 'max_entries':
        maxEntries = intField(m);
        break;
      case 'map_flags':
        mapFlags = intField(m);
        break;
      case 'numa_node':
        numaNode = intField(m);
        break;
      case 'key_size': {
        const n = intField(m);
        sameSize('key', keySize, n);
        keySize = n;
        break;
      }
      case 'value_size': {
        const n = intField(m);
        sameSize('value', valueSize, n);
        valueSize = n;
        break;
      }
      case 'key': {
        const k = typeField(m, 'key');
        sameSize('key', keySize, k.size);
        keySize = k.size;
        keyTypeId = k.id;
        break;
      }
      case 'value': {
        const v = typeField(m, 'value');
        sameSize('value', valueSize, v.size);
        valueSize = v.size;
        valueTypeId = v.id;
        break;
      }
      case 'pinning': {
        const p = intField(m);
        if (p !== 0 && p !== LIBBPF_PIN_BY_NAME) {
          throw mapError(
            `map '${mapName}': invalid pinning value ${p}, expected 0 (none) or 1 (by name)`,
          );
        }
        pinning = p === LIBBPF_PIN_BY_NAME ? 'by_name' : 'none';
        break;
      }
      case 'map_extra':
        mapExtra = intField(m);
        break;
      case 'values':
        throw mapError(
          `map '${mapName}': 'values' (map-in-map or prog-array initial values) is not supported by tsbpf`,
        );
      default:
        throw mapError(
          `map '${mapName}': unknown field '${m.name}' (known: type, key, value, key_size, value_size, max_entries, map_flags, numa_node, pinning, map_extra)`,
        );
    }
  }
  if (type === undefined || type === 0) {
    throw mapError(`map '${mapName}': map type isn't specified`);
  }
  return {
    type,
    keySize,
    valueSize,
    maxEntries,
    mapFlags,
    numaNode,
    pinning,
    mapExtra,
    keyTypeId,
    valueTypeId,
  };
}

/**
 * The fix-up libbpf applies to `.BTF` before BPF_BTF_LOAD (`btf_fixup_datasec`): every DATASEC of
 * size 0 (clang leaves them so) gets the size of the ELF section of the same name and its global
 * VARs get the st_value of their symbol as offset; the variables of every DATASEC are then sorted
 * by offset (the kernel wants them ascending). `.kconfig`/`.ksyms` are left alone. Every global VAR
 * must have a symbol (libbpf requires it even when the size is already set). Returns patched copies
 * of the bytes; the input is not modified.
 *
 * @param sectionSizes ELF section name -> size in bytes.
 * @param symbolOffsets name -> st_value of GLOBAL/WEAK STT_OBJECT symbols.
 */
export function fixupDatasecs(
  btfBytes: Uint8Array,
  sectionSizes: ReadonlyMap<string, number>,
  symbolOffsets: ReadonlyMap<string, number>,
): Uint8Array {
  const btf = decodeBtf(btfBytes);
  const out = btfBytes.slice();
  const view = new DataView(out.buffer);
  for (let id = 1; id <= btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind !== 'datasec' || t.name === '.kconfig' || t.name === '.ksyms') continue;
    const at = btf.recordOffset(id);
    let fixOffsets = false;
    if (t.size === 0) {
      const size = sectionSizes.get(t.name);
      if (size === undefined || size === 0 || !Number.isInteger(size) || size > 0xffffffff) {
        throw new BtfError(
          'BTF_FIXUP',
          `BTF fix-up: DATASEC '${t.name}' (type id ${id}, offset ${hex(at)}) has size 0 and the ELF has no non-empty section of that name (or its size does not fit a u32)`,
          at + 8,
        );
      }
      view.setUint32(at + 8, size, true);
      fixOffsets = true;
    }
    const vars = t.vars.map((vi, i) => {
      const v = btf.type(vi.type);
      if (v.kind !== 'var' || v.linkage !== 'global') return { ...vi };
      const sym = symbolOffsets.get(v.name);
      if (sym === undefined || !Number.isInteger(sym) || sym < 0 || sym > 0xffffffff) {
        throw new BtfError(
          'BTF_FIXUP',
          `BTF fix-up: no ELF symbol (or one with a value outside 0..2^32-1) for VAR '${v.name}' of DATASEC '${t.name}' (entry ${i} at offset ${hex(at + 12 + 12 * i)}); it must be a GLOBAL OBJECT symbol`,
          at + 12 + 12 * i,
        );
      }
      return fixOffsets ? { ...vi, offset: sym } : { ...vi };
    });
    vars.sort((a, b) => a.offset - b.offset);
    vars.forEach((vi, i) => {
      const o = at + 12 + 12 * i;
      view.setUint32(o, vi.type, true);
      view.setUint32(o + 4, vi.offset, true);
      view.setUint32(o + 8, vi.size, true);
    });
  }
  return out;
}
