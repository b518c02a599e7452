import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AccelError } from '../../src/accel/errors.js';
import { readObject } from '../../src/asm/object-reader.js';
import { exitCodeOf, reportError, UsageError } from '../../src/cli/errors.js';
import { main } from '../../src/cli/main.js';
import { BpfError } from '../../src/loader/errors.js';
import { buildSockops } from '../../src/programs/build.js';

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tsbpf', () => {
  it('lists every command and the exit statuses in --help; no command is a usage error', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const c of [
      'build',
      'dump',
      'verify',
      'accel enable',
      'accel disable',
      'accel status',
      'accel run',
      'accel demo',
      'bench',
    ]) {
      expect(help.out).toContain(`  ${c}`);
    }
    expect(help.out).toMatch(/exit status: 0 ok, 1 operation failed, 2 usage error/);
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('usage: tsbpf <command>');
    const unknown = await run(['frobnicate']);
    expect(unknown).toEqual({
      code: 2,
      out: '',
      err: 'tsbpf: unknown command "frobnicate"; run tsbpf --help for the list\n',
    });
  });

  it.each([
    [['build', '--help'], /usage: tsbpf build[\s\S]*examples:\n {2}tsbpf build\n/],
    [['accel', '--help'], /usage: tsbpf accel <enable\|disable\|status\|run\|demo>/],
    [
      ['accel', 'enable', '--help'],
      /usage: tsbpf accel enable --cgroup PATH[\s\S]*examples:\n {2}sudo tsbpf accel enable/,
    ],
    [['accel', 'disable', '-h'], /usage: tsbpf accel disable[\s\S]*examples:/],
    [['accel', 'status', '--help'], /usage: tsbpf accel status \[--json\][\s\S]*examples:/],
    [['accel', 'run', '--help'], /usage: tsbpf accel run[\s\S]*--metrics-port N[\s\S]*examples:/],
    [
      ['accel', 'demo', '--help'],
      /usage: tsbpf accel demo[\s\S]*--cgroup-parent DIR[\s\S]*examples:/,
    ],
    [['bench', '--help'], /usage: tsbpf bench/],
  ])('%j prints its help with examples and exits 0', async (args, pattern) => {
    const r = await run(args);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(pattern);
  });

  it.each([
    [['build', '--variant', 'fast'], 'tsbpf build: --variant "fast" must be cilium or minimal'],
    [['build', '--bogus'], 'tsbpf build: unknown option --bogus'],
    [['build', 'extra'], 'tsbpf build: unexpected argument "extra"'],
    [['build', '--size', 'sockhash'], 'tsbpf build: --size "sockhash" must look like KEY=VALUE'],
    [
      ['build', '--size', 'sockhash=0'],
      'tsbpf build: --size sockhash "0" must be an integer from 1 to 16777216',
    ],
    [
      ['build', '--map-name', 'sockhash=a.b'],
      'tsbpf build: names.sockhash "a.b" may hold only 1 to 15 characters of [A-Za-z0-9_]',
    ],
    [
      ['build', '--stats', '--no-stats'],
      'tsbpf build: --stats and --no-stats contradict each other; give one',
    ],
    [['accel', 'enable'], 'tsbpf accel enable: --cgroup PATH is required'],
    [
      ['accel', 'enable', '--cgroup', '/tmp', '--variant', 'x'],
      'tsbpf accel enable: --variant "x" must be cilium or minimal',
    ],
    [
      ['accel', 'status', '--sockets', '-1'],
      "tsbpf accel status: Option '--sockets' argument is ambiguous.",
    ],
    [
      ['accel', 'run', '--cgroup', '/x', '--metrics-port', '70000'],
      'tsbpf accel run: --metrics-port "70000" must be an integer from 0 to 65535',
    ],
    [
      ['accel', 'demo', '--name-prefix', '../x'],
      'tsbpf accel demo: --name-prefix "../x" may hold only 1 to 64 of [A-Za-z0-9_-]',
    ],
  ])('%j is a usage error (exit 2) reported on one line', async (args, line) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    const lines = r.err.trimEnd().split('\n');
    expect(lines[0]).toBe(line);
    expect(lines.slice(1).every((l) => l.startsWith('run `tsbpf'))).toBe(true);
  });

  it('an unknown accel subcommand and a bad config file name what is wrong', async () => {
    const sub = await run(['accel', 'speedup']);
    expect(sub.code).toBe(2);
    expect(sub.err).toBe(
      'tsbpf accel: unknown subcommand "speedup"; run tsbpf accel --help for the list\n',
    );
    const cfg = join(dir, 'bad.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(cfg, JSON.stringify({ services: [{ address: '10.0.0.1', port: 0 }] }));
    const bad = await run(['accel', 'enable', '--cgroup', '/tmp', '--config', cfg]);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe(
      `tsbpf accel enable: ${cfg}: services[0]: service port 0 is not a port; use an integer from 1 to 65535\n`,
    );
  });

  it('build writes the object and its listing; the object is what buildSockops returns', async () => {
    const out = join(dir, 'bpf');
    const r = await run(['build', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /sockaccel\.o: \d+ bytes, cilium variant; bpf_sockops \d+ insns, bpf_redir \d+ insns; maps tsbpf_sockhash, tsbpf_endpoints/,
    );
    const built = buildSockops({});
    expect(new Uint8Array(readFileSync(join(out, 'sockaccel.o')))).toEqual(built.elf);
    expect(readFileSync(join(out, 'sockaccel.lst'), 'utf8')).toBe(built.listing);
  });

  it('build passes every buildSockops option through', async () => {
    const out = join(dir, 'opts');
    const r = await run([
      'build',
      '--out',
      out,
      '--name',
      'custom',
      '--variant',
      'minimal',
      '--ipv6',
      'native',
      '--netns-scope',
      '--stats',
      '--pin',
      '--gateway-ip4',
      '10.0.0.1',
      '--gateway-ip6',
      'fd00::1',
      '--map-name',
      'sockhash=my_hash',
      '--program-name',
      'skMsg=my_redir',
      '--size',
      'sockhash=1024',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const expected = buildSockops({
      variant: 'minimal',
      ipv6: 'native',
      netnsScope: true,
      stats: true,
      pin: true,
      gatewayIp4: '10.0.0.1',
      gatewayIp6: 'fd00::1',
      names: { sockhash: 'my_hash' },
      programNames: { skMsg: 'my_redir' },
      sizes: { sockhash: 1024 },
    });
    expect(new Uint8Array(readFileSync(join(out, 'custom.o')))).toEqual(expected.elf);
    const obj = readObject(readFileSync(join(out, 'custom.o')));
    expect(obj.maps.map((m) => [m.name, m.keySize, m.maxEntries, m.pinning])).toEqual([
      ['my_hash', 56, 1024, 'by_name'],
      ['tsbpf_stats', 4, 9, 'by_name'],
    ]);
    expect(existsSync(join(out, 'custom.lst'))).toBe(true);
  });

  it('bench is the benchmark harness: its help, and its usage errors exit 2', async () => {
    const help = await run(['bench', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: tsbpf bench \[--quick\]/);
    const bad = await run(['bench', '--frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^tsbpf bench: unknown bench option --frobnicate/);
  });
});

describe('CLI errors', () => {
  it('map error kinds to exit statuses', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(2);
    expect(exitCodeOf(new AccelError('ERR_CONFIG', 'x'))).toBe(2);
    expect(exitCodeOf(new AccelError('ERR_NOT_CGROUP2', 'x'))).toBe(2);
    expect(exitCodeOf(new AccelError('ERR_PERMISSION', 'x'))).toBe(3);
    expect(exitCodeOf(new AccelError('ERR_UNSUPPORTED', 'x'))).toBe(3);
    expect(exitCodeOf(new AccelError('ERR_CONFLICT', 'x'))).toBe(1);
    expect(exitCodeOf(new BpfError('PROG_LOAD', 1))).toBe(3);
    expect(exitCodeOf(new BpfError('PROG_LOAD', 22))).toBe(1);
    expect(exitCodeOf(new Error('x'))).toBe(1);
  });

  it('print one line, and the stack with causes only with --verbose', () => {
    let err = '';
    const io = {
      stdout: () => {},
      stderr: (t: string) => {
        err += t;
      },
    };
    const e = new AccelError('ERR_STATE', 'first line\nsecond line', {
      cause: new Error('root cause'),
    });
    expect(reportError(io, 'accel enable', e, false)).toBe(1);
    expect(err).toBe('tsbpf accel enable: first line\n(more with --verbose)\n');
    err = '';
    reportError(io, 'accel enable', e, true);
    expect(err).toMatch(
      /^tsbpf accel enable: first line\nsecond line\nAccelError: first line[\s\S]*caused by:\nError: root cause/,
    );
  });
});
