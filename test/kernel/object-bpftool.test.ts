/**
 * The hand-assembled object (sockops + sk_msg + one SOCKHASH, built from Insn values by
 * writeObject) against the independent tools: bpftool loads and pins it in a bpffs directory this
 * test creates, prints its BTF map definition and our file/line numbers in the xlated dump, and
 * llvm-readelf reads it without a warning.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeBtf } from '../../src/asm/btf.js';
import { dumpBtf } from '../../src/asm/btf-dump.js';
import { findSection, readElf } from '../../src/asm/elf-reader.js';
import { writeObject } from '../../src/asm/object-writer.js';
import { SAMPLE_FILE, sockRedirectSpec } from '../asm/object-sample.js';
import { createTestBpffsDir, describeKernel } from './support.js';

/** Runs a tool; returns its exit status and output (never throws on a non-zero exit). */
function tool(
  command: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describeKernel('hand-assembled sockops/sk_msg object with bpftool and llvm-readelf', () => {
  it('loads with bpftool prog loadall … pinmaps, shows its BTF map definition and our line numbers', () => {
    const spec = sockRedirectSpec();
    const bytes = writeObject(spec);
    const scratch = mkdtempSync(join(tmpdir(), 'tsbpf-object-'));
    const dir = createTestBpffsDir('object');
    try {
      const object = join(scratch, 'sock_redirect.o');
      writeFileSync(object, bytes);

      const readelf = tool('llvm-readelf', ['-a', object]);
      expect(readelf.status).toBe(0);
      expect(readelf.stderr).toBe('');
      expect(readelf.stdout).not.toMatch(/warning/i);

      const btfDump = tool('bpftool', ['btf', 'dump', 'file', object]);
      expect(btfDump.status).toBe(0);
      expect(btfDump.stdout).toMatch(/\] VAR 'sock_ops_map' type_id=\d+, linkage=global\n/);
      expect(btfDump.stdout).toMatch(
        /\] DATASEC '\.maps' size=32 vlen=1\n\ttype_id=\d+ offset=0 size=32 \(VAR 'sock_ops_map'\)\n/,
      );
      expect(btfDump.stdout).toMatch(
        /\] ARRAY '\(anon\)' type_id=\d+ index_type_id=\d+ nr_elems=18\n/,
      ); // SOCKHASH
      expect(btfDump.stdout).toMatch(
        /\] ARRAY '\(anon\)' type_id=\d+ index_type_id=\d+ nr_elems=65535\n/,
      );
      expect(btfDump.stdout).toMatch(/\] STRUCT 'sock_key' size=20 vlen=7\n/);
      expect(btfDump.stdout).toMatch(
        /\] STRUCT '\(anon\)' size=32 vlen=4\n\t'type' type_id=\d+ bits_offset=0\n\t'key' type_id=\d+ bits_offset=64\n\t'value_size' type_id=\d+ bits_offset=128\n\t'max_entries' type_id=\d+ bits_offset=192\n/,
      );
      expect(btfDump.stdout).toMatch(/\] FUNC 'bpf_sockops' type_id=\d+ linkage=global\n/);
      // Our decoder agrees with bpftool on every type.
      const btfSection = findSection(readElf(bytes), '.BTF');
      expect(dumpBtf(decodeBtf(btfSection?.data ?? new Uint8Array()))).toBe(btfDump.stdout);

      const load = tool('bpftool', [
        'prog',
        'loadall',
        object,
        dir.path,
        'pinmaps',
        join(dir.path, 'maps'),
      ]);
      expect(load.stderr).toBe('');
      expect(load.status).toBe(0);
      expect(readdirSync(dir.path).sort()).toEqual(['bpf_redir', 'bpf_sockops', 'maps']);
      expect(readdirSync(join(dir.path, 'maps'))).toEqual(['sock_ops_map']);

      const map = JSON.parse(
        tool('bpftool', ['-j', 'map', 'show', 'pinned', join(dir.path, 'maps', 'sock_ops_map')])
          .stdout,
      );
      expect(map).toMatchObject({
        type: 'sockhash',
        name: 'sock_ops_map',
        bytes_key: 20,
        bytes_value: 4,
        max_entries: 65535,
      });
      const sockops = JSON.parse(
        tool('bpftool', ['-j', 'prog', 'show', 'pinned', join(dir.path, 'bpf_sockops')]).stdout,
      );
      expect(sockops).toMatchObject({ type: 'sock_ops', name: 'bpf_sockops' });
      expect(sockops.map_ids).toEqual([map.id]);
      const redir = JSON.parse(
        tool('bpftool', ['-j', 'prog', 'show', 'pinned', join(dir.path, 'bpf_redir')]).stdout,
      );
      expect(redir).toMatchObject({ type: 'sk_msg', name: 'bpf_redir' });

      for (const program of spec.programs) {
        const xlated = tool('bpftool', [
          'prog',
          'dump',
          'xlated',
          'pinned',
          join(dir.path, program.name),
          'linum',
        ]);
        expect(xlated.status).toBe(0);
        expect(xlated.stdout).toContain(
          `int ${program.name}(struct ${program.name === 'bpf_sockops' ? 'bpf_sock_ops' : 'sk_msg_md'} * ${program.ctxName}):\n`,
        );
        for (const line of program.lines ?? []) {
          // bpftool left-trims the text and prints file, line and column from line_col.
          expect(xlated.stdout).toContain(
            `; ${line.text.trimStart()} [file:${SAMPLE_FILE} line_num:${line.line} line_col:${line.col}]\n`,
          );
        }
      }
    } finally {
      dir.cleanup();
      rmSync(scratch, { recursive: true, force: true });
    }
    expect(existsSync(dir.path)).toBe(false);
  });
});
