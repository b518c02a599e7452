/**
 * Properties of the BTF codec: encode -> decode round trips for arbitrary type lists (every kind)
 * and arbitrary graph-form specs, bpftool agreeing with our dump of our own encoding, and fuzzing
 * of decodeBtf with random and mutated inputs (only BtfError, bounded time).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Btf, decodeBtf, encodeBtf } from '../../src/asm/btf.js';
import { BtfBuilder } from '../../src/asm/btf-builder.js';
import { dumpBtf } from '../../src/asm/btf-dump.js';
import { BtfError } from '../../src/asm/btf-types.js';
import type { BtfTypeSpec } from '../../src/asm/object-spec.js';
import { arbitraryBtfSpec, arbitraryBtfTypes } from './btf-arbitraries.js';
import { bpftoolDumpRaw, CLANG_OBJECTS, readFixtureElf } from './btf-support.js';

/** Rebuilds the graph form of type `id` (trees only: the arbitrary specs have no cycles). */
function toSpec(btf: Btf, id: number): BtfTypeSpec | null {
  if (id === 0) return null;
  const t = btf.type(id);
  const to = (x: number) => toSpec(btf, x);
  switch (t.kind) {
    case 'int':
      return {
        kind: 'int',
        name: t.name,
        size: t.size as 1 | 2 | 4 | 8 | 16,
        signed: t.encoding === 'signed',
        ...(t.encoding === 'char' ? { char: true } : {}),
        ...(t.encoding === 'bool' ? { bool: true } : {}),
      };
    case 'ptr':
      return { kind: 'ptr', target: to(t.type) };
    case 'array':
      return { kind: 'array', elem: to(t.type)!, length: t.nelems };
    case 'struct':
    case 'union':
      return {
        kind: t.kind,
        name: t.name,
        size: t.size,
        members: t.members.map((m) => ({
          name: m.name,
          type: to(m.type)!,
          bitOffset: m.bitOffset,
          ...(m.bitSize !== 0 ? { bitSize: m.bitSize } : {}),
        })),
      };
    case 'enum':
      return {
        kind: 'enum',
        name: t.name,
        size: t.size as 1 | 2 | 4 | 8,
        signed: t.signed,
        values: t.values,
      };
    case 'fwd':
      return { kind: 'fwd', name: t.name, union: t.union };
    case 'typedef':
      return { kind: 'typedef', name: t.name, target: to(t.type) };
    case 'volatile':
    case 'const':
    case 'restrict':
      return { kind: t.kind, target: to(t.type) };
    case 'func_proto':
      return {
        kind: 'func_proto',
        ret: to(t.returnType),
        params: t.params.map((p) => ({ name: p.name, type: to(p.type) })),
      };
    default:
      throw new Error(`unexpected ${t.kind}`);
  }
}

function countNodes(spec: BtfTypeSpec | null, seen = new Set<BtfTypeSpec>()): number {
  if (spec === null || seen.has(spec)) return 0;
  seen.add(spec);
  const kids: (BtfTypeSpec | null)[] =
    spec.kind === 'ptr' ||
    spec.kind === 'typedef' ||
    spec.kind === 'volatile' ||
    spec.kind === 'const' ||
    spec.kind === 'restrict'
      ? [spec.target]
      : spec.kind === 'array'
        ? [spec.elem]
        : spec.kind === 'struct' || spec.kind === 'union'
          ? spec.members.map((m) => m.type)
          : spec.kind === 'func_proto'
            ? [spec.ret, ...spec.params.map((p) => p.type)]
            : [];
  return 1 + kids.reduce((n, k) => n + countNodes(k, seen), 0);
}

/** Runs `fn` and lets only BtfError escape. */
function onlyBtfErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
    expect(e.code).toMatch(/^BTF_/);
  }
}

