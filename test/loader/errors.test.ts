/** Error mapping: errno numbers to names, (command, errno) to actionable messages, verifier logs. */
import fc from 'fast-check';
import { match, P } from 'ts-pattern';
import { describe, expect, it } from 'vitest';
import { BpfCmd, type BpfCommandName } from '../../src/loader/constants.js';
import {
  BpfError,
  Errno,
  errnoName,
  explainBpfFailure,
  failingInsnIndex,
  VerifierError,
  verifierSummary,
} from '../../src/loader/errors.js';

const commands = Object.keys(BpfCmd) as BpfCommandName[];

describe('errno names', () => {
  it('names every errno in the table and round-trips through it', () => {
    for (const [name, n] of Object.entries(Errno)) expect(errnoName(n)).toBe(name);
  });

  it('names the kernel-internal ENOTSUPP 524 and prints unknown numbers as E<n>', () => {
    expect(errnoName(524)).toBe('ENOTSUPP');
    expect(errnoName(1234)).toBe('E1234');
  });
});

describe('explainBpfFailure', () => {
  it('tells an EPERM caller which privileges are missing, for every command', () => {
    for (const c of commands) {
      expect(explainBpfFailure(c, 'EPERM')).toMatch(/root.*CAP_BPF.*CAP_NET_ADMIN/);
    }
  });

  it('names kernel.unprivileged_bpf_disabled when it is what refuses an unprivileged caller', () => {
    expect(explainBpfFailure('MAP_CREATE', 'EPERM', { unprivilegedBpfDisabled: 2 })).toMatch(
      /not root and kernel\.unprivileged_bpf_disabled is 2: the kernel refuses bpf\(2\) to unprivileged users/,
    );
    expect(explainBpfFailure('MAP_CREATE', 'EPERM', { unprivilegedBpfDisabled: 0 })).not.toMatch(
      /is 0/,
    );
  });

  it('maps the documented (command, errno) pairs to their specific advice', () => {
    const cases: [BpfCommandName, string, RegExp, { path?: string }?][] = [
      [
        'OBJ_GET',
        'ENOENT',
        /bpffs is not mounted there or the path is wrong/,
        { path: '/sys/fs/bpf/x' },
      ],
      ['OBJ_PIN', 'EEXIST', /\/p is already pinned/, { path: '/p' }],
      ['OBJ_PIN', 'EPERM', /not inside a bpffs mount.*'\.'/, { path: '/tmp/x' }],
      ['MAP_UPDATE_ELEM', 'E2BIG', /map is full/],
      ['MAP_UPDATE_ELEM', 'EEXIST', /NOEXIST/],
      ['MAP_LOOKUP_ELEM', 'ENOSPC', /value_size 8/],
      ['MAP_CREATE', 'EINVAL', /max_entries > 0/],
      ['MAP_CREATE', 'ENOTSUPP', /without BTF/],
      ['PROG_LOAD', 'EACCES', /verifier rejected/],
      ['PROG_LOAD', 'E2BIG', /too large/],
      ['PROG_ATTACH', 'EINVAL', /cgroup v2/],
      ['PROG_DETACH', 'EINVAL', /needs the program fd/],
      ['PROG_TEST_RUN', 'ENOTSUPP', /sock_ops and sk_msg/],
      ['BTF_LOAD', 'EINVAL', /without BTF/],
      ['PROG_GET_FD_BY_ID', 'ENOENT', /no object with this id/],
    ];
    for (const [c, e, re, ctx] of cases) expect(explainBpfFailure(c, e, ctx ?? {})).toMatch(re);
  });

  it('gives every (command, errno) a non-empty message (the match is exhaustive)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...commands),
        fc.oneof(fc.constantFrom(...Object.keys(Errno)), fc.stringMatching(/^E[0-9]{1,4}$/)),
        (c, e) => {
          const text = explainBpfFailure(c, e);
          expect(text.length).toBeGreaterThan(5);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('BpfError', () => {
  it('keeps command, errno name and number, path and code, and says what to do', () => {
    const err = new BpfError('OBJ_GET', 2, { path: '/sys/fs/bpf/m' });
    expect(err).toMatchObject({
      code: 'ERR_BPF_SYSCALL',
      command: 'OBJ_GET',
      errno: 'ENOENT',
      errnoNumber: 2,
      path: '/sys/fs/bpf/m',
    });
    expect(err.message).toBe(
      'BPF_OBJ_GET failed with ENOENT: nothing at /sys/fs/bpf/m: bpffs is not mounted there or the path is wrong ' +
        '(mount it with `mount -t bpf bpf /sys/fs/bpf`, and create parent directories before pinning)',
    );
  });

  it('is classified by ts-pattern on its errno like any caller would', () => {
    const classify = (e: BpfError) =>
      match(e)
        .with({ errno: 'EPERM' }, () => 'privileges')
        .with(
          { errno: P.union('ENOENT', 'EEXIST'), command: P.union('OBJ_GET', 'OBJ_PIN') },
          () => 'pin',
        )
        .otherwise(() => 'other');
    expect(classify(new BpfError('MAP_CREATE', 1))).toBe('privileges');
    expect(classify(new BpfError('OBJ_PIN', 17))).toBe('pin');
    expect(classify(new BpfError('MAP_CREATE', 22))).toBe('other');
  });
});

describe('VerifierError', () => {
  const level1 = [
    'func#0 @0',
    '0: R1=ctx() R10=fp0',
    '0: (b7) r2 = 0                        ; R2_w=0',
    '1: (61) r3 = *(u32 *)(r1 +4)          ; R1=ctx() R3_w=scalar()',
    '2: (69) r3 = *(u16 *)(r1 +64)',
    'invalid bpf_context access off=64 size=2',
    'processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
    '',
  ].join('\n');

  it('parses the failing instruction index from the last instruction line', () => {
    expect(failingInsnIndex(level1)).toBe(2);
    expect(verifierSummary(level1)).toBe('invalid bpf_context access off=64 size=2');
  });

  it('finds no instruction in logs without instruction lines', () => {
    expect(
      failingInsnIndex("number of funcs in func_info doesn't match number of subprogs\n"),
    ).toBeUndefined();
  });

  it('picks the last instruction line of any generated log', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 100_000 }), { minLength: 1, maxLength: 50 }), (idx) => {
        const log = `${idx.map((i) => `${i}: (07) r1 += 1\nfrom ${i} to ${i + 1}: R1=scalar()`).join('\n')}\nR0 !read_ok\n`;
        expect(failingInsnIndex(log)).toBe(idx.at(-1));
      }),
      { numRuns: 100 },
    );
  });

  it('carries program, errno, the whole log and the insn index, and is a BpfError', () => {
    const log = `${'0: (b7) r0 = 0\n'.repeat(80_000)}1: (95) exit\nR0 !read_ok\n`;
    const err = new VerifierError({ progName: 'bpf_sockops', errno: 13, log, insnCount: 2 });
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({
      code: 'ERR_BPF_VERIFIER',
      command: 'PROG_LOAD',
      errno: 'EACCES',
      progName: 'bpf_sockops',
      insnIndex: 1,
      insnCount: 2,
    });
    expect(err.log).toBe(log);
    expect(err.log.length).toBeGreaterThan(1_000_000);
    expect(err.message).toMatch(
      /rejected program bpf_sockops at instruction 1 \(EACCES\): R0 !read_ok/,
    );
  });
});
