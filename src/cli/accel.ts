/**
 * `tsbpf accel {enable, disable, status, run, demo}`: socket acceleration operations on the
 * command line. Parsing and printing only; the work is in src/accel.
 */
import { parseArgs } from 'node:util';
import { match } from 'ts-pattern';
import { runAgent } from '../accel/agent.js';
import { type AccelConfig, readAccelConfig } from '../accel/config.js';
import { formatDemo, runDemo } from '../accel/demo.js';
import { disableAccel } from '../accel/disable.js';
import { enableAccel } from '../accel/enable.js';
import { DEFAULT_PIN_DIR } from '../accel/state.js';
import { accelStatus, formatStatus } from '../accel/status.js';
import type { SockopsVariant } from '../programs/options.js';
import { checkPositionals, integerOption, parsing } from './args.js';
import type { CommandIo } from './dump.js';
import { EXIT_CODES_HELP, reportError, UsageError } from './errors.js';

/** Help text of `tsbpf accel`. */
export const ACCEL_HELP = `usage: tsbpf accel <enable|disable|status|run|demo> [options]

Socket acceleration: a sock_ops program puts the established TCP sockets of a cgroup into a
SOCKHASH, and an sk_msg program hands each message straight to the peer socket, bypassing the
TCP/IP stack for connections between local endpoints.

  enable --cgroup PATH   build, load, pin and attach (idempotent; rolls back on failure)
  disable                detach, unpin, remove the pin directory (safe when nothing is enabled)
  status [--json]        attachments, sockets, counters, map fill, kernel features
  run                    foreground agent: enable, follow host addresses, metrics, disable on exit
  demo                   zero-configuration first run in a throwaway cgroup

Run \`tsbpf accel <subcommand> --help\` for each one's options.
${EXIT_CODES_HELP}
`;

const PIN_DIR_HELP = `  --pin-dir DIR             bpffs directory of the pins (default ${DEFAULT_PIN_DIR})
  --state-dir DIR           where the manifest of what was enabled lives (default /run/tsbpf/state)`;

/** Help text of `tsbpf accel enable`. */
export const ENABLE_HELP = `usage: tsbpf accel enable --cgroup PATH [--variant cilium|minimal] [--pin-dir DIR] [--config FILE]

Builds the programs, loads them, creates and pins the maps and programs, attaches sk_msg to the
SOCKHASH and sock_ops to the cgroup. Running it again changes nothing and says so (the endpoints
follow the host's addresses). Any failure rolls back everything done so far.

options:
  --cgroup PATH             cgroup v2 directory whose sockets are accelerated (required)
  --variant cilium|minimal  cilium (default): only connections between endpoints, with services,
                            identities and policy; minimal: every established TCP socket
  --config FILE             JSON: endpoints, services, identities, policy (docs/accel-config.md);
                            without it the endpoints are every address of this host
${PIN_DIR_HELP}
  --verbose                 details on errors
  -h, --help                this text

examples:
  sudo tsbpf accel enable --cgroup /sys/fs/cgroup/system.slice
  sudo tsbpf accel enable --cgroup /sys/fs/cgroup/app --variant minimal --pin-dir /sys/fs/bpf/app
  sudo tsbpf accel enable --cgroup /sys/fs/cgroup/app --config /etc/tsbpf/accel.json

${EXIT_CODES_HELP}
`;

/** Help text of `tsbpf accel disable`. */
export const DISABLE_HELP = `usage: tsbpf accel disable [--pin-dir DIR]

Detaches sock_ops and sk_msg, unpins everything and removes the pin directory. Connections that
were accelerated keep working (the kernel puts them back on the TCP path). Does nothing, and says
so, when nothing is enabled.

options:
${PIN_DIR_HELP}
  --verbose                 details on errors
  -h, --help                this text

examples:
  sudo tsbpf accel disable
  sudo tsbpf accel disable --pin-dir /sys/fs/bpf/app

${EXIT_CODES_HELP}
`;

/** Help text of `tsbpf accel status`. */
export const STATUS_HELP = `usage: tsbpf accel status [--json] [--pin-dir DIR]

Shows what is attached where (program ids and names, cgroup, pins), the sockets in the SOCKHASH,
every counter, map fill levels and the kernel feature probes.

options:
  --json                    machine-readable output
  --sockets N               list at most N sockets (default 100; all are counted)
${PIN_DIR_HELP}
  --verbose                 details on errors
  -h, --help                this text

examples:
  sudo tsbpf accel status
  sudo tsbpf accel status --json | jq .stats

${EXIT_CODES_HELP}
`;

