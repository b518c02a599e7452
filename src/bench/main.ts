/**
 * `npm run bench [-- --quick] [--seconds N] [--reps N] [--only id,id] [--cpu none,N] [--json FILE]
 * [--out DIR]`:
 * parses the arguments, runs the benchmark with progress on stderr, writes bench/results/ (or
 * --out) and prints the markdown report on stdout. The CLI's `tsbpf bench` calls the same
 * `parseBenchArgs` and `runBench`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';
import { type Placement, parsePlacements } from './placement.js';
import { renderMarkdown } from './report.js';
import { type BenchOptions, runBench } from './run.js';

/**
 * Default output directory: bench/results/ in a checkout of this repository (where the committed
 * results live), else ./tsbpf-bench-results in the working directory (an installed package must not
 * write into node_modules).
 */
export function defaultResultsDir(): string {
  const inRepo = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  return existsSync(inRepo) ? inRepo : join(process.cwd(), 'tsbpf-bench-results');
}

/** Parsed command line: the bench options plus where the JSON copy goes. */
export interface BenchArgs {
  readonly options: BenchOptions;
  readonly json: string | undefined;
}

/**
 * Parses bench arguments; throws BenchError EBENCH_OPTION naming a bad one. `cpuCount` bounds
 * the CPU numbers `--cpu` accepts (default: this machine's).
 */
export function parseBenchArgs(
  argv: readonly string[],
  cpuCount: number = cpus().length,
): BenchArgs {
  let quick = false;
  let seconds: number | undefined;
  let repetitions: number | undefined;
  let scenarios: string[] | undefined;
  let placements: Placement[] | undefined;
  let json: string | undefined;
  let outDir = defaultResultsDir();
  const value = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined) throw new BenchError('EBENCH_OPTION', `${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--seconds') seconds = Number(value(i++, a));
    else if (a === '--reps') repetitions = Number(value(i++, a));
    else if (a === '--only') scenarios = value(i++, a).split(',');
    else if (a === '--cpu') placements = parsePlacements(value(i++, a), cpuCount);
    else if (a === '--json') json = value(i++, a);
    else if (a === '--out') outDir = value(i++, a);
    else {
      throw new BenchError(
        'EBENCH_OPTION',
        `unknown bench option ${a}; use --quick, --seconds N, --reps N, --only ids, --cpu none,N, --json FILE, --out DIR`,
      );
    }
  }
  return {
    options: {
      quick,
      outDir,
      ...(seconds === undefined ? {} : { seconds }),
      ...(repetitions === undefined ? {} : { repetitions }),
      ...(scenarios ? { scenarios } : {}),
      ...(placements ? { placements } : {}),
    },
    json,
  };
}

/** Help text of `tsbpf bench` / `npm run bench -- --help`. */
export const BENCH_USAGE = `usage: tsbpf bench [--quick] [--seconds N] [--reps N] [--only ID,ID] [--cpu LIST] [--json FILE] [--out DIR]

Compares plain TCP over loopback, socket acceleration (cilium and minimal variants) and a UNIX
socket, interleaved, in throwaway tsbpf-test-bench-* cgroups (needs root, a C compiler; iperf3
and sockperf for the cross-check). Progress on stderr, the markdown report on stdout; results.json,
results.md and results.svg go to --out (default bench/results/ in a checkout of tsbpf, else
./tsbpf-bench-results).

  --quick        3 repetitions of 0.4 s per run (default 5 of 1.5 s)
  --seconds N    length of each run in seconds (overrides the default or --quick's)
  --reps N       repetitions of every run (overrides the default or --quick's)
  --only IDS     scenarios: stream-{64,1024,16384,65536}-{nagle,nodelay}, rr-64, rr-4096, crr
  --cpu LIST     CPU placements, comma-separated: 'none' (unpinned) and/or a CPU number to pin
                 client and server (and iperf3/sockperf) together to; default 'none,<last CPU>'
                 (both, reported as separate rows; docs/benchmarks.md explains why)
  --json FILE    also write the results JSON to FILE
  --out DIR      where results.json, results.md and results.svg go
`;

/** Where a command prints (the CLI's CommandIo has this shape). */
export interface BenchCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/**
 * The whole `tsbpf bench` command: parses `args`, runs, prints; returns the exit code (0 ok,
 * 1 the benchmark failed, 2 bad arguments). The CLI registers it as its `bench` command.
 */
export async function runBenchCommand(
  args: readonly string[],
  io: BenchCommandIo,
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(BENCH_USAGE);
    return 0;
  }
  let parsed: BenchArgs;
  try {
    parsed = parseBenchArgs(args);
  } catch (e) {
    io.stderr(`tsbpf bench: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  try {
    const results = await runBench(parsed.options, { progress: (l) => io.stderr(`${l}\n`) });
    if (parsed.json) writeFileSync(parsed.json, `${JSON.stringify(results, null, 2)}\n`);
    io.stdout(renderMarkdown(results));
    return 0;
  } catch (e) {
    io.stderr(`tsbpf bench: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const io = {
    stdout: (t: string) => process.stdout.write(t),
    stderr: (t: string) => process.stderr.write(t),
  };
  runBenchCommand(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
