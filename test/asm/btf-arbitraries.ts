/**
 * fast-check generators for BTF: id-based type lists covering every kind 1-19 with valid
 * references, graph-form `BtfTypeSpec` trees, and `.BTF.ext` contents.
 */
import fc from 'fast-check';
import type { BtfExt, BtfExtInfo } from '../../src/asm/btf-ext.js';
import type { BtfType } from '../../src/asm/btf-types.js';
import type { BtfTypeSpec } from '../../src/asm/object-spec.js';

const u32 = fc.nat({ max: 0xffffffff });
const name = fc.oneof(
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0')) },
);
const linkage = fc.constantFrom('static' as const, 'global' as const, 'extern' as const);

/**
 * A record whose type references are raw numbers, later reduced modulo the number of types (so
 * they are in range) and pointed at a FUNC_PROTO / VAR where the kind requires one.
 */
const rawType: fc.Arbitrary<BtfType> = fc.oneof(
  fc.record({
    kind: fc.constant('int' as const),
    name,
    size: fc.constantFrom(1, 2, 4, 8, 16),
    bitOffset: fc.nat({ max: 255 }),
    bits: fc.nat({ max: 255 }),
    encoding: fc.constantFrom('none' as const, 'signed' as const, 'char' as const, 'bool' as const),
  }),
  fc.record({
    kind: fc.constantFrom(
      'ptr' as const,
      'typedef' as const,
      'volatile' as const,
      'const' as const,
      'restrict' as const,
    ),
    name,
    type: u32,
  }),
  fc.record({ kind: fc.constant('type_tag' as const), name, type: u32, kindFlag: fc.boolean() }),
  fc.record({ kind: fc.constant('array' as const), name, type: u32, indexType: u32, nelems: u32 }),
  fc.boolean().chain((kindFlag) =>
    fc.record({
      kind: fc.constantFrom('struct' as const, 'union' as const),
      name,
      size: u32,
      kindFlag: fc.constant(kindFlag),
      members: fc.array(
        fc.record({
          name,
          type: u32,
          bitOffset: kindFlag ? fc.nat({ max: 0xffffff }) : u32,
          bitSize: kindFlag ? fc.nat({ max: 255 }) : fc.constant(0),
        }),
        { maxLength: 5 },
      ),
    }),
  ),
  fc.boolean().chain((signed) =>
    fc.record({
      kind: fc.constant('enum' as const),
      name,
      size: fc.constantFrom(1, 2, 4, 8),
      signed: fc.constant(signed),
      values: fc.array(
        fc.record({
          name,
          value: signed ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) : u32,
        }),
        { maxLength: 5 },
      ),
    }),
  ),
  fc.boolean().chain((signed) =>
    fc.record({
      kind: fc.constant('enum64' as const),
      name,
      size: fc.constantFrom(1, 2, 4, 8),
      signed: fc.constant(signed),
      values: fc.array(
        fc.record({
          name,
          value: signed
            ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
            : fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        }),
        { maxLength: 4 },
      ),
    }),
  ),
  fc.record({ kind: fc.constant('fwd' as const), name, union: fc.boolean() }),
  fc.record({ kind: fc.constant('func' as const), name, type: u32, linkage }),
  fc.record({
    kind: fc.constant('func_proto' as const),
    name,
    returnType: u32,
    params: fc.array(fc.record({ name, type: u32 }), { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('var' as const), name, type: u32, linkage }),
  fc.record({
    kind: fc.constant('datasec' as const),
    name,
    size: u32,
    vars: fc.array(fc.record({ type: u32, offset: u32, size: u32 }), { maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('float' as const), name, size: fc.constantFrom(2, 4, 8, 12, 16) }),
  fc.record({
    kind: fc.constant('decl_tag' as const),
    name,
    type: u32,
    componentIdx: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    kindFlag: fc.boolean(),
  }),
);

/** Makes every reference valid: in 0..n, FUNCs at FUNC_PROTOs, DATASEC entries at VARs. */
function fixReferences(raw: readonly BtfType[]): BtfType[] {
  const n = raw.length;
  const idsOf = (kind: BtfType['kind']) => raw.flatMap((t, i) => (t.kind === kind ? [i + 1] : []));
  const protos = idsOf('func_proto');
  const vars = idsOf('var');
  const ref = (r: number) => r % (n + 1);
  return raw.map((t): BtfType => {
    switch (t.kind) {
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
      case 'var':
      case 'decl_tag':
        return { ...t, type: ref(t.type) };
      case 'array':
        return { ...t, type: ref(t.type), indexType: ref(t.indexType) };
      case 'struct':
      case 'union':
        return { ...t, members: t.members.map((m) => ({ ...m, type: ref(m.type) })) };
      case 'func_proto':
        return {
          ...t,
          returnType: ref(t.returnType),
          params: t.params.map((p) => ({ ...p, type: ref(p.type) })),
        };
      case 'func':
        return protos.length === 0
          ? { kind: 'ptr', name: '', type: ref(t.type) }
          : { ...t, type: protos[t.type % protos.length]! };
      case 'datasec':
        return vars.length === 0
          ? { ...t, vars: [] }
          : { ...t, vars: t.vars.map((v) => ({ ...v, type: vars[v.type % vars.length]! })) };
      default:
        return t;
    }
  });
}

/** A list of id-based types (id 1 first) with valid references, every kind possible. */
export const arbitraryBtfTypes = (maxLength = 24): fc.Arbitrary<BtfType[]> =>
  fc.array(rawType, { minLength: 1, maxLength }).map(fixReferences);

const identifier = fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/);

const intSpec: fc.Arbitrary<BtfTypeSpec> = fc
  .record({
    name: identifier,
    size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const, 16 as const),
    flavour: fc.constantFrom('unsigned', 'signed', 'char', 'bool'),
  })
  .map(({ name: n, size, flavour }) => ({
    kind: 'int' as const,
    name: n,
    size,
    signed: flavour === 'signed',
    ...(flavour === 'char' ? { char: true } : {}),
    ...(flavour === 'bool' ? { bool: true } : {}),
  }));

/** Graph-form type trees (every BtfTypeSpec kind), with shared subtrees. */
export const arbitraryBtfSpec: fc.Arbitrary<BtfTypeSpec> = fc.letrec<{ spec: BtfTypeSpec }>(
  (tie) => ({
    spec: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      intSpec,
      fc.record({ kind: fc.constant('fwd' as const), name: identifier, union: fc.boolean() }),
      fc.record({
        kind: fc.constant('enum' as const),
        name: fc.oneof(fc.constant(''), identifier),
        size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
        signed: fc.boolean(),
        values: fc.array(fc.record({ name: identifier, value: fc.nat({ max: 0x7fffffff }) }), {
          maxLength: 4,
        }),
      }),
      fc.record({
        kind: fc.constant('ptr' as const),
        target: fc.option(tie('spec'), { nil: null }),
      }),
      fc.record({
        kind: fc.constant('array' as const),
        elem: tie('spec'),
        length: fc.nat({ max: 1000 }),
      }),
      fc.record({
        kind: fc.constant('typedef' as const),
        name: identifier,
        target: fc.option(tie('spec'), { nil: null }),
      }),
      fc.record({
        kind: fc.constantFrom('volatile' as const, 'const' as const, 'restrict' as const),
        target: fc.option(tie('spec'), { nil: null }),
      }),
      fc.record({
        kind: fc.constantFrom('struct' as const, 'union' as const),
        name: fc.oneof(fc.constant(''), identifier),
        size: fc.nat({ max: 4096 }),
        members: fc.array(
          fc.oneof(
            fc.record({ name: identifier, type: tie('spec'), bitOffset: fc.nat({ max: 0xffff }) }),
            fc.record({
              name: identifier,
              type: tie('spec'),
              bitOffset: fc.nat({ max: 0xffff }),
              bitSize: fc.integer({ min: 1, max: 64 }),
            }),
          ),
          { maxLength: 4 },
        ),
      }),
      fc.record({
        kind: fc.constant('func_proto' as const),
        ret: fc.option(tie('spec'), { nil: null }),
        params: fc.array(
          fc.record({ name: identifier, type: fc.option(tie('spec'), { nil: null }) }),
          {
            maxLength: 3,
          },
        ),
      }),
    ),
  }),
).spec;