/** Help text of `tsbpf accel run`. */
export const RUN_HELP = `usage: tsbpf accel run --cgroup PATH [--metrics-port N] [enable options]

The foreground agent for systemd or a Kubernetes DaemonSet: enables acceleration, keeps the
endpoints map in step with the host's addresses, serves Prometheus metrics, and disables cleanly
on SIGTERM or SIGINT.

options:
  --cgroup PATH             cgroup v2 directory to accelerate (required)
  --metrics-port N          serve http://ADDR:N/metrics (default 9464; 0 picks a free port)
  --metrics-address ADDR    listen address of the metrics (default 127.0.0.1)
  --no-metrics              serve no metrics
  --poll-ms N               how often to compare host addresses and endpoints (default 5000)
  --variant, --config       as for enable
${PIN_DIR_HELP}
  --verbose                 details on errors
  -h, --help                this text

examples:
  sudo tsbpf accel run --cgroup /sys/fs/cgroup --metrics-port 9464
  curl -s http://127.0.0.1:9464/metrics | grep tsbpf_accel_msg_redirected_total

${EXIT_CODES_HELP}
`;

/** Help text of `tsbpf accel demo`. */
export const DEMO_HELP = `usage: tsbpf accel demo [--variant cilium|minimal] [--bulk-mib N] [--round-trips N]

Creates a throwaway cgroup, runs a loopback bulk transfer and a request/response test plainly and
then accelerated, prints the ratios and whether the bytes bypassed TCP (Tcp OutSegs in
/proc/net/snmp), checks the data with sha256, and removes everything. Needs root.

options:
  --variant cilium|minimal  default cilium
  --bulk-mib N              size of the bulk transfer (default 32)
  --round-trips N           request/response round trips (default 5000)
  --cgroup-parent DIR       create the throwaway cgroup here (default: the cgroup v2 root)
  --bpffs-parent DIR        create the pin directory here (default: the bpffs root)
  --name-prefix PREFIX      name of both (default tsbpf-demo)
  --state-dir DIR           manifest directory (default /run/tsbpf/state)
  --verbose                 details on errors
  -h, --help                this text

examples:
  sudo npx tsbpf accel demo
  sudo npx tsbpf accel demo --variant minimal --bulk-mib 256

${EXIT_CODES_HELP}
`;

