/**
 * BTF map definitions: what we write matches libbpf's `__uint`/`__type` convention (checked with
 * bpftool), parsing follows libbpf's parse_btf_map_def on our objects and clang's, and the DATASEC
 * fix-up produces the sizes and offsets of the ELF.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Btf } from '../../src/asm/btf.js';
import { decodeBtf } from '../../src/asm/btf.js';
import { BtfBuilder } from '../../src/asm/btf-builder.js';
import { dumpBtf } from '../../src/asm/btf-dump.js';
import {
  encodeMapDefinitions,
  fixupDatasecs,
  parseMapDefinitions,
} from '../../src/asm/btf-maps.js';
import { BtfError, type BtfMember } from '../../src/asm/btf-types.js';
import type { BtfTypeSpec, MapSpec } from '../../src/asm/object-spec.js';
import {
  bpftoolDumpRaw,
  FIXTURES,
  objectSymbolOffsets,
  readFixtureElf,
  sectionSizes,
} from './btf-support.js';

const u32: BtfTypeSpec = {
  kind: 'typedef',
  name: '__u32',
  target: { kind: 'int', name: 'unsigned int', size: 4, signed: false },
};
const sockKey: BtfTypeSpec = {
  kind: 'struct',
  name: 'sock_key',
  size: 20,
  members: [
    { name: 'sip4', type: u32, bitOffset: 0 },
    { name: 'dip4', type: u32, bitOffset: 32 },
    {
      name: 'family',
      type: { kind: 'int', name: 'unsigned char', size: 1, signed: false },
      bitOffset: 64,
    },
    { name: 'sport', type: u32, bitOffset: 96 },
    { name: 'dport', type: u32, bitOffset: 128 },
  ],
};
const SOCKHASH: MapSpec = {
  name: 'sock_ops_map',
  type: 18,
  key: sockKey,
  value: { kind: 'int', name: 'int', size: 4, signed: true },
  maxEntries: 65535,
  pinning: 'by_name',
};

function mapErrorOf(fn: () => unknown): BtfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BtfError) return e;
    throw e;
  }
  throw new Error('expected a BtfError');
}

describe('encodeMapDefinitions', () => {
  it('writes the libbpf convention: anonymous struct of PTR members, global VAR, DATASEC .maps with true offsets', () => {
    const b = new BtfBuilder();
    const layout = encodeMapDefinitions(b, [
      SOCKHASH,
      { name: 'counts', type: 1, key: 8, value: 16, maxEntries: 1024, flags: 1 },
    ]);
    expect(layout.sectionSize).toBe(40 + 40);
    expect(layout.maps.map((m) => [m.name, m.offset, m.size])).toEqual([
      ['sock_ops_map', 0, 40],
      ['counts', 40, 40],
    ]);
    const bytes = b.encode();
    const dump = bpftoolDumpRaw(bytes);
    expect(dump).toBe(dumpBtf(decodeBtf(bytes)));
    const lines = dump.split('\n');
    const line = (re: RegExp) => lines.find((l) => re.test(l));
    // __uint(type, 18): PTR -> ARRAY(int, nelems 18)
    expect(line(/^\[1\] INT 'int'/)).toBe(
      "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
    );
    expect(line(/ARRAY .* nr_elems=18$/)).toMatch(
      /^\[\d+\] ARRAY '\(anon\)' type_id=1 index_type_id=\d+ nr_elems=18$/,
    );
    const first = dump.slice(dump.indexOf("STRUCT '(anon)' size=40 vlen=5"));
    expect(
      first
        .split('\n')
        .slice(0, 6)
        .map((l) => l.replace(/type_id=\d+ /, '')),
    ).toEqual([
      "STRUCT '(anon)' size=40 vlen=5",
      "\t'type' bits_offset=0",
      "\t'key' bits_offset=64",
      "\t'value' bits_offset=128",
      "\t'max_entries' bits_offset=192",
      "\t'pinning' bits_offset=256",
    ]);
    expect(line(/VAR 'sock_ops_map'/)).toMatch(/type_id=\d+, linkage=global$/);
    expect(dump).toMatch(
      /DATASEC '\.maps' size=80 vlen=2\n\ttype_id=\d+ offset=0 size=40 \(VAR 'sock_ops_map'\)\n\ttype_id=\d+ offset=40 size=40 \(VAR 'counts'\)\n/,
    );
    expect(dump).toMatch(
      /'key_size' type_id=\d+ bits_offset=64\n\t'value_size' type_id=\d+ bits_offset=128/,
    );
    expect(dump).toMatch(/'map_flags' type_id=\d+ bits_offset=256/);
  });

  it('parses back to the values of the MapSpecs', () => {
    const b = new BtfBuilder();
    encodeMapDefinitions(b, [SOCKHASH]);
    const btf = decodeBtf(b.encode());
    const [def] = parseMapDefinitions(btf, 40);
    expect(def).toMatchObject({
      name: 'sock_ops_map',
      offset: 0,
      size: 40,
      type: 18,
      keySize: 20,
      valueSize: 4,
      maxEntries: 65535,
      mapFlags: 0,
      pinning: 'by_name',
      keyTypeId: btf.findByName('sock_key', 'struct'),
      valueTypeId: btf.findByName('int', 'int'),
    });
  });

  it('round-trips arbitrary map specs through BTF', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_]{1,15}$/);
    const keyOrSize = fc.oneof(
      fc.integer({ min: 1, max: 512 }),
      fc.constantFrom<BtfTypeSpec>(u32, sockKey, { kind: 'array', elem: u32, length: 3 }),
    );
    const spec = fc.record({
      type: fc.integer({ min: 1, max: 33 }),
      key: keyOrSize,
      value: keyOrSize,
      maxEntries: fc.nat({ max: 0xffffffff }),
      flags: fc.option(fc.nat({ max: 0xffff }), { nil: undefined }),
      pinning: fc.option(fc.constantFrom('none' as const, 'by_name' as const), { nil: undefined }),
    });
    const sizeOf = (k: number | BtfTypeSpec) =>
      typeof k === 'number' ? k : k === u32 ? 4 : k === sockKey ? 20 : 12;
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { minLength: 1, maxLength: 5 }),
        fc.array(spec, { minLength: 5, maxLength: 5 }),
        (names, specs) => {
          const maps: MapSpec[] = names.map((n, i) => ({ name: n, ...specs[i]! }));
          const b = new BtfBuilder();
          const layout = encodeMapDefinitions(b, maps);
          const defs = parseMapDefinitions(decodeBtf(b.encode()), layout.sectionSize);
          expect(defs.map((d) => [d.name, d.offset, d.size])).toEqual(
            layout.maps.map((m) => [m.name, m.offset, m.size]),
          );
          defs.forEach((d, i) => {
            const m = maps[i]!;
            expect(d).toMatchObject({
              type: m.type,
              keySize: sizeOf(m.key),
              valueSize: sizeOf(m.value),
              maxEntries: m.maxEntries,
              mapFlags: m.flags ?? 0,
              pinning: m.pinning ?? 'none',
            });
            expect(d.keyTypeId === 0).toBe(typeof m.key === 'number');
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects names the kernel or bpffs would refuse and duplicate names', () => {
    const b = new BtfBuilder();
    const base = { type: 1, key: 4, value: 4, maxEntries: 1 };
    expect(() => encodeMapDefinitions(b, [{ ...base, name: 'a.b' }])).toThrow(/\[A-Za-z0-9_\]/);
    expect(() => encodeMapDefinitions(b, [{ ...base, name: 'x'.repeat(16) }])).toThrow(
      /1-15 characters/,
    );
    expect(() =>
      encodeMapDefinitions(b, [
        { ...base, name: 'm' },
        { ...base, name: 'm' },
      ]),
    ).toThrow(/two maps are named m/);
    expect(() => encodeMapDefinitions(b, [{ ...base, name: 'm', maxEntries: -1 }])).toThrow(
      /max_entries is -1/,
    );
  });
});

describe('parseMapDefinitions on clang objects', () => {
  it('reads every field form of maps.c with offsets from the ELF symbols', () => {
    const elf = readFixtureElf(join(FIXTURES, 'btf', 'maps.o'));
    const btf = decodeBtf(elf.section('.BTF'));
    const syms = objectSymbolOffsets(elf);
    const defs = parseMapDefinitions(btf, elf.section('.maps').length, syms);
    const pick = (n: string) => defs.find((d) => d.name === n);
    expect(defs.map((d) => d.name).sort()).toEqual(['arr', 'bloom', 'by_size', 'sock_ops_map']);
    for (const d of defs) expect(d.offset).toBe(syms.get(d.name));
    expect(pick('sock_ops_map')).toMatchObject({
      type: 18,
      keySize: 20,
      valueSize: 4,
      maxEntries: 65535,
      pinning: 'by_name',
      keyTypeId: btf.findByName('sock_key', 'struct'),
      valueTypeId: btf.findByName('int', 'int'),
    });
    expect(pick('by_size')).toMatchObject({
      type: 1,
      keySize: 8,
      valueSize: 16,
      maxEntries: 1024,
      mapFlags: 1,
      numaNode: 0,
      keyTypeId: 0,
      valueTypeId: 0,
    });
    expect(pick('arr')).toMatchObject({
      type: 2,
      keySize: 4,
      valueSize: 24,
      maxEntries: 4,
      mapFlags: 1024,
      keyTypeId: btf.findByName('u32', 'typedef'),
    });
    expect(pick('bloom')).toMatchObject({
      type: 30,
      keySize: 0,
      valueSize: 4,
      maxEntries: 100,
      mapExtra: 3,
    });
  });

  it('needs the symbols when the DATASEC still has clang size 0', () => {
    const elf = readFixtureElf(join(FIXTURES, 'clang', 'multi.o'));
    const btf = decodeBtf(elf.section('.BTF'));
    expect(mapErrorOf(() => parseMapDefinitions(btf, elf.section('.maps').length)).message).toMatch(
      /has size 0 \(clang output\) and no symbol gives the map's offset/,
    );
    const fixed = decodeBtf(
      fixupDatasecs(elf.section('.BTF'), sectionSizes(elf), objectSymbolOffsets(elf)),
    );
    const defs = parseMapDefinitions(fixed, elf.section('.maps').length);
    expect(
      defs.map((d) => [d.name, d.offset, d.type, d.keySize, d.valueSize, d.maxEntries, d.mapFlags]),
    ).toEqual([
      ['conn_stats', 0, 1, 8, 8, 1024, 1],
      ['sock_map', 0x28, 15, 4, 4, 16, 0],
      ['counters', 0x48, 2, 4, 8, 4, 0],
    ]);
  });
});

describe('parseMapDefinitions errors (libbpf parse_btf_map_def reasons)', () => {
  /** BTF with one map whose struct has the given members (built by hand). */
  function oneMap(
    fields: (b: BtfBuilder, int: number) => BtfMember[],
    opts: {
      linkage?: 'static' | 'global';
      defKind?: 'struct' | 'union';
      secSize?: number;
      name?: string;
    } = {},
  ) {
    const b = new BtfBuilder();
    const int = b.addInt('int', 4, 'signed');
    const members = fields(b, int).map((m, i) => ({ ...m, bitOffset: 64 * i }));
    const size = 8 * members.length;
    const def = b.addType({
      kind: opts.defKind ?? 'struct',
      name: '',
      size,
      kindFlag: false,
      members,
    });
    const v = b.addVar(opts.name ?? 'm', def, opts.linkage ?? 'global');
    b.addDatasec('.maps', opts.secSize ?? size, [
      { type: v, offset: 0, size: opts.secSize ?? size },
    ]);
    return decodeBtf(b.encode());
  }
  const int = (b: BtfBuilder, intId: number, name: string, n: number): BtfMember => ({
    name,
    type: b.addPtr(b.addArray(intId, n)),
    bitOffset: 0,
    bitSize: 0,
  });
  const typeAttr = (b: BtfBuilder, i: number) => int(b, i, 'type', 1);

  it('rejects unknown fields, like libbpf in strict mode', () => {
    const btf = oneMap((b, i) => [typeAttr(b, i), int(b, i, 'max_entriez', 1)]);
    expect(mapErrorOf(() => parseMapDefinitions(btf, 16)).message).toMatch(
      /^map 'm': unknown field 'max_entriez'/,
    );
  });

  it('rejects a definition without a type', () => {
    const btf = oneMap((b, i) => [int(b, i, 'max_entries', 1)]);
    expect(mapErrorOf(() => parseMapDefinitions(btf, 8)).message).toBe(
      "map 'm': map type isn't specified",
    );
  });

  it('rejects non-global linkage, non-struct definitions and empty names', () => {
    expect(
      mapErrorOf(() =>
        parseMapDefinitions(
          oneMap((b, i) => [typeAttr(b, i)], { linkage: 'static' }),
          8,
        ),
      ).message,
    ).toMatch(/unsupported map linkage static/);
    expect(
      mapErrorOf(() =>
        parseMapDefinitions(
          oneMap((b, i) => [typeAttr(b, i)], { defKind: 'union' }),
          8,
        ),
      ).message,
    ).toMatch(/unexpected def kind UNION/);
    expect(
      mapErrorOf(() =>
        parseMapDefinitions(
          oneMap((b, i) => [typeAttr(b, i)], { name: '' }),
          8,
        ),
      ).message,
    ).toBe('map #0: empty name');
  });

  it('rejects definitions that do not fit the DATASEC entry or the .maps section', () => {
    expect(
      mapErrorOf(() =>
        parseMapDefinitions(
          oneMap((b, i) => [typeAttr(b, i)], { secSize: 4 }),
          8,
        ),
      ).message,
    ).toMatch(/invalid def size/);
    expect(
      mapErrorOf(() =>
        parseMapDefinitions(
          oneMap((b, i) => [typeAttr(b, i)]),
          4,
        ),
      ).message,
    ).toMatch(/BTF data is corrupted/);
  });

  it('rejects int fields that are not PTR -> ARRAY, bad pinning, conflicting sizes and values', () => {
    const notPtr = oneMap((_b, i) => [{ name: 'type', type: i, bitOffset: 0, bitSize: 0 }]);
    expect(mapErrorOf(() => parseMapDefinitions(notPtr, 8)).message).toBe(
      "map 'm': attr 'type': expected PTR, got INT",
    );
    const notArray = oneMap((b, i) => [
      { name: 'type', type: b.addPtr(i), bitOffset: 0, bitSize: 0 },
    ]);
    expect(mapErrorOf(() => parseMapDefinitions(notArray, 8)).message).toBe(
      "map 'm': attr 'type': expected ARRAY, got INT",
    );
    const pin = oneMap((b, i) => [typeAttr(b, i), int(b, i, 'pinning', 2)]);
    expect(mapErrorOf(() => parseMapDefinitions(pin, 16)).message).toMatch(
      /invalid pinning value 2/,
    );
    const conflict = oneMap((b, i) => [
      typeAttr(b, i),
      int(b, i, 'key_size', 8),
      { name: 'key', type: b.addPtr(i), bitOffset: 0, bitSize: 0 },
    ]);
    expect(mapErrorOf(() => parseMapDefinitions(conflict, 24)).message).toBe(
      "map 'm': conflicting key size 8 != 4",
    );
    const values = oneMap((b, i) => [
      typeAttr(b, i),
      { name: 'values', type: b.addArray(b.addPtr(0), 0), bitOffset: 0, bitSize: 0 },
    ]);
    expect(mapErrorOf(() => parseMapDefinitions(values, 16)).message).toMatch(
      /'values' .* not supported/,
    );
    const keyNotPtr = oneMap((b, i) => [
      typeAttr(b, i),
      { name: 'key', type: i, bitOffset: 0, bitSize: 0 },
    ]);
    expect(mapErrorOf(() => parseMapDefinitions(keyNotPtr, 16)).message).toBe(
      "map 'm': key spec is not PTR: INT",
    );
    const voidKey = oneMap((b, i) => [
      typeAttr(b, i),
      { name: 'key', type: b.addPtr(0), bitOffset: 0, bitSize: 0 },
    ]);
    expect(mapErrorOf(() => parseMapDefinitions(voidKey, 16)).message).toMatch(
      /can't determine key size for type \[0\]/,
    );
  });

  it('needs a DATASEC .maps', () => {
    const b = new BtfBuilder();
    b.addInt('int', 4, 'signed');
    expect(mapErrorOf(() => parseMapDefinitions(decodeBtf(b.encode()), 0)).message).toBe(
      "DATASEC '.maps' not found in BTF",
    );
  });
});

