/**
 * The DSL's build-time checks against the kernel verifier: each program below has one mistake the
 * checks report; built with the checks off, the kernel rejects it too, and its fixed form (checks
 * on) loads. So the checks report real verifier rejections, earlier and with TypeScript locations.
 * One check is deliberately stricter: a privileged loader (root: allow_uninit_stack) may pass
 * uninitialised stack bytes as a map key, which the kernel accepts and which then makes the key
 * hash differently in the two programs; the DSL reports it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  bpfObject,
  map,
  type ProgramBuilder,
  ProgramCheckError,
  program,
  r0,
  r1,
  r2,
  r3,
  r6,
  r10,
  u32,
  u64,
} from '../../src/dsl/index.js';
import { SockKey, sockMap } from '../dsl/sockmap-pair.js';
import { createTestBpffsDir, describeKernel, type TestDir } from './support.js';

const counters = map('counters', { type: 'hash', key: u32, value: u64, maxEntries: 4 });

type Body = (b: ProgramBuilder<'sockops'>) => void;

/** [check code, broken body, fixed body, whether the kernel (as root) rejects the broken one] */
const cases: [string, Body, Body, boolean?][] = [
  [
    'UNINIT_REGISTER',
    (b) => {
      b.mov(r0, r3);
      b.ret();
    },
    (b) => {
      b.mov(r3, 0);
      b.mov(r0, r3);
      b.ret();
    },
  ],
  [
    'NULL_DEREF',
    (b) => {
      const k = b.stack(u32);
      b.call.mapLookupElem(counters, k);
      b.ldx('dw', r2, r0, 0);
      b.ret(0);
    },
    (b) => {
      const k = b.stack(u32);
      b.call.mapLookupElem(counters, k);
      b.if(r0.eq(0), () => b.ret(0));
      b.ldx('dw', r2, r0, 0);
      b.ret(0);
    },
  ],
  [
    'CLOBBERED_REGISTER',
    (b) => {
      b.call.ktimeGetNs();
      b.ctx.load(r2, 'family');
      b.ret(0);
    },
    (b) => {
      b.mov(r6, r1);
      b.call.ktimeGetNs();
      b.ctx.load(r2, 'family', { ctx: r6 });
      b.ret(0);
    },
  ],
  [
    'STACK_OUT_OF_BOUNDS',
    (b) => {
      b.st('w', r10, -516, 0);
      b.ret(0);
    },
    (b) => {
      b.st('w', r10, -512, 0);
      b.ret(0);
    },
  ],
  [
    'UNINIT_STACK',
    (b) => {
      const key = b.stack(SockKey, { zero: false });
      b.st('w', r10, key.offset, 0);
      b.call.sockHashUpdate(r1, sockMap, key, 0);
      b.ret(0);
    },
    (b) => {
      const key = b.stack(SockKey);
      b.call.sockHashUpdate(r1, sockMap, key, 0);
      b.ret(0);
    },
    false,
  ],
  [
    'CTX_ACCESS',
    (b) => {
      b.ldx('h', r2, r1, 64);
      b.ret(0);
    },
    (b) => {
      b.ctx.load(r2, 'remote_port');
      b.ret(0);
    },
  ],
  [
    'HELPER_ARG',
    (b) => {
      b.mov(r6, 7);
      b.call.sockOpsCbFlagsSet(r6, 0);
      b.ret(0);
    },
    (b) => {
      b.call.sockOpsCbFlagsSet(r1, 0);
      b.ret(0);
    },
  ],
  ['RETURN_RANGE', (b) => b.ret(2), (b) => b.ret(1)],
  [
    'UNREACHABLE',
    (b) => {
      b.ret(0);
      b.mov(r0, 1);
      b.exit();
    },
    (b) => b.ret(0),
  ],
];

describeKernel('DSL build-time checks agree with the verifier', () => {
  let bpffs: TestDir;
  let work: string;
  beforeAll(() => {
    bpffs = createTestBpffsDir('dsl-checks');
    work = mkdtempSync(join(tmpdir(), 'tsbpf-dsl-checks-'));
  });
  afterAll(() => {
    bpffs.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** Loads a one-program object with bpftool; returns whether the kernel accepted it. */
  function loads(name: string, body: Body, check: boolean): boolean {
    const p = program('sockops', name, body, { check });
    const file = join(work, `${name}.o`);
    writeFileSync(file, bpfObject({ programs: [p] }).toElf());
    const pin = join(bpffs.path, name);
    const run = spawnSync('bpftool', ['prog', 'load', file, pin], { encoding: 'utf8' });
    rmSync(pin, { force: true });
    return run.status === 0;
  }

  for (const [code, broken, fixed, kernelRejects = true] of cases) {
    const what = kernelRejects ? 'rejects' : 'accepts (as root)';
    it(`${code}: the kernel ${what} what the check reports and loads the fixed program`, () => {
      expect(() => program('sockops', 'broken', broken)).toThrowError(ProgramCheckError);
      try {
        program('sockops', 'broken', broken);
      } catch (e) {
        expect((e as ProgramCheckError).diagnostics.map((d) => d.code)).toContain(code);
      }
      expect(loads(`broken_${code.toLowerCase()}`.slice(0, 15), broken, false)).toBe(
        !kernelRejects,
      );
      expect(loads(`fixed_${code.toLowerCase()}`.slice(0, 15), fixed, true)).toBe(true);
    });
  }
});
