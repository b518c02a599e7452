/**
 * Where the measuring processes run: unpinned (the scheduler spreads client and server over the
 * CPUs, so every round trip wakes a process on another CPU — on a VM an inter-processor interrupt
 * through the hypervisor), or client and server pinned together to one CPU with taskset (wakeups
 * are local context switches, and what is left is the socket path itself). The two answer
 * different questions, so the bench measures both by default (docs/benchmarks.md, "CPU placement").
 */
import { BenchError } from './errors.js';

/** One CPU placement of client and server. */
export type Placement = { readonly pin: 'none' } | { readonly pin: 'cpu'; readonly cpu: number };

/** Short id used in keys and JSON-facing labels: `unpinned` or `cpu<N>`. */
export function placementId(p: Placement): string {
  return p.pin === 'none' ? 'unpinned' : `cpu${p.cpu}`;
}

/** The placementId() a result entry was measured in; entries of results schema 1 have none: unpinned. */
export function placementIdOf(entry: { readonly placement?: string | undefined }): string {
  return entry.placement ?? 'unpinned';
}

/** Human label for reports: `unpinned` or `pinned to CPU N`. */
export function placementLabel(p: Placement): string {
  return p.pin === 'none' ? 'unpinned' : `pinned to CPU ${p.cpu}`;
}

/** `argv` prefixed with `taskset -c N` when pinned (children such as a forked server inherit it). */
export function pinned(p: Placement, argv: readonly string[]): string[] {
  return p.pin === 'none' ? [...argv] : ['taskset', '-c', String(p.cpu), ...argv];
}

/**
 * The default: unpinned and pinned to the last CPU (CPU 0 takes most device interrupts); on a
 * one-CPU machine the two are the same, so only unpinned.
 */
export function defaultPlacements(cpuCount: number): Placement[] {
  return cpuCount > 1 ? [{ pin: 'none' }, { pin: 'cpu', cpu: cpuCount - 1 }] : [{ pin: 'none' }];
}

/**
 * Parses `--cpu`: a comma list of `none` and CPU numbers below `cpuCount` (e.g. `none,1`, `1`,
 * `none`); duplicates are an error. Throws BenchError EBENCH_OPTION naming the bad element.
 */
export function parsePlacements(text: string, cpuCount: number): Placement[] {
  const out: Placement[] = [];
  for (const part of text.split(',')) {
    const s = part.trim();
    let p: Placement;
    if (s === 'none') p = { pin: 'none' };
    else if (/^\d+$/.test(s) && Number(s) < cpuCount) p = { pin: 'cpu', cpu: Number(s) };
    else {
      throw new BenchError(
        'EBENCH_OPTION',
        `--cpu: '${s}' is neither 'none' nor a CPU number below ${cpuCount}; use e.g. --cpu none,${cpuCount - 1}`,
      );
    }
    if (out.some((q) => placementId(q) === placementId(p)))
      throw new BenchError('EBENCH_OPTION', `--cpu: '${s}' is listed twice`);
    out.push(p);
  }
  return out;
}
