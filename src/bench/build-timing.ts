/**
 * How long building the programs takes: `buildSockops()` warm (in this process, after warm-up
 * calls), and cold — what a user pays for the real command, `tsbpf build` (the compiled CLI in a
 * fresh `node`, start-up, imports and writing the .o and .lst included) — against
 * `clang -O2 -g -target bpf` compiling the C equivalent of the same object
 * (bench/clang-equivalent/), for each variant, interleaved run by run so a machine that drifts
 * hurts both alike.
 *
 * The cold build never runs through tsx: from TypeScript sources, the harness first compiles them
 * with `tsc -p tsconfig.build.json` into a temporary directory (not timed) and times that output.
 * "Cold" means a fresh process, as every `tsbpf build` is; each command runs once untimed first,
 * so files are in the page cache for both, and on Node >= 22.1 the CLI's compile cache is filled,
 * as it is for a user from their second build on.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readObject } from '../asm/object-reader.js';
import { DEFAULT_OBJECT_NAME } from '../cli/build.js';
import { buildSockops } from '../programs/build.js';
import type { SockopsVariant } from '../programs/options.js';
import { BenchError } from './errors.js';
import { haveTool } from './process.js';
import { median, quantile } from './stats.js';

/** The variants timed, the default first. */
const VARIANTS: readonly SockopsVariant[] = ['cilium', 'minimal'];

/**
 * Builds run untimed before the warm samples. V8 keeps re-optimising the builder, checker and
 * writer for the first few dozen builds (medians of 7 ms over builds 1-50 against a steady
 * 2.7 ms from build 50 on, compiled JS, measured 2026-11-25), and "warm" means that steady state:
 * what a long-running agent that rebuilds the object pays, not the JIT's warm-up.
 */
const WARM_UP_BUILDS = 50;

/** Timed warm builds per variant. */
const WARM_RUNS = 100;

/** Cold figures of one variant, in milliseconds (medians). */
export interface ColdBuild {
  /** `node dist/cli/main.js build --variant V --out DIR`: a fresh process, wall clock. */
  readonly tsbpfMs: number;
  /** `clang -O2 -g -target bpf -c bench/clang-equivalent/NAME.c`; undefined without clang. */
  readonly clangMs: number | undefined;
}

/** Build-time figures in milliseconds (medians). */
export interface BuildTiming {
  /** Median of the timed warm builds, per variant. */
  readonly warmMs: Record<SockopsVariant, number>;
  /** 90th percentile of the same builds (garbage collection and re-optimisation show here). */
  readonly warmP90Ms?: Record<SockopsVariant, number>;
  /** Timed warm builds per variant (after the untimed warm-up builds). */
  readonly warmRuns: number;
  /** Untimed builds per variant before the timed ones. */
  readonly warmUpBuilds?: number;
  /** Cold `tsbpf build` against clang, per variant. */
  readonly cold: Record<SockopsVariant, ColdBuild>;
  /** `node -e 0` in the same rounds: the part of every cold build that is Node's own start-up. */
  readonly nodeStartMs: number;
  /** The cilium (default) variant's cold `tsbpf build` (= cold.cilium.tsbpfMs). */
  readonly coldMs: number;
  /** The cilium variant's clang time (= cold.cilium.clangMs). */
  readonly clangMs: number | undefined;
  /** Where the C equivalents are; undefined when clang is missing. */
  readonly clangSource: string | undefined;
  /** Samples per series (each round runs every series once, interleaved). */
  readonly coldRuns: number;
  /** How busy the machine was: 1-minute load average before and after the cold rounds, and CPUs. */
  readonly load: { readonly before: number; readonly after: number; readonly cpus: number };
  /** Node version that ran the cold builds. */
  readonly node: string;
}

function timeMs(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * The compiled CLI to time: beside this module when it runs as JavaScript (dist/ or an installed
 * package); from TypeScript, the sources compiled into `work` (with the package.json, so the
 * output is ESM and listings name dist/… as in an installed package, and node_modules linked).
 */
function compiledCli(work: string): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const pkg = join(work, 'pkg');
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(pkg, 'dist'),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  return join(pkg, 'dist', 'cli', 'main.js');
}

/**
 * The maps (name, type, sizes, flags, pinning) and programs (name, section) of an object as text,
 * for checking that a C equivalent builds the same object as tsbpf.
 */
export function objectShape(elf: Uint8Array): string {
  const o = readObject(elf);
  const maps = o.maps
    .map((m) =>
      [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.mapFlags, m.pinning].join(' '),
    )
    .sort();
  const programs = o.programs.map((p) => `${p.name} ${p.section}`).sort();
  return [...programs, ...maps].join('\n');
}

