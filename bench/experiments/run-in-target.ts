/**
 * Experiment helper (not part of `tsbpf bench`): creates a throwaway bench cgroup — plain, or with
 * a buildSockops() variant attached — runs one shell command inside it, prints the variant's stats
 * counters before and after, and tears everything down. Used to strace/perf/pin iperf3 and the
 * load generator by hand (docs/benchmarks.md, "Why iperf3 gains less").
 *
 *   npx tsx bench/experiments/run-in-target.ts <plain|cilium|minimal> '<shell command>'
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BenchTarget } from '../../src/bench/target.js';

const [which, command] = process.argv.slice(2);
if (!which || !command || !['plain', 'cilium', 'minimal'].includes(which)) {
  console.error("usage: run-in-target.ts <plain|cilium|minimal> '<shell command>'");
  process.exit(2);
}
const target = BenchTarget.create(which === 'plain' ? undefined : (which as 'cilium' | 'minimal'));
try {
  const before = target.stats();
  const procs = join(target.cgroup, 'cgroup.procs');
  const r = spawnSync('/bin/sh', ['-c', `echo $$ > '${procs}' || exit 1\n${command}`], {
    stdio: 'inherit',
  });
  const after = target.stats();
  const delta = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [
      k,
      (v ?? 0) - ((before as Record<string, number>)[k] ?? 0),
    ]),
  );
  console.error(`stats delta (${which}): ${JSON.stringify(delta)}`);
  process.exitCode = r.status ?? 1;
} finally {
  target.close();
}
