/**
 * The "what to do" sentence of each verifier error kind, in plain words and in the terms of the
 * tsbpf DSL (src/dsl) where the fix has a DSL spelling. Kept apart from the classifier so that the
 * wording follows the DSL's API without touching the matching logic. The loader does not import
 * the DSL (rooms: loader → asm only); these are sentences, not code.
 */
import { match } from 'ts-pattern';
import type { VerifierErrorKind } from './hints.js';

/** The hint for an error kind and the variant of its kernel message. */
export function dslHint(kind: VerifierErrorKind, variant: string): string {
  return match(kind)
    .with(
      'nullable-pointer',
      () =>
        'check the lookup result against NULL before using it: branch on `r0 == 0` right after the ' +
        'lookup (in the DSL, put the access inside `b.ifNotNull(r0, () => …)`) and use the value only ' +
        'on the non-NULL path',
    )
    .with('scalar-dereference', () =>
      variant === 'arg'
        ? 'pass a pointer the verifier knows (the ctx, a map, a stack address like `r10 - 8`); a value ' +
          'loaded from memory or computed is only a number to the verifier'
        : 'load through a pointer the verifier knows (ctx, map value after a NULL check, stack); to ' +
          'read memory at an address held as a number, call bpf_probe_read_kernel instead',
    )
    .with(
      'uninitialized-stack',
      () =>
        'write every byte of a stack object before passing it to a helper: zero the whole key first ' +
        '(in the DSL, allocate it with a zero-initialised stack struct, e.g. `b.stack(KeyStruct)`, ' +
        'or store 0 to each 8-byte slot) and then set its fields',
    )
    .with(
      'uninitialized-register',
      () =>
        'give the register a value on every path before reading it; after a helper call only R0 ' +
        '(the result) and R6–R9 survive, so keep values you still need in R6–R9',
    )
    .with('ctx-access', () =>
      match(variant)
        .with(
          'read-only',
          () =>
            'do not write this field: the kernel lets sock_ops write only `reply` and `sk_txhash`, and ' +
            'sk_msg no field at all; keep the value in a register or on the stack instead',
        )
        .with(
          'width',
          () =>
            'access the field with its own width (4 bytes for u32 fields such as ports and addresses, ' +
            '8 for u64 and pointers); in the DSL read ctx fields by name (`b.ctx.load(r, "field")`), ' +
            'which emits the width the verifier accepts',
        )
        .with(
          'beyond-end',
          'offset',
          () =>
            "use the offset of a field that exists in this program type's context (read fields by name " +
            'in the DSL); a field newer than the running kernel is refused too',
        )
        .with(
          'modified',
          'variable',
          () =>
            'access the context as `ctx + constant` in the load itself; do not add to the ctx pointer ' +
            'or index it with a run-time value',
        )
        .otherwise(
          () =>
            'access only fields this program type defines, with their own width, and write only the ' +
            'writable ones (read fields by name in the DSL)',
        ),
    )
    .with('too-complex', () =>
      match(variant)
        .with(
          'infinite',
          'loop',
          'back-edge',
          () =>
            'give the loop a bound the verifier can see: a counter in a register compared against a ' +
            'constant limit on every iteration, or bpf_loop for long loops',
        )
        .otherwise(
          () =>
            'reduce the paths the verifier must walk: bound loops with small constants, move repeated ' +
            'work into a subprogram, and join branches early so fewer states differ',
        ),
    )
    .with('return-value', () =>
      variant === 'unset'
        ? 'set R0 on every path before exit (e.g. `mov r0, 1` before each `exit`; in the DSL `b.exit(1)` ' +
          'sets R0 for you)'
        : 'return a value in the range the program type allows: sock_ops and sk_msg programs return ' +
          '0 or 1 (SK_DROP / SK_PASS; the redirect helpers already return one of them)',
    )
    .with('helper-not-allowed', () =>
      variant === 'gpl'
        ? 'declare a GPL-compatible license for the object (tsbpf objects use "Dual BSD/GPL")'
        : 'call only helpers this program type offers: redirecting messages (msg_redirect_hash/map) ' +
          "is for sk_msg, adding sockets to a SOCKHASH (sock_hash_update) for sock_ops; the DSL's typed " +
          'helpers refuse such a call at compile time',
    )
    .with(
      'misaligned-access',
      () =>
        'align each access to its size: 8-byte loads and stores at addresses that are multiples of 8 ' +
        '(fp-8, fp-16, …); lay stack structs out with natural alignment',
    )
    .with('stack-out-of-bounds', () =>
      variant === 'combined'
        ? 'use less stack in the functions of the call chain (512 bytes in total)'
        : 'keep stack accesses within fp-512..fp-1: offsets from r10 must be negative, and ' +
          'offset + size must stay at or below 0',
    )
    .with(
      'unreleased-reference',
      () =>
        'release the reference on every path before exit: submit or discard a ring buffer record, ' +
        'bpf_sk_release a looked-up socket, including early returns',
    )
    .with(
      'other',
      () => 'see the error line and register states below; the whole log is in err.log',
    )
    .exhaustive();
}
