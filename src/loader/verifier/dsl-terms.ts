/**
 * The "what to do" sentence of each verifier error kind, in plain words and in the terms of the
 * tsbpf DSL (src/dsl) where the fix has a DSL spelling. Kept apart from the classifier so that the
 * wording follows the DSL's API without touching the matching logic. The loader does not import
 * the DSL (rooms: loader → asm only); these are sentences, not code.
 */
import { match } from 'ts-pattern';
import type { VerifierErrorKind } from './hints.js';

/**
 * The hint for an error kind and the variant of its kernel message; `field` names the context
 * field of a ctx-access error when it is known, so the hint can show the exact DSL call.
 */
export function dslHint(kind: VerifierErrorKind, variant: string, field?: string): string {
  return match(kind)
    .with(
      'nullable-pointer',
      () =>
        'check the lookup result against 0 before using it: after `b.call.mapLookupElem(map, key)` ' +
        'put the access inside `b.if(r0.ne(0), () => …)`, or return early with ' +
        '`b.if(r0.eq(0), () => b.ret(0))`',
    )
    .with('scalar-dereference', () =>
      variant === 'arg'
        ? 'pass a pointer the verifier knows: the ctx (r1 at entry), a map, a stack object from ' +
          '`b.stack(…)`; a value loaded from memory or computed is only a number to the verifier'
        : 'load through a pointer the verifier knows: ctx fields with `b.ctx.load`, a map value after ' +
          '`b.if(r0.ne(0), …)`, stack objects with `b.load`/`b.store`; a number read from a field is ' +
          'not an address',
    )
    .with(
      'uninitialized-stack',
      () =>
        'write every byte of a stack object before a helper reads it: keep `b.stack(Layout)` zero-filled ' +
        '(do not pass `{ zero: false }` for keys) or `b.store` every field first',
    )
    .with(
      'uninitialized-register',
      () =>
        'give the register a value on every path before reading it; a helper call (`b.call.*`) ' +
        'leaves only r0 (its result) and r6–r9, so keep values you still need in r6–r9',
    )
    .with('ctx-access', () =>
      match(variant)
        .with(
          'read-only',
          () =>
            "store only writable fields: `b.ctx.store('reply', r)` or `sk_txhash` in sock_ops, nothing " +
            'in sk_msg; keep other values in a register or a `b.stack(…)` object',
        )
        .with('width', () =>
          field === undefined
            ? "read ctx fields by name: `b.ctx.load(r2, 'remote_ip4')` (and `b.ctx.loadPort` for ports) " +
              'emits the width the verifier accepts, unlike a raw `b.ldx` of another size'
            : /_port$/.test(field)
              ? `read the port by name: \`b.ctx.loadPort(r2, '${field}', 'network')\` loads all 4 bytes ` +
                'and gives the port in the byte order you ask for, unlike a raw `b.ldx` of another size'
              : `read the field by name: \`b.ctx.load(r2, '${field}')\` emits the width the verifier ` +
                'accepts, unlike a raw `b.ldx` of another size',
        )
        .with(
          'beyond-end',
          'offset',
          () =>
            "read ctx fields by name with `b.ctx.load(r, 'field')` instead of raw offsets; a field newer " +
            'than the running kernel is refused too',
        )
        .with(
          'modified',
          'variable',
          () =>
            'access the context as ctx + constant in the load itself (`b.ctx.load`); do not add to the ' +
            'ctx register or index it with a run-time value',
        )
        .otherwise(
          () =>
            "access ctx fields by name with `b.ctx.load` / `b.ctx.store`: the schema knows each field's " +
            'width and whether it may be written',
        ),
    )
    .with('too-complex', () =>
      match(variant)
        .with(
          'infinite',
          'loop',
          'back-edge',
          () =>
            'give the loop a bound the verifier can see: count in a register and leave with ' +
            '`b.jumpIf(r6.ge(LIMIT), done)` against a constant LIMIT, or use `b.mayGoto(done)` ' +
            '(kernel 6.8+) in the loop head',
        )
        .otherwise(
          () =>
            'reduce the paths the verifier must walk: bound loops with small constants, return early, ' +
            'and join branches (`b.if` … then continue) so fewer states differ',
        ),
    )
    .with('return-value', () =>
      variant === 'unset'
        ? 'end every path with `b.ret(value)`, which sets r0 (`b.exit()` returns r0 as it is, so r0 ' +
          'must have been written)'
        : 'return a value the program type allows: `b.ret(0)` or `b.ret(1)` for sock_ops, ' +
          '`b.ret(SkAction.PASS)` / `SkAction.DROP` for sk_msg',
    )
    .with('helper-not-allowed', () =>
      variant === 'gpl'
        ? "declare a GPL-compatible license: `bpfObject({ programs, license: 'Dual BSD/GPL' })` (the default)"
        : 'call helpers through `b.call.*`: its types offer each program type only its own helpers ' +
          '(`b.call.msgRedirectHash` exists in sk_msg programs, `b.call.sockHashUpdate` in sock_ops), ' +
          'so this becomes a compile error instead of a raw `b.callHelper(id)`',
    )
    .with(
      'misaligned-access',
      () =>
        'align each access to its size: stack objects from `b.stack(Layout)` accessed with ' +
        "`b.load`/`b.store` by field are naturally aligned; a raw `b.stx('dw', r10, off, r)` needs " +
        'off % 8 == 0',
    )
    .with('stack-out-of-bounds', () =>
      variant === 'combined'
        ? 'use less stack in the functions of the call chain (512 bytes in total)'
        : 'stay inside the 512-byte frame: stack objects from `b.stack(…)` always do; raw ' +
          '`b.ldx`/`b.stx` on r10 need offsets from -512 up to -size',
    )
    .with(
      'unreleased-reference',
      () =>
        'release the reference on every path before exit (bpf_ringbuf_submit #132 or ' +
        'bpf_ringbuf_discard #133 for a reserved record, bpf_sk_release for a socket), early returns ' +
        'included; `b.call.ringbufOutput` copies a record without holding a reference',
    )
    .with(
      'other',
      () => 'see the error line and register states below; the whole log is in err.log',
    )
    .exhaustive();
}
