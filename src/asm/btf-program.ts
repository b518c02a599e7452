/**
 * The BTF of a program: `FUNC_PROTO int (T *ctx)` and a global FUNC named like the program, as clang
 * emits for `SEC("sockops") int prog(struct bpf_sock_ops *skops)` (spec §2.5). `.BTF.ext` func_info
 * records point at the FUNC; bpftool prints the signature from it (`int prog(void * ctx):`).
 */
import type { BtfBuilder } from './btf-builder.js';
import type { BtfTypeSpec } from './object-spec.js';

/** What a program's FUNC needs: its name, the context type (void when absent) and parameter name. */
export interface ProgramFuncSpec {
  readonly name: string;
  readonly ctxType?: BtfTypeSpec;
  readonly ctxName?: string;
}

/** Adds `int name(ctxType *ctxName)` as FUNC_PROTO + global FUNC; returns the FUNC id. */
export function addProgramFunc(builder: BtfBuilder, program: ProgramFuncSpec): number {
  const intId = builder.addInt('int', 4, 'signed');
  const ctxPtr = builder.addPtr(builder.add(program.ctxType ?? null));
  const protoId = builder.addFuncProto(intId, [{ name: program.ctxName ?? 'ctx', type: ctxPtr }]);
  return builder.addFunc(program.name, protoId, 'global');
}
