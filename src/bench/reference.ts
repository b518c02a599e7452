/**
 * Independent tools measuring the same thing as the load generator: iperf3 for a 64 KiB-write
 * stream (Nagle on, iperf3's default) and sockperf ping-pong for 64-byte request/response. If the
 * load generator's plain-TCP figures agree with theirs, its own overhead is not what is measured.
 * Servers run in the same cgroup as their clients, on a loopback port, and are killed afterwards.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError } from './errors.js';
import { type Placement, pinned, placementId } from './placement.js';
import { runIn } from './process.js';

/** Starts a long-running server in `cgroup`; returns its stop function. */
async function startServer(cgroup: string | undefined, argv: readonly string[]) {
  const cmd = argv.map((a) => `'${a}'`).join(' ');
  const script = cgroup
    ? `echo $$ > '${join(cgroup, 'cgroup.procs')}' && exec ${cmd}`
    : `exec ${cmd}`;
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await sleep(300);
  if (child.exitCode !== null) {
    throw new BenchError(
      'EBENCH_TOOL',
      `${argv.join(' ')} exited at start (${child.exitCode}): ${stderr.trim().slice(-300)}`,
    );
  }
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await closed;
    }
  };
}

/** iperf3 stream result. */
export interface Iperf3Result {
  readonly gbitPerSecond: number;
  /** placementId() of the run (absent in schema 1: unpinned). */
  readonly placement?: string;
}

/** iperf3 -c 127.0.0.1 -l 64K for `seconds` (receiver-side rate). */
export async function runIperf3(
  cgroup: string | undefined,
  port: number,
  seconds: number,
  placement: Placement = { pin: 'none' },
): Promise<Iperf3Result> {
  const stop = await startServer(
    cgroup,
    pinned(placement, ['iperf3', '-s', '-1', '-p', String(port), '-B', '127.0.0.1']),
  );
  try {
    const t = Math.max(1, Math.round(seconds));
    const out = await runIn(
      cgroup,
      pinned(placement, [
        'iperf3',
        '-c',
        '127.0.0.1',
        '-p',
        String(port),
        '-t',
        String(t),
        '-l',
        '65536',
        '-J',
      ]),
      (t + 20) * 1000,
    );
    const json = JSON.parse(out.stdout) as {
      end?: { sum_received?: { bits_per_second?: number } };
    };
    const bps = json.end?.sum_received?.bits_per_second;
    if (bps === undefined) throw new BenchError('EBENCH_TOOL', 'iperf3 printed no sum_received');
    return { gbitPerSecond: bps / 1e9, placement: placementId(placement) };
  } finally {
    await stop();
  }
}

/** sockperf ping-pong result; sockperf reports half the round trip, doubled here. */
export interface SockperfResult {
  readonly halfRttP50Us: number;
  readonly halfRttP99Us: number;
  readonly rttP50Us: number;
  readonly rttP99Us: number;
  /** Round trips per second over sockperf's valid duration. */
  readonly opsPerSecond: number;
  /** placementId() of the run (absent in schema 1: unpinned). */
  readonly placement?: string;
}

/** Parses sockperf ping-pong output (its summary lines). */
export function parseSockperf(text: string): SockperfResult {
  // sockperf colours its lines with ANSI escapes.
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  const pct = (p: string) => {
    const m = plain.match(new RegExp(`percentile ${p} =\\s*([0-9.]+)`));
    if (!m?.[1]) throw new BenchError('EBENCH_TOOL', `sockperf printed no percentile ${p}`);
    return Number(m[1]);
  };
  const valid = plain.match(/\[Valid Duration\] RunTime=([0-9.]+) sec; SentMessages=(\d+)/);
  if (!valid?.[1] || !valid[2])
    throw new BenchError('EBENCH_TOOL', 'sockperf printed no valid duration');
  const p50 = pct('50.000');
  const p99 = pct('99.000');
  return {
    halfRttP50Us: p50,
    halfRttP99Us: p99,
    rttP50Us: 2 * p50,
    rttP99Us: 2 * p99,
    opsPerSecond: Number(valid[2]) / Number(valid[1]),
  };
}

/** sockperf ping-pong over TCP with `bytes`-byte messages for `seconds`. */
export async function runSockperf(
  cgroup: string | undefined,
  port: number,
  bytes: number,
  seconds: number,
  placement: Placement = { pin: 'none' },
): Promise<SockperfResult> {
  const stop = await startServer(
    cgroup,
    pinned(placement, ['sockperf', 'server', '--tcp', '-i', '127.0.0.1', '-p', String(port)]),
  );
  try {
    const t = Math.max(1, Math.round(seconds));
    const out = await runIn(
      cgroup,
      pinned(placement, [
        'sockperf',
        'ping-pong',
        '--tcp',
        '-i',
        '127.0.0.1',
        '-p',
        String(port),
        '-m',
        String(bytes),
        '-t',
        String(t),
        // Unthrottled: ping-pong otherwise paces at 10 000 messages/s and its rate means nothing.
        '--mps',
        'max',
      ]),
      (t + 20) * 1000,
    );
    return { ...parseSockperf(out.stdout + out.stderr), placement: placementId(placement) };
  } finally {
    await stop();
  }
}
