import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainCtxAccess } from '../../src/loader/verifier/ctx-fields.js';
import { diagnoseVerifierLog, type VerifierErrorKind } from '../../src/loader/verifier/hints.js';
import { parseVerifierLog } from '../../src/loader/verifier/log-parser.js';

const LOGS = join(import.meta.dirname, 'logs');
const diagnose = (name: string, headTruncated = false) =>
  diagnoseVerifierLog(
    parseVerifierLog(
      readFileSync(join(LOGS, name), 'utf8'),
      headTruncated ? { headTruncated } : {},
    ),
    { ctxKind: 'sock_ops' },
  );

describe('diagnoseVerifierLog on real 6.18 logs of the broken C programs', () => {
  const cases: [string, VerifierErrorKind, string, string, string?][] = [
    [
      'null_deref',
      'nullable-pointer',
      'map value used without a NULL check',
      'R0 holds the result of a lookup in map `counts`, which is NULL when there is nothing to return; the program reads through it before checking it against 0',
      'R0',
    ],
    [
      'uninit_key',
      'uninitialized-stack',
      'uninitialised stack memory passed to a helper',
      'R2 points at 8 stack bytes at fp-8 passed to bpf_map_lookup_elem, but fp-8..fp-5 were never written (privileged loaders with CAP_PERFMON may read such bytes; this one may not)',
      'R2',
    ],
    [
      'ctx_write',
      'ctx-access',
      'write to a read-only context field',
      'a 4-byte write to sock_ops.remote_ip4, which is read-only (only reply and sk_txhash may be written)',
    ],
    [
      'ctx_wide',
      'ctx-access',
      'context field accessed with the wrong width',
      'an 8-byte read of sock_ops.remote_ip4, which must be accessed 4 bytes at a time',
    ],
    [
      'endless',
      'too-complex',
      'loop the verifier cannot bound',
      'the loop through insn 7 comes back to the same state, so the verifier cannot see it ever end',
    ],
    [
      'ret_range',
      'return-value',
      'return value out of range',
      'at exit R0 has smin=2 smax=2, but this program type must return a value in [0, 1]',
      'R0',
    ],
    [
      'no_ret',
      'return-value',
      'program exits without setting R0',
      'R0 is the return value, and on this path nothing was written to it before exit',
      'R0',
    ],
    [
      'wrong_helper',
      'helper-not-allowed',
      'helper not allowed for this program type',
      'bpf_msg_redirect_hash (helper #71) is not offered to this program type (sock_ops)',
    ],
    [
      'misaligned',
      'misaligned-access',
      'misaligned access',
      'an 8-byte stack access at fp-13 is not aligned to 8 bytes; stack accesses must be aligned to their size on every architecture',
    ],
    [
      'stack_oob',
      'stack-out-of-bounds',
      'stack access out of bounds',
      'R3 points at fp+16 for 8 bytes, outside the stack frame (the 512 bytes fp-512..fp-1 below r10)',
      'R3',
    ],
    [
      'scalar_deref',
      'scalar-dereference',
      'a number used as a pointer',
      'R1 holds a plain number (R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))), not a pointer the verifier can check, and the program dereferences it',
      'R1',
    ],
    [
      'leak',
      'unreleased-reference',
      'reference not released before exit',
      'the reference (id 2) taken at insn 5 (bpf_ringbuf_reserve) is still held when the program exits; every path must release it with bpf_ringbuf_submit or bpf_ringbuf_discard',
    ],
  ];
  for (const [name, kind, title, explanation, register] of cases) {
    for (const level of [1, 2]) {
      it(`${name} (level ${level}) is ${kind}: ${title}`, () => {
        const d = diagnose(`${name}.level${level}.log`);
        expect(d?.kind).toBe(kind);
        expect(d?.title).toBe(title);
        expect(d?.explanation).toBe(explanation);
        expect(d?.register).toBe(register);
        expect(d?.hint.length).toBeGreaterThan(40);
      });
    }
  }

  it('points a leak at the instruction that took the reference, and a loop at its head', () => {
    expect(diagnose('leak.level1.log')?.relatedInsn).toEqual({
      index: 5,
      role: 'reference 2 acquired by bpf_ringbuf_reserve',
    });
    expect(diagnose('endless.level1.log')?.relatedInsn).toEqual({ index: 7, role: 'loop head' });
  });

  it('explains the complexity limit from the tail of a rotated log', () => {
    const d = diagnose('too_complex.level1.tail.log', true);
    expect(d?.kind).toBe('too-complex');
    expect(d?.title).toBe('program too complex for the verifier');
    expect(d?.explanation).toContain('walked 1000001 instructions');
  });

  it('has no diagnosis for a log without an error', () => {
    expect(diagnose('pass-sockmap-bpf_redir.level2.log')).toBeUndefined();
  });
});

