/**
 * Source locations and the object builder: each instruction knows the TypeScript call behind it
 * (path relative to the project root, line, column, line text), line info records start where the
 * location changes, and objects collect their maps, default the license and reject name clashes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  bpfObject,
  captureLocation,
  DslError,
  map,
  program,
  r0,
  r2,
  u32,
} from '../../src/dsl/index.js';
import { skMsg, sockMap, sockops } from './sockmap-pair.js';

describe('source locations', () => {
  it('name this file relative to the project root, with line, column and line text', () => {
    const loc = captureLocation();
    const source = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
    expect(loc.file).toBe('test/dsl/object.test.ts');
    expect(source[loc.line - 1]).toBe('    const loc = captureLocation();');
    expect(loc.text).toBe('    const loc = captureLocation();');
    expect(loc.col).toBe(loc.text.indexOf('captureLocation') + 1);
  });

  it('attach one line record per change of DSL call, starting at instruction 0', () => {
    const p = program('sk_msg', 'lines', (b) => {
      b.ctx.loadPort(r2, 'remote_port', 'host');
      b.mov(r0, 1);
      b.exit();
    });
    expect(p.insns).toHaveLength(5);
    expect(p.lines.map((l) => l.insn)).toEqual([0, 3, 4]);
    expect(p.lines[0]?.text.trim()).toBe("b.ctx.loadPort(r2, 'remote_port', 'host');");
    expect(p.lines[1]?.line).toBe((p.lines[0]?.line ?? 0) + 1);
  });
});

describe('bpfObject', () => {
  it('collects the referenced maps once and defaults the license to Dual BSD/GPL', () => {
    const extra = map('extra', { type: 'array', key: u32, value: u32, maxEntries: 1 });
    const obj = bpfObject({ programs: [sockops, skMsg], maps: [extra] });
    expect(obj.spec.license).toBe('Dual BSD/GPL');
    expect(obj.spec.maps.map((m) => m.name)).toEqual(['sock_ops_map', 'extra']);
    expect(obj.spec.programs.map((p) => [p.name, p.section, p.mapRefs])).toEqual([
      ['bpf_sockops', 'sockops', [{ insn: 18, map: 'sock_ops_map' }]],
      ['bpf_redir', 'sk_msg', [{ insn: 13, map: 'sock_ops_map' }]],
    ]);
    expect(obj.spec.programs[0]?.ctxType).toEqual({
      kind: 'fwd',
      name: 'bpf_sock_ops',
      union: false,
    });
    expect(obj.maps.get('sock_ops_map')).toBe(sockMap);
    expect(bpfObject({ programs: [skMsg], license: 'GPL' }).spec.license).toBe('GPL');
  });

  it('rejects two different maps with one name and two programs with one name', () => {
    const clash = map('sock_ops_map', { type: 'hash', key: u32, value: u32, maxEntries: 1 });
    expect(() => bpfObject({ programs: [skMsg], maps: [clash] })).toThrowError(
      /two different maps are named sock_ops_map/,
    );
    let err: unknown;
    try {
      bpfObject({ programs: [skMsg, skMsg] });
    } catch (e) {
      err = e;
    }
    expect((err as DslError).code).toBe('DUPLICATE_NAME');
  });

  it('rejects program names the kernel or bpffs would not take', () => {
    expect(() => program('sk_msg', 'a_name_too_long_', (b) => b.ret(1))).toThrowError(
      /must be 1-15 characters/,
    );
    expect(() => program('sk_msg', 'dot.name', (b) => b.ret(1))).toThrowError(DslError);
  });
});
