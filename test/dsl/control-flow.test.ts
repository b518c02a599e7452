/**
 * Labels and structured control flow: forward and backward jumps resolved at build time, ld_imm64
 * counted as two slots, out-of-range and unbound labels rejected, and if/else, all/any/not, block
 * and early return lowered to the jumps clang would emit.
 */
import { describe, expect, it } from 'vitest';
import type { Insn } from '../../src/asm/insn.js';
import {
  all,
  any,
  type DslError,
  not,
  type ProgramBuilder,
  program,
  r0,
  r2,
  r3,
  w2,
} from '../../src/dsl/index.js';

function emitted(body: (b: ProgramBuilder<'sk_msg'>) => void): readonly Insn[] {
  return program('sk_msg', 'flow', body, { check: false }).insns;
}

describe('labels', () => {
  it('resolves a forward jump over an ld_imm64 as two slots', () => {
    const insns = emitted((b) => {
      const out = b.label('out');
      b.jumpIf(r2.eq(0), out);
      b.ldImm64(r3, 1n);
      b.mov(r0, 1);
      b.mark(out);
      b.exit();
    });
    expect(insns[0]).toEqual({
      kind: 'jump',
      width: 64,
      op: 'jeq',
      dst: 2,
      src: { imm: 0 },
      off: 3,
    });
  });

  it('resolves a backward jump (a bounded loop)', () => {
    const insns = emitted((b) => {
      b.mov(r2, 0);
      const top = b.label('top');
      b.mark(top);
      b.add(r2, 1);
      b.jumpIf(r2.lt(10), top);
      b.ret(r2);
    });
    expect(insns[2]).toEqual({
      kind: 'jump',
      width: 64,
      op: 'jlt',
      dst: 2,
      src: { imm: 10 },
      off: -2,
    });
    const loop = program('sk_msg', 'loop', (b) => {
      b.mov(r2, 0);
      const top = b.label();
      b.mark(top);
      b.add(r2, 1);
      b.jumpIf(r2.lt(10), top);
      b.ret(r2);
    });
    expect(loop.insns).toHaveLength(5);
  });

  it('accepts raw slot offsets and 32-bit gotol', () => {
    const insns = emitted((b) => {
      b.goto(1);
      b.mov(r0, 0);
      const end = b.label();
      b.gotol(end);
      b.mayGoto(end);
      b.mark(end);
      b.exit();
    });
    expect(insns.slice(0, 1)).toEqual([{ kind: 'ja', off: 1 }]);
    expect(insns[2]).toEqual({ kind: 'gotol', imm: 1 });
    expect(insns[3]).toEqual({ kind: 'may_goto', off: 0 });
  });

  it('rejects a jump beyond the 16-bit offset range and suggests gotol', () => {
    expect(() =>
      emitted((b) => {
        const far = b.label('far');
        b.goto(far);
        for (let i = 0; i < 32768; i++)
          b.insn({ kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } });
        b.mark(far);
        b.exit();
      }),
    ).toThrowError(
      /jump to label 'far' is 32768 slots away, beyond the 16-bit offset range .*use b\.gotol\(\)/,
    );
  });

  it('rejects a jump to a label that is never placed, and a label placed twice', () => {
    expect(() => emitted((b) => b.goto(b.label('nowhere')))).toThrowError(
      /'nowhere'.*never placed/,
    );
    let err: unknown;
    try {
      emitted((b) => {
        const l = b.label('twice');
        b.mark(l);
        b.mark(l);
        b.exit();
      });
    } catch (e) {
      err = e;
    }
    expect((err as DslError).code).toBe('LABEL_REBOUND');
  });

  it('rejects a numeric jump outside the program', () => {
    expect(() =>
      emitted((b) => {
        b.goto(5);
        b.exit();
      }),
    ).toThrowError(/outside the program's 2 slots/);
  });
});

describe('structured control flow', () => {
  it('lowers if/else to a negated jump over the then-branch and a jump over the else-branch', () => {
    const insns = emitted((b) => {
      b.if(
        r2.eq(1),
        () => b.mov(r0, 10),
        () => b.mov(r0, 20),
      );
      b.exit();
    });
    expect(insns).toEqual([
      { kind: 'jump', width: 64, op: 'jne', dst: 2, src: { imm: 1 }, off: 2 },
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 10 } },
      { kind: 'ja', off: 1 },
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 20 } },
      { kind: 'exit' },
    ]);
  });

  it('turns an early return into one conditional jump to a shared epilogue', () => {
    const insns = emitted((b) => {
      b.if(r2.ne(2), () => b.ret(0));
      b.if(r3.ne(2), () => b.ret(0));
      b.ret(1);
    });
    expect(insns).toEqual([
      { kind: 'jump', width: 64, op: 'jne', dst: 2, src: { imm: 2 }, off: 3 },
      { kind: 'jump', width: 64, op: 'jne', dst: 3, src: { imm: 2 }, off: 2 },
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 1 } },
      { kind: 'exit' },
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 0 } },
      { kind: 'exit' },
    ]);
  });

  it('short-circuits all() and any() like clang', () => {
    const insns = emitted((b) => {
      b.if(all(w2.ne(4), w2.ne(5)), () => b.ret(0));
      b.if(any(r3.eq(1), r3.eq(2)), () => b.mov(r0, 7));
      b.ret(1);
    });
    expect(insns.slice(0, 5)).toEqual([
      { kind: 'jump', width: 32, op: 'jeq', dst: 2, src: { imm: 4 }, off: 1 },
      { kind: 'jump', width: 32, op: 'jne', dst: 2, src: { imm: 5 }, off: 5 },
      { kind: 'jump', width: 64, op: 'jeq', dst: 3, src: { imm: 1 }, off: 1 },
      { kind: 'jump', width: 64, op: 'jne', dst: 3, src: { imm: 2 }, off: 1 },
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 7 } },
    ]);
  });

  it('negates JSET, which has no inverse, with a jump around a goto', () => {
    const insns = emitted((b) => {
      b.if(not(r2.anyBits(4)), () => b.mov(r0, 1));
      b.exit();
    });
    expect(insns).toEqual([
      { kind: 'jump', width: 64, op: 'jset', dst: 2, src: { imm: 4 }, off: 1 },
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 1 } },
      { kind: 'exit' },
    ]);
    const direct = emitted((b) => {
      b.if(r2.anyBits(4), () => b.mov(r0, 1));
      b.exit();
    });
    expect(direct.slice(0, 2)).toEqual([
      { kind: 'jump', width: 64, op: 'jset', dst: 2, src: { imm: 4 }, off: 1 },
      { kind: 'ja', off: 1 },
    ]);
  });

  it('leaves a block early through its end label', () => {
    const insns = emitted((b) => {
      b.block((end) => {
        b.if(r2.eq(0), () => b.goto(end));
        b.mov(r0, 1);
      });
      b.exit();
    });
    expect(insns).toEqual([
      { kind: 'jump', width: 64, op: 'jeq', dst: 2, src: { imm: 0 }, off: 1 },
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { imm: 1 } },
      { kind: 'exit' },
    ]);
  });

  it('returns a register through r0 and returns r0 as it is', () => {
    expect(emitted((b) => b.ret(r3))).toEqual([
      { kind: 'alu', width: 64, op: 'mov', dst: 0, src: { reg: 3 } },
      { kind: 'exit' },
    ]);
    expect(emitted((b) => b.ret(r0))).toEqual([{ kind: 'exit' }]);
  });
});
