/**
 * `tsbpf bench`: the hook for the benchmark harness. Until the benchmark room (bench/) lands, the
 * command says so and exits 1; the harness replaces `runBench` in main.ts's command table.
 */
import type { CommandIo } from './dump.js';

/** Help text of `tsbpf bench`. */
export const BENCH_HELP = `usage: tsbpf bench [--quick] [--json FILE]

Benchmarks socket acceleration against plain TCP (iperf3, sockperf). Not implemented yet; until
then \`tsbpf accel demo\` measures a loopback bulk transfer and request/response plain and
accelerated.
`;

/** Runs `tsbpf bench`: help, or a one-line notice that it is not implemented yet (exit 1). */
export function runBench(args: readonly string[], io: CommandIo): number {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(BENCH_HELP);
    return 0;
  }
  io.stderr(
    'tsbpf bench: not implemented yet; use `tsbpf accel demo` for a plain vs accelerated comparison\n',
  );
  return 1;
}
