/**
 * Every example in README.md works: the TypeScript blocks run as written (with `tsbpf` resolved to
 * this checkout's src/index.ts) in a temporary directory, and their objects are valid; every
 * command of the CLI summary exists and accepts the options shown.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readObject } from '../../src/asm/object-reader.js';
import { main } from '../../src/cli/main.js';

const readme = readFileSync('README.md', 'utf8');
const blocks = (lang: string) =>
  [...readme.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map(
    (m) => m[1] ?? '',
  );
const work = mkdtempSync(join(tmpdir(), 'tsbpf-readme-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a README TypeScript block in `work`; returns its stdout. */
function runExample(source: string, name: string): string {
  const index = pathToFileURL(resolve('src/index.ts')).href;
  const file = join(work, `${name}.mts`);
  writeFileSync(file, source.replace(/from 'tsbpf'/g, `from '${index}'`));
  const tsx = import.meta.resolve('tsx');
  return execFileSync(process.execPath, ['--import', tsx, file], {
    cwd: work,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('README examples', () => {
  const ts = blocks('ts');

  it('has the DSL example and the buildSockops() example', () => {
    expect(ts).toHaveLength(2);
    expect(ts[0]).toContain("program('sockops'");
    expect(ts[1]).toContain('buildSockops(');
  });

  it('the DSL example writes an object with its program and map, and prints the listing', () => {
    const out = runExample(ts[0] ?? '', 'dsl');
    const obj = readObject(readFileSync(join(work, 'count.o')));
    expect(obj.programs.map((p) => [p.name, p.section])).toEqual([['count_est', 'sockops']]);
    expect(obj.maps.map((m) => [m.name, m.keySize, m.valueSize, m.maxEntries])).toEqual([
      ['est_count', 4, 8, 1],
    ]);
    expect(out).toMatch(/count_est/);
    expect(out).toMatch(/lock \*\(u64 \*\)\(r0 \+ 0\) \+= r1/);
  }, 120_000);

  it('the buildSockops() example writes the object with the sizes asked for', () => {
    const out = runExample(ts[1] ?? '', 'build');
    const obj = readObject(readFileSync(join(work, 'sockaccel.o')));
    expect(obj.maps.find((m) => m.name === 'tsbpf_sockhash')?.maxEntries).toBe(131072);
    expect(out).toMatch(/^\d+ \[/);
    expect(out).toContain('tsbpf_sockhash (sockhash)');
  }, 120_000);

  it('every command of the CLI summary exists and accepts the options shown', async () => {
    const summary = readme.slice(readme.indexOf('## The command line'));
    const lines = (summary.split('```')[1]?.split('\n') ?? []).filter((l) =>
      l.startsWith('tsbpf '),
    );
    expect(lines.length).toBeGreaterThanOrEqual(9);
    for (const line of lines) {
      // The words before the first option or placeholder are the command.
      const words = line.split(/\s+/).slice(1);
      const command = words.slice(
        0,
        words.findIndex((w) => /^[[A-Z(-]/.test(w)),
      );
      let out = '';
      let err = '';
      const code = await main([...command, '--help'], {
        stdout: (t) => {
          out += t;
        },
        stderr: (t) => {
          err += t;
        },
      });
      expect({ line, code, err }).toEqual({ line, code: 0, err: '' });
      // Each option shown is documented in the command's help.
      for (const option of line.match(/--[a-z-]+/g) ?? []) {
        expect(out, `${line}: ${option}`).toContain(option);
      }
    }
  });
});
