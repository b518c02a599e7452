import { describe, expect, it } from 'vitest';
import { Btf, decodeBtf, encodeBtf } from '../../src/asm/btf.js';
import { BtfBuilder } from '../../src/asm/btf-builder.js';
import { dumpBtf } from '../../src/asm/btf-dump.js';
import { BtfError, type BtfType } from '../../src/asm/btf-types.js';
import type { BtfTypeSpec } from '../../src/asm/object-spec.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** [1] PTR -> [3], [2] INT int, [3] ARRAY(int, index [4], 18), [4] INT __ARRAY_SIZE_TYPE__: clang's order. */
const CLANG_MAP_TYPE: BtfType[] = [
  { kind: 'ptr', name: '', type: 3 },
  { kind: 'int', name: 'int', size: 4, bitOffset: 0, bits: 32, encoding: 'signed' },
  { kind: 'array', name: '', type: 2, indexType: 4, nelems: 18 },
  { kind: 'int', name: '__ARRAY_SIZE_TYPE__', size: 4, bitOffset: 0, bits: 32, encoding: 'none' },
];

function errorOf(fn: () => unknown): BtfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof BtfError) return e;
    throw e;
  }
  throw new Error('expected a BtfError');
}

/** Patches a u32 at `at` of a copy of `bytes`. */
function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(at, value, true);
  return out;
}

describe('encodeBtf', () => {
  it('writes the 24-byte header, records and strings byte for byte as clang does', () => {
    const bytes = encodeBtf(CLANG_MAP_TYPE);
    // header: magic 9f eb, version 1, flags 0, hdr_len 24, type_off 0, type_len 68, str_off 68, str_len 25
    expect(hex(bytes.subarray(0, 24))).toBe(
      '9feb0100' + '18000000' + '00000000' + '44000000' + '44000000' + '19000000',
    );
    // [1] PTR: name 0, info kind 2, type 3
    expect(hex(bytes.subarray(24, 36))).toBe('00000000' + '00000002' + '03000000');
    // [2] INT 'int' (name_off 1): info kind 1, size 4, data SIGNED<<24 | 32 bits (spec §2.3: 01000000 00000001 04000000 20000001)
    expect(hex(bytes.subarray(36, 52))).toBe('01000000' + '00000001' + '04000000' + '20000001');
    // [3] ARRAY: spec §2.3 reference bytes 00000000 00000003 00000000 | 02000000 04000000 12000000
    expect(hex(bytes.subarray(52, 76))).toBe(
      '00000000' + '00000003' + '00000000' + '02000000' + '04000000' + '12000000',
    );
    const strings = new TextDecoder().decode(bytes.subarray(24 + 68));
    expect(strings).toBe('\0int\0__ARRAY_SIZE_TYPE__\0');
  });

  it('encodes the kind_flag of bitfield structs as bitSize << 24 | bitOffset', () => {
    const bytes = encodeBtf([
      { kind: 'int', name: 'u32', size: 4, bitOffset: 0, bits: 32, encoding: 'none' },
      {
        kind: 'struct',
        name: 'f',
        size: 4,
        kindFlag: true,
        members: [{ name: 'a', type: 1, bitOffset: 3, bitSize: 5 }],
      },
    ]);
    // struct header: info = kflag | kind 4 << 24 | vlen 1; member offset = 5 << 24 | 3
    expect(hex(bytes.subarray(24 + 16 + 4, 24 + 16 + 8))).toBe('01000084');
    expect(hex(bytes.subarray(24 + 16 + 20, 24 + 16 + 24))).toBe('03000005');
  });

  it('rejects values that do not fit their fields, naming the type id and field', () => {
    expect(() => encodeBtf([{ kind: 'ptr', name: '', type: 2 }])).toThrow(/type of type id 1 is 2/);
    expect(() =>
      encodeBtf([{ kind: 'int', name: 'x', size: 4, bitOffset: 0, bits: 300, encoding: 'none' }]),
    ).toThrow(/bits of type id 1 is 300/);
    expect(() =>
      encodeBtf([
        { kind: 'enum', name: 'e', size: 4, signed: true, values: [{ name: 'a', value: 2 ** 31 }] },
      ]),
    ).toThrow(BtfError);
    expect(() =>
      encodeBtf([{ kind: 'var', name: 'v', type: 0, linkage: 'weak' as 'global' }]),
    ).toThrow(/linkage of type id 1 is "weak", expected one of static, global, extern/);
    expect(() =>
      encodeBtf([
        { kind: 'int', name: 'i', size: 4, bitOffset: 0, bits: 32, encoding: 'float' as 'none' },
      ]),
    ).toThrow(/encoding of type id 1 is "float"/);
    expect(() => encodeBtf([{ kind: 'func', name: 'f', type: 0, linkage: 'global' }])).toThrow(
      /must refer to a FUNC_PROTO/,
    );
    expect(() =>
      encodeBtf([
        { kind: 'datasec', name: '.maps', size: 8, vars: [{ type: 0, offset: 0, size: 8 }] },
      ]),
    ).toThrow(/must be a VAR/);
    expect(() =>
      encodeBtf([
        { kind: 'int', name: 'u32', size: 4, bitOffset: 0, bits: 32, encoding: 'none' },
        {
          kind: 'struct',
          name: 's',
          size: 4,
          kindFlag: false,
          members: [{ name: 'a', type: 1, bitOffset: 0, bitSize: 3 }],
        },
      ]),
    ).toThrow(/needs kindFlag/);
  });
});

