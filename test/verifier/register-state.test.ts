import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatVerifierState,
  parseRegisterValue,
  parseVerifierState,
  splitTopLevel,
} from '../../src/loader/verifier/register-state.js';

describe('parseRegisterValue', () => {
  it('reads a scalar range, expanding key chains and keeping var_off whole', () => {
    const v = parseRegisterValue('scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))');
    expect(v.type).toBe('scalar');
    expect(v.fields).toEqual({
      smin: '0',
      smax: '0xffffffff',
      umax: '0xffffffff',
      var_off: '(0x0; 0xffffffff)',
    });
    expect(v.constant).toBeUndefined();
  });

  it('reads known constants in hex, decimal and negative form, with the precision mark', () => {
    expect(parseRegisterValue('0x100007f').constant).toBe(0x100007fn);
    expect(parseRegisterValue('-1').constant).toBe(-1n);
    const precise = parseRegisterValue('P0');
    expect(precise).toMatchObject({ type: 'scalar', precise: true, constant: 0n });
    expect(parseRegisterValue('invP5')).toMatchObject({ precise: true, constant: 5n });
  });

  it('reads stack pointers with their offset', () => {
    expect(parseRegisterValue('fp-4')).toMatchObject({ type: 'fp', stackOffset: -4 });
    expect(parseRegisterValue('fp0')).toMatchObject({ type: 'fp', stackOffset: 0 });
  });

  it('reads typed pointers of 6.x and of older kernels', () => {
    expect(parseRegisterValue('map_value_or_null(id=1,map=counts,ks=4,vs=8)')).toMatchObject({
      type: 'map_value_or_null',
      fields: { id: '1', map: 'counts', ks: '4', vs: '8' },
    });
    expect(
      parseRegisterValue('map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)').fields,
    ).toMatchObject({
      off: '0',
      imm: '0',
    });
    expect(parseRegisterValue('ctx()')).toMatchObject({ type: 'ctx', fields: {} });
    expect(parseRegisterValue('inv(id=0,umax_value=255)')).toMatchObject({
      type: 'inv',
      fields: { id: '0', umax_value: '255' },
    });
  });
});

describe('parseVerifierState', () => {
  it('separates registers, stack slots and held references', () => {
    const s = parseVerifierState(
      'R0=ringbuf_mem(ref_obj_id=2,sz=8) R1=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0 fp-8=mmmm???? refs=2',
    );
    expect(s.registers.map((r) => r.name)).toEqual(['R0', 'R1', 'R10']);
    expect(s.stack).toEqual([{ offset: -8, text: 'mmmm????', bytes: 'mmmm????' }]);
    expect(s.refs).toEqual([2]);
    expect(s.other).toEqual([]);
  });

  it('reads partial spills of a register into a stack slot', () => {
    const s = parseVerifierState('fp-24=????scalar(id=1,smin=0) fp-16=????0 fp-32=ctx()');
    expect(s.stack[0]).toMatchObject({ offset: -24, bytes: '????', spilled: { type: 'scalar' } });
    expect(s.stack[1]).toMatchObject({ offset: -16, bytes: '????', spilled: { constant: 0n } });
    expect(s.stack[2]).toMatchObject({ offset: -32, spilled: { type: 'ctx' } });
  });

  it('reads the frame prefix of a subprogram and the liveness suffixes of kernels before 6.6', () => {
    const s = parseVerifierState('frame1: R0_w=invP0 R1_rw=ctx(id=0,off=0,imm=0) fp-8_w=00000000');
    expect(s.frame).toBe(1);
    expect(s.registers[0]).toMatchObject({ name: 'R0', regno: 0, liveness: 'w' });
    expect(s.registers[1]).toMatchObject({ name: 'R1', liveness: 'rw', value: { type: 'ctx' } });
    expect(s.stack[0]).toMatchObject({ offset: -8, liveness: 'w', bytes: '00000000' });
  });

  it('prints a parsed state back in the kernel spelling', () => {
    const text = 'frame2: R1=ctx() R2=fp-8 R10=fp0 fp-8=mmmm???? refs=3,4';
    expect(formatVerifierState(parseVerifierState(text))).toBe(text);
  });

  it('never throws on arbitrary text and keeps every token somewhere', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const s = parseVerifierState(text);
        const tokens = splitTopLevel(text.trim().replace(/^frame\d+:\s*/, ''), ' ');
        const refTokens = tokens.filter((t) => /^refs=[\d,]+$/.test(t)).length;
        expect(s.registers.length + s.stack.length + s.other.length + refTokens).toBe(
          tokens.length,
        );
      }),
      { numRuns: 300 },
    );
  });
});
