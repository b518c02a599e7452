/**
 * How long `buildSockops()` takes warm (issue 8 target: <= 5 ms): builds each variant a few times
 * to warm up the JIT and the source-location cache, then times N more builds and prints JSON with
 * the median, min, p90 and max per variant (milliseconds).
 *
 *   npx tsx bench/build-time.ts [--runs N] [--warmup N]
 *
 * Runs outside vitest on purpose: vitest rewrites stack traces through its own source maps, which
 * is not what a user building the object pays. Progress goes to stderr, the JSON to stdout.
 */

import { quantile } from '../src/bench/stats.js';
import { buildSockops } from '../src/programs/build.js';
import type { SockopsVariant } from '../src/programs/options.js';

/** Timing of one variant, in milliseconds. */
interface VariantTiming {
  readonly variant: SockopsVariant;
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly p90Ms: number;
  readonly maxMs: number;
  /** Median CPU time (user + system) of one build: robust when other processes share the cores. */
  readonly medianCpuMs: number;
  /** Cold: the very first build in this process (module JIT and caches empty). */
  readonly firstMs: number;
}

function intFlag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} needs a positive integer, got ${process.argv[at + 1]}`);
  }
  return value;
}

/** Wall-clock and CPU milliseconds of one build. */
function time(variant: SockopsVariant): { wallMs: number; cpuMs: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  buildSockops({ variant });
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

function measure(variant: SockopsVariant, warmup: number, runs: number): VariantTiming {
  const firstMs = time(variant).wallMs;
  for (let i = 1; i < warmup; i++) time(variant);
  const samples: number[] = [];
  const cpuSamples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { wallMs, cpuMs } = time(variant);
    samples.push(wallMs);
    cpuSamples.push(cpuMs);
  }
  samples.sort((a, b) => a - b);
  cpuSamples.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 1000) / 1000;
  return {
    variant,
    runs,
    medianMs: round(quantile(samples, 0.5)),
    minMs: round(samples[0] ?? Number.NaN),
    p90Ms: round(quantile(samples, 0.9)),
    maxMs: round(samples[samples.length - 1] ?? Number.NaN),
    medianCpuMs: round(quantile(cpuSamples, 0.5)),
    firstMs: round(firstMs),
  };
}

const runs = intFlag('--runs', 50);
const warmup = intFlag('--warmup', 20);
const variants: SockopsVariant[] = ['cilium', 'minimal'];
const results = variants.map((variant) => {
  process.stderr.write(
    `buildSockops({ variant: '${variant}' }): ${warmup} warm-up + ${runs} runs\n`,
  );
  return measure(variant, warmup, runs);
});
process.stdout.write(
  `${JSON.stringify({ node: process.version, targetMs: 5, default: 'cilium', results }, null, 2)}\n`,
);
