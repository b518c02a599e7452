/**
 * `runBench(options, io)`: the whole benchmark. Creates one throwaway cgroup per transport
 * (plain, cilium, minimal), builds the load generator, runs every scenario on every transport in
 * every CPU placement interleaved (rep 1: A B C D, rep 2: A B C D, …) so slow drifts of the
 * machine hit all transports alike, then reports medians, per-repetition paired ratios to plain
 * TCP (each run over the plain run of the same repetition and placement, adjacent in time: drift
 * cancels) with their spread, the ratio of medians, the iperf3/sockperf cross-check and the build
 * timings. Progress goes to `io.progress` (stderr in the CLI); results are returned and,
 * with `outDir`, written as results.json, results.md and results.svg.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildTiming, measureBuildTiming } from './build-timing.js';
import { BenchError } from './errors.js';
import {
  defaultPlacements,
  type Placement,
  pinned,
  placementId,
  placementIdOf,
  placementLabel,
} from './placement.js';
import { buildLoadgen, haveTool, runIn } from './process.js';
import { type Iperf3Result, runIperf3, runSockperf, type SockperfResult } from './reference.js';
import { renderMarkdown, renderSvg } from './report.js';
import {
  allScenarios,
  loadgenArgs,
  metricsOf,
  metricValues,
  type Scenario,
  type Transport,
  transportsOf,
} from './scenarios.js';
import { headlineRatio, median, pairedRatios, type RatioSpread, ratio, spread } from './stats.js';
import { BenchTarget } from './target.js';

/** What to run. */
export interface BenchOptions {
  /** Short run: fewer, shorter repetitions (default false). */
  readonly quick?: boolean;
  /** Seconds per load generator run (default 1.5; quick 0.4). */
  readonly seconds?: number;
  /** Interleaved repetitions (default 5; quick 3). */
  readonly repetitions?: number;
  /** Only scenarios whose id is listed (default all). */
  readonly scenarios?: readonly string[];
  /** Run the iperf3/sockperf cross-check (default true when both are installed). */
  readonly reference?: boolean;
  /**
   * CPU placements to measure in, interleaved within each repetition (default: unpinned and
   * pinned to the last CPU; see placement.ts).
   */
  readonly placements?: readonly Placement[];
  /** Measure build times (default true). */
  readonly buildTiming?: boolean;
  /** Write results.json, results.md and results.svg here (default: nothing written). */
  readonly outDir?: string;
}

/** One load generator stream run whose receiver polls before every read. */
export interface PollReadResult {
  readonly gbitPerSecond: number;
  /** From the last write until the receiver had read everything: how far it had fallen behind. */
  readonly drainSeconds: number;
  readonly placement: string;
}

/** Where progress goes. */
export interface BenchIo {
  progress(line: string): void;
}

/** Medians of one scenario on one transport. */
export interface TransportResult {
  readonly samples: Record<string, number>[];
  readonly median: Record<string, number>;
}

/** One scenario's results in one placement, with ratios to plain TCP. */
export interface ScenarioResult {
  readonly scenario: Scenario;
  /** placementId(): 'unpinned' or 'cpu<N>' (schema 2; absent in schema 1 = unpinned). */
  readonly placement?: string;
  /** samples[i] of every transport is repetition i + 1. */
  readonly transports: Partial<Record<Transport, TransportResult>>;
  /** ratios[transport][metric] = median(transport) / median(plain): the ratio of medians. */
  readonly ratios: Partial<Record<Transport, Record<string, number>>>;
  /**
   * paired[transport][metric]: median, min and max over repetitions of sample(transport, rep) /
   * sample(plain, rep) — the figure the targets use (schema 2).
   */
  readonly paired?: Partial<Record<Transport, Record<string, RatioSpread>>>;
}

/** A target of the issue, as measured. */
export interface TargetCheck {
  readonly name: string;
  readonly goal: string;
  /** Placement label for per-placement targets (schema 2); absent for build times. */
  readonly placement?: string;
  /** For ratios, the median of the per-repetition paired ratios; `met` is judged on it. */
  readonly measured: number;
  /** Smallest and largest paired ratio, and the ratio of medians, for comparison (schema 2). */
  readonly min?: number;
  readonly max?: number;
  readonly ratioOfMedians?: number;
  readonly met: boolean;
}

/** The results JSON's schema version: 2 added placements, paired ratios and their spread. */
export const RESULTS_SCHEMA_VERSION = 2;

