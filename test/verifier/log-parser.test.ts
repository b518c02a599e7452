import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseVerifierLog,
  sourceForInsn,
  stateBeforeInsn,
} from '../../src/loader/verifier/log-parser.js';
import { formatVerifierState } from '../../src/loader/verifier/register-state.js';

const LOGS = join(import.meta.dirname, 'logs');
const readLog = (name: string) => readFileSync(join(LOGS, name), 'utf8');

/** What each captured log (kernel 6.18, test/fixtures/verifier/capture-logs.sh) must yield. */
const EXPECTED: Record<
  string,
  { error: string[]; insn: number; text: string; source?: string; processed: number }
> = {
  null_deref: {
    error: ["R0 invalid mem access 'map_value_or_null'"],
    insn: 7,
    text: 'r1 = *(u64 *)(r0 +0)',
    source: '*value += 1;',
    processed: 7,
  },
  uninit_key: {
    error: ['invalid read from stack R2 off -8+0 size 8'],
    insn: 6,
    text: 'call bpf_map_lookup_elem#1',
    source: '__u64 *value = bpf_map_lookup_elem(&pairs, &key);',
    processed: 6,
  },
  ctx_write: {
    error: ['invalid bpf_context access off=24 size=4'],
    insn: 1,
    text: '*(u32 *)(r1 +24) = r2',
    source: 'skops->remote_ip4 = 0x0100007f;',
    processed: 2,
  },
  ctx_wide: {
    error: ['invalid bpf_context access off=24 size=8'],
    insn: 0,
    text: 'r1 = *(u64 *)(r1 +24)',
    processed: 1,
  },
  ret_range: {
    error: ['At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]'],
    insn: 4,
    text: 'exit',
    processed: 6,
  },
  no_ret: { error: ['R0 !read_ok'], insn: 0, text: 'exit', processed: 1 },
  wrong_helper: {
    error: ['program of this type cannot use helper bpf_msg_redirect_hash#71'],
    insn: 7,
    text: 'call bpf_msg_redirect_hash#71',
    processed: 7,
  },
  misaligned: {
    error: ['misaligned stack access off 0+-13+0 size 8'],
    insn: 8,
    text: '*(u64 *)(r3 +0) = r1',
    processed: 9,
  },
  stack_oob: {
    error: ['invalid write to stack R3 off=16 size=8'],
    insn: 8,
    text: '*(u64 *)(r3 +0) = r1',
    processed: 9,
  },
  scalar_deref: {
    error: ["R1 invalid mem access 'scalar'"],
    insn: 1,
    text: 'r1 = *(u32 *)(r1 +0)',
    source: 'return *p == 1;',
    processed: 2,
  },
  endless: {
    error: ['infinite loop detected at insn 7'],
    insn: 10,
    text: 'goto pc-4',
    processed: 16,
  },
  leak: {
    error: [
      'Unreleased reference id=2 alloc_insn=5',
      'BPF_EXIT instruction in main prog would lead to reference leak',
    ],
    insn: 10,
    text: 'exit',
    processed: 10,
  },
};