describe('decodeBtf', () => {
  const good = encodeBtf(CLANG_MAP_TYPE);

  it('decodes types by id with names from the string section', () => {
    const btf = decodeBtf(good);
    expect(btf).toBeInstanceOf(Btf);
    expect(btf.typeCount).toBe(4);
    expect(btf.types).toEqual(CLANG_MAP_TYPE);
    expect(btf.header).toEqual({
      version: 1,
      flags: 0,
      hdrLen: 24,
      typeOff: 0,
      typeLen: 68,
      strOff: 68,
      strLen: 25,
    });
    expect(btf.recordOffset(3)).toBe(24 + 12 + 16);
    expect(btf.str(1)).toBe('int');
  });

  it('rejects data shorter than the header', () => {
    const e = errorOf(() => decodeBtf(good.subarray(0, 23)));
    expect(e.code).toBe('BTF_TRUNCATED');
    expect(e.offset).toBe(0);
    expect(e.message).toBe('BTF: header at offset 0x0 needs 24 bytes, only 23 present');
  });

  it('rejects a wrong magic and explains big-endian BTF', () => {
    expect(errorOf(() => decodeBtf(withU32(good, 0, 0x0001_1234))).code).toBe('BTF_BAD_MAGIC');
    const swapped = good.slice();
    swapped[0] = 0xeb;
    swapped[1] = 0x9f;
    expect(errorOf(() => decodeBtf(swapped)).message).toMatch(/big-endian/);
  });

  it('rejects an unknown version or flags', () => {
    const v2 = good.slice();
    v2[2] = 2;
    expect(errorOf(() => decodeBtf(v2))).toMatchObject({ code: 'BTF_UNSUPPORTED', offset: 2 });
    const flagged = good.slice();
    flagged[3] = 1;
    expect(errorOf(() => decodeBtf(flagged))).toMatchObject({ code: 'BTF_UNSUPPORTED', offset: 3 });
  });

  it('accepts a longer header only when its extra bytes are zero', () => {
    const longer = new Uint8Array(good.length + 8);
    longer.set(good.subarray(0, 24));
    longer.set(good.subarray(24), 32);
    new DataView(longer.buffer).setUint32(4, 32, true);
    expect(decodeBtf(longer).types).toEqual(CLANG_MAP_TYPE);
    longer[30] = 1;
    expect(errorOf(() => decodeBtf(longer))).toMatchObject({ code: 'BTF_UNSUPPORTED', offset: 30 });
  });

  it('rejects section offsets and lengths outside the data', () => {
    expect(errorOf(() => decodeBtf(withU32(good, 4, 1000)))).toMatchObject({
      code: 'BTF_BAD_HEADER',
      offset: 4,
    });
    expect(errorOf(() => decodeBtf(withU32(good, 20, 26)))).toMatchObject({
      code: 'BTF_BAD_HEADER',
      offset: 16,
    });
    expect(errorOf(() => decodeBtf(withU32(good, 12, 72)))).toMatchObject({
      code: 'BTF_BAD_HEADER',
      offset: 8,
    });
    const unaligned = withU32(withU32(good, 8, 2), 12, 60);
    expect(errorOf(() => decodeBtf(unaligned)).message).toMatch(
      /type_off at offset 0x8 is 2, expected a multiple of 4/,
    );
  });

  it('enforces the string section rules: non-empty, NUL first and last', () => {
    expect(errorOf(() => decodeBtf(withU32(good, 20, 0)))).toMatchObject({
      code: 'BTF_BAD_STRINGS',
    });
    const first = good.slice();
    first[24 + 68] = 0x41;
    expect(errorOf(() => decodeBtf(first)).message).toMatch(/must start with a NUL byte/);
    const last = good.slice();
    last[last.length - 1] = 0x41;
    expect(errorOf(() => decodeBtf(last))).toMatchObject({
      code: 'BTF_BAD_STRINGS',
      offset: last.length - 1,
    });
  });

  it('names the record, its offset and the bytes needed when a record runs past the type section', () => {
    // A STRUCT with vlen 2 needs 36 bytes; give the type section only 20 bytes of it.
    const types: BtfType[] = [
      { kind: 'int', name: 'int', size: 4, bitOffset: 0, bits: 32, encoding: 'signed' },
      { kind: 'int', name: 'long', size: 8, bitOffset: 0, bits: 64, encoding: 'signed' },
      { kind: 'ptr', name: '', type: 1 },
      {
        kind: 'struct',
        name: 's',
        size: 8,
        kindFlag: false,
        members: [
          { name: 'a', type: 1, bitOffset: 0, bitSize: 0 },
          { name: 'b', type: 2, bitOffset: 32, bitSize: 0 },
        ],
      },
    ];
    const bytes = encodeBtf(types);
    const cut = withU32(bytes, 12, 16 + 16 + 12 + 20);
    const e = errorOf(() => decodeBtf(cut));
    expect(e.code).toBe('BTF_TRUNCATED');
    expect(e.offset).toBe(0x44);
    expect(e.message).toBe(
      'BTF: type record at offset 0x44 (type id 4, STRUCT vlen 2) runs past the end of the type section (needs 36 bytes, 20 left)',
    );
  });

  it('checks a huge vlen against the remaining bytes before allocating anything', () => {
    const bytes = encodeBtf([{ kind: 'struct', name: 's', size: 0, kindFlag: false, members: [] }]);
    const huge = withU32(bytes, 24 + 4, 0x0400ffff);
    const started = performance.now();
    expect(errorOf(() => decodeBtf(huge)).message).toMatch(/needs 786432 bytes, 12 left/);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('rejects unknown kinds, reserved info bits, vlen and kind_flag where they have no meaning', () => {
    expect(errorOf(() => decodeBtf(withU32(good, 24 + 4, 20 << 24))).message).toMatch(
      /has kind 20, expected 1..19/,
    );
    expect(errorOf(() => decodeBtf(withU32(good, 24 + 4, (2 << 24) | 0x10000))).message).toMatch(
      /reserved info bits/,
    );
    expect(errorOf(() => decodeBtf(withU32(good, 24 + 4, (2 << 24) | 1))).message).toMatch(
      /PTR\) has vlen 1, expected 0/,
    );
    expect(errorOf(() => decodeBtf(withU32(good, 24 + 4, 0x82000000))).message).toMatch(
      /kind_flag/,
    );
  });

  it('rejects INT data with an invalid encoding', () => {
    const e = errorOf(() => decodeBtf(withU32(good, 36 + 12, 0x03000020)));
    expect(e).toMatchObject({ code: 'BTF_BAD_TYPE', offset: 48 });
  });

  it('rejects name offsets outside the string section', () => {
    const e = errorOf(() => decodeBtf(withU32(good, 36, 25)));
    expect(e).toMatchObject({ code: 'BTF_BAD_STRINGS', offset: 36 });
    expect(e.message).toMatch(
      /name_off 25 at offset 0x24 is outside the string section \(25 bytes\)/,
    );
  });

  it('rejects type ids past the last type and FUNCs that do not point at a FUNC_PROTO', () => {
    const e = errorOf(() => decodeBtf(withU32(good, 24 + 8, 5)));
    expect(e).toMatchObject({ code: 'BTF_BAD_REFERENCE', offset: 32 });
    expect(e.message).toBe(
      'BTF: type of type id 1 at offset 0x20 refers to type id 5, but there are only 4 types',
    );
    const func = encodeBtf([
      { kind: 'func_proto', name: '', returnType: 0, params: [] },
      { kind: 'func', name: 'f', type: 1, linkage: 'global' },
    ]);
    expect(errorOf(() => decodeBtf(withU32(func, 24 + 12 + 8, 2))).message).toMatch(
      /expected a FUNC_PROTO/,
    );
    expect(errorOf(() => decodeBtf(withU32(func, 24 + 12 + 4, 0x0c000003))).message).toMatch(
      /linkage \(vlen\) 3/,
    );
  });
});

describe('Btf lookups', () => {
  const b = new BtfBuilder();
  const u32: BtfTypeSpec = {
    kind: 'typedef',
    name: '__u32',
    target: { kind: 'int', name: 'unsigned int', size: 4, signed: false },
  };
  const key: BtfTypeSpec = {
    kind: 'struct',
    name: 'sock_key',
    size: 20,
    members: [
      { name: 'sip4', type: u32, bitOffset: 0 },
      { name: 'ports', type: { kind: 'array', elem: u32, length: 4 }, bitOffset: 32 },
    ],
  };
  const keyId = b.add(key);
  const constKey = b.add({ kind: 'const', target: { kind: 'volatile', target: key } });
  const ptrId = b.add({ kind: 'ptr', target: key });
  const protoId = b.add({ kind: 'func_proto', ret: null, params: [] });
  const btf = decodeBtf(b.encode());

  it('resolves through typedefs and modifiers', () => {
    expect(btf.resolve(constKey)).toBe(keyId);
    expect(btf.resolve(btf.findByName('__u32')!)).toBe(btf.findByName('unsigned int'));
    expect(btf.resolve(0)).toBe(0);
  });

  it('computes sizes like btf__resolve_size', () => {
    expect(btf.sizeof(keyId)).toBe(20);
    expect(btf.sizeof(constKey)).toBe(20);
    expect(btf.sizeof(ptrId)).toBe(8);
    const arr = btf.types.findIndex((t) => t.kind === 'array') + 1;
    expect(btf.sizeof(arr)).toBe(16);
    expect(errorOf(() => btf.sizeof(protoId)).code).toBe('BTF_NO_SIZE');
    expect(errorOf(() => btf.sizeof(0)).code).toBe('BTF_NO_SIZE');
  });

  it('finds types by name and kind', () => {
    expect(btf.findByName('sock_key', 'struct')).toBe(keyId);
    expect(btf.findByName('sock_key', 'union')).toBeUndefined();
    expect(btf.findByName('nope')).toBeUndefined();
  });

  it('reports unknown ids and string offsets as BTF_NOT_FOUND', () => {
    expect(errorOf(() => btf.type(0)).code).toBe('BTF_NOT_FOUND');
    expect(errorOf(() => btf.type(btf.typeCount + 1)).code).toBe('BTF_NOT_FOUND');
    expect(errorOf(() => btf.str(1 << 20)).code).toBe('BTF_NOT_FOUND');
  });

  it('stops resolving typedef cycles after a bounded number of steps', () => {
    const cyclic = decodeBtf(
      encodeBtf([
        { kind: 'typedef', name: 'a', type: 2 },
        { kind: 'typedef', name: 'b', type: 1 },
      ]),
    );
    expect(errorOf(() => cyclic.resolve(1)).code).toBe('BTF_BAD_REFERENCE');
    expect(errorOf(() => cyclic.sizeof(1)).code).toBe('BTF_NO_SIZE');
  });
});

describe('BtfBuilder', () => {
  it('gives one id per spec object and shares structurally identical scalars', () => {
    const b = new BtfBuilder();
    const i1 = b.add({ kind: 'int', name: 'int', size: 4, signed: true });
    const i2 = b.add({ kind: 'int', name: 'int', size: 4, signed: true });
    expect(i2).toBe(i1);
    expect(b.addInt('int', 4, 'signed')).toBe(i1);
    const p1 = b.add({ kind: 'ptr', target: { kind: 'int', name: 'int', size: 4, signed: true } });
    expect(b.addPtr(i1)).toBe(p1);
    expect(b.typeCount).toBe(2);
  });

  it('encodes self-referencing structs by reserving their id before the members', () => {
    const node: {
      kind: 'struct';
      name: string;
      size: number;
      members: { name: string; type: BtfTypeSpec; bitOffset: number }[];
    } = {
      kind: 'struct',
      name: 'node',
      size: 8,
      members: [],
    };
    node.members.push({ name: 'next', type: { kind: 'ptr', target: node }, bitOffset: 0 });
    const b = new BtfBuilder();
    const id = b.add(node);
    const btf = decodeBtf(b.encode());
    expect(dumpBtf(btf)).toBe(
      "[1] STRUCT 'node' size=8 vlen=1\n\t'next' type_id=2 bits_offset=0\n[2] PTR '(anon)' type_id=1\n",
    );
    expect(id).toBe(1);
  });

  it('rejects a pointer cycle that does not pass through a struct', () => {
    const p: { kind: 'ptr'; target: BtfTypeSpec | null } = { kind: 'ptr', target: null };
    p.target = p;
    expect(() => new BtfBuilder().add(p)).toThrow(/refers back to itself/);
  });

  it('maps INT flags to one encoding (bool over char over signed) and marks bitfield structs', () => {
    const b = new BtfBuilder();
    b.add({ kind: 'int', name: '_Bool', size: 1, signed: false, bool: true });
    b.add({ kind: 'int', name: 'char', size: 1, signed: true, char: true });
    b.add({
      kind: 'struct',
      name: 'bits',
      size: 4,
      members: [
        {
          name: 'a',
          type: { kind: 'int', name: 'int', size: 4, signed: true },
          bitOffset: 2,
          bitSize: 3,
        },
      ],
    });
    const t = decodeBtf(b.encode()).types;
    expect(t[0]).toMatchObject({ encoding: 'bool' });
    expect(t[1]).toMatchObject({ encoding: 'char' });
    expect(t[2]).toMatchObject({ kind: 'struct', kindFlag: true });
  });

  it('writes enums with 32-bit values as ENUM and wider ones as ENUM64', () => {
    const b = new BtfBuilder();
    b.add({
      kind: 'enum',
      name: 'small',
      size: 4,
      signed: true,
      values: [{ name: 'M', value: -1 }],
    });
    b.add({
      kind: 'enum',
      name: 'wide',
      size: 8,
      signed: false,
      values: [{ name: 'W', value: 2 ** 40 }],
    });
    expect(() =>
      b.add({
        kind: 'enum',
        name: 'bad',
        size: 4,
        signed: false,
        values: [{ name: 'W', value: 2 ** 40 }],
      }),
    ).toThrow(/use size 8/);
    const btf = decodeBtf(b.encode());
    expect(dumpBtf(btf)).toBe(
      "[1] ENUM 'small' encoding=SIGNED size=4 vlen=1\n\t'M' val=-1\n" +
        "[2] ENUM64 'wide' encoding=UNSIGNED size=8 vlen=1\n\t'W' val=1099511627776ULL\n",
    );
  });

  it('keeps strings added for line info and section names in the string section', () => {
    const b = new BtfBuilder();
    b.addInt('int', 4, 'signed');
    const off = b.addString('sockops');
    const btf = decodeBtf(b.encode());
    expect(btf.str(off)).toBe('sockops');
    expect(b.addString('int')).toBe(1);
  });
});