describe('diagnoseVerifierLog on kernel messages of other versions and paths', () => {
  const one = (line: string, insn = '0: (95) exit') =>
    diagnoseVerifierLog(parseVerifierLog(`${insn}\n${line}\n`), { ctxKind: 'sk_msg' });

  it.each([
    // (kernel message, kind, title) as printed by kernel/bpf/verifier.c, 4.x–6.18
    ["R1 invalid mem access 'inv'", 'scalar-dereference', 'a number used as a pointer'],
    [
      "R6 invalid mem access 'ptr_or_null_'",
      'nullable-pointer',
      'pointer used without a NULL check',
    ],
    [
      'R2 type=map_value_or_null expected=fp',
      'nullable-pointer',
      'map value used without a NULL check',
    ],
    ['R1 type=scalar expected=ctx', 'scalar-dereference', 'a number used as a pointer'],
    [
      'invalid indirect read from stack R2 off -16+4 size 8',
      'uninitialized-stack',
      'uninitialised stack memory passed to a helper',
    ],
    ['invalid read from stack off -8+0 size 8', 'uninitialized-stack', 'uninitialised stack read'],
    ['invalid stack off=-520 size=8', 'stack-out-of-bounds', 'stack access out of bounds'],
    [
      'invalid variable-offset write to stack R2 var_off=(0x0; 0x1f8) off=-8 size=8',
      'stack-out-of-bounds',
      'stack access out of bounds',
    ],
    [
      'combined stack size of 3 calls is 544. Too large',
      'stack-out-of-bounds',
      'stack access out of bounds',
    ],
    ['dereference of modified ctx ptr R1 off=4 disallowed', 'ctx-access', 'invalid context access'],
    ['back-edge from insn 9 to 4', 'too-complex', 'loop the verifier cannot bound'],
    [
      'The sequence of 8193 jumps is too complex.',
      'too-complex',
      'program too complex for the verifier',
    ],
    [
      'unknown func bpf_msg_redirect_hash#71',
      'helper-not-allowed',
      'helper not allowed for this program type',
    ],
    [
      'invalid func unknown#195896080',
      'helper-not-allowed',
      'helper not allowed for this program type',
    ],
    [
      'cannot call GPL-restricted function from non-GPL compatible program',
      'helper-not-allowed',
      'GPL-only helper in a non-GPL program',
    ],
    ['misaligned packet access off 2+0+0 size 4', 'misaligned-access', 'misaligned access'],
    ['R3 !read_ok', 'uninitialized-register', 'register read before it was written'],
    [
      'At program exit the register R0 has value (0x2; 0x0) should have been in (0x0; 0x1)',
      'return-value',
      'return value out of range',
    ],
    ['some message no pattern knows', 'other', 'rejected by the verifier'],
  ] as const)('%s → %s', (line, kind, title) => {
    const d = one(line);
    expect(d?.kind).toBe(kind);
    expect(d?.title).toBe(title);
    expect(d?.errorLine).toBe(line);
  });

  it('names the loop head of a back-edge', () => {
    expect(one('back-edge from insn 9 to 4')?.relatedInsn).toEqual({ index: 4, role: 'loop head' });
  });

  it('tells R0 read before being written from R0 unset at exit by the failing instruction', () => {
    expect(one('R0 !read_ok', '3: (bf) r1 = r0')?.title).toBe('R0 read before it was written');
  });

  it('uses the reason and suggestion of the structured report when no pattern knows the error', () => {
    const d = diagnoseVerifierLog(
      parseVerifierLog(
        [
          '0: (95) exit',
          'Verification failed: Something New: Unheard of',
          'Reason:',
          '  the reason',
          'Suggestion:',
          '  the suggestion',
        ].join('\n'),
      ),
    );
    expect(d).toMatchObject({ kind: 'other', explanation: 'the reason', hint: 'the suggestion' });
  });
});