describe('parseVerifierLog on real 6.18 logs', () => {
  for (const [name, want] of Object.entries(EXPECTED)) {
    for (const level of [1, 2]) {
      it(`${name} (level ${level}): error lines, failing instruction and stats`, () => {
        const log = parseVerifierLog(readLog(`${name}.level${level}.log`));
        expect(log.errorLines).toEqual(want.error);
        expect(log.failingInsn?.index).toBe(want.insn);
        expect(log.failingInsn?.text).toBe(want.text);
        expect(log.stats.processedInsns).toBe(want.processed);
        expect(log.stats.insnLimit).toBe(1_000_000);
        if (want.source !== undefined) {
          expect(sourceForInsn(log, want.insn)?.text).toBe(want.source);
        }
        // Level 2 loads in capture-logs.sh also set the stats bit (4).
        if (level === 2) {
          expect(log.stats.verificationTimeUsec).toBeGreaterThan(0);
          expect(log.stats.stackDepth?.length).toBe(1);
        } else {
          expect(log.stats.verificationTimeUsec).toBeUndefined();
        }
      });
    }
  }

  it('reads every instruction line with index, opcode, text and the registers it touched', () => {
    const log = parseVerifierLog(readLog('null_deref.level1.log'));
    expect(log.instructions.map((i) => i.index)).toEqual([0, 1, 2, 3, 4, 6, 7]);
    const call = log.instructions.find((i) => i.index === 6);
    expect(call).toMatchObject({ opcode: 0x85, text: 'call bpf_map_lookup_elem#1' });
    expect(call?.state?.registers[0]).toMatchObject({
      name: 'R0',
      value: { type: 'map_value_or_null', fields: { id: '1', map: 'counts', ks: '4', vs: '8' } },
    });
    const store = log.instructions.find((i) => i.index === 1);
    expect(store?.state?.stack).toEqual([{ offset: -8, text: 'mmmm????', bytes: 'mmmm????' }]);
  });

  it('reads `; source @ file:line` lines, including the empty line-0 records clang emits', () => {
    const log = parseVerifierLog(readLog('null_deref.level1.log'));
    expect(log.sourceLines.map((s) => [s.text, s.file, s.sourceLine])).toEqual([
      ['__u32 key = skops->op;', 'null_deref.c', 15],
      ['', 'null_deref.c', 0],
      ['__u64 *value = bpf_map_lookup_elem(&counts, &key);', 'null_deref.c', 16],
      ['*value += 1;', 'null_deref.c', 18],
    ]);
  });

  it('splits the level-1 state printed after a jump onto the jump line', () => {
    const log = parseVerifierLog(readLog('ret_range.level1.log'));
    const jump = log.instructions.find((i) => i.index === 2);
    expect(jump?.text).toBe('if r1 == 0x2 goto pc+1');
    const target = log.entries.find((e) => e.kind === 'state' && e.index === 4);
    expect(target?.kind === 'state' && formatVerifierState(target.state)).toBe('R0=2 R1=2 R10=fp0');
  });

  it('reads the `from X to Y:` branch headers of level 2', () => {
    const log = parseVerifierLog(readLog('ret_range.level2.log'));
    expect(log.branches).toHaveLength(1);
    expect(log.branches[0]).toMatchObject({ from: 2, to: 4, speculative: false });
    const state = log.branches[0]?.state;
    expect(state && formatVerifierState(state)).toBe('R0=2 R1=2 R10=fp0');
  });

  it('replays the register state the verifier had at the failing instruction', () => {
    const log = parseVerifierLog(readLog('null_deref.level2.log'));
    const state = log.failingInsn && stateBeforeInsn(log, log.failingInsn);
    expect(state && formatVerifierState(state)).toBe(
      // R1-R5 are gone: the helper call before the failing load clobbered them.
      'R0=map_value_or_null(id=1,map=counts,ks=4,vs=8) R10=fp0 fp-8=mmmm????',
    );
  });

  it('forgets R1-R5 after a helper call when replaying state', () => {
    const log = parseVerifierLog(readLog('leak.level1.log'));
    const state = log.failingInsn && stateBeforeInsn(log, log.failingInsn);
    expect(state?.registers.map((r) => r.name)).toEqual(['R0', 'R1', 'R6', 'R10']);
    expect(state?.refs).toEqual([2]);
  });

  it('finds no error in the log of a program that passed, and reads its stats', () => {
    const log = parseVerifierLog(readLog('pass-loop-sum_msg.level2.log'));
    expect(log.errorLines).toEqual([]);
    expect(log.failingInsn).toBeUndefined();
    expect(log.stats).toMatchObject({
      processedInsns: 32,
      totalStates: 2,
      peakStates: 2,
      maxStatesPerInsn: 0,
      markRead: 0,
      stackDepth: [8, 0],
    });
    expect(
      log.entries.filter((e) => e.kind === 'func').map((e) => e.kind === 'func' && e.start),
    ).toEqual([0, 17]);
    // Subprogram states are printed with a frame prefix.
    const inCallee = log.instructions.find((i) => i.index === 17);
    expect(inCallee?.state?.frame).toBe(1);
  });

  it('reads the level-2 liveness table rows apart from the instructions walked', () => {
    const log = parseVerifierLog(readLog('endless.level2.log'));
    const live = log.entries.filter((e) => e.kind === 'live');
    expect(live).toHaveLength(13);
    expect(live[7]).toMatchObject({ index: 7, live: '..........', text: 'r1 = *(u32 *)(r10 -4)' });
    expect(log.instructions[0]?.index).toBe(0);
  });

  it('reads the error and stats from the tail of a 90 MB log (complexity limit)', () => {
    const log = parseVerifierLog(readLog('too_complex.level1.tail.log'), { headTruncated: true });
    expect(log.errorLines).toEqual(['BPF program is too large. Processed 1000001 insn']);
    expect(log.stats).toMatchObject({
      processedInsns: 1_000_001,
      maxStatesPerInsn: 4,
      totalStates: 11112,
      peakStates: 11112,
    });
    expect(log.entries[0]).toMatchObject({ kind: 'note', category: 'fragment' });
  });

  it('reads the older one-line stats of kernels before 5.2', () => {
    const log = parseVerifierLog(
      '0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 131072), stack depth 0\n',
    );
    expect(log.errorLines).toEqual(['R0 !read_ok']);
    expect(log.stats).toMatchObject({ processedInsns: 1, insnLimit: 131072, stackDepth: [0] });
  });

  it('treats a log without instructions (a load-time check) as all error', () => {
    const log = parseVerifierLog('missing bpf_line_info for func#0\n');
    expect(log.errorLines).toEqual(['missing bpf_line_info for func#0']);
    expect(log.failingInsn).toBeUndefined();
  });

  it('stops at the NUL the kernel writes after the log', () => {
    const log = parseVerifierLog('0: (95) exit\nR0 !read_ok\n\0garbage after the terminator');
    expect(log.errorLines).toEqual(['R0 !read_ok']);
  });
});

