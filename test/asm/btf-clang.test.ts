/**
 * Foreign BTF: decodes the `.BTF` of clang-built objects and compares our bpftool-style dump with
 * bpftool's own `btf dump file` output, line by line.
 */
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
