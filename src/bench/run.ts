/**
 * `runBench(options, io)`: the whole benchmark. Creates one throwaway cgroup per transport
 * (plain, cilium, minimal), builds the load generator, runs every scenario on every transport
 * interleaved (rep 1: A B C D, rep 2: A B C D, …) so slow drifts of the machine hit all transports
 * alike, then reports medians and ratios to plain TCP, the iperf3/sockperf cross-check and the
 * build timings. Progress goes to `io.progress` (stderr in the CLI); results are returned and,
 * with `outDir`, written as results.json, results.md and results.svg.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildTiming, measureBuildTiming } from './build-timing.js';
import { BenchError } from './errors.js';
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
import { median, ratio } from './stats.js';
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
  /** Measure build times (default true). */
  readonly buildTiming?: boolean;
  /** Write results.json, results.md and results.svg here (default: nothing written). */
  readonly outDir?: string;
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

/** One scenario's results, with the ratios of each transport's medians to plain TCP's. */
export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly transports: Partial<Record<Transport, TransportResult>>;
  /** ratios[transport][metric] = median(transport) / median(plain). */
  readonly ratios: Partial<Record<Transport, Record<string, number>>>;
}

/** A target of the issue, as measured. */
export interface TargetCheck {
  readonly name: string;
  readonly goal: string;
  readonly measured: number;
  readonly met: boolean;
}

/** Everything one run measured. */
export interface BenchResults {
  readonly date: string;
  readonly kernel: string;
  readonly cpus: number;
  readonly seconds: number;
  readonly repetitions: number;
  readonly scenarios: ScenarioResult[];
  readonly reference?: {
    readonly iperf3Plain: Iperf3Result[];
    readonly iperf3Cilium: Iperf3Result[];
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
    const total = repetitions * scenarios.reduce((n, s) => n + transportsOf(s).length, 0);
    let done = 0;
    const eagain: Record<Transport, number> = { plain: 0, cilium: 0, minimal: 0, unix: 0 };
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const s of scenarios) {
        for (const t of transportsOf(s)) {
          done += 1;
          const out = await runIn(
            cgroupOf[t],
            [loadgen, ...loadgenArgs(s, t, seconds)],
            runTimeout,
          );
          const raw = JSON.parse(out.stdout) as Record<string, number>;
          const values = metricValues(s, raw);
          eagain[t] += raw.eagainOnBlockingRead ?? 0;
          const key = `${s.id}/${t}`;
          samples.set(key, [...(samples.get(key) ?? []), values]);
          const shown = Object.entries(values)
            .map(([k, v]) => `${k}=${v.toFixed(2)}`)
            .join(' ');
          io.progress(`[${done}/${total}] rep ${rep} ${s.id} ${t}: ${shown}`);
        }
      }
    }
    const results: ScenarioResult[] = scenarios.map((s) => summarize(s, samples));

    let reference: BenchResults['reference'];
    let referenceError: string | undefined;
    if (options.reference ?? (haveTool('iperf3') && haveTool('sockperf'))) {
      const port = 20000 + (process.pid % 20000);
      const ref = {
        iperf3Plain: [] as Iperf3Result[],
        iperf3Cilium: [] as Iperf3Result[],
        sockperfPlain: [] as SockperfResult[],
        sockperfCilium: [] as SockperfResult[],
      };
      const refReps = Math.min(repetitions, 3);
      try {
        for (let rep = 1; rep <= refReps; rep++) {
          io.progress(`reference ${rep}/${refReps}: iperf3 and sockperf, plain and cilium`);
          // A fresh port per server: the previous one may linger in TIME_WAIT.
          const p = port + rep * 4;
          ref.iperf3Plain.push(await runIperf3(plain.cgroup, p, seconds));
          ref.iperf3Cilium.push(await runIperf3(cilium.cgroup, p + 1, seconds));
          ref.sockperfPlain.push(await runSockperf(plain.cgroup, p + 2, 64, seconds));
          ref.sockperfCilium.push(await runSockperf(cilium.cgroup, p + 3, 64, seconds));
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
      buildTiming = measureBuildTiming(quick ? 3 : 7);
    }
    const out: BenchResults = {
      date: new Date().toISOString(),
      kernel: release(),
      cpus: (await import('node:os')).cpus().length,
      seconds,
      repetitions,
      scenarios: results,
      ...(reference ? { reference } : {}),
      ...(referenceError ? { referenceError } : {}),
      ...(buildTiming ? { buildTiming } : {}),
      eagainOnBlockingRead: eagain,
      ciliumStats: cilium.stats(),
      minimalStats: minimal.stats(),
      targets: checkTargets(results, buildTiming),
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

function summarize(s: Scenario, samples: Map<string, Record<string, number>[]>): ScenarioResult {
  const transports: ScenarioResult['transports'] = {};
  for (const t of transportsOf(s)) {
    const list = samples.get(`${s.id}/${t}`) ?? [];
    const med: Record<string, number> = {};
    for (const m of metricsOf(s)) med[m.name] = median(list.map((x) => x[m.name] ?? Number.NaN));
    transports[t] = { samples: list, median: med };
  }
  const ratios: ScenarioResult['ratios'] = {};
  for (const t of transportsOf(s)) {
    if (t === 'plain') continue;
    const r: Record<string, number> = {};
    for (const m of metricsOf(s))
      r[m.name] = ratio(transports[t]?.median[m.name], transports.plain?.median[m.name]);
    ratios[t] = r;
  }
  return { scenario: s, transports, ratios };
}

/** The targets, each as measured (cilium variant, the default). */
export function checkTargets(
  results: readonly ScenarioResult[],
  build: BuildTiming | undefined,
): TargetCheck[] {
  const get = (id: string, metric: string) =>
    results.find((r) => r.scenario.id === id)?.ratios.cilium?.[metric];
  const out: TargetCheck[] = [];
  const add = (
    name: string,
    goal: string,
    measured: number | undefined,
    met: (x: number) => boolean,
  ) => {
    if (measured !== undefined && !Number.isNaN(measured))
      out.push({ name, goal, measured, met: met(measured) });
  };
  add(
    'rr 64 B ops/s, accelerated / plain',
    '>= 1.2',
    get('rr-64', 'opsPerSecond'),
    (x) => x >= 1.2,
  );
  add(
    'rr 64 B p50 latency, accelerated / plain',
    '<= 0.85',
    get('rr-64', 'p50Us'),
    (x) => x <= 0.85,
  );
  add(
    'stream 64 KiB (Nagle on), accelerated / plain',
    '>= 1.2',
    get('stream-65536-nagle', 'gbitPerSecond'),
    (x) => x >= 1.2,
  );
  add(
    'connection rate with sock_ops / plain',
    '>= 0.9',
    get('crr', 'connectionsPerSecond'),
    (x) => x >= 0.9,
  );
  if (build) {
    add('buildSockops() warm, ms', '<= 5', build.warmMs.cilium, (x) => x <= 5);
    if (build.clangMs !== undefined)
      add('cold build / clang -O2', '<= 1.0', build.coldMs / build.clangMs, (x) => x <= 1);
  }
  return out;
}
