/**
 * The published package works from a fresh directory: `npm run build` (into a staging directory,
 * so the shared dist/ is left alone), `npm pack` of package.json's `files`, `npm install` of the
 * tarball into an empty project (dependencies from the npm cache or registry), then the `tsbpf`
 * bin through npx: `--help`, and `build`, whose object must equal what buildSockops() returns.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readObject } from '../../src/asm/object-reader.js';
import { buildSockops } from '../../src/programs/build.js';

const repo = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'tsbpf-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
  });
}

describe('npm package', () => {
  it('installs from its tarball into a fresh directory, and npx tsbpf --help and build work there', () => {
    const stage = join(work, 'stage');
    run('npm', ['run', 'build', '--', '--outDir', join(stage, 'dist')], repo);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      files: string[];
      bin: { tsbpf: string };
    };
    cpSync('package.json', join(stage, 'package.json'));
    for (const f of pkg.files.filter((f) => f !== 'dist'))
      cpSync(f, join(stage, f), { recursive: true });
    expect(existsSync(join(stage, pkg.bin.tsbpf))).toBe(true);
    run('npm', ['pack', '--pack-destination', work], stage);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    expect(tarball).toMatch(/^tsbpf-\d+\.\d+\.\d+\.tgz$/);

    const fresh = join(work, 'fresh');
    mkdirSync(fresh);
    writeFileSync(join(fresh, 'package.json'), JSON.stringify({ name: 'fresh', private: true }));
    run(
      'npm',
      ['install', join(work, tarball ?? ''), '--no-audit', '--no-fund', '--prefer-offline'],
      fresh,
    );

    const help = run('npx', ['--no-install', 'tsbpf', '--help'], fresh);
    expect(help).toMatch(/^usage: tsbpf <command> \[options\]/);
    expect(help).toContain('accel enable --cgroup PATH');

    const built = run('npx', ['--no-install', 'tsbpf', 'build', '--out', 'bpf'], fresh);
    expect(built).toMatch(/bpf\/sockaccel\.o: \d+ bytes, cilium variant/);
    // Same programs and maps as buildSockops() here. The line info differs (here it names the .ts
    // sources; the installed build runs from .js files), so the bytes of the whole ELF do too.
    const shape = (elf: Uint8Array) => {
      const o = readObject(elf);
      return {
        programs: o.programs.map((p) => [p.name, p.section, Buffer.from(p.bytes).toString('hex')]),
        maps: o.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries]),
      };
    };
    expect(shape(readFileSync(join(fresh, 'bpf/sockaccel.o')))).toEqual(
      shape(buildSockops({}).elf),
    );
    expect(readFileSync(join(fresh, 'bpf/sockaccel.lst'), 'utf8')).toMatch(
      /^bpf_sockops \(section sockops\):$/m,
    );

    // tsbpf bench compiles these: the load generator and the C equivalents of the build-time
    // comparison ship with the package.
    for (const f of ['bench/loadgen.c', 'bench/clang-equivalent/sockaccel.c'])
      expect(existsSync(join(fresh, 'node_modules', 'tsbpf', f))).toBe(true);

    // The library entry points resolve from the installed package too.
    const api = run(
      'node',
      [
        '--input-type=module',
        '-e',
        "import('tsbpf').then((m) => console.log(typeof m.buildSockops, typeof m.enableAccel, typeof m.loader.loadObject)); import('tsbpf/accel').then((m) => console.log(typeof m.runDemo))",
      ],
      fresh,
    );
    expect(api.split('\n').sort().join(' ').trim()).toBe('function function function function');
  }, 300_000);
});