describe('explainCtxAccess names the sock_ops and sk_msg fields', () => {
  it('explains reads too wide, misplaced and beyond the struct', () => {
    expect(explainCtxAccess('sock_ops', 64, 2, false)).toMatchObject({
      problem: 'width',
      field: { name: 'remote_port' },
      text: 'a 2-byte read of sock_ops.remote_port, which must be accessed 4 bytes at a time',
    });
    expect(explainCtxAccess('sk_msg', 32, 4, false).problem).not.toBe('width');
    expect(explainCtxAccess('sk_msg', 34, 2, false).text).toBe(
      'a 2-byte read of sk_msg.remote_ip6 + 6, which must be accessed 4 bytes at a time',
    );
    expect(explainCtxAccess('sk_msg', 80, 4, false)).toMatchObject({ problem: 'beyond-end' });
    expect(explainCtxAccess('sock_ops', 168, 4, false).text).toBe(
      'a 4-byte read of sock_ops.bytes_received, which must be accessed 8 bytes at a time',
    );
  });

  it('explains writes to read-only fields, and knows the writable ones', () => {
    expect(explainCtxAccess('sk_msg', 16, 4, true).text).toBe(
      'a 4-byte write to sk_msg.family, which is read-only (every field of struct sk_msg_md is read-only)',
    );
    expect(explainCtxAccess('sock_ops', 8, 4, true).text).toBe(
      'a 4-byte write to sock_ops.args[1], which is read-only (only reply and sk_txhash may be written)',
    );
    expect(explainCtxAccess('sock_ops', 4, 4, true).problem).not.toBe('read-only');
    expect(explainCtxAccess('sock_ops', 164, 4, true).problem).not.toBe('read-only');
  });

  it('accepts narrow loads of skb_tcp_flags only', () => {
    expect(explainCtxAccess('sock_ops', 212, 1, false).problem).not.toBe('width');
    expect(explainCtxAccess('sock_ops', 208, 1, false).problem).toBe('width');
  });
});

describe('stack reads an unprivileged loader may not make', () => {
  const one = (line: string) => diagnoseVerifierLog(parseVerifierLog(`0: (95) exit\n${line}\n`));

  it('tells a read of never-written stack inside the frame from one outside the frame', () => {
    // 6.18 without CAP_PERFMON, `r0 = *(u64 *)(r10 -16)` with nothing written (captured by
    // test/kernel/verifier-cases.test.ts, uninit-stack-read).
    expect(one('invalid read from stack R10 off=-16 size=8')).toMatchObject({
      kind: 'uninitialized-stack',
      title: 'uninitialised stack read',
      register: 'R10',
    });
    expect(one('invalid indirect access to stack R2 off=-8 size=8')?.title).toBe(
      'uninitialised stack memory passed to a helper',
    );
    expect(one('invalid read from stack R10 off=-520 size=8')?.kind).toBe('stack-out-of-bounds');
    expect(one('invalid read from stack R10 off=-4 size=8')?.kind).toBe('stack-out-of-bounds');
    expect(one('invalid write to stack R10 off=-16 size=8')?.kind).toBe('stack-out-of-bounds');
  });
});

describe('ctx hints name the field the program got wrong', () => {
  const ctx = (line: string, insn: string, ctxKind: 'sock_ops' | 'sk_msg') =>
    diagnoseVerifierLog(parseVerifierLog(`0: R1=ctx() R10=fp0\n${insn}\n${line}\n`), { ctxKind });

  it('shows loadPort for a port read with the wrong width, load for other fields', () => {
    expect(
      ctx('invalid bpf_context access off=60 size=2', '0: (69) r2 = *(u16 *)(r1 +60)', 'sk_msg')
        ?.hint,
    ).toContain("`b.ctx.loadPort(r2, 'remote_port', 'network')`");
    expect(
      ctx('invalid bpf_context access off=24 size=8', '0: (79) r1 = *(u64 *)(r1 +24)', 'sock_ops')
        ?.hint,
    ).toContain("`b.ctx.load(r2, 'remote_ip4')`");
  });
});