/** Everything one run measured. */
export interface BenchResults {
  /** RESULTS_SCHEMA_VERSION; absent in the first schema (one unpinned placement, no pairs). */
  readonly schemaVersion?: number;
  readonly date: string;
  readonly kernel: string;
  readonly cpus: number;
  readonly seconds: number;
  readonly repetitions: number;
  /** Placements measured, in interleaving order (schema 2). */
  readonly placements?: Placement[];
  /** One entry per placement and scenario, placement-major. */
  readonly scenarios: ScenarioResult[];
  /** Every entry carries its `placement` id (schema 2). */
  readonly reference?: {
    readonly iperf3Plain: Iperf3Result[];
    readonly iperf3Cilium: Iperf3Result[];
    /**
     * The load generator's 64 KiB Nagle stream with iperf3's receive pattern (poll() before every
     * 64 KiB read), next to iperf3: like with like (schema 2).
     */
    readonly pollReadPlain?: PollReadResult[];
    readonly pollReadCilium?: PollReadResult[];
    readonly sockperfPlain: SockperfResult[];
    readonly sockperfCilium: SockperfResult[];
  };
  /** Why the iperf3/sockperf cross-check stopped early, if it did. */
  readonly referenceError?: string;
  readonly buildTiming?: BuildTiming;
  /**
   * Blocking reads that failed with EAGAIN per transport (the load generator polls and retries):
   * the kernel's sk_msg half-close deviation showing up under load (docs/conformance.md).
   */
  readonly eagainOnBlockingRead: Record<Transport, number>;
  /** The cilium variant's counters after the run: proof the traffic was redirected. */
  readonly ciliumStats: Record<string, number>;
  readonly minimalStats: Record<string, number>;
  readonly targets: TargetCheck[];
}

