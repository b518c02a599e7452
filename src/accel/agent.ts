/**
 * `accel run`: the foreground agent for systemd or a Kubernetes DaemonSet. It enables acceleration,
 * keeps the endpoints map in step with the host's addresses (polling; addresses come and go with
 * pods and DHCP), serves Prometheus metrics, and disables cleanly when asked to stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type DisableResult, disableAccel } from './disable.js';
import { type EnableOptions, type EnableResult, enableAccel, resolveLocation } from './enable.js';
import { hostAddressCidrs } from './host-addresses.js';
import { formatMetrics, type MetricsServer, serveMetrics } from './metrics.js';
import { accelStatus } from './status.js';

/** Options of `runAgent`. */
export interface AgentOptions extends EnableOptions {
  /** Metrics port; 0 picks a free one; undefined serves no metrics. */
  readonly metricsPort?: number;
  /** Metrics listen address (default 127.0.0.1: metrics are not for the whole network). */
  readonly metricsHost?: string;
  /** How often to compare the host's addresses with the endpoints map, in ms (default 5000). */
  readonly pollMs?: number;
  /** Aborting it stops the agent (the CLI aborts on SIGTERM and SIGINT). */
  readonly signal: AbortSignal;
  /** Receives one line per event (enabled, endpoints updated, disabled, errors while polling). */
  readonly log: (line: string) => void;
  /** Called once the agent is enabled and serving (tests wait for it). */
  readonly onReady?: (info: { enable: EnableResult; metrics: MetricsServer | undefined }) => void;
}

/** Runs the agent until `signal` aborts; always disables before returning. */
export async function runAgent(options: AgentOptions): Promise<DisableResult> {
  const loc = resolveLocation(options);
  const host = options.hostAddresses ?? hostAddressCidrs;
  const enabled = enableAccel(options);
  options.log(enabled.message);
  let metrics: MetricsServer | undefined;
  let failure: unknown;
  try {
    if (options.metricsPort !== undefined) {
      metrics = await serveMetrics(options.metricsHost ?? '127.0.0.1', options.metricsPort, () =>
        formatMetrics(accelStatus({ ...loc, skipProbes: true })),
      );
      options.log(
        `serving metrics on http://${metrics.address.address}:${metrics.address.port}/metrics`,
      );
    }
    options.onReady?.({ enable: enabled, metrics });
    const pollMs = options.pollMs ?? 5000;
    while (!options.signal.aborted) {
      try {
        await sleep(pollMs, undefined, { signal: options.signal });
      } catch {
        break;
      }
      try {
        // enableAccel is idempotent: with unchanged addresses it does nothing, otherwise it
        // brings the endpoints map in step (and refuses if someone else changed the state).
        const again = enableAccel({ ...options, hostAddresses: host });
        if (again.action !== 'unchanged') options.log(again.message);
      } catch (err) {
        options.log(`error: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    failure = err;
  }
  await metrics?.close();
  const disabled = disableAccel(loc);
  options.log(disabled.message);
  if (failure !== undefined) throw failure;
  return disabled;
}
