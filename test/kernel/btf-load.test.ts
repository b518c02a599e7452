/**
 * The kernel's verdict on our BTF: BPF_BTF_LOAD (raw bpf(2), no libbpf) accepts what BtfBuilder
 * encodes (map definitions, program FUNCs, every kind 1-19), and clang's `.BTF` once
 * fixupDatasecs has applied the ELF sizes and symbol offsets (and refuses it before).
 */
import { basename } from 'node:path';
import { expect, it } from 'vitest';
import { decodeBtf } from '../../src/asm/btf.js';
import { BtfBuilder } from '../../src/asm/btf-builder.js';
import { encodeMapDefinitions, fixupDatasecs } from '../../src/asm/btf-maps.js';
import { addProgramFunc } from '../../src/asm/btf-program.js';
import { btfLoad } from '../../src/loader/commands.js';
import { systemSyscall } from '../../src/loader/syscall.js';
import {
  CLANG_OBJECTS,
  objectSymbolOffsets,
  readFixtureElf,
  sectionSizes,
} from '../asm/btf-support.js';
import { describeKernel } from './support.js';

/** Loads `btf` into the kernel; returns the log when refused. Closes the fd it gets. */
function kernelVerdict(btf: Uint8Array): { ok: true } | { ok: false; log: string } {
  const sys = systemSyscall();
  const r = btfLoad(sys, btf);
  if (r.ok) {
    sys.close(r.fd);
    return { ok: true };
  }
  return { ok: false, log: r.log };
}

describeKernel('BPF_BTF_LOAD of BTF we encode', () => {
  it('accepts an object BTF: SOCKHASH map definition and two program FUNCs', () => {
    const b = new BtfBuilder();
    const u32 = { kind: 'int', name: 'unsigned int', size: 4, signed: false } as const;
    encodeMapDefinitions(b, [
      {
        name: 'sock_ops_map',
        type: 18,
        key: {
          kind: 'struct',
          name: 'sock_key',
          size: 12,
          members: [
            { name: 'sip4', type: u32, bitOffset: 0 },
            { name: 'dip4', type: u32, bitOffset: 32 },
            { name: 'ports', type: u32, bitOffset: 64 },
          ],
        },
        value: { kind: 'int', name: 'int', size: 4, signed: true },
        maxEntries: 65535,
        pinning: 'by_name',
      },
      { name: 'stats', type: 2, key: 4, value: 8, maxEntries: 4 },
    ]);
    addProgramFunc(b, {
      name: 'bpf_sockops',
      ctxType: { kind: 'fwd', name: 'bpf_sock_ops', union: false },
    });
    addProgramFunc(b, { name: 'bpf_redir', ctxName: 'msg' });
    b.addString('sockops');
    b.addString('sk_msg');
    expect(kernelVerdict(b.encode())).toEqual({ ok: true });
  });

  it('accepts every BTF kind 1-19 as we encode it', () => {
    const b = new BtfBuilder();
    const int = b.addType({
      kind: 'int',
      name: 'int',
      size: 4,
      bitOffset: 0,
      bits: 32,
      encoding: 'signed',
    });
    const ptr = b.addType({ kind: 'ptr', name: '', type: int });
    b.addType({ kind: 'array', name: '', type: int, indexType: int, nelems: 4 });
    const s = b.addType({
      kind: 'struct',
      name: 's',
      size: 8,
      kindFlag: true,
      members: [
        { name: 'a', type: int, bitOffset: 0, bitSize: 3 },
        { name: 'b', type: int, bitOffset: 32, bitSize: 0 },
      ],
    });
    b.addType({
      kind: 'union',
      name: 'u',
      size: 4,
      kindFlag: false,
      members: [{ name: 'x', type: int, bitOffset: 0, bitSize: 0 }],
    });
    b.addType({
      kind: 'enum',
      name: 'e',
      size: 4,
      signed: true,
      values: [
        { name: 'A', value: -1 },
        { name: 'B', value: 1 },
      ],
    });
    b.addType({ kind: 'fwd', name: 'f', union: true });
    b.addType({ kind: 'typedef', name: 't', type: int });
    const vol = b.addType({ kind: 'volatile', name: '', type: int });
    b.addType({ kind: 'const', name: '', type: vol });
    b.addType({ kind: 'restrict', name: '', type: ptr });
    const proto = b.addType({
      kind: 'func_proto',
      name: '',
      returnType: int,
      params: [{ name: 'x', type: int }],
    });
    b.addType({ kind: 'func', name: 'fn', type: proto, linkage: 'global' });
    const v = b.addType({ kind: 'var', name: 'v', type: int, linkage: 'global' });
    b.addType({ kind: 'datasec', name: '.data', size: 4, vars: [{ type: v, offset: 0, size: 4 }] });
    b.addType({ kind: 'float', name: 'float', size: 4 });
    b.addType({ kind: 'decl_tag', name: 'tag', type: s, componentIdx: 1, kindFlag: false });
    const tag = b.addType({ kind: 'type_tag', name: 'user', type: int, kindFlag: false });
    b.addType({ kind: 'ptr', name: '', type: tag });
    b.addType({
      kind: 'enum64',
      name: 'e64',
      size: 8,
      signed: false,
      values: [{ name: 'BIG', value: 1n << 40n }],
    });
    const bytes = b.encode();
    expect(new Set(decodeBtf(bytes).types.map((t) => t.kind)).size).toBe(19);
    expect(kernelVerdict(bytes)).toEqual({ ok: true });
  });

  it.each(CLANG_OBJECTS.map((p) => [basename(p), p]))(
    'accepts clang %s .BTF after fixupDatasecs, and refuses it before',
    (_name, path) => {
      const elf = readFixtureElf(path);
      const raw = elf.section('.BTF');
      const before = kernelVerdict(raw);
      expect(before.ok).toBe(false);
      if (!before.ok) expect(before.log).toMatch(/DATASEC .* size=0 vlen=\d+\s+size == 0/);
      const fixed = fixupDatasecs(raw, sectionSizes(elf), objectSymbolOffsets(elf));
      expect(kernelVerdict(fixed)).toEqual({ ok: true });
    },
  );
});