/** Runs the benchmark; see the module comment. Needs root (cgroups, bpf(2)). */
export async function runBench(options: BenchOptions, io: BenchIo): Promise<BenchResults> {
  if (process.getuid?.() !== 0) {
    throw new BenchError(
      'EBENCH_NOT_ROOT',
      'tsbpf bench needs root: it creates cgroups and loads BPF programs',
    );
  }
  const quick = options.quick ?? false;
  const seconds = options.seconds ?? (quick ? 0.4 : 1.5);
  const repetitions = options.repetitions ?? (quick ? 3 : 5);
  if (!(seconds > 0) || !Number.isInteger(repetitions) || repetitions < 1) {
    throw new BenchError('EBENCH_OPTION', 'seconds must be > 0 and repetitions a positive integer');
  }
  const scenarios = allScenarios().filter(
    (s) => !options.scenarios || options.scenarios.includes(s.id),
  );
  if (scenarios.length === 0) {
    throw new BenchError(
      'EBENCH_OPTION',
      `no scenario matches ${JSON.stringify(options.scenarios)}; ids: ${allScenarios()
        .map((s) => s.id)
        .join(', ')}`,
    );
  }
  const cpuCount = cpus().length;
  const placements = [...(options.placements ?? defaultPlacements(cpuCount))];
  if (placements.length === 0)
    throw new BenchError('EBENCH_OPTION', 'at least one CPU placement is needed (--cpu none)');
  for (const p of placements) {
    if (p.pin === 'cpu' && !(Number.isInteger(p.cpu) && p.cpu >= 0 && p.cpu < cpuCount)) {
      throw new BenchError(
        'EBENCH_OPTION',
        `cannot pin to CPU ${p.cpu}: this machine has CPUs 0..${cpuCount - 1}`,
      );
    }
  }
  if (placements.some((p) => p.pin === 'cpu') && !haveTool('taskset')) {
    throw new BenchError(
      'EBENCH_TOOL',
      'pinning to a CPU needs taskset (apt-get install util-linux), or run with --cpu none',
    );
  }
  const work = mkdtempSync(join(tmpdir(), 'tsbpf-bench-'));
  const targets: BenchTarget[] = [];
  try {
    io.progress(`building the load generator in ${work}`);
    const loadgen = buildLoadgen(work);
    const plain = BenchTarget.create(undefined);
    targets.push(plain);
    const cilium = BenchTarget.create('cilium');
    targets.push(cilium);
    const minimal = BenchTarget.create('minimal');
    targets.push(minimal);
    const cgroupOf: Record<Transport, string> = {
      plain: plain.cgroup,
      cilium: cilium.cgroup,
      minimal: minimal.cgroup,
      unix: plain.cgroup,
    };
    const samples = new Map<string, Record<string, number>[]>();
    const runTimeout = (seconds + 30) * 1000;
    /** One load generator run of `s` over `t` in placement `p`; `extra` follows its arguments. */
    const runLoadgen = async (
      p: Placement,
      s: Scenario,
      t: Transport,
      extra: readonly string[] = [],
    ): Promise<Record<string, number>> => {
      const argv = [loadgen, ...loadgenArgs(s, t, seconds), ...extra];
      const out = await runIn(cgroupOf[t], pinned(p, argv), runTimeout);
      return JSON.parse(out.stdout) as Record<string, number>;
    };
    const total =
      repetitions * placements.length * scenarios.reduce((n, s) => n + transportsOf(s).length, 0);
    let done = 0;
    const eagain: Record<Transport, number> = { plain: 0, cilium: 0, minimal: 0, unix: 0 };
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const p of placements) {
        for (const s of scenarios) {
          for (const t of transportsOf(s)) {
            done += 1;
            const raw = await runLoadgen(p, s, t);
            const values = metricValues(s, raw);
            eagain[t] += raw.eagainOnBlockingRead ?? 0;
            const key = sampleKey(p, s, t);
            samples.set(key, [...(samples.get(key) ?? []), values]);
            const shown = Object.entries(values)
              .map(([k, v]) => `${k}=${v.toFixed(2)}`)
              .join(' ');
            io.progress(`[${done}/${total}] rep ${rep} ${placementId(p)} ${s.id} ${t}: ${shown}`);
          }
        }
      }
    }
    const results: ScenarioResult[] = placements.flatMap((p) =>
      scenarios.map((s) => summarize(p, s, samples)),
    );

    let reference: BenchResults['reference'];
    let referenceError: string | undefined;
    if (options.reference ?? (haveTool('iperf3') && haveTool('sockperf'))) {
      const port = 20000 + (process.pid % 20000);
      const ref = {
        iperf3Plain: [] as Iperf3Result[],
        iperf3Cilium: [] as Iperf3Result[],
        pollReadPlain: [] as PollReadResult[],
        pollReadCilium: [] as PollReadResult[],
        sockperfPlain: [] as SockperfResult[],
        sockperfCilium: [] as SockperfResult[],
      };
      const refReps = Math.min(repetitions, 3);
      try {
        let next = port;
        for (let rep = 1; rep <= refReps; rep++) {
          for (const pl of placements) {
            io.progress(
              `reference ${rep}/${refReps} ${placementId(pl)}: iperf3 and sockperf, plain and cilium`,
            );
            // A fresh port per server: the previous one may linger in TIME_WAIT.
            next += 4;
            ref.iperf3Plain.push(await runIperf3(plain.cgroup, next, seconds, pl));
            ref.iperf3Cilium.push(await runIperf3(cilium.cgroup, next + 1, seconds, pl));
            ref.sockperfPlain.push(await runSockperf(plain.cgroup, next + 2, 64, seconds, pl));
            ref.sockperfCilium.push(await runSockperf(cilium.cgroup, next + 3, 64, seconds, pl));
            for (const [t, into] of [
              ['plain', ref.pollReadPlain],
              ['cilium', ref.pollReadCilium],
            ] as const) {
              const raw = await runLoadgen(pl, POLL_READ_STREAM, t, ['65536', '1']);
              into.push({
                gbitPerSecond: (raw.bitsPerSecond ?? 0) / 1e9,
                drainSeconds: raw.drainSeconds ?? Number.NaN,
                placement: placementId(pl),
              });
            }
          }
        }
      } catch (e) {
        // The cross-check is evidence, not the measurement: keep what was measured, say what failed.
        referenceError = e instanceof Error ? e.message : String(e);
        io.progress(`reference tools failed, continuing without the rest: ${referenceError}`);
      }
      reference = ref;
    }
    let buildTiming: BuildTiming | undefined;
    if (options.buildTiming ?? true) {
      io.progress('build timing: buildSockops warm, cold node process, clang -O2');
      buildTiming = measureBuildTiming(quick ? 3 : 11);
    }
    const out: BenchResults = {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      date: new Date().toISOString(),
      kernel: release(),
      cpus: cpuCount,
      seconds,
      repetitions,
      placements,
      scenarios: results,
      ...(reference ? { reference } : {}),
      ...(referenceError ? { referenceError } : {}),
      ...(buildTiming ? { buildTiming } : {}),
      eagainOnBlockingRead: eagain,
      ciliumStats: cilium.stats(),
      minimalStats: minimal.stats(),
      targets: checkTargets(results, buildTiming, placements),
    };
    if (options.outDir) {
      mkdirSync(options.outDir, { recursive: true });
      writeFileSync(join(options.outDir, 'results.json'), `${JSON.stringify(out, null, 2)}\n`);
      writeFileSync(join(options.outDir, 'results.md'), renderMarkdown(out));
      writeFileSync(join(options.outDir, 'results.svg'), renderSvg(out));
      io.progress(`wrote results.json, results.md and results.svg to ${options.outDir}`);
    }
    return out;
  } finally {
    for (const t of targets) t.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The stream the iperf3 comparison is about: 64 KiB writes, Nagle on. */
const POLL_READ_STREAM: Scenario = {
  kind: 'stream',
  id: 'stream-65536-nagle',
  writeBytes: 65536,
  nodelay: false,
};

function sampleKey(p: Placement, s: Scenario, t: Transport): string {
  return `${placementId(p)}/${s.id}/${t}`;
}

/** Medians, ratios of medians and paired ratios of one scenario in one placement. */
export function summarize(
  p: Placement,
  s: Scenario,
  samples: ReadonlyMap<string, Record<string, number>[]>,
): ScenarioResult {
  const transports: ScenarioResult['transports'] = {};
  for (const t of transportsOf(s)) {
    const list = samples.get(sampleKey(p, s, t)) ?? [];
    const med: Record<string, number> = {};
    for (const m of metricsOf(s)) med[m.name] = median(list.map((x) => x[m.name] ?? Number.NaN));
    transports[t] = { samples: list, median: med };
  }
  const ratios: ScenarioResult['ratios'] = {};
  const paired: NonNullable<ScenarioResult['paired']> = {};
  const series = (t: Transport, metric: string) =>
    (transports[t]?.samples ?? []).map((x) => x[metric] ?? Number.NaN);
  for (const t of transportsOf(s)) {
    if (t === 'plain') continue;
    const r: Record<string, number> = {};
    const pr: Record<string, RatioSpread> = {};
    for (const m of metricsOf(s)) {
      r[m.name] = ratio(transports[t]?.median[m.name], transports.plain?.median[m.name]);
      pr[m.name] = spread(pairedRatios(series(t, m.name), series('plain', m.name)));
    }
    ratios[t] = r;
    paired[t] = pr;
  }
  return { scenario: s, placement: placementId(p), transports, ratios, paired };
}

/**
 * The targets, each as measured for the cilium variant (the default) in every placement:
 * the median of the per-repetition paired ratios (drift between repetitions cancels), with their
 * range and the ratio of medians alongside. Results of schema 1 (no pairs) fall back to the ratio
 * of medians.
 */
export function checkTargets(
  results: readonly ScenarioResult[],
  build: BuildTiming | undefined,
  placements: readonly Placement[] = [{ pin: 'none' }],
): TargetCheck[] {
  const out: TargetCheck[] = [];
  const ratioTargets: [string, string, string, string, (x: number) => boolean][] = [
    ['rr 64 B ops/s, accelerated / plain', '>= 1.2', 'rr-64', 'opsPerSecond', (x) => x >= 1.2],
    ['rr 64 B p50 latency, accelerated / plain', '<= 0.85', 'rr-64', 'p50Us', (x) => x <= 0.85],
    [
      'stream 64 KiB (Nagle on), accelerated / plain',
      '>= 1.2',
      'stream-65536-nagle',
      'gbitPerSecond',
      (x) => x >= 1.2,
    ],
    [
      'connection rate with sock_ops / plain',
      '>= 0.9',
      'crr',
      'connectionsPerSecond',
      (x) => x >= 0.9,
    ],
  ];
  for (const [name, goal, id, metric, met] of ratioTargets) {
    for (const p of placements) {
      const r = results.find((x) => x.scenario.id === id && placementIdOf(x) === placementId(p));
      const ofMedians = r?.ratios.cilium?.[metric];
      const pair = r?.paired?.cilium?.[metric];
      const measured = headlineRatio(pair, ofMedians);
      if (measured === undefined || Number.isNaN(measured)) continue;
      out.push({
        name,
        goal,
        ...(placements.length > 1 || p.pin !== 'none' ? { placement: placementLabel(p) } : {}),
        measured,
        ...(pair && pair.n > 0 ? { min: pair.min, max: pair.max } : {}),
        ...(ofMedians === undefined ? {} : { ratioOfMedians: ofMedians }),
        met: met(measured),
      });
    }
  }
  const add = (
    name: string,
    goal: string,
    measured: number | undefined,
    met: (x: number) => boolean,
  ) => {
    if (measured !== undefined && !Number.isNaN(measured))
      out.push({ name, goal, measured, met: met(measured) });
  };
  if (build) {
    add('buildSockops() warm, ms', '<= 5', build.warmMs.cilium, (x) => x <= 5);
    if (build.clangMs !== undefined)
      add('cold build / clang -O2', '<= 1.0', build.coldMs / build.clangMs, (x) => x <= 1);
  }
  return out;
}