describe('the structured report of newer kernels', () => {
  // As printed by Linux with commit ce7c9f6c599b (quoted in cilium/ebpf#2111).
  const REPORTED = [
    '0: R1=ctx() R10=fp0',
    '0: (95) exit',
    'R0 !read_ok',
    '',
    'Verification failed: Register Type Safety: Unreadable register',
    '',
    'Reason:',
    '  R0 has never been initialized on this path, so the verifier cannot use it as an input.',
    '',
    'At:',
    '  insn 0',
    '        | ^-- error: R0 is not readable',
    '  Instruction context:',
    '  >>> 0 | (95) exit',
    '',
    'Causal path:',
    '  no retained diagnostic events on this path',
    '',
    'Suggestion:',
    '  Initialize R0 on every path before this instruction.',
    '',
    'processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
  ].join('\n');

  it('reads category, title, reason, suggestion and the instruction', () => {
    const log = parseVerifierLog(REPORTED);
    expect(log.report).toMatchObject({
      category: 'Register Type Safety',
      title: 'Unreadable register',
      reason:
        'R0 has never been initialized on this path, so the verifier cannot use it as an input.',
      suggestion: 'Initialize R0 on every path before this instruction.',
      insn: 0,
    });
    expect(log.report?.sections.map((s) => s.name)).toEqual([
      'Reason',
      'At',
      'Causal path',
      'Suggestion',
    ]);
  });

  it('keeps the classic error line and the stats apart from the report', () => {
    const log = parseVerifierLog(REPORTED);
    expect(log.errorLines).toEqual(['R0 !read_ok']);
    expect(log.failingInsn?.index).toBe(0);
    expect(log.stats.processedInsns).toBe(1);
    // The report's instruction context line is not an instruction the verifier walked.
    expect(log.instructions).toHaveLength(1);
  });
});

const ALL_LOGS = readdirSync(LOGS).filter((f) => f.endsWith('.log') && !f.includes('tail'));

describe('parseVerifierLog is total (property tests)', () => {
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const log = parseVerifierLog(text);
        for (const line of log.errorLines) expect(text).toContain(line);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on lines built from verifier-like fragments', () => {
    const fragment = fc.constantFrom(
      '0: ',
      '(79) ',
      'r1 = *(u64 *)(r0 +0)',
      '; ',
      ' @ x.c:3',
      'R0=',
      'scalar(',
      'smin=umin=',
      ')',
      'fp-8=',
      '????',
      'from 3 to 5: ',
      'frame1: ',
      'processed ',
      '12 insns (limit ',
      'Verification failed: ',
      'Reason:',
      '  ',
      '\n',
      'verification time ',
      'stack depth 8+',
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 60 }), (parts) => {
        const text = parts.join('');
        const log = parseVerifierLog(text);
        expect(log.entries.length).toBeLessThanOrEqual(text.split('\n').length * 2);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on real logs with characters deleted, inserted or lines swapped', () => {
    const logs = ALL_LOGS.map(readLog);
    fc.assert(
      fc.property(
        fc.nat(logs.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(8), fc.string({ maxLength: 8 })), { maxLength: 8 }),
        (which, edits) => {
          let text = logs[which] ?? '';
          for (const [at, del, ins] of edits) {
            const p = at % (text.length + 1);
            text = text.slice(0, p) + ins + text.slice(p + del);
          }
          const log = parseVerifierLog(text);
          expect(Array.isArray(log.errorLines)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a log cut anywhere before the failing instruction still yields it, the error and stats', () => {
    const logs = ALL_LOGS.map((name) => ({ name, text: readLog(name) })).filter(
      ({ text }) => parseVerifierLog(text).failingInsn !== undefined,
    );
    fc.assert(
      fc.property(
        fc.nat(logs.length - 1),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (which, f) => {
          const { text } = logs[which] ?? { text: '' };
          const full = parseVerifierLog(text);
          const lines = text.split('\n');
          // A rotating buffer keeps a tail that starts mid-line; the first kept line is a fragment,
          // so keep at least the whole line before the failing instruction.
          const failingLine = full.failingInsn?.line ?? 0;
          const bound = lines.slice(0, Math.max(0, failingLine - 1)).join('\n').length;
          const cut = Math.floor(f * bound);
          const tail = parseVerifierLog(text.slice(cut), { headTruncated: true });
          expect(tail.errorLines).toEqual(full.errorLines);
          expect(tail.stats).toEqual(full.stats);
          expect(tail.failingInsn?.index).toBe(full.failingInsn?.index);
          expect(tail.failingInsn?.text).toBe(full.failingInsn?.text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
