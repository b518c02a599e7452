/**
 * `tsbpf build` loads only what building needs (docs/benchmarks.md: every module costs start-up
 * time): not the loader, koffi, the accel agent, the bench harness or the VM, and not node:net.
 * A resolve hook records every module the command imports.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The modules `tsbpf ARGS` imports (run from the TypeScript sources through tsx): every module
 * imported by the entry point or by a module it imported in turn, so not tsx's own.
 */
function importsOf(args: string[]): string[] {
  const record = join(dir, `imports-${args.join('-').replace(/\W/g, '_')}.txt`);
  execFileSync(
    process.execPath,
    [
      '--import',
      pathToFileURL(resolve('test/fixtures/cli/record-imports.mjs')).href,
      '--import',
      'tsx',
      'src/cli/main.ts',
      ...args,
    ],
    { env: { ...process.env, TSBPF_RECORD_IMPORTS: record }, stdio: 'pipe' },
  );
  const edges = readFileSync(record, 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('\t'));
  const main = pathToFileURL(resolve('src/cli/main.ts')).href;
  const reached = new Set([main]);
  for (const [parent = '', url = ''] of edges) if (reached.has(parent)) reached.add(url);
  return [...reached];
}

describe('tsbpf start-up', () => {
  it('build imports the programs, not the loader, accel, bench, vm, koffi or node:net', () => {
    const out = join(dir, 'bpf');
    const urls = importsOf(['build', '--out', out]);
    expect(existsSync(join(out, 'sockaccel.o'))).toBe(true);
    const ours = urls.filter((u) => u.includes('/src/'));
    expect(ours.some((u) => u.endsWith('/src/programs/build.ts'))).toBe(true);
    expect(ours.filter((u) => /\/src\/(loader|accel|bench|vm|model)\//.test(u))).toEqual([]);
    expect(urls.filter((u) => u === 'node:net' || u.includes('/koffi/'))).toEqual([]);
  });

  it('--help imports no command', () => {
    const urls = importsOf(['--help']).filter((u) => u.includes('/src/'));
    expect(urls.map((u) => u.slice(u.indexOf('/src/')))).toEqual([
      '/src/cli/main.ts',
      '/src/cli/failure.ts',
    ]);
  });
});
