/**
 * Prometheus text exposition (format 0.0.4) of an acceleration status: the stats counters, the
 * sockets in the SOCKHASH, map fill levels and whether the programs are attached.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STAT_NAMES } from '../programs/stats.js';
import type { AccelStatus } from './status.js';

/** What each counter counts, for the HELP lines. */
const STAT_HELP: Readonly<Record<(typeof STAT_NAMES)[number], string>> = {
  inserted: 'sockets inserted into the SOCKHASH by sock_ops',
  insert_failed: 'SOCKHASH insertions the kernel refused',
  skip_family: 'sockets skipped: neither IPv4 nor v4-mapped IPv6',
  skip_service: 'sockets skipped: destination is a service frontend',
  skip_remote: 'sockets skipped: destination is not a local endpoint',
  msg_redirected: 'messages redirected by sk_msg to the peer socket',
  msg_bytes: 'bytes of redirected messages',
  redirect_miss: 'messages whose peer was not in the SOCKHASH (sent through TCP)',
  policy_denied: 'messages policy denied acceleration for (sent through TCP)',
};

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The metrics of `s` in the Prometheus text format. */
export function formatMetrics(s: AccelStatus): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, string][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  metric('tsbpf_accel_enabled', 'gauge', '1 when acceleration is enabled for the pin directory', [
    [`{pin_dir="${label(s.pinDir)}"}`, s.enabled ? '1' : '0'],
  ]);
  metric(
    'tsbpf_accel_program_attached',
    'gauge',
    '1 when the program is attached where it belongs',
    s.programs.map((p) => [
      `{program="${label(p.name)}",role="${p.role}"}`,
      p.attachedTo ? '1' : '0',
    ]),
  );
  metric('tsbpf_accel_sockets', 'gauge', 'sockets in the SOCKHASH', [['', String(s.socketCount)]]);
  if (s.stats) {
    for (const n of STAT_NAMES) {
      metric(`tsbpf_accel_${n}_total`, 'counter', STAT_HELP[n], [['', s.stats[n]]]);
    }
  }
  metric(
    'tsbpf_accel_map_entries',
    'gauge',
    'entries in each map',
    s.maps.map((m) => [`{map="${label(m.name)}",role="${m.role}"}`, String(m.entries)]),
  );
  metric(
    'tsbpf_accel_map_max_entries',
    'gauge',
    'capacity of each map',
    s.maps.map((m) => [`{map="${label(m.name)}",role="${m.role}"}`, String(m.maxEntries)]),
  );
  metric('tsbpf_accel_endpoints', 'gauge', 'endpoint CIDRs in the endpoints map', [
    ['', String(s.endpoints.length)],
  ]);
  return `${out.join('\n')}\n`;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The address and port it listens on (port 0 asks for any free port). */
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (and `/`) on `host:port` with the text of `render()`; other paths are 404.
 * A render failure answers 500 with the message, so a scrape shows what is wrong.
 */
export async function serveMetrics(
  host: string,
  port: number,
  render: () => string,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    try {
      const body = render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
