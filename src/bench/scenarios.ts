/**
 * The benchmark matrix: which measurements exist and which transports each runs on. A transport
 * is plain TCP over loopback, TCP with a sockops variant attached, or a UNIX domain socket (the
 * same-host limit no socket redirect can beat).
 */
import { match } from 'ts-pattern';

/** Where a measurement runs. */
export type Transport = 'plain' | 'cilium' | 'minimal' | 'unix';

/** Every transport, in the order runs interleave (A, B, C, D, A, B, …). */
export const TRANSPORTS: readonly Transport[] = ['plain', 'cilium', 'minimal', 'unix'];

/** One measurement of the load generator. */
export type Scenario =
  | {
      readonly kind: 'stream';
      readonly id: string;
      readonly writeBytes: number;
      readonly nodelay: boolean;
    }
  | { readonly kind: 'rr'; readonly id: string; readonly messageBytes: number }
  | { readonly kind: 'crr'; readonly id: string };

/** The stream write sizes of the recipe (64 B … 64 KiB). */
export const STREAM_SIZES = [64, 1024, 16384, 65536] as const;
/** Request/response message sizes. */
export const RR_SIZES = [64, 4096] as const;

/** The whole matrix: streams with Nagle on and off, request/response, connection rate. */
export function allScenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const nodelay of [false, true]) {
    for (const writeBytes of STREAM_SIZES) {
      out.push({
        kind: 'stream',
        id: `stream-${writeBytes}-${nodelay ? 'nodelay' : 'nagle'}`,
        writeBytes,
        nodelay,
      });
    }
  }
  for (const messageBytes of RR_SIZES)
    out.push({ kind: 'rr', id: `rr-${messageBytes}`, messageBytes });
  out.push({ kind: 'crr', id: 'crr' });
  return out;
}

/** Transports a scenario runs on: Nagle means nothing to a UNIX socket, so it runs once there. */
export function transportsOf(s: Scenario): Transport[] {
  return match(s)
    .with({ kind: 'stream', nodelay: false }, () => TRANSPORTS.filter((t) => t !== 'unix'))
    .otherwise(() => [...TRANSPORTS]);
}

/** The load generator's argv (after the binary) for a scenario on a transport. */
export function loadgenArgs(s: Scenario, t: Transport, seconds: number): string[] {
  const family = t === 'unix' ? 'unix' : 'tcp4';
  const secs = seconds.toFixed(3);
  return match(s)
    .with({ kind: 'stream' }, (x) => [
      'stream',
      family,
      String(x.writeBytes),
      x.nodelay ? '1' : '0',
      secs,
    ])
    .with({ kind: 'rr' }, (x) => ['rr', family, String(x.messageBytes), secs])
    .with({ kind: 'crr' }, () => ['crr', family, secs])
    .exhaustive();
}

/** What a scenario reports (the headline number), and whether bigger is better. */
export interface Metric {
  readonly name: string;
  readonly unit: string;
  readonly higherIsBetter: boolean;
}

/** The metrics of a scenario's kind (rr has three). */
export function metricsOf(s: Scenario): Metric[] {
  return match(s)
    .with({ kind: 'stream' }, () => [
      { name: 'gbitPerSecond', unit: 'Gbit/s', higherIsBetter: true },
    ])
    .with({ kind: 'rr' }, () => [
      { name: 'opsPerSecond', unit: 'ops/s', higherIsBetter: true },
      { name: 'p50Us', unit: 'µs', higherIsBetter: false },
      { name: 'p99Us', unit: 'µs', higherIsBetter: false },
    ])
    .with({ kind: 'crr' }, () => [
      { name: 'connectionsPerSecond', unit: 'conn/s', higherIsBetter: true },
    ])
    .exhaustive();
}

/** Load generator JSON → the scenario's metrics. */
export function metricValues(s: Scenario, raw: Record<string, number>): Record<string, number> {
  return match(s)
    .with({ kind: 'stream' }, () => ({ gbitPerSecond: (raw.bitsPerSecond ?? 0) / 1e9 }))
    .with({ kind: 'rr' }, () => ({
      opsPerSecond: raw.opsPerSecond ?? 0,
      p50Us: (raw.p50Ns ?? 0) / 1000,
      p99Us: (raw.p99Ns ?? 0) / 1000,
    }))
    .with({ kind: 'crr' }, () => ({ connectionsPerSecond: raw.connectionsPerSecond ?? 0 }))
    .exhaustive();
}
