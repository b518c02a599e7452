#!/usr/bin/env node
/**
 * The `tsbpf` command: picks the subcommand and hands it the remaining arguments. Each command
 * returns its exit code (0 ok, 1 failure, 2 usage error) and prints errors as one line on stderr.
 */
import { realpathSync } from 'node:fs';
import nodeModule from 'node:module';
import { pathToFileURL } from 'node:url';
import type { CommandIo } from './dump.js';
import { EXIT_CODES_HELP } from './failure.js';

/** A subcommand: runs with the arguments after its name, returns the exit code. */
type Command = (args: readonly string[], io: CommandIo) => number | Promise<number>;

/**
 * The subcommands, each imported only when it runs: a command's modules are most of what `tsbpf`
 * loads at start-up (`build` must not pay for the loader, koffi, the accel agent or the bench
 * harness; docs/benchmarks.md has the measured cost).
 */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  build: async () => (await import('./build.js')).runBuild,
  dump: async () => (await import('./dump.js')).runDump,
  verify: async () => (await import('./verify.js')).runVerify,
  accel: async () => (await import('./accel.js')).runAccel,
  bench: async () => (await import('../bench/main.js')).runBenchCommand,
};

/**
 * `--help` of the commands whose modules have none (verify): the usage, what the command does,
 * and examples.
 */
const HELP: Readonly<Record<string, () => Promise<string>>> = {
  verify: async () => `${(await import('./verify.js')).VERIFY_USAGE}

Loads every program of an eBPF object into the kernel without attaching it, one at a time, and
prints the verifier's statistics, or the rejection explained at its source line with a hint.
Needs root (or CAP_BPF). Exit status 1 when a program is rejected.

examples:
  sudo tsbpf verify dist/bpf/sockaccel.o
  sudo tsbpf verify count.o --log-level 2 --json

${EXIT_CODES_HELP}
`,
};

/** Top-level usage text. */
export const USAGE = `usage: tsbpf <command> [options]

eBPF from TypeScript: socket acceleration (sock_ops + sk_msg) built without clang, and the tools
to inspect, verify and run it.

commands:
  build [--out DIR] [--variant cilium|minimal] [options]
                           write the socket acceleration object (.o) and its listing
  dump FILE.o [--source]   disassembly in llvm-objdump syntax, optional source lines
  verify FILE.o [--log-level 1|2] [--json]
                           load every program without attaching; explain rejections
  accel enable --cgroup PATH [--variant cilium|minimal] [--pin-dir DIR] [--config FILE]
  accel disable [--pin-dir DIR]
  accel status [--json]
  accel run --cgroup PATH [--metrics-port N]
                           foreground agent (systemd, DaemonSet)
  accel demo                     zero-config first run in a throwaway cgroup
  bench [--quick] [--json FILE]  plain vs accelerated benchmarks (root)

Run \`tsbpf <command> --help\` for a command's options and examples.
Errors print one line; build and accel add details with --verbose.
${EXIT_CODES_HELP}
`;

/** Runs `tsbpf` with `argv` (the arguments after the program name); returns the exit code. */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(USAGE);
    return name === undefined ? 2 : 0;
  }
  const help = HELP[name];
  if (help !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    io.stdout(await help());
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    io.stderr(`tsbpf: unknown command ${JSON.stringify(name)}; run tsbpf --help for the list\n`);
    return 2;
  }
  const command = await load();
  return command(rest, io);
}

/** True when this module is the process entry point (also through the npm bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

/**
 * Turns on Node's on-disk cache of compiled modules (Node >= 22.1; feature-detected, a no-op on
 * older Node): a later `tsbpf` run skips compiling the modules it imports. Called before any
 * subcommand is imported, which is why this module imports no command statically.
 */
function enableCompileCache(): void {
  const { enableCompileCache: enable } = nodeModule as { enableCompileCache?: () => unknown };
  try {
    enable?.();
  } catch {
    // A cache that cannot be written (read-only tmp) only costs speed.
  }
}

if (isEntryPoint()) {
  enableCompileCache();
  const io: CommandIo = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  };
  process.exitCode = await main(process.argv.slice(2), io);
}
