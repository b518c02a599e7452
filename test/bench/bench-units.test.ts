/**
 * The benchmark's pure parts: medians, ratios and paired ratios, CPU placements, the scenario
 * matrix and load generator argv, sockperf output parsing, target checks and the rendered
 * markdown/SVG (for results of schema 2 and of the first schema).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs, runBenchCommand } from '../../src/bench/main.js';
import {
  defaultPlacements,
  type Placement,
  parsePlacements,
  pinned,
} from '../../src/bench/placement.js';
import { parseSockperf } from '../../src/bench/reference.js';
import { renderMarkdown, renderSvg } from '../../src/bench/report.js';
import {
  type BenchResults,
  checkTargets,
  type ScenarioResult,
  summarize,
} from '../../src/bench/run.js';
import { allScenarios, loadgenArgs, transportsOf } from '../../src/bench/scenarios.js';
import { median, pairedRatios, quantile, ratio, spread } from '../../src/bench/stats.js';

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

  it('a quantile is an element of the samples at its nearest rank: p0 the minimum, p1 the maximum, p0.5 the lower middle', () => {
    expect(quantile([5, 1, 4, 2, 3], 0.9)).toBe(5);
    expect(quantile([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(quantile([], 0.5)).toBeNaN();
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), { minLength: 1, maxLength: 50 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (xs, q) => {
          const sorted = [...xs].sort((a, b) => a - b);
          const v = quantile(xs, q);
          expect(xs).toContain(v);
          expect(quantile(xs, 0)).toBe(sorted[0]);
          expect(quantile(xs, 1)).toBe(sorted[sorted.length - 1]);
          // At least a q share of the samples lie at or below it.
          expect(sorted.filter((x) => x <= v).length).toBeGreaterThanOrEqual(q * xs.length);
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

  it('paired ratios divide repetition by repetition and leave out pairs that cannot form a ratio', () => {
    expect(pairedRatios([10, 30, 8], [20, 30, 16])).toEqual([0.5, 1, 0.5]);
    expect(pairedRatios([1, 2, 3], [0, 4, Number.NaN])).toEqual([0.5]);
    expect(pairedRatios([1, 2, 3], [2, 4])).toEqual([0.5, 0.5]);
    expect(spread([0.9, 0.7, 0.8])).toEqual({ median: 0.8, min: 0.7, max: 0.9, n: 3 });
    const none = spread([]);
    expect(none.n).toBe(0);
    expect(none.median).toBeNaN();
  });

  it('paired ratios cancel a drift that hits both runs of a repetition; the ratio of medians does not', () => {
    // Repetition 3 ran on a machine twice as busy (both runs slower), and the accelerated run of
    // repetition 2 was hit by a disturbance: the medians then come from different repetitions.
    const plain = [20, 20, 40];
    const accel = [16, 36, 32];
    expect(ratio(median(accel), median(plain))).toBeCloseTo(1.6);
    expect(spread(pairedRatios(accel, plain))).toEqual({
      median: 0.8,
      min: 0.8,
      max: 1.8,
      n: 3,
    });
    // A drift factor per repetition, the same for both runs of the repetition, cancels exactly.
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            base: fc.double({ min: 1, max: 1e6, noNaN: true }),
            drift: fc.double({ min: 0.2, max: 5, noNaN: true }),
          }),
          { minLength: 1, maxLength: 15 },
        ),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        (reps, k) => {
          const base = reps.map((r) => r.base * r.drift);
          const xs = reps.map((r) => k * r.base * r.drift);
          const s = spread(pairedRatios(xs, base));
          expect(s.n).toBe(reps.length);
          expect(s.median).toBeCloseTo(k, 9);
          expect(s.max - s.min).toBeLessThan(1e-9 * k);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the spread brackets its median, and scaling one series scales every paired ratio', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.double({ min: 1, max: 1e4, noNaN: true }),
            fc.double({ min: 1, max: 1e4, noNaN: true }),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        fc.double({ min: 0.5, max: 2, noNaN: true }),
        (pairs, c) => {
          const xs = pairs.map(([x]) => x);
          const base = pairs.map(([, b]) => b);
          const s = spread(pairedRatios(xs, base));
          expect(s.min).toBeLessThanOrEqual(s.median);
          expect(s.median).toBeLessThanOrEqual(s.max);
          expect(
            spread(
              pairedRatios(
                xs.map((x) => x * c),
                base,
              ),
            ).median,
          ).toBeCloseTo(s.median * c, 6);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('bench CPU placements', () => {
  it('defaults to unpinned and pinned to the last CPU (only unpinned on one CPU)', () => {
    expect(defaultPlacements(2)).toEqual([{ pin: 'none' }, { pin: 'cpu', cpu: 1 }]);
    expect(defaultPlacements(1)).toEqual([{ pin: 'none' }]);
  });

  it('parses --cpu lists and names a bad or repeated element', () => {
    expect(parsePlacements('none,1', 2)).toEqual([{ pin: 'none' }, { pin: 'cpu', cpu: 1 }]);
    expect(parsePlacements('0', 2)).toEqual([{ pin: 'cpu', cpu: 0 }]);
    expect(() => parsePlacements('2', 2)).toThrow(/'2' is neither 'none' nor a CPU number below 2/);
    expect(() => parsePlacements('all', 2)).toThrow(/--cpu: 'all'/);
    expect(() => parsePlacements('1,1', 2)).toThrow(/'1' is listed twice/);
    expect(parseBenchArgs(['--cpu', 'none'], 2).options.placements).toEqual([{ pin: 'none' }]);
    expect(() => parseBenchArgs(['--cpu', '7'], 2)).toThrow(/CPU number below 2/);
  });

  it('pins a command with taskset, which its forked children inherit', () => {
    expect(pinned({ pin: 'cpu', cpu: 1 }, ['loadgen', 'rr'])).toEqual([
      'taskset',
      '-c',
      '1',
      'loadgen',
      'rr',
    ]);
    expect(pinned({ pin: 'none' }, ['loadgen'])).toEqual(['loadgen']);
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

const UNPINNED: Placement = { pin: 'none' };
const CPU1: Placement = { pin: 'cpu', cpu: 1 };

/** Schema-2 results from raw samples: 3 repetitions, the second on a busier machine. */
function fakeResults(): BenchResults {
  const [stream, rr] = [allScenarios()[3]!, allScenarios()[8]!];
  const crr = allScenarios()[10]!;
  const samples = new Map<string, Record<string, number>[]>();
  const put = (p: string, id: string, t: string, xs: Record<string, number>[]) =>
    samples.set(`${p}/${id}/${t}`, xs);
  for (const p of ['unpinned', 'cpu1']) {
    const slow = p === 'unpinned' ? 1.5 : 1;
    put(p, stream.id, 'plain', [
      { gbitPerSecond: 10 },
      { gbitPerSecond: 5 },
      { gbitPerSecond: 12 },
    ]);
    put(p, stream.id, 'cilium', [
      { gbitPerSecond: 25 },
      { gbitPerSecond: 11 },
      { gbitPerSecond: 30 },
    ]);
    put(p, rr.id, 'plain', [
      { opsPerSecond: 30000, p50Us: 20 * slow, p99Us: 80 },
      { opsPerSecond: 20000, p50Us: 30 * slow, p99Us: 120 },
      { opsPerSecond: 31000, p50Us: 19 * slow, p99Us: 78 },
    ]);
    put(p, rr.id, 'cilium', [
      { opsPerSecond: 45000, p50Us: 16 * slow, p99Us: 60 },
      { opsPerSecond: 22000, p50Us: 27 * slow, p99Us: 100 },
      { opsPerSecond: 44000, p50Us: 15.2 * slow, p99Us: 61 },
    ]);
    put(p, crr.id, 'plain', [
      { connectionsPerSecond: 10000 },
      { connectionsPerSecond: 9000 },
      { connectionsPerSecond: 10000 },
    ]);
    put(p, crr.id, 'cilium', [
      { connectionsPerSecond: 8000 },
      { connectionsPerSecond: 8100 },
      { connectionsPerSecond: 8200 },
    ]);
  }
  const placements = [UNPINNED, CPU1];
  const scenarios = placements.flatMap((p) =>
    [stream, rr, crr].map((s) => summarize(p, s, samples)),
  );
  return {
    schemaVersion: 2,
    date: '2026-01-01T00:00:00.000Z',
    kernel: '6.18.0',
    cpus: 2,
    seconds: 1,
    repetitions: 3,
    placements,
    scenarios,
    eagainOnBlockingRead: { plain: 0, cilium: 1, minimal: 0, unix: 0 },
    ciliumStats: { inserted: 4 },
    minimalStats: {},
    targets: checkTargets(scenarios, undefined, placements),
  };
}

