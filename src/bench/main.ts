/**
 * `npm run bench [-- --quick] [--seconds N] [--reps N] [--only id,id] [--json FILE] [--out DIR]`:
 * parses the arguments, runs the benchmark with progress on stderr, writes bench/results/ (or
 * --out) and prints the markdown report on stdout. The CLI's `tsbpf bench` calls the same
 * `parseBenchArgs` and `runBench`.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';
import { renderMarkdown } from './report.js';
import { type BenchOptions, runBench } from './run.js';

/** Default output directory: bench/results/ of this package. */
export const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

/** Parsed command line: the bench options plus where the JSON copy goes. */
export interface BenchArgs {
  readonly options: BenchOptions;
  readonly json: string | undefined;
}

/** Parses bench arguments; throws BenchError EBENCH_OPTION naming a bad one. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let seconds: number | undefined;
  let repetitions: number | undefined;
  let scenarios: string[] | undefined;
  let json: string | undefined;
  let outDir = DEFAULT_RESULTS_DIR;
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
    else if (a === '--json') json = value(i++, a);
    else if (a === '--out') outDir = value(i++, a);
    else {
      throw new BenchError(
        'EBENCH_OPTION',
        `unknown bench option ${a}; use --quick, --seconds N, --reps N, --only ids, --json FILE, --out DIR`,
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
    },
    json,
  };
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  const results = await runBench(args.options, { progress: (l) => process.stderr.write(`${l}\n`) });
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(renderMarkdown(results));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`tsbpf bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
