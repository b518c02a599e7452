/**
 * The benchmark (`tsbpf bench`, `npm run bench`): `runBench(options, io)` measures plain TCP
 * loopback, the accelerated variants and a UNIX socket side by side; see run.ts.
 */
export { type BuildTiming, measureBuildTiming } from './build-timing.js';
export { BenchError, type BenchErrorCode } from './errors.js';
export {
  BENCH_USAGE,
  type BenchArgs,
  type BenchCommandIo,
  parseBenchArgs,
  runBenchCommand,
} from './main.js';
export { defaultPlacements, type Placement, parsePlacements } from './placement.js';
export { renderMarkdown, renderSvg } from './report.js';
export {
  type BenchIo,
  type BenchOptions,
  type BenchResults,
  checkTargets,
  RESULTS_SCHEMA_VERSION,
  runBench,
  type ScenarioResult,
  type TargetCheck,
} from './run.js';
export { allScenarios, type Scenario, type Transport } from './scenarios.js';