/**
 * Measures the build times: `runs` interleaved rounds, each running, per variant, the cold
 * `tsbpf build` and clang on its C equivalent, plus a bare `node -e 0`.
 */
export function measureBuildTiming(runs: number): BuildTiming {
  const warmed = (variant: SockopsVariant) => {
    for (let i = 0; i < WARM_UP_BUILDS; i++) buildSockops({ variant });
    const samples = Array.from({ length: WARM_RUNS }, () =>
      timeMs(() => buildSockops({ variant })),
    );
    return { median: median(samples), p90: quantile(samples, 0.9) };
  };
  const cilium = warmed('cilium');
  const minimal = warmed('minimal');
  const warmMs = { cilium: cilium.median, minimal: minimal.median };
  const warmP90Ms = { cilium: cilium.p90, minimal: minimal.p90 };
  const warmRuns = WARM_RUNS;

  const work = mkdtempSync(join(tmpdir(), 'tsbpf-bench-build-'));
  try {
    const cli = compiledCli(work);
    const out = join(work, 'out');
    const sourceDir = fileURLToPath(new URL('../../bench/clang-equivalent/', import.meta.url));
    const withClang = haveTool('clang') && existsSync(sourceDir);
    // The multiarch include directory holds asm/types.h, which <linux/bpf.h> needs.
    const multiarch = `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
    const tsbpf = (v: SockopsVariant) => () =>
      execFileSync(process.execPath, [cli, 'build', '--variant', v, '--out', out], {
        stdio: 'ignore',
      });
    // bench/clang-equivalent/NAME.c is the C equivalent of NAME.o, the object `tsbpf build`
    // writes by default for the variant.
    const clang = (v: SockopsVariant) => () =>
      execFileSync('clang', [
        '-O2',
        '-g',
        '-target',
        'bpf',
        `-I${multiarch}`,
        '-c',
        join(sourceDir, `${DEFAULT_OBJECT_NAME[v]}.c`),
        '-o',
        join(out, `${DEFAULT_OBJECT_NAME[v]}-clang.o`),
      ]);

    // Once untimed: both commands work, and the C builds the same maps and programs.
    for (const v of VARIANTS) {
      tsbpf(v)();
      if (!withClang) continue;
      clang(v)();
      const ours = objectShape(readFileSync(join(out, `${DEFAULT_OBJECT_NAME[v]}.o`)));
      const theirs = objectShape(readFileSync(join(out, `${DEFAULT_OBJECT_NAME[v]}-clang.o`)));
      if (ours !== theirs) {
        throw new BenchError(
          'EBENCH_RUN',
          `bench/clang-equivalent/${DEFAULT_OBJECT_NAME[v]}.c no longer builds the same maps and programs as tsbpf build --variant ${v}; update it:\n--- tsbpf\n${ours}\n--- clang\n${theirs}`,
        );
      }
    }

    const samples = new Map<string, number[]>();
    const add = (series: string, ms: number) =>
      samples.set(series, [...(samples.get(series) ?? []), ms]);
    const before = loadavg()[0] ?? 0;
    for (let round = 0; round < runs; round++) {
      add(
        'node',
        timeMs(() => execFileSync(process.execPath, ['-e', '0'])),
      );
      for (const v of VARIANTS) {
        add(`tsbpf ${v}`, timeMs(tsbpf(v)));
        if (withClang) add(`clang ${v}`, timeMs(clang(v)));
      }
    }
    const after = loadavg()[0] ?? 0;
    const med = (series: string) => {
      const xs = samples.get(series);
      return xs === undefined ? undefined : median(xs);
    };
    const coldOf = (v: SockopsVariant): ColdBuild => ({
      tsbpfMs: med(`tsbpf ${v}`) ?? Number.NaN,
      clangMs: med(`clang ${v}`),
    });
    const cold = { cilium: coldOf('cilium'), minimal: coldOf('minimal') };
    return {
      warmMs,
      warmP90Ms,
      warmRuns,
      warmUpBuilds: WARM_UP_BUILDS,
      cold,
      nodeStartMs: med('node') ?? Number.NaN,
      coldMs: cold.cilium.tsbpfMs,
      clangMs: cold.cilium.clangMs,
      clangSource: withClang ? 'bench/clang-equivalent/' : undefined,
      coldRuns: runs,
      load: { before, after, cpus: cpus().length },
      node: process.version,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
