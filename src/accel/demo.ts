/**
 * `accel demo`: the zero-configuration first run. It creates a throwaway cgroup, measures loopback
 * traffic there plainly, enables acceleration on it, measures again, prints how the two compare and
 * whether the bytes bypassed TCP (Tcp OutSegs), checks the data with sha256, and removes everything
 * it made, also when something fails.
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBpffs, ensureCgroup2 } from '../loader/fs.js';
import { type BpfSyscall, systemSyscall } from '../loader/syscall.js';
import type { SockopsVariant } from '../programs/options.js';
import { disableAccel } from './disable.js';
import { enableAccel } from './enable.js';
import { AccelError } from './errors.js';
import { accelStatus, probeFeatures } from './status.js';
import {
  inCgroup,
  ownCgroup,
  runTraffic,
  type TrafficOptions,
  type TrafficResult,
} from './traffic.js';

/** Options of `runDemo`. */
export interface DemoOptions extends TrafficOptions {
  readonly sys?: BpfSyscall;
  /** Directory to create the throwaway cgroup in (default: the cgroup v2 root). */
  readonly cgroupParent?: string;
  /** bpffs directory to create the pin directory in (default: the bpffs root). */
  readonly bpffsParent?: string;
  /** Prefix of the cgroup and pin directory names (default `tsbpf-demo`). */
  readonly namePrefix?: string;
  /** Manifest directory (default /run/tsbpf/state). */
  readonly stateDir?: string;
  /** Default 'cilium' (the host's addresses, loopback included, are the endpoints). */
  readonly variant?: SockopsVariant;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Effective uid (default process.getuid()); the demo needs root. */
  readonly uid?: number;
}

/** What the demo measured. */
export interface DemoReport {
  readonly cgroup: string;
  readonly pinDir: string;
  readonly variant: SockopsVariant;
  readonly plain: TrafficResult;
  readonly accelerated: TrafficResult;
  /** Messages the sk_msg program redirected during the accelerated run. */
  readonly redirected: bigint;
  /** Bytes the sk_msg program redirected. */
  readonly redirectedBytes: bigint;
  /** True when the accelerated run sent under a tenth of the plain run's TCP segments. */
  readonly bypassedTcp: boolean;
}

/** Checks root and kernel support; throws an AccelError that says what to do. */
function checkCanRun(sys: BpfSyscall, uid: number | undefined): void {
  if (uid !== 0) {
    throw new AccelError(
      'ERR_PERMISSION',
      'the demo needs root: it creates a cgroup and loads eBPF programs (run `sudo npx tsbpf accel demo`; ' +
        'or grant CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN)',
    );
  }
  const missing = probeFeatures(sys).filter((f) => f.required && !f.supported);
  if (missing.length > 0) {
    throw new AccelError(
      'ERR_UNSUPPORTED',
      `this kernel lacks ${missing.map((f) => f.feature).join(', ')}; socket acceleration needs ` +
        'Linux 5.10 or later built with CONFIG_BPF_SYSCALL, CONFIG_CGROUP_BPF and CONFIG_BPF_STREAM_PARSER',
    );
  }
}

/** Runs the demo (see the module comment) and returns what it measured. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const sys = options.sys ?? systemSyscall();
  const log = options.log ?? (() => {});
  checkCanRun(sys, options.uid ?? process.getuid?.());
  const root = ensureCgroup2(sys);
  const prefix = options.namePrefix ?? 'tsbpf-demo';
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}`;
  const cgroup = join(options.cgroupParent ?? root, name);
  const pinDir = join(options.bpffsParent ?? ensureBpffs(sys), name);
  const variant = options.variant ?? 'cilium';
  const home = ownCgroup(root);
  const location = {
    sys,
    pinDir,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  };
  const setup = <T>(fn: () => Promise<T>) => inCgroup(cgroup, home, fn);
  mkdirSync(cgroup);
  log(`created cgroup ${cgroup}`);
  try {
    log('plain run: loopback TCP through the network stack');
    const plain = await runTraffic(setup, options);
    const enabled = enableAccel({ ...location, cgroup, variant });
    log(enabled.message);
    try {
      const before = accelStatus({ ...location, skipProbes: true }).stats;
      log('accelerated run: the same traffic with sk_msg redirecting between the sockets');
      const accelerated = await runTraffic(setup, options);
      const after = accelStatus({ ...location, skipProbes: true }).stats;
      const delta = (n: 'msg_redirected' | 'msg_bytes') =>
        BigInt(after?.[n] ?? '0') - BigInt(before?.[n] ?? '0');
      return {
        cgroup,
        pinDir,
        variant,
        plain,
        accelerated,
        redirected: delta('msg_redirected'),
        redirectedBytes: delta('msg_bytes'),
        bypassedTcp: accelerated.outSegs * 10 < plain.outSegs,
      };
    } finally {
      log(disableAccel(location).message);
    }
  } finally {
    rmdirSync(cgroup);
    log(`removed cgroup ${cgroup}`);
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : '-';
}

/** The demo's result as a short table. */
export function formatDemo(r: DemoReport): string {
  const rate = (t: TrafficResult) => t.bulkBytes / (1024 * 1024) / t.bulkSeconds;
  const tps = (t: TrafficResult) => t.roundTrips / t.rrSeconds;
  const rows: [string, string, string, string][] = [
    ['', 'plain', 'accelerated', 'ratio'],
    [
      `bulk ${mib(r.plain.bulkBytes)}`,
      `${rate(r.plain).toFixed(0)} MiB/s`,
      `${rate(r.accelerated).toFixed(0)} MiB/s`,
      ratio(rate(r.accelerated), rate(r.plain)),
    ],
    [
      `request/response ×${r.plain.roundTrips}`,
      `${tps(r.plain).toFixed(0)} /s`,
      `${tps(r.accelerated).toFixed(0)} /s`,
      ratio(tps(r.accelerated), tps(r.plain)),
    ],
    [
      'TCP segments sent',
      String(r.plain.outSegs),
      String(r.accelerated.outSegs),
      ratio(r.accelerated.outSegs, r.plain.outSegs),
    ],
    ['sha256 intact', r.plain.intact ? 'yes' : 'NO', r.accelerated.intact ? 'yes' : 'NO', ''],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  const table = rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('   ')
      .trimEnd(),
  );
  const verdict = r.bypassedTcp
    ? `bytes bypassed TCP: yes (sk_msg redirected ${r.redirected} messages, ${r.redirectedBytes} bytes)`
    : `bytes bypassed TCP: NO (the accelerated run still sent ${r.accelerated.outSegs} segments; see \`tsbpf accel status\`)`;
  return `${table.join('\n')}\n${verdict}\n`;
}
