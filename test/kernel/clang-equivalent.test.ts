/**
 * bench/clang-equivalent/ (the C that the build-time benchmark compiles with clang) stays
 * equivalent to what tsbpf builds: build.sh compiles both files, each object has the same maps
 * and programs as `buildSockops()` of its variant, and bpftool loads it (programs pinned in a bpffs
 * directory this test creates and removes).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { objectShape } from '../../src/bench/build-timing.js';
import { buildSockops } from '../../src/programs/build.js';
import { createTestBpffsDir, describeKernel } from './support.js';

const out = mkdtempSync(join(tmpdir(), 'tsbpf-clang-equivalent-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describeKernel('C equivalents of the tsbpf objects (bench/clang-equivalent)', () => {
  it('build with clang, match buildSockops() map for map and program for program, and load with bpftool', () => {
    const built = spawnSync('sh', ['bench/clang-equivalent/build.sh', out], { encoding: 'utf8' });
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    for (const [variant, name] of [
      ['cilium', 'sockaccel'],
      ['minimal', 'sockaccel-minimal'],
    ] as const) {
      const object = join(out, `${name}.o`);
      expect(objectShape(readFileSync(object))).toBe(objectShape(buildSockops({ variant }).elf));
      const dir = createTestBpffsDir('clang-equivalent');
      try {
        const pins = join(dir.path, name);
        const load = spawnSync('bpftool', ['prog', 'loadall', object, pins], { encoding: 'utf8' });
        expect({ variant, status: load.status, stderr: load.stderr }).toEqual({
          variant,
          status: 0,
          stderr: '',
        });
        expect(readdirSync(pins).sort()).toEqual(['bpf_redir', 'bpf_sockops']);
      } finally {
        dir.cleanup();
      }
    }
  });
});