describe('BTF round trips', () => {
  it('decode(encode(types)) equals types for arbitrary type lists of every kind', () => {
    fc.assert(
      fc.property(arbitraryBtfTypes(), (types) => {
        const bytes = encodeBtf(types);
        const btf = decodeBtf(bytes);
        expect(btf.types).toEqual(types);
        expect(encodeBtf(btf.types)).toEqual(bytes);
      }),
      { numRuns: 400 },
    );
  });

  it('bpftool (libbpf 1.1) prints the same dump as ours for our encoding of arbitrary types', () => {
    fc.assert(
      fc.property(arbitraryBtfTypes(12), (types) => {
        const bytes = encodeBtf(types);
        expect(bpftoolDumpRaw(bytes)).toBe(dumpBtf(decodeBtf(bytes)));
      }),
      { numRuns: 25 },
    );
  });

  it('graph-form specs come back structurally equal, with one id per distinct node at most', () => {
    fc.assert(
      fc.property(arbitraryBtfSpec, (spec) => {
        const b = new BtfBuilder();
        const id = b.add(spec);
        const btf = decodeBtf(b.encode());
        expect(toSpec(btf, id)).toEqual(spec);
        // +1: the ARRAY index type is added on demand.
        expect(btf.typeCount).toBeLessThanOrEqual(countNodes(spec) + 1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('decodeBtf fuzzing', () => {
  const seeds = [
    ...CLANG_OBJECTS.slice(0, 2).map((p) => readFixtureElf(p).section('.BTF')),
    encodeBtf([
      { kind: 'int', name: 'int', size: 4, bitOffset: 0, bits: 32, encoding: 'signed' },
      { kind: 'func_proto', name: '', returnType: 1, params: [{ name: 'ctx', type: 0 }] },
      { kind: 'func', name: 'prog', type: 2, linkage: 'global' },
      { kind: 'var', name: 'm', type: 1, linkage: 'global' },
      { kind: 'datasec', name: '.maps', size: 4, vars: [{ type: 4, offset: 0, size: 4 }] },
      { kind: 'enum64', name: 'e', size: 8, signed: true, values: [{ name: 'x', value: -5n }] },
    ]),
  ];
  const exercise = (bytes: Uint8Array) =>
    onlyBtfErrors(() => {
      const btf = decodeBtf(bytes);
      dumpBtf(btf);
      for (let id = 1; id <= btf.typeCount; id++) {
        onlyBtfErrors(() => btf.resolve(id));
        onlyBtfErrors(() => btf.sizeof(id));
      }
    });

  it('random bytes give a Btf or a BtfError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), exercise), { numRuns: 2000 });
  });

  it('random bytes behind a valid header give a Btf or a BtfError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 200 }), (body, typeLen) => {
        const bytes = new Uint8Array(24 + body.length);
        const v = new DataView(bytes.buffer);
        v.setUint16(0, 0xeb9f, true);
        v.setUint8(2, 1);
        v.setUint32(4, 24, true);
        const t = Math.min(typeLen, body.length) & ~3;
        v.setUint32(12, t, true);
        v.setUint32(16, t, true);
        v.setUint32(20, body.length - t, true);
        bytes.set(body, 24);
        exercise(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid BTF (byte flips, u32 overwrites, truncation) gives a Btf or a BtfError', () => {
    const started = performance.now();
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.oneof(fc.nat({ max: 255 }), fc.nat({ max: 0xffffffff }))), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.option(fc.nat(), { nil: undefined }),
        (seed, edits, cut) => {
          const bytes = seed.slice(0, cut === undefined ? seed.length : cut % (seed.length + 1));
          const v = new DataView(bytes.buffer);
          for (const [pos, value] of edits) {
            if (bytes.length === 0) break;
            if (value <= 255) bytes[pos % bytes.length] = value;
            else if (bytes.length >= 4) v.setUint32((pos % (bytes.length - 3)) & ~3, value, true);
          }
          exercise(bytes);
        },
      ),
      { numRuns: 3000 },
    );
    // Bounded time: thousands of decodes of multi-KB inputs stay well under the test timeout.
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});

describe('decodeBtf against libbpf', () => {
  it('whatever we accept of mutated type sections, bpftool (libbpf 1.1) accepts and dumps the same way', () => {
    const seed = readFixtureElf(CLANG_OBJECTS[0]!).section('.BTF');
    const typeEnd = 24 + new DataView(seed.buffer, seed.byteOffset).getUint32(12, true);
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-btf-diff-'));
    let accepted = 0;
    try {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.integer({ min: 24, max: typeEnd - 4 }), fc.nat({ max: 64 })), {
            minLength: 1,
            maxLength: 2,
          }),
          (edits) => {
            const bytes = seed.slice();
            const v = new DataView(bytes.buffer);
            // Small values keep mutated ids, sizes and name offsets plausible, so some inputs stay valid.
            for (const [pos, value] of edits) v.setUint32(pos & ~3, value, true);
            let ours: string;
            try {
              ours = dumpBtf(decodeBtf(bytes));
            } catch (e) {
              if (e instanceof BtfError) return;
              throw e;
            }
            accepted++;
            const file = join(dir, 'm.btf');
            writeFileSync(file, bytes);
            const r = spawnSync('bpftool', ['btf', 'dump', 'file', file], { encoding: 'utf8' });
            expect(r.status, r.stderr).toBe(0);
            expect(r.stdout).toBe(ours);
          },
        ),
        { numRuns: Number(process.env.BTF_DIFF_RUNS ?? 150) },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(accepted).toBeGreaterThan(10);
  }, 600_000);
});
