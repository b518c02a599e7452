/**
 * The DSL's helper table against the running kernel: for every helper and both program types, a
 * program calling it gets past the verifier's helper-availability check exactly when the table
 * says the program type may call it (otherwise: "program of this type cannot use helper").
 * Arguments are zeros, so allowed helpers may still fail later argument checks; only availability
 * is compared.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  bpfObject,
  HELPERS,
  type HelperDef,
  program,
  r0,
  r1,
  r2,
  r3,
  r4,
  r5,
} from '../../src/dsl/index.js';
import { createTestBpffsDir, describeKernel, type TestDir } from './support.js';

describeKernel('DSL helper availability matches the kernel', () => {
  let bpffs: TestDir;
  let work: string;

  beforeAll(() => {
    bpffs = createTestBpffsDir('dsl-helpers');
    work = mkdtempSync(join(tmpdir(), 'tsbpf-dsl-helpers-'));
  });

  afterAll(() => {
    bpffs.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** True when the kernel refuses the helper for the program type. */
  function refused(type: 'sockops' | 'sk_msg', def: HelperDef): boolean {
    const p = program(
      type,
      'probe',
      (b) => {
        for (const r of [r1, r2, r3, r4, r5]) b.mov(r, 0);
        b.callHelper(def.id);
        b.mov(r0, 0);
        b.exit();
      },
      { check: false },
    );
    const file = join(work, `${type}-${def.id}.o`);
    writeFileSync(file, bpfObject({ programs: [p] }).toElf());
    const pin = join(bpffs.path, `${type}_${def.id}`);
    const run = spawnSync('bpftool', ['-d', 'prog', 'load', file, pin], { encoding: 'utf8' });
    rmSync(pin, { force: true });
    return /cannot use helper|unknown func/.test(`${run.stdout}${run.stderr}`);
  }

  it('agrees for every helper and program type', () => {
    const disagreements: string[] = [];
    for (const def of Object.values(HELPERS) as HelperDef[]) {
      for (const type of ['sockops', 'sk_msg'] as const) {
        const allowed = (def.progTypes as readonly string[]).includes(type);
        if (refused(type, def) === allowed) {
          disagreements.push(
            `${def.name} in ${type}: table says ${allowed ? 'allowed' : 'refused'}`,
          );
        }
      }
    }
    expect(disagreements).toEqual([]);
  });
});