function info<R>(rec: fc.Arbitrary<R>, minRecSize: number): fc.Arbitrary<BtfExtInfo<R>> {
  return fc.record({
    recSize: fc.constantFrom(minRecSize, minRecSize + 4, minRecSize + 12),
    sections: fc.array(
      fc.record({ secNameOff: u32, records: fc.array(rec, { minLength: 1, maxLength: 6 }) }),
      { maxLength: 3 },
    ),
  });
}

/** `.BTF.ext` contents; records of longer-than-minimum sizes get tail bytes of the right length. */
export const arbitraryBtfExt: fc.Arbitrary<BtfExt> = fc
  .record({
    funcInfo: info(fc.record({ insnOff: u32, typeId: u32 }), 8),
    lineInfo: info(
      fc.record({
        insnOff: u32,
        fileNameOff: u32,
        lineOff: u32,
        line: fc.nat({ max: 0x3fffff }),
        col: fc.nat({ max: 0x3ff }),
      }),
      16,
    ),
    coreRelo: info(
      fc.record({ insnOff: u32, typeId: u32, accessStrOff: u32, kind: fc.nat({ max: 13 }) }),
      16,
    ),
    tailSeed: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  })
  .filter(
    (e) => e.funcInfo.sections.length + e.lineInfo.sections.length + e.coreRelo.sections.length > 0,
  )
  .map(({ funcInfo, lineInfo, coreRelo, tailSeed }) => {
    const withTails = <R>(i: BtfExtInfo<R>, min: number): BtfExtInfo<R> =>
      i.recSize === min
        ? i
        : {
            recSize: i.recSize,
            sections: i.sections.map((s) => ({
              ...s,
              records: s.records.map((r) => ({ ...r, tail: tailSeed.slice(0, i.recSize - min) })),
            })),
          };
    const normal = <R>(i: BtfExtInfo<R>, min: number): BtfExtInfo<R> =>
      i.sections.length === 0 ? { recSize: min, sections: [] } : withTails(i, min);
    return {
      funcInfo: normal(funcInfo, 8),
      lineInfo: normal(lineInfo, 16),
      coreRelo: normal(coreRelo, 16),
    };
  });
