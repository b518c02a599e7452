/**
 * How long building the programs takes: `buildSockops()` warm (in this process, after warm-up
 * calls), a cold build in a fresh Node process (what `tsbpf build` costs, start-up included), and
 * `clang -O2 -target bpf` compiling the equivalent C fixture on the same machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSockops } from '../programs/build.js';
import type { SockopsVariant } from '../programs/options.js';
import { haveTool } from './process.js';
import { median } from './stats.js';

/** Build-time figures in milliseconds (medians). */
export interface BuildTiming {
  readonly warmMs: Record<SockopsVariant, number>;
  readonly warmRuns: number;
  /** Fresh `node` process importing the programs and writing the object. */
  readonly coldMs: number;
  /** How the cold build ran: compiled JS, or TypeScript through tsx (transpiling included). */
  readonly coldRuntime: 'js' | 'tsx';
  /** clang -O2 of the fixture; undefined when clang or the fixture is missing. */
  readonly clangMs: number | undefined;
  readonly clangSource: string | undefined;
  readonly coldRuns: number;
}

function timeMs(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Measures the three build times with `runs` cold samples each. */
export function measureBuildTiming(runs: number): BuildTiming {
  const warmRuns = 20;
  const warm = (variant: SockopsVariant) => {
    for (let i = 0; i < 3; i++) buildSockops({ variant });
    return median(Array.from({ length: warmRuns }, () => timeMs(() => buildSockops({ variant }))));
  };
  const warmMs = { cilium: warm('cilium'), minimal: warm('minimal') };

  const here = fileURLToPath(import.meta.url);
  const isTs = here.endsWith('.ts');
  const buildModule = fileURLToPath(
    new URL(`../programs/build.${isTs ? 'ts' : 'js'}`, import.meta.url),
  );
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-build-'));
  try {
    const script = join(dir, 'cold.mjs');
    writeFileSync(
      script,
      `import { writeFileSync } from 'node:fs';\n` +
        `const { buildSockops } = await import(${JSON.stringify(buildModule)});\n` +
        `writeFileSync(${JSON.stringify(join(dir, 'sockaccel.o'))}, buildSockops({}).elf);\n`,
    );
    const nodeArgs = isTs ? ['--import', 'tsx', script] : [script];
    const cold = Array.from({ length: runs }, () =>
      timeMs(() =>
        execFileSync(process.execPath, nodeArgs, { stdio: 'ignore', cwd: process.cwd() }),
      ),
    );
    const fixture = fileURLToPath(
      new URL('../../test/fixtures/loader/sockaccel.c', import.meta.url),
    );
    let clangMs: number | undefined;
    if (haveTool('clang') && existsSync(fixture)) {
      // The fixture's build.sh adds the multiarch include dir (asm/types.h lives there).
      const multiarch = `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
      const args = [
        '-O2',
        '-g',
        '-target',
        'bpf',
        `-I${multiarch}`,
        '-c',
        fixture,
        '-o',
        join(dir, 'clang.o'),
      ];
      clangMs = median(
        Array.from({ length: runs }, () => timeMs(() => execFileSync('clang', args))),
      );
    }
    return {
      warmMs,
      warmRuns,
      coldMs: median(cold),
      coldRuntime: isTs ? 'tsx' : 'js',
      clangMs,
      clangSource: clangMs === undefined ? undefined : 'test/fixtures/loader/sockaccel.c',
      coldRuns: runs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
