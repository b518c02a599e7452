/**
 * Running the measuring processes: the load generator (compiled from bench/loadgen.c with the
 * system C compiler into a temporary directory), iperf3 and sockperf. A process is placed in a
 * cgroup by a shell that writes its own pid to `cgroup.procs` and then execs the tool, so every
 * socket the tool creates belongs to that cgroup from the start (sock_ops sees it).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from './errors.js';

/** bench/loadgen.c, found from src/bench (tsx) or dist/bench (built) alike. */
export const LOADGEN_SOURCE = fileURLToPath(new URL('../../bench/loadgen.c', import.meta.url));

/** Compiles the load generator with `cc -O2` into `dir`; returns the binary's path. */
export function buildLoadgen(dir: string, source: string = LOADGEN_SOURCE): string {
  if (!existsSync(source)) {
    throw new BenchError('EBENCH_CC', `the load generator source ${source} is missing`);
  }
  const out = join(dir, 'loadgen');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', out, source], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? e);
    throw new BenchError(
      'EBENCH_CC',
      `compiling ${source} failed (install a C compiler: apt-get install gcc): ${stderr}`,
    );
  }
  return out;
}

/** Quotes one argument for /bin/sh. */
function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Output of a finished process. */
export interface ProcessOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `argv` (inside `cgroup` when given) and resolves with its output; rejects with a
 * BenchError when it exits non-zero or outlives `timeoutMs` (it is then killed).
 */
export function runIn(
  cgroup: string | undefined,
  argv: readonly string[],
  timeoutMs: number,
): Promise<ProcessOutput> {
  const command = argv.map(shellQuote).join(' ');
  const script = cgroup
    ? `echo $$ > ${shellQuote(join(cgroup, 'cgroup.procs'))} && exec ${command}`
    : `exec ${command}`;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new BenchError('EBENCH_RUN', `${argv[0]} could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        const why = signal ? `was killed (${signal}) after ${timeoutMs} ms` : `exited ${code}`;
        reject(new BenchError('EBENCH_RUN', `${argv.join(' ')} ${why}: ${stderr.trim()}`));
      }
    });
  });
}

/** True when `tool` is on PATH. */
export function haveTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${shellQuote(tool)}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
