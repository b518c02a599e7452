import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeObject } from '../../src/asm/object-writer.js';
import { formatDump, runDump } from '../../src/cli/dump.js';
import { main } from '../../src/cli/main.js';
import { sockRedirectSpec } from '../asm/object-sample.js';

const root = join(import.meta.dirname, '../..');
const fixtureDir = join(root, 'test/fixtures/clang');
const fixtures = ['sockmap.o', 'multi.o', 'loop.o'];
const scratch = mkdtempSync(join(tmpdir(), 'tsbpf-dump-'));
const ourObject = join(scratch, 'sock_redirect.o');
writeFileSync(ourObject, writeObject(sockRedirectSpec()));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** stdout of an llvm tool run in `cwd` (so that -S finds the C sources next to the objects). */
function llvmObjdump(args: string[], cwd: string): string {
  const result = spawnSync('llvm-objdump', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`llvm-objdump ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Runs a command through main() and captures its output. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('tsbpf dump', () => {
  it.each(fixtures)('%s: prints exactly what llvm-objdump -d -r prints', (file) => {
    const bytes = readFileSync(join(fixtureDir, file));
    expect(formatDump(bytes, { fileName: file })).toBe(llvmObjdump(['-d', '-r', file], fixtureDir));
  });

  it('prints our hand-assembled object exactly like llvm-objdump -d -r', () => {
    expect(formatDump(readFileSync(ourObject), { fileName: ourObject })).toBe(
      llvmObjdump(['-d', '-r', ourObject], scratch),
    );
  });

  it.each(fixtures)(
    '%s --source: equals llvm-objdump -S except where BTF starts a function at its declaration line',
    (file) => {
      const ours = formatDump(readFileSync(join(fixtureDir, file)), {
        fileName: file,
        source: true,
      }).split('\n');
      const theirs = llvmObjdump(['-S', '-r', file], fixtureDir).split('\n');
      expect(ours).toHaveLength(theirs.length);
      const differences = ours.flatMap((line, i) =>
        line === theirs[i] ? [] : [[line, theirs[i]]],
      );
      // DWARF's first row of a function is its `{` line; BTF line info uses the declaration line.
      for (const [line, other] of differences) {
        expect(other).toBe('; {');
        expect(line).toMatch(/^; int \w+\(struct \w+ \*\w+\)$/);
      }
      expect(differences.length).toBeLessThanOrEqual(3);
      // Without the source lines it is the plain listing again.
      expect(ours.filter((l) => !l.startsWith('; ')).join('\n')).toBe(
        llvmObjdump(['-d', '-r', file], fixtureDir),
      );
    },
  );

  it('--source puts each line-info text of our object before its first instruction', () => {
    const text = formatDump(readFileSync(ourObject), { fileName: 'sock_redirect.o', source: true });
    expect(text).toContain(
      '; int bpf_sockops(struct bpf_sock_ops *skops) {\n       0:\tbf 16 00 00 00 00 00 00\tr6 = r1\n',
    );
    expect(text).toContain(
      ';     bpf_sock_hash_update(skops, &sock_ops_map, &key, BPF_ANY);\n      20:\tbf 61 00 00 00 00 00 00\tr1 = r6\n',
    );
    // Instruction 26 follows the two-slot ld_imm64, so it is printed as slot 27.
    expect(text).toContain(';     return 0;\n      27:\tb7 00 00 00 00 00 00 00\tr0 = 0\n');
    const sourceLines = text.split('\n').filter((l) => l.startsWith('; '));
    const spec = sockRedirectSpec();
    expect(sourceLines).toEqual(
      spec.programs.flatMap((p) => (p.lines ?? []).map((l) => `; ${l.text}`)),
    );
  });

  it('runs from the command line through tsx: output on stdout, exit 0', () => {
    const result = spawnSync(
      'npx',
      ['tsx', 'src/cli/main.ts', 'dump', 'test/fixtures/clang/sockmap.o'],
      { cwd: root, encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(llvmObjdump(['-d', '-r', 'test/fixtures/clang/sockmap.o'], root));
  });

  it('reports a corrupted object as one line on stderr with exit code 1 (command line)', () => {
    const bad = join(scratch, 'bad.o');
    const bytes = readFileSync(ourObject);
    bytes[0x3a] = 0; // e_shentsize
    writeFileSync(bad, bytes);
    const result = spawnSync('npx', ['tsx', 'src/cli/main.ts', 'dump', bad], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `tsbpf dump: ${bad}: invalid ELF at byte offset 0x3a: expected e_shentsize 64, found 0\n`,
    );
  });

  it('reports a missing file, a non-object and (with --source) bad instructions as one line with exit code 1', async () => {
    const missing = await run(['dump', join(scratch, 'nope.o')]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe(`tsbpf dump: ${join(scratch, 'nope.o')}: no such file\n`);

    const text = join(scratch, 'text.o');
    writeFileSync(text, 'not an object');
    const notElf = await run(['dump', text]);
    expect(notElf.code).toBe(1);
    expect(notElf.stderr).toMatch(
      /^tsbpf dump: .*text\.o: invalid ELF at byte offset 0x0: expected the ELF magic 7f 45 4c 46, found 6e 6f 74 20\n$/,
    );

    const badInsn = join(scratch, 'bad-insn.o');
    const bytes = readFileSync(ourObject);
    const sockopsAt = bytes.indexOf(0xbf); // first instruction: r6 = r1
    bytes[sockopsAt] = 0xff;
    writeFileSync(badInsn, bytes);
    const decoded = await run(['dump', badInsn, '--source']);
    expect(decoded.code).toBe(1);
    expect(decoded.stderr.split('\n')).toHaveLength(2);
    expect(decoded.stderr).toContain('program bpf_sockops in sockops');
    // Without --source the listing needs no valid program: like llvm-objdump it prints <unknown>.
    const listed = await run(['dump', badInsn]);
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(listed.stdout).toBe(llvmObjdump(['-d', '-r', badInsn], scratch));
    expect(listed.stdout).toContain('<unknown>');
  });

  it('exits 2 with usage for missing or extra arguments and unknown options or commands', async () => {
    for (const argv of [
      ['dump'],
      ['dump', 'a.o', 'b.o'],
      ['dump', '--frobnicate', 'a.o'],
      ['frobnicate'],
      [],
    ]) {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/usage|unknown command/);
    }
    const help = await run(['dump', '--help']);
    expect(help).toMatchObject({ code: 0, stdout: 'usage: tsbpf dump FILE.o [--source]\n' });
  });

  it('runDump writes nothing to stderr on success', () => {
    let stderr = '';
    let stdout = '';
    const code = runDump([join(fixtureDir, 'loop.o'), '--source'], {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
    });
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain('; \t\tsum += msg->remote_ip6[i] ^ msg->local_ip6[i];');
  });
});
