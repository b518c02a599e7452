/**
 * The benchmark's pure parts: medians and ratios, the scenario matrix and load generator argv,
 * sockperf output parsing, target checks and the rendered markdown/SVG.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs, runBenchCommand } from '../../src/bench/main.js';
import { parseSockperf } from '../../src/bench/reference.js';
import { renderMarkdown, renderSvg } from '../../src/bench/report.js';
import { type BenchResults, checkTargets, type ScenarioResult } from '../../src/bench/run.js';
import { allScenarios, loadgenArgs, transportsOf } from '../../src/bench/scenarios.js';
import { median, ratio } from '../../src/bench/stats.js';

describe('bench statistics', () => {
  it('the median is an element for odd counts, between the middle two for even, and ignores order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 30 }),
        (xs) => {
          const m = median(xs);
          expect(xs.filter((x) => x < m).length).toBeLessThanOrEqual(xs.length / 2);
          expect(xs.filter((x) => x > m).length).toBeLessThanOrEqual(xs.length / 2);
          expect(median([...xs].reverse())).toBe(m);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a ratio against zero or a missing value is NaN, never 0 or Infinity', () => {
    expect(ratio(2, 4)).toBe(0.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(undefined, 1)).toBeNaN();
  });
});

describe('bench scenarios', () => {
  it('covers 4 stream sizes × Nagle on/off, rr at 64 B and 4 KiB, and the connection rate', () => {
    expect(allScenarios().map((s) => s.id)).toEqual([
      'stream-64-nagle',
      'stream-1024-nagle',
      'stream-16384-nagle',
      'stream-65536-nagle',
      'stream-64-nodelay',
      'stream-1024-nodelay',
      'stream-16384-nodelay',
      'stream-65536-nodelay',
      'rr-64',
      'rr-4096',
      'crr',
    ]);
  });

  it('UNIX sockets run once per stream size (Nagle means nothing there); TCP transports run everything', () => {
    const [nagle, , , , nodelay] = allScenarios();
    expect(transportsOf(nagle!)).toEqual(['plain', 'cilium', 'minimal']);
    expect(transportsOf(nodelay!)).toEqual(['plain', 'cilium', 'minimal', 'unix']);
    expect(loadgenArgs(nodelay!, 'unix', 1.5)).toEqual(['stream', 'unix', '64', '1', '1.500']);
    expect(loadgenArgs(allScenarios()[8]!, 'cilium', 2)).toEqual(['rr', 'tcp4', '64', '2.000']);
  });
});

const SOCKPERF = `sockperf: [Valid Duration] RunTime=0.552 sec; SentMessages=8090; ReceivedMessages=8090
sockperf: \x1b[2;35m====> avg-latency=34.120 (std-dev=272.973)\x1b[0m
sockperf: ---> percentile 99.000 =  851.715
sockperf: ---> percentile 90.000 =    9.908
sockperf: ---> percentile 50.000 =    8.921
`;

describe('sockperf parsing', () => {
  it('reads the half-RTT percentiles, doubles them into round trips, and computes the rate', () => {
    const r = parseSockperf(SOCKPERF);
    expect(r.halfRttP50Us).toBe(8.921);
    expect(r.rttP50Us).toBeCloseTo(17.842);
    expect(r.rttP99Us).toBeCloseTo(1703.43);
    expect(r.opsPerSecond).toBeCloseTo(8090 / 0.552);
  });

  it('names what is missing instead of returning zeros', () => {
    expect(() => parseSockperf('sockperf: nothing')).toThrow(/percentile 50.000|valid duration/);
  });
});

function fakeResults(): BenchResults {
  const s = allScenarios();
  const mk = (
    i: number,
    plain: Record<string, number>,
    cilium: Record<string, number>,
  ): ScenarioResult => ({
    scenario: s[i]!,
    transports: {
      plain: { samples: [plain], median: plain },
      cilium: { samples: [cilium], median: cilium },
    },
    ratios: {
      cilium: Object.fromEntries(Object.keys(plain).map((k) => [k, cilium[k]! / plain[k]!])),
    },
  });
  const scenarios = [
    mk(3, { gbitPerSecond: 10 }, { gbitPerSecond: 25 }),
    mk(
      8,
      { opsPerSecond: 30000, p50Us: 20, p99Us: 80 },
      { opsPerSecond: 45000, p50Us: 15, p99Us: 60 },
    ),
    mk(10, { connectionsPerSecond: 10000 }, { connectionsPerSecond: 8000 }),
  ];
  return {
    date: '2026-01-01T00:00:00.000Z',
    kernel: '6.18.0',
    cpus: 2,
    seconds: 1,
    repetitions: 1,
    scenarios,
    eagainOnBlockingRead: { plain: 0, cilium: 1, minimal: 0, unix: 0 },
    ciliumStats: { inserted: 4 },
    minimalStats: {},
    targets: checkTargets(scenarios, undefined),
  };
}

describe('bench targets and reports', () => {
  it('checks each target against the measured cilium ratio, reporting misses as misses', () => {
    const t = fakeResults().targets;
    expect(t.map((x) => [x.name, x.measured, x.met])).toEqual([
      ['rr 64 B ops/s, accelerated / plain', 1.5, true],
      ['rr 64 B p50 latency, accelerated / plain', 0.75, true],
      ['stream 64 KiB (Nagle on), accelerated / plain', 2.5, true],
      ['connection rate with sock_ops / plain', 0.8, false],
    ]);
  });

  it('renders the targets, medians and ratios as markdown and a well-formed SVG', () => {
    const r = fakeResults();
    const md = renderMarkdown(r);
    expect(md).toContain('| connection rate with sock_ops / plain | >= 0.9 | 0.80 | **no** |');
    expect(md).toContain('| rr-64 | p50Us (µs) | 20.00 | 15.00 | — | — | 0.75 | — | — |');
    const svg = renderSvg(r);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<rect /g)?.length).toBeGreaterThan(4);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });
});

describe('tsbpf bench command', () => {
  const capture = () => {
    const out = { stdout: '', stderr: '' };
    return {
      out,
      io: {
        stdout: (t: string) => {
          out.stdout += t;
        },
        stderr: (t: string) => {
          out.stderr += t;
        },
      },
    };
  };

  it('prints its usage with --help and exits 0', async () => {
    const { out, io } = capture();
    expect(await runBenchCommand(['--help'], io)).toBe(0);
    expect(out.stdout).toContain('usage: tsbpf bench [--quick]');
  });

  it('rejects an unknown option with exit 2 and a one-line error naming it', async () => {
    const { out, io } = capture();
    expect(await runBenchCommand(['--turbo'], io)).toBe(2);
    expect(out.stderr).toMatch(/^tsbpf bench: unknown bench option --turbo; use --quick/);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('parses the options it documents', () => {
    expect(
      parseBenchArgs(['--quick', '--seconds', '0.5', '--only', 'rr-64', '--json', 'x.json']),
    ).toMatchObject({
      options: { quick: true, seconds: 0.5, scenarios: ['rr-64'] },
      json: 'x.json',
    });
    expect(() => parseBenchArgs(['--reps'])).toThrow(/--reps needs a value/);
  });
});
