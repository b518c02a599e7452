/**
 * Foreign BTF: decodes the `.BTF` of clang-built objects and compares our bpftool-style dump with
 * bpftool's own `btf dump file` output, line by line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBtf, encodeBtf } from '../../src/asm/btf.js';
import { dumpBtf } from '../../src/asm/btf-dump.js';
import { bpftoolBtfDump, CLANG_OBJECTS, readFixtureElf } from './btf-support.js';

describe.each(CLANG_OBJECTS.map((p) => [basename(p), p]))('clang object %s', (_name, path) => {
  const elf = readFixtureElf(path);
  const btf = decodeBtf(elf.section('.BTF'));

  it('decodes to the same dump as bpftool btf dump file, line by line', () => {
    const ours = dumpBtf(btf).split('\n');
    const theirs = bpftoolBtfDump(path).split('\n');
    expect(ours).toEqual(theirs);
  });

  it('re-encodes its types so that they decode back to the same records', () => {
    const again = decodeBtf(encodeBtf(btf.types));
    expect(again.types).toEqual(btf.types);
  });
});

const VMLINUX = '/sys/kernel/btf/vmlinux';

describe.runIf(existsSync(VMLINUX))("the running kernel's BTF (/sys/kernel/btf/vmlinux)", () => {
  it('decodes (100k+ types, every kind the kernel uses) to the same dump as bpftool', () => {
    const btf = decodeBtf(new Uint8Array(readFileSync(VMLINUX)));
    expect(btf.typeCount).toBeGreaterThan(10_000);
    const ours = dumpBtf(btf);
    const theirs = bpftoolBtfDump(VMLINUX);
    // Compare line by line so a mismatch names the first differing type, not a 10 MB blob.
    const a = ours.split('\n');
    const b = theirs.split('\n');
    const first = a.findIndex((line, i) => line !== b[i]);
    expect(first === -1 ? null : { line: first, ours: a[first], bpftool: b[first] }).toBeNull();
    expect(a.length).toBe(b.length);
  }, 180_000);
});