describe('fixupDatasecs', () => {
  const elf = readFixtureElf(join(FIXTURES, 'clang', 'multi.o'));
  const raw = elf.section('.BTF');

  it('sets size-0 DATASECs to the ELF section size and VAR offsets to symbol values, sorted by offset', () => {
    const before = raw.slice();
    const patched = fixupDatasecs(raw, sectionSizes(elf), objectSymbolOffsets(elf));
    expect(raw).toEqual(before);
    const btf = decodeBtf(patched);
    const dump = dumpBtf(btf);
    expect(dump).toMatch(
      /DATASEC '\.maps' size=104 vlen=3\n\ttype_id=\d+ offset=0 size=40 \(VAR 'conn_stats'\)\n\ttype_id=\d+ offset=40 size=32 \(VAR 'sock_map'\)\n\ttype_id=\d+ offset=72 size=32 \(VAR 'counters'\)\n/,
    );
    expect(dump).toMatch(
      /DATASEC 'license' size=13 vlen=1\n\ttype_id=\d+ offset=0 size=13 \(VAR '_license'\)/,
    );
    // Only DATASEC records change: every other type decodes the same.
    const original = decodeBtf(raw);
    btf.types.forEach((t, i) => {
      if (t.kind !== 'datasec') expect(t).toEqual(original.types[i]);
    });
    expect(patched.length).toBe(raw.length);
  });

  it('explains a missing section or symbol with the offset of the record', () => {
    const noSection = mapErrorOf(() => fixupDatasecs(raw, new Map(), objectSymbolOffsets(elf)));
    expect(noSection.code).toBe('BTF_FIXUP');
    expect(noSection.message).toMatch(
      /DATASEC '\.maps' \(type id \d+, offset 0x[0-9a-f]+\) has size 0 and the ELF has no non-empty section/,
    );
    const symbols = objectSymbolOffsets(elf);
    symbols.delete('counters');
    expect(mapErrorOf(() => fixupDatasecs(raw, sectionSizes(elf), symbols)).message).toMatch(
      /no ELF symbol .* for VAR 'counters' of DATASEC '\.maps'/,
    );
  });

  it('leaves our true-size DATASECs as written (still checking symbols)', () => {
    const b = new BtfBuilder();
    const layout = encodeMapDefinitions(b, [SOCKHASH]);
    const bytes = b.encode();
    const symbols = new Map(layout.maps.map((m) => [m.name, m.offset]));
    expect(fixupDatasecs(bytes, new Map([['.maps', layout.sectionSize]]), symbols)).toEqual(bytes);
    expect(() => fixupDatasecs(bytes, new Map(), new Map())).toThrow(/no ELF symbol/);
  });
});

