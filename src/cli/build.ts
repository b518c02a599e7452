/**
 * `tsbpf build [--out DIR] [--variant cilium|minimal] [options of buildSockops]`: writes the socket
 * acceleration object (`sockaccel.o`, or `sockaccel-minimal.o` for the minimal variant) and its
 * listing (`.lst`: every instruction with the TypeScript line that produced it) into DIR.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { match } from 'ts-pattern';
import { buildSockops } from '../programs/build.js';
import type {
  SockopsMapNames,
  SockopsMapSizes,
  SockopsOptions,
  SockopsProgramNames,
  SockopsVariant,
} from '../programs/options.js';
import { MAX_MAP_SIZE } from '../programs/options.js';
import { checkPositionals, integerOption, keyValues, parsing } from './args.js';
// build-errors.js and failure.js, not errors.js: the build path never sees a loader or accel
// error, and not loading those modules keeps `tsbpf build` starting fast.
import { buildPathExitCode } from './build-errors.js';
import type { CommandIo } from './dump.js';
import { EXIT_CODES_HELP, ExitCode, printFailure, UsageError } from './failure.js';

/** The object's file name (without .o) when --name is not given, per variant. */
export const DEFAULT_OBJECT_NAME: Readonly<Record<SockopsVariant, string>> = {
  cilium: 'sockaccel',
  minimal: 'sockaccel-minimal',
};

/** Help text of `tsbpf build`. */
export const BUILD_HELP = `usage: tsbpf build [--out DIR] [--variant cilium|minimal] [options]

Builds the socket acceleration object (sock_ops + sk_msg programs and their maps) without clang
and writes DIR/NAME.o and DIR/NAME.lst (the listing with the TypeScript line of each instruction).

options:
  --out DIR                 output directory (default dist/bpf)
  --name NAME               file name without .o (default sockaccel, sockaccel-minimal for minimal)
  --variant cilium|minimal  cilium: Cilium's endpoint/service/policy logic (default);
                            minimal: accelerate every established TCP socket
  --ipv6 mapped|native      native: also key native IPv6 sockets (default mapped)
  --netns-scope             put the netns cookie in the SOCKHASH key (56-byte key)
  --stats | --no-stats      per-CPU counters (default: on for cilium, off for minimal)
  --pin                     mark every map LIBBPF_PIN_BY_NAME
  --gateway-ip4 ADDR        source address of proxy-redirected keys (default 127.0.0.1)
  --gateway-ip6 ADDR        the same for native IPv6 keys (default ::1)
  --map-name ROLE=NAME      rename a map (ROLE: sockhash endpoints services ipcache policy stats)
  --program-name ROLE=NAME  rename a program (ROLE: sockops skMsg)
  --size ROLE=N             max_entries of a map (ROLE: sockhash endpoints services ipcache policy)
  --verbose                 details on errors
  -h, --help                this text

examples:
  tsbpf build
  tsbpf build --variant minimal --out /tmp/bpf
  tsbpf build --netns-scope --size sockhash=131072 --map-name sockhash=my_sockhash

${EXIT_CODES_HELP}
`;

const OPTIONS = {
  out: { type: 'string' },
  name: { type: 'string' },
  variant: { type: 'string' },
  ipv6: { type: 'string' },
  'netns-scope': { type: 'boolean' },
  stats: { type: 'boolean' },
  'no-stats': { type: 'boolean' },
  pin: { type: 'boolean' },
  'gateway-ip4': { type: 'string' },
  'gateway-ip6': { type: 'string' },
  'map-name': { type: 'string', multiple: true },
  'program-name': { type: 'string', multiple: true },
  size: { type: 'string', multiple: true },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `tsbpf build` was asked to do. */
export interface BuildRequest {
  readonly outDir: string;
  readonly name: string;
  readonly options: SockopsOptions;
}

/** Parses the arguments of `tsbpf build` (throws UsageError). */
export function parseBuildArgs(args: readonly string[]): BuildRequest | 'help' {
  const { values, positionals } = parsing(() =>
    parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true }),
  );
  if (values.help) return 'help';
  checkPositionals(positionals, 0);
  if (values.stats && values['no-stats']) {
    throw new UsageError('--stats and --no-stats contradict each other; give one');
  }
  const variant = match(values.variant)
    .with(undefined, 'cilium', () => 'cilium' as const)
    .with('minimal', () => 'minimal' as const)
    .otherwise((v) => {
      throw new UsageError(`--variant ${JSON.stringify(v)} must be cilium or minimal`);
    });
  const ipv6 = match(values.ipv6)
    .with(undefined, 'mapped', () => 'mapped' as const)
    .with('native', () => 'native' as const)
    .otherwise((v) => {
      throw new UsageError(`--ipv6 ${JSON.stringify(v)} must be mapped or native`);
    });
  // Role names are checked by resolveSockopsOptions, which names the allowed ones.
  const names = Object.fromEntries(keyValues('map-name', values['map-name'])) as Partial<
    Record<keyof SockopsMapNames, string>
  >;
  const programNames = Object.fromEntries(
    keyValues('program-name', values['program-name']),
  ) as Partial<Record<keyof SockopsProgramNames, string>>;
  const sizes = Object.fromEntries(
    keyValues('size', values.size).map(([role, n]) => [
      role,
      integerOption(`size ${role}`, n, 1, MAX_MAP_SIZE),
    ]),
  ) as Partial<Record<keyof SockopsMapSizes, number>>;
  const stats = values.stats ? true : values['no-stats'] ? false : undefined;
  const options: SockopsOptions = {
    variant,
    ipv6,
    ...(values['netns-scope'] ? { netnsScope: true } : {}),
    ...(stats === undefined ? {} : { stats }),
    ...(values.pin ? { pin: true } : {}),
    ...(values['gateway-ip4'] ? { gatewayIp4: values['gateway-ip4'] } : {}),
    ...(values['gateway-ip6'] ? { gatewayIp6: values['gateway-ip6'] } : {}),
    ...(Object.keys(names).length ? { names } : {}),
    ...(Object.keys(programNames).length ? { programNames } : {}),
    ...(Object.keys(sizes).length ? { sizes } : {}),
  };
  return {
    outDir: values.out ?? join('dist', 'bpf'),
    name: values.name ?? DEFAULT_OBJECT_NAME[variant],
    options,
  };
}

/** Runs `tsbpf build`; returns the exit status. */
export function runBuild(args: readonly string[], io: CommandIo): number {
  const verbose = args.includes('--verbose');
  try {
    const req = parseBuildArgs(args);
    if (req === 'help') {
      io.stdout(BUILD_HELP);
      return 0;
    }
    const built = buildSockops(req.options);
    mkdirSync(req.outDir, { recursive: true });
    const object = join(req.outDir, `${req.name}.o`);
    const listing = join(req.outDir, `${req.name}.lst`);
    writeFileSync(object, built.elf);
    writeFileSync(listing, built.listing);
    const p = built.programs;
    io.stdout(
      `${object}: ${built.elf.length} bytes, ${built.options.variant} variant; ` +
        `${p.sockops.name} ${p.sockops.insns} insns, ${p.skMsg.name} ${p.skMsg.insns} insns; ` +
        `maps ${built.maps.map((m) => m.name).join(', ')}\n${listing}: listing\n`,
    );
    return 0;
  } catch (err) {
    return printFailure(io, 'build', err, verbose, buildPathExitCode(err) ?? ExitCode.FAILED);
  }
}