/** Results as the first schema wrote them: one unpinned placement, ratios of medians only. */
function schema1Results(): BenchResults {
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
  it('summarizes medians, ratios of medians and paired ratios per placement', () => {
    const rr = fakeResults().scenarios.find(
      (s) => s.scenario.id === 'rr-64' && s.placement === 'cpu1',
    )!;
    expect(rr.transports.plain?.median.p50Us).toBe(20);
    expect(rr.ratios.cilium?.p50Us).toBeCloseTo(16 / 20);
    // Paired: 16/20 = 0.8, 27/30 = 0.9, 15.2/19 = 0.8 → median 0.8, range 0.8–0.9.
    expect(rr.paired?.cilium?.p50Us?.median).toBeCloseTo(0.8);
    expect(rr.paired?.cilium?.p50Us?.min).toBeCloseTo(0.8);
    expect(rr.paired?.cilium?.p50Us?.max).toBeCloseTo(0.9);
    expect(rr.paired?.cilium?.p50Us?.n).toBe(3);
  });

  it('checks each target per placement on the paired median, reporting misses as misses', () => {
    const t = fakeResults().targets;
    expect(t.map((x) => [x.name, x.placement, Number(x.measured.toFixed(3)), x.met])).toEqual([
      ['rr 64 B ops/s, accelerated / plain', 'unpinned', 1.419, true],
      ['rr 64 B ops/s, accelerated / plain', 'pinned to CPU 1', 1.419, true],
      ['rr 64 B p50 latency, accelerated / plain', 'unpinned', 0.8, true],
      ['rr 64 B p50 latency, accelerated / plain', 'pinned to CPU 1', 0.8, true],
      ['stream 64 KiB (Nagle on), accelerated / plain', 'unpinned', 2.5, true],
      ['stream 64 KiB (Nagle on), accelerated / plain', 'pinned to CPU 1', 2.5, true],
      ['connection rate with sock_ops / plain', 'unpinned', 0.82, false],
      ['connection rate with sock_ops / plain', 'pinned to CPU 1', 0.82, false],
    ]);
    const p50 = t[2]!;
    expect(p50.ratioOfMedians).toBeCloseTo(16 / 20);
    expect([p50.min, p50.max]).toEqual([expect.closeTo(0.8), expect.closeTo(0.9)]);
  });

  it('falls back to the ratio of medians for results of the first schema', () => {
    const t = schema1Results().targets;
    expect(t.map((x) => [x.name, x.placement, x.measured, x.met])).toEqual([
      ['rr 64 B ops/s, accelerated / plain', undefined, 1.5, true],
      ['rr 64 B p50 latency, accelerated / plain', undefined, 0.75, true],
      ['stream 64 KiB (Nagle on), accelerated / plain', undefined, 2.5, true],
      ['connection rate with sock_ops / plain', undefined, 0.8, false],
    ]);
    const md = renderMarkdown(schema1Results());
    expect(md).toContain(
      '| rr-64 | unpinned | p50Us (µs) | 20.00 | 15.00 | — | — | 0.75 | — | — |',
    );
  });

  it('renders the cross-check per placement, with the poll-before-read row beside iperf3', () => {
    const sp = (rtt: number, placement: string) => ({
      halfRttP50Us: rtt / 2,
      halfRttP99Us: rtt,
      rttP50Us: rtt,
      rttP99Us: 2 * rtt,
      opsPerSecond: 1e6 / rtt,
      placement,
    });
    const r: BenchResults = {
      ...fakeResults(),
      reference: {
        iperf3Plain: [
          { gbitPerSecond: 9, placement: 'unpinned' },
          { gbitPerSecond: 8, placement: 'cpu1' },
        ],
        iperf3Cilium: [
          { gbitPerSecond: 17, placement: 'unpinned' },
          { gbitPerSecond: 28, placement: 'cpu1' },
        ],
        pollReadPlain: [
          { gbitPerSecond: 7.5, drainSeconds: 0.002, placement: 'unpinned' },
          { gbitPerSecond: 9.8, drainSeconds: 0.002, placement: 'cpu1' },
        ],
        pollReadCilium: [
          { gbitPerSecond: 19, drainSeconds: 0.0733, placement: 'unpinned' },
          { gbitPerSecond: 24, drainSeconds: 0.127, placement: 'cpu1' },
        ],
        sockperfPlain: [sp(18, 'unpinned'), sp(17, 'cpu1')],
        sockperfCilium: [sp(16, 'unpinned'), sp(15, 'cpu1')],
      },
    };
    const md = renderMarkdown(r);
    expect(md).toContain(
      '| stream 64 KiB writes, Nagle on (Gbit/s) | pinned to CPU 1 | cilium | 25.00 | iperf3 -l 64K: 28.00 |',
    );
    expect(md).toContain(
      '| the same, receiver polls before every 64 KiB read as iperf3 does (Gbit/s; ms to drain after the last write) | unpinned | cilium | 19.00; 73.3 ms | iperf3 -l 64K: 17.00 |',
    );
    expect(md).toContain(
      '| rr 64 B p50 round trip (µs) | pinned to CPU 1 | plain | 20.00 | sockperf ping-pong: 17.00',
    );
  });

  it('renders targets, paired ratios with their range next to the ratio of medians, and a well-formed SVG', () => {
    const r = fakeResults();
    const md = renderMarkdown(r);
    expect(md).toContain('median of paired ratios');
    expect(md).toContain(
      '| rr 64 B p50 latency, accelerated / plain | <= 0.85 | pinned to CPU 1 | 0.80 | 0.80–0.90 | 0.80 | yes |',
    );
    expect(md).toContain(
      '| rr-64 | pinned to CPU 1 | p50Us (µs) | 20.00 | 16.00 | — | — | 0.80 (0.80–0.90); of medians 0.80 | — | — |',
    );
    expect(md).toContain('| connection rate with sock_ops / plain | >= 0.9 | unpinned | 0.82 |');
    const svg = renderSvg(r);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('rr-64 p50 (cpu1)');
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