const LOCATION = {
  'pin-dir': { type: 'string' },
  'state-dir': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const ENABLE = {
  ...LOCATION,
  cgroup: { type: 'string' },
  variant: { type: 'string' },
  config: { type: 'string' },
} as const;

function variantOf(v: string | undefined): SockopsVariant | undefined {
  return match(v)
    .with(undefined, () => undefined)
    .with('cilium', 'minimal', (x) => x)
    .otherwise((x) => {
      throw new UsageError(`--variant ${JSON.stringify(x)} must be cilium or minimal`);
    });
}

function location(values: { 'pin-dir'?: string; 'state-dir'?: string }) {
  return {
    ...(values['pin-dir'] ? { pinDir: values['pin-dir'] } : {}),
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
  };
}

/** The enable options of `enable` and `run`. */
function enableOptions(values: {
  cgroup?: string;
  variant?: string;
  config?: string;
  'pin-dir'?: string;
  'state-dir'?: string;
}) {
  if (!values.cgroup) throw new UsageError('--cgroup PATH is required');
  const variant = variantOf(values.variant);
  const config: AccelConfig | undefined = values.config
    ? readAccelConfig(values.config)
    : undefined;
  return {
    cgroup: values.cgroup,
    ...location(values),
    ...(variant ? { variant } : {}),
    ...(config ? { config } : {}),
  };
}

/** Hooks for `accel run` (tests stop the agent without a signal). */
export interface AccelRunHooks {
  /** Aborts the agent like SIGTERM does. */
  readonly signal?: AbortSignal;
}

/** Runs `tsbpf accel …`; returns the exit status. */
export async function runAccel(
  args: readonly string[],
  io: CommandIo,
  hooks: AccelRunHooks = {},
): Promise<number> {
  const [sub, ...rest] = args;
  const verbose = rest.includes('--verbose');
  const command = `accel ${sub ?? ''}`.trimEnd();
  const help = (text: string) => {
    io.stdout(text);
    return 0;
  };
  try {
    return await match(sub)
      .with(undefined, () => {
        io.stderr(ACCEL_HELP);
        return 2;
      })
      .with('--help', '-h', 'help', () => help(ACCEL_HELP))
      .with('enable', () => {
        const { values, positionals } = parsing(() =>
          parseArgs({ args: rest, options: ENABLE, allowPositionals: true, strict: true }),
        );
        if (values.help) return help(ENABLE_HELP);
        checkPositionals(positionals, 0);
        const result = enableAccel(enableOptions(values));
        io.stdout(`${result.message}\n`);
        return 0;
      })
      .with('disable', () => {
        const { values, positionals } = parsing(() =>
          parseArgs({ args: rest, options: LOCATION, allowPositionals: true, strict: true }),
        );
        if (values.help) return help(DISABLE_HELP);
        checkPositionals(positionals, 0);
        io.stdout(`${disableAccel(location(values)).message}\n`);
        return 0;
      })
      .with('status', () => {
        const { values, positionals } = parsing(() =>
          parseArgs({
            args: rest,
            options: { ...LOCATION, json: { type: 'boolean' }, sockets: { type: 'string' } },
            allowPositionals: true,
            strict: true,
          }),
        );
        if (values.help) return help(STATUS_HELP);
        checkPositionals(positionals, 0);
        const limit = integerOption('sockets', values.sockets, 0, 1 << 24);
        const status = accelStatus({
          ...location(values),
          ...(limit === undefined ? {} : { socketLimit: limit }),
        });
        io.stdout(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
        return 0;
      })
      .with('run', async () => {
        const { values, positionals } = parsing(() =>
          parseArgs({
            args: rest,
            options: {
              ...ENABLE,
              'metrics-port': { type: 'string' },
              'metrics-address': { type: 'string' },
              'no-metrics': { type: 'boolean' },
              'poll-ms': { type: 'string' },
            },
            allowPositionals: true,
            strict: true,
          }),
        );
        if (values.help) return help(RUN_HELP);
        checkPositionals(positionals, 0);
        const port = integerOption('metrics-port', values['metrics-port'], 0, 65535) ?? 9464;
        const pollMs = integerOption('poll-ms', values['poll-ms'], 100, 24 * 3600 * 1000);
        const controller = new AbortController();
        const stop = (signal: string) => {
          io.stderr(`tsbpf accel run: ${signal}, disabling\n`);
          controller.abort();
        };
        const onTerm = () => stop('SIGTERM');
        const onInt = () => stop('SIGINT');
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
        hooks.signal?.addEventListener('abort', () => controller.abort());
        try {
          await runAgent({
            ...enableOptions(values),
            ...(values['no-metrics'] ? {} : { metricsPort: port }),
            ...(values['metrics-address'] ? { metricsHost: values['metrics-address'] } : {}),
            ...(pollMs === undefined ? {} : { pollMs }),
            signal: controller.signal,
            log: (line) => io.stdout(`${line}\n`),
          });
        } finally {
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
        }
        return 0;
      })
      .with('demo', async () => {
        const { values, positionals } = parsing(() =>
          parseArgs({
            args: rest,
            options: {
              variant: { type: 'string' },
              'bulk-mib': { type: 'string' },
              'round-trips': { type: 'string' },
              'cgroup-parent': { type: 'string' },
              'bpffs-parent': { type: 'string' },
              'name-prefix': { type: 'string' },
              'state-dir': { type: 'string' },
              verbose: { type: 'boolean' },
              help: { type: 'boolean', short: 'h' },
            },
            allowPositionals: true,
            strict: true,
          }),
        );
        if (values.help) return help(DEMO_HELP);
        checkPositionals(positionals, 0);
        const variant = variantOf(values.variant);
        const mib = integerOption('bulk-mib', values['bulk-mib'], 1, 4096);
        const trips = integerOption('round-trips', values['round-trips'], 1, 10_000_000);
        const prefix = values['name-prefix'];
        if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(prefix)) {
          throw new UsageError(
            `--name-prefix ${JSON.stringify(prefix)} may hold only 1 to 64 of [A-Za-z0-9_-]`,
          );
        }
        const report = await runDemo({
          ...(variant ? { variant } : {}),
          ...(mib === undefined ? {} : { bulkBytes: mib * 1024 * 1024 }),
          ...(trips === undefined ? {} : { roundTrips: trips }),
          ...(values['cgroup-parent'] ? { cgroupParent: values['cgroup-parent'] } : {}),
          ...(values['bpffs-parent'] ? { bpffsParent: values['bpffs-parent'] } : {}),
          ...(prefix ? { namePrefix: prefix } : {}),
          ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
          log: (line) => io.stdout(`${line}\n`),
        });
        io.stdout(formatDemo(report));
        return report.bypassedTcp && report.plain.intact && report.accelerated.intact ? 0 : 1;
      })
      .otherwise((s) => {
        io.stderr(
          `tsbpf accel: unknown subcommand ${JSON.stringify(s)}; run tsbpf accel --help for the list\n`,
        );
        return 2;
      });
  } catch (err) {
    return reportError(io, command, err, verbose);
  }
}
