import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseVerifyArgs, runVerify } from '../../src/cli/verify.js';
import { BpfCmd } from '../../src/loader/constants.js';
import { FakeKernel } from '../loader/fake-kernel.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const LOGS = join(import.meta.dirname, 'logs');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

describe('tsbpf verify arguments', () => {
  it('reads the file, the log level and --json', () => {
    expect(parseVerifyArgs(['x.o'])).toEqual({ file: 'x.o', logLevel: 1, json: false });
    expect(parseVerifyArgs(['--log-level', '2', 'x.o', '--json'])).toEqual({
      file: 'x.o',
      logLevel: 2,
      json: true,
    });
  });

  it('refuses a missing file, two files and log levels other than 1 and 2 with exit 2', () => {
    for (const args of [[], ['a.o', 'b.o'], ['a.o', '--log-level', '3']]) {
      const c = capture();
      expect(runVerify(args, c.io, { sys: new FakeKernel() })).toBe(2);
      expect(c.stderr()).toContain('usage: tsbpf verify FILE.o [--log-level 1|2] [--json]');
    }
  });

  it('is listed and dispatched by the tsbpf command', async () => {
    const c = capture();
    expect(await main(['--help'], c.io)).toBe(0);
    expect(c.stdout()).toContain('verify FILE.o [--log-level 1|2] [--json]');
  });
});

describe('tsbpf verify through a fake kernel', () => {
  it('prints ok with the stats for programs that pass and exits 0', () => {
    const sys = new FakeKernel();
    sys.successLog = readFileSync(join(LOGS, 'pass-sockmap-bpf_sockops.level2.log'), 'utf8');
    const c = capture();
    const code = runVerify([join(FIXTURES, 'clang', 'sockmap.o')], c.io, {
      sys,
      checkSupport: false,
    });
    expect(c.stderr()).toBe('');
    expect(code).toBe(0);
    expect(c.stdout().split('\n')).toEqual([
      expect.stringMatching(
        /^ok {4}bpf_sockops \(sockops\): 29 insns, processed 29 insns \(limit 1000000\), 1 states \(peak 1\), \d+ usec, stack 24 bytes$/,
      ),
      expect.stringMatching(/^ok {4}bpf_redir \(sk_msg\): 21 insns, /),
      expect.stringMatching(/sockmap\.o: all 2 program\(s\) passed the verifier$/),
      '',
    ]);
    // Every load asked for a log with the stats bit (level 1 | 4).
    const loads = sys.callsOf(BpfCmd.PROG_LOAD);
    expect(loads.length).toBe(2);
    for (const call of loads) expect(new DataView(call.attr.buffer).getUint32(24, true)).toBe(5);
  });

  it('explains a rejection at the C source line from the object line_info and exits 1', () => {
    const sys = new FakeKernel();
    sys.failNext(BpfCmd.PROG_LOAD, {
      errno: 13,
      log: readFileSync(join(LOGS, 'null_deref.level1.log'), 'utf8'),
    });
    const c = capture();
    const code = runVerify([join(FIXTURES, 'verifier', 'null_deref.o')], c.io, {
      sys,
      checkSupport: false,
    });
    expect(code).toBe(1);
    const out = c.stdout();
    expect(out).toContain('FAIL  count_ops (sockops)');
    expect(out).toContain('    --> ./null_deref.c:18:9');
    expect(out).toContain('    > 18 | \t*value += 1;');
    expect(out).toContain('        R0=map_value_or_null(id=1,map=counts,ks=4,vs=8)');
    expect(out).toContain('null_deref.o: 1 of 1 program(s) rejected');
  });

  it('gives the same facts as JSON', () => {
    const sys = new FakeKernel();
    sys.failNext(BpfCmd.PROG_LOAD, {
      errno: 13,
      log: readFileSync(join(LOGS, 'ctx_write.level2.log'), 'utf8'),
    });
    const c = capture();
    expect(
      runVerify([join(FIXTURES, 'verifier', 'ctx_write.o'), '--json'], c.io, {
        sys,
        checkSupport: false,
      }),
    ).toBe(1);
    const report = JSON.parse(c.stdout());
    expect(report.ok).toBe(false);
    expect(report.programs[0]).toMatchObject({
      program: 'rewrite_peer',
      section: 'sockops',
      ok: false,
      stats: { processedInsns: 2, stackDepth: [0] },
      rejection: {
        kind: 'ctx-access',
        title: 'write to a read-only context field',
        explanation:
          'a 4-byte write to sock_ops.remote_ip4, which is read-only (only reply and sk_txhash may be written)',
        insn: { index: 1, text: '*(u32 *)(r1 +24) = r2' },
        location: { file: './ctx_write.c', line: 8, column: 20 },
        registers: { R1: 'ctx()', R2: '0x100007f' },
        errorLines: ['invalid bpf_context access off=24 size=4'],
      },
    });
  });

  it('reports a failure that is not the verifier (no privileges) and exits 1', () => {
    const sys = new FakeKernel();
    sys.failNext(BpfCmd.PROG_LOAD, { errno: 1, times: 5 });
    const c = capture();
    expect(
      runVerify([join(FIXTURES, 'verifier', 'no_ret.o')], c.io, { sys, checkSupport: false }),
    ).toBe(1);
    expect(c.stdout()).toContain('FAIL  no_return (sockops)');
    expect(c.stdout()).toContain('EPERM');
  });

  it('says which file it cannot read', () => {
    const c = capture();
    expect(runVerify(['/nonexistent/x.o'], c.io, { sys: new FakeKernel() })).toBe(1);
    expect(c.stderr()).toMatch(/^tsbpf verify: cannot read object \/nonexistent\/x\.o: ENOENT/);
  });
});
