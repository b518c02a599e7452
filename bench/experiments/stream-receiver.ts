/**
 * Experiment (not part of `tsbpf bench`): why iperf3 shows a smaller stream gain under sk_msg
 * redirect than the load generator. Interleaves, per repetition, plain and cilium runs of
 *   - the load generator with the server reading 64 KiB per read (the bench's setting),
 *   - the same with poll() before every read (iperf3's server does a select() per read),
 *   - the same with 16 KiB and 4 KiB reads,
 *   - iperf3 -l 64K,
 * and prints per run the receiver-side rate, the sender's and receiver's CPU time (loadgen), the
 * drain time after the last write and the peak of the kernel's TCP memory (/proc/net/sockstat
 * "TCP: ... mem", pages) sampled every 5 ms: with redirect there is no receive window, so a
 * receiver that falls behind lets the queue grow.
 *
 *   npx tsx bench/experiments/stream-receiver.ts [reps] [seconds] [taskset-cpu-list]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLoadgen, runIn } from '../../src/bench/process.js';
import { runIperf3 } from '../../src/bench/reference.js';
import { BenchTarget } from '../../src/bench/target.js';

const reps = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 1.5);
const cpus = process.argv[4];
const pin = (argv: string[]) => (cpus ? ['taskset', '-c', cpus, ...argv] : argv);

function tcpMemPages(): number {
  const m = readFileSync('/proc/net/sockstat', 'utf8').match(/^TCP:.* mem (\d+)/m);
  return m ? Number(m[1]) : Number.NaN;
}

/** Runs `f` while sampling TCP memory; returns its result and the peak in MiB. */
async function sampled<T>(f: () => Promise<T>): Promise<[T, number]> {
  let peak = tcpMemPages();
  const timer = setInterval(() => {
    peak = Math.max(peak, tcpMemPages());
  }, 5);
  try {
    return [await f(), (peak * 4096) / 2 ** 20];
  } finally {
    clearInterval(timer);
  }
}

const work = mkdtempSync(join(tmpdir(), 'tsbpf-bench-exp-'));
const plain = BenchTarget.create(undefined);
const cilium = BenchTarget.create('cilium');
try {
  const loadgen = buildLoadgen(work);
  const configs: [string, string[]][] = [
    ['loadgen read 64K', ['65536', '0']],
    ['loadgen poll+read 64K', ['65536', '1']],
    ['loadgen read 16K', ['16384', '0']],
    ['loadgen read 4K', ['4096', '0']],
  ];
  let port = 30000 + (process.pid % 20000);
  for (let rep = 1; rep <= reps; rep++) {
    for (const [name, extra] of configs) {
      for (const [t, target] of [
        ['plain', plain],
        ['cilium', cilium],
      ] as const) {
        const [out, peakMiB] = await sampled(() =>
          runIn(
            target.cgroup,
            pin([loadgen, 'stream', 'tcp4', '65536', '0', seconds.toFixed(3), ...extra]),
            60_000,
          ),
        );
        const j = JSON.parse(out.stdout) as Record<string, number>;
        console.log(
          `rep ${rep} ${name.padEnd(22)} ${t.padEnd(6)} ${((j.bitsPerSecond ?? 0) / 1e9).toFixed(2)} Gbit/s` +
            `  cpu snd ${((j.senderCpuSeconds ?? 0) / (j.seconds ?? 1)).toFixed(2)} rcv ${((j.receiverCpuSeconds ?? 0) / (j.seconds ?? 1)).toFixed(2)}` +
            `  drain ${((j.drainSeconds ?? 0) * 1000).toFixed(1)} ms  peak tcp mem ${peakMiB.toFixed(0)} MiB`,
        );
      }
    }
    for (const [t, target] of [
      ['plain', plain],
      ['cilium', cilium],
    ] as const) {
      port += 1;
      const [r, peakMiB] = await sampled(() => runIperf3(target.cgroup, port, seconds));
      console.log(
        `rep ${rep} ${'iperf3 -l 64K'.padEnd(22)} ${t.padEnd(6)} ${r.gbitPerSecond.toFixed(2)} Gbit/s  peak tcp mem ${peakMiB.toFixed(0)} MiB`,
      );
    }
  }
  console.log(`cilium counters: ${JSON.stringify(cilium.stats())}`);
} finally {
  plain.close();
  cilium.close();
  rmSync(work, { recursive: true, force: true });
}
