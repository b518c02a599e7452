import { describe, expect, it } from 'vitest';
import {
  formatCodeFrame,
  type LineInfoRecord,
  lineInfoInSlots,
  locateInsn,
  readSourceLines,
} from '../../src/loader/verifier/source-map.js';

const rec = (insn: number, line: number, col: number, text: string): LineInfoRecord => ({
  insn,
  file: 'prog.ts',
  line,
  col,
  text,
});

describe('locateInsn', () => {
  const info = [
    rec(0, 10, 3, 'b.mov(r6, r1);'),
    rec(2, 11, 5, 'b.lookup(map, key);'),
    rec(5, 0, 0, ''),
    rec(6, 14, 1, 'b.exit(0);'),
  ];

  it('finds the record covering an instruction (the last one at or before it)', () => {
    expect(locateInsn(info, 0)).toEqual({
      file: 'prog.ts',
      line: 10,
      column: 3,
      text: 'b.mov(r6, r1);',
    });
    expect(locateInsn(info, 3)?.line).toBe(11);
    expect(locateInsn(info, 6)?.line).toBe(14);
    expect(locateInsn(info, 99)?.line).toBe(14);
  });

  it('skips a line-0 record (compiler-generated code) for the statement before it', () => {
    expect(locateInsn(info, 5)?.line).toBe(11);
  });

  it('does not depend on the order of the records', () => {
    expect(locateInsn([...info].reverse(), 3)?.line).toBe(11);
  });

  it('finds nothing without a record at or before the instruction', () => {
    expect(locateInsn([rec(4, 1, 1, 'x')], 3)).toBeUndefined();
    expect(locateInsn([], 0)).toBeUndefined();
  });
});

describe('lineInfoInSlots', () => {
  it('moves records from Insn indexes to slot indexes (ld_imm64 takes two slots)', () => {
    // insns: 0 mov, 1 ld_imm64 (slots 1-2), 2 call (slot 3)
    const moved = lineInfoInSlots([rec(0, 1, 1, 'a'), rec(2, 3, 1, 'c')], [0, 1, 3]);
    expect(moved.map((r) => r.insn)).toEqual([0, 3]);
  });
});

describe('formatCodeFrame', () => {
  const file = ['line one', '\tindented = two;', 'line three', 'line four', 'line five'];

  it('shows the lines around the location, marks the line and puts a caret under the column', () => {
    const frame = formatCodeFrame({ file: 'f.c', line: 2, column: 11, text: '' }, file, {
      context: 1,
    });
    expect(frame.split('\n')).toEqual([
      '  1 | line one',
      '> 2 | \tindented = two;',
      '    | \t         ^',
      '  3 | line three',
    ]);
  });

  it('pads line numbers to the widest one shown', () => {
    const lines = Array.from({ length: 12 }, (_, i) => `l${i + 1}`);
    const frame = formatCodeFrame({ file: 'f', line: 10, column: 0, text: '' }, lines);
    expect(frame.split('\n')).toEqual([
      '   8 | l8',
      '   9 | l9',
      '> 10 | l10',
      '  11 | l11',
      '  12 | l12',
    ]);
  });

  it('falls back to the line text from BTF when the file is not at hand', () => {
    const frame = formatCodeFrame({ file: 'gone.ts', line: 7, column: 3, text: '  b.exit(2);' });
    expect(frame.split('\n')).toEqual(['> 7 |   b.exit(2);', '    |   ^']);
  });
});

describe('readSourceLines', () => {
  const files: Record<string, string> = {
    '/proj/src/p.ts': 'a\nb.exit(2);\nc\n',
    '/other/src/p.ts': 'x\ny\nz\n',
  };
  const readFile = (path: string) => files[path];

  it('resolves a relative name against the roots in order and checks the recorded line text', () => {
    const found = readSourceLines(
      'src/p.ts',
      { line: 2, text: '  b.exit(2);' },
      {
        roots: ['/other', '/proj'],
        readFile,
      },
    );
    expect(found?.path).toBe('/proj/src/p.ts');
    expect(found?.lines[1]).toBe('b.exit(2);');
  });

  it('refuses a file whose line differs from what line_info recorded (stale source)', () => {
    expect(
      readSourceLines('src/p.ts', { line: 2, text: 'b.exit(3);' }, { roots: ['/proj'], readFile }),
    ).toBeUndefined();
  });
});