/** A type tree rendered without ids (kinds, names, sizes, offsets, lengths), to compare two BTFs. */
function shape(btf: Btf, id: number, depth = 0): string {
  if (id === 0) return 'void';
  if (depth > 8) return '...';
  const t = btf.type(id);
  const sub = (x: number) => shape(btf, x, depth + 1);
  switch (t.kind) {
    case 'int':
      return `int ${t.name}/${t.size}/${t.encoding}`;
    case 'ptr':
      return `*${sub(t.type)}`;
    case 'array':
      return `${sub(t.type)}[${t.nelems}] by ${sub(t.indexType)}`;
    case 'typedef':
      return `${t.name}=${sub(t.type)}`;
    case 'struct':
    case 'union':
      return `${t.kind} ${t.name}/${t.size}{${t.members.map((m) => `${m.name}@${m.bitOffset}:${sub(m.type)}`).join(', ')}}`;
    case 'var':
      return `var ${t.name} ${t.linkage} ${sub(t.type)}`;
    default:
      return t.kind;
  }
}

describe("our map definitions against clang's", () => {
  it('describe a SOCKHASH exactly like clang does for the same C definition (maps.c sock_ops_map)', () => {
    const clang = decodeBtf(readFixtureElf(join(FIXTURES, 'btf', 'maps.o')).section('.BTF'));
    const u32t: BtfTypeSpec = {
      kind: 'typedef',
      name: 'u32',
      target: { kind: 'int', name: 'unsigned int', size: 4, signed: false },
    };
    const u8: BtfTypeSpec = { kind: 'int', name: 'unsigned char', size: 1, signed: false };
    const u16: BtfTypeSpec = { kind: 'int', name: 'unsigned short', size: 2, signed: false };
    const key: BtfTypeSpec = {
      kind: 'struct',
      name: 'sock_key',
      size: 20,
      members: [
        { name: 'sip4', type: u32t, bitOffset: 0 },
        { name: 'dip4', type: u32t, bitOffset: 32 },
        { name: 'family', type: u8, bitOffset: 64 },
        { name: 'pad1', type: u8, bitOffset: 72 },
        { name: 'pad2', type: u16, bitOffset: 80 },
        { name: 'sport', type: u32t, bitOffset: 96 },
        { name: 'dport', type: u32t, bitOffset: 128 },
      ],
    };
    const b = new BtfBuilder();
    const layout = encodeMapDefinitions(b, [{ ...SOCKHASH, key }]);
    const ours = decodeBtf(b.encode());
    const expected = shape(clang, clang.findByName('sock_ops_map', 'var')!);
    expect(expected).toContain(
      'pinning@256:*int int/4/signed[1] by int __ARRAY_SIZE_TYPE__/4/none',
    );
    expect(shape(ours, layout.maps[0]!.varId)).toBe(expected);
  });
});
