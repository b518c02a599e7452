import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainVerifierError, explainVerifierLog } from '../../src/loader/verifier/explain.js';
import type { LineInfoRecord } from '../../src/loader/verifier/source-map.js';

const LOGS = join(import.meta.dirname, 'logs');
const readLog = (name: string) => readFileSync(join(LOGS, name), 'utf8');

// line_info as a DSL object would carry it for null_deref's instructions (slot numbering).
const LINE_INFO: LineInfoRecord[] = [
  { insn: 0, file: 'src/prog.ts', line: 4, col: 3, text: '  b.ctx.load(r1, "op");' },
  { insn: 4, file: 'src/prog.ts', line: 5, col: 3, text: '  b.lookup(counts, r2);' },
  { insn: 7, file: 'src/prog.ts', line: 6, col: 5, text: '  b.load64(r1, r0, 0);' },
];
const SOURCE = [
  'import { program } from "tsbpf";',
  'export default program("sockops", (b) => {',
  '  // count ops',
  '  b.ctx.load(r1, "op");',
  '  b.lookup(counts, r2);',
  '  b.load64(r1, r0, 0);',
  '  b.exit(1);',
  '});',
].join('\n');

describe('explainVerifierLog', () => {
  const explained = explainVerifierLog(readLog('null_deref.level1.log'), {
    lineInfo: LINE_INFO,
    programName: 'count_ops',
    errno: 'EACCES',
    section: 'sockops',
    roots: ['/proj'],
    readFile: (p) => (p === '/proj/src/prog.ts' ? SOURCE : undefined),
  });

  it('summarises as file:line:col: error — title: hint, from the program line_info', () => {
    expect(explained.summary).toBe(
      `src/prog.ts:6:5: R0 invalid mem access 'map_value_or_null' — map value used without a NULL check: ${explained.diagnosis?.hint}`,
    );
    expect(explained.at?.location).toEqual({
      file: 'src/prog.ts',
      line: 6,
      column: 5,
      text: '  b.load64(r1, r0, 0);',
    });
    expect(explained.at?.path).toBe('/proj/src/prog.ts');
  });

  it('prints a code frame, the failing instruction with the registers it uses, why and the hint', () => {
    const lines = explained.text.split('\n');
    expect(lines.slice(0, 9)).toEqual([
      'error: program count_ops rejected by the verifier (EACCES): map value used without a NULL check',
      '  --> src/prog.ts:6:5',
      '    4 |   b.ctx.load(r1, "op");',
      '    5 |   b.lookup(counts, r2);',
      '  > 6 |   b.load64(r1, r0, 0);',
      '      |     ^',
      '    7 |   b.exit(1);',
      '    8 | });',
      "  = verifier: R0 invalid mem access 'map_value_or_null'",
    ]);
    expect(lines).toContain('  = insn 7: r1 = *(u64 *)(r0 +0)');
    expect(lines).toContain('      R0=map_value_or_null(id=1,map=counts,ks=4,vs=8)');
    expect(
      lines.some((l) => l.startsWith('  = why: R0 holds the result of a lookup in map `counts`')),
    ).toBe(true);
    expect(lines.some((l) => l.startsWith('  = hint: check the lookup result against 0'))).toBe(
      true,
    );
    expect(lines.at(-1)).toBe('  = stats: processed 7 insns (limit 1000000), 0 states (peak 0)');
  });

  it('shows the stack slots a pointer argument points into', () => {
    const e = explainVerifierLog(readLog('uninit_key.level1.log'));
    expect(e.registers.map((r) => r.name)).toEqual(['R1', 'R2']);
    expect(e.stackSlots.map((s) => `fp${s.offset}=${s.text}`)).toEqual(['fp-8=mmmm????']);
  });

  it('falls back to the `; source @ file:line` lines of the log without line_info', () => {
    const e = explainVerifierLog(readLog('scalar_deref.level1.log'), { roots: ['/nonexistent'] });
    expect(e.at?.location).toEqual({
      file: 'scalar_deref.c',
      line: 10,
      column: 0,
      text: 'return *p == 1;',
    });
    expect(
      e.summary.startsWith(
        "scalar_deref.c:10: R1 invalid mem access 'scalar' — a number used as a pointer:",
      ),
    ).toBe(true);
  });

  it('locates the related instruction of a leak (where the reference was taken)', () => {
    const e = explainVerifierLog(readLog('leak.level1.log'), { roots: ['/nonexistent'] });
    expect(e.related).toMatchObject({ index: 5, location: { file: 'leak.c', line: 15 } });
    expect(e.text).toContain(
      '  = note: reference 2 acquired by bpf_ringbuf_reserve at insn 5 (leak.c:15)',
    );
  });

  it('explains a huge log from its tail, quickly, and says so', () => {
    const tail = readLog('too_complex.level1.tail.log');
    const filler = '4: (61) r3 = *(u32 *)(r10 -4)         ; R3=scalar() R10=fp0 fp-8=mmmm????\n';
    const huge = `0: R1=ctx() R10=fp0\n${filler.repeat(40_000)}${tail}`;
    const started = performance.now();
    const e = explainVerifierLog(huge, { maxLogChars: 64 * 1024 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(e.diagnosis?.kind).toBe('too-complex');
    expect(e.log.stats.processedInsns).toBe(1_000_001);
    expect(e.text.split('\n').at(-1)).toBe(
      `  = log: ${huge.length} characters; explained from its last 65536`,
    );
  });

  it('says plainly that a log without an error has none', () => {
    const e = explainVerifierLog(readLog('pass-sockmap-bpf_redir.level2.log'));
    expect(e.diagnosis).toBeUndefined();
    expect(e.summary).toBe('(no error in the log)');
  });
});

describe('explainVerifierError', () => {
  it('reads the log, program name, errno, line_info and program type of a loader VerifierError', () => {
    const e = explainVerifierError({
      log: readLog('ctx_wide.level1.log'),
      progName: 'wide_read',
      errno: 'EACCES',
      progType: 13,
      lineInfo: [{ insn: 0, file: 'w.ts', line: 3, col: 7, text: 'b.ldx64(r1, r1, 24);' }],
    });
    expect(e.summary.split(' — ')[0]).toBe('w.ts:3:7: invalid bpf_context access off=24 size=8');
    expect(e.diagnosis?.explanation).toBe(
      'an 8-byte read of sock_ops.remote_ip4, which must be accessed 4 bytes at a time',
    );
    expect(e.text.split('\n')[0]).toBe(
      'error: program wide_read rejected by the verifier (EACCES): context field accessed with the wrong width',
    );
  });
});

describe('the loader VerifierError', () => {
  it('explains itself in its message, naming ctx fields from its program type', async () => {
    const { VerifierError } = await import('../../src/loader/errors.js');
    const err = new VerifierError({
      progName: 'rewrite_peer',
      errno: 13,
      log: readLog('ctx_write.level1.log'),
      insnCount: 3,
      progType: 13,
      lineInfo: [{ insn: 0, file: 'p.ts', line: 2, col: 3, text: 'b.stx("w", r1, 24, r2);' }],
    });
    expect(err.explanation.diagnosis?.explanation).toBe(
      'a 4-byte write to sock_ops.remote_ip4, which is read-only (only reply and sk_txhash may be written)',
    );
    const lines = err.message.split('\n');
    expect(lines[0]).toMatch(
      /^the verifier rejected program rewrite_peer at instruction 1 \(EACCES\)/,
    );
    expect(lines[1]).toBe('  --> p.ts:2:3');
    expect(err.message).toContain(
      '  = why: a 4-byte write to sock_ops.remote_ip4, which is read-only',
    );
  });
});
