/**
 * What an eBPF object is made of, before it is bytes: the input of the ELF writer and the output
 * of the DSL's object builder. The writer lays it out as specified in shared/spec/elf-btf-bpf.md
 * (program sections, `.maps` with BTF map definitions, `license`, `.rel<sec>`, `.BTF`, `.BTF.ext`).
 */
import type { Insn } from './insn.js';

/**
 * A BTF type as a graph of plain objects (the writer assigns type ids, sharing one id per distinct
 * object; structurally equal objects may be merged). The reader's id-based form lives in btf.ts.
 */
export type BtfTypeSpec =
  | {
      readonly kind: 'int';
      readonly name: string;
      readonly size: 1 | 2 | 4 | 8 | 16;
      readonly signed: boolean;
      readonly char?: boolean;
      readonly bool?: boolean;
    }
  | { readonly kind: 'ptr'; readonly target: BtfTypeSpec | null }
  | { readonly kind: 'array'; readonly elem: BtfTypeSpec; readonly length: number }
  | {
      readonly kind: 'struct' | 'union';
      readonly name: string;
      readonly size: number;
      readonly members: readonly BtfMemberSpec[];
    }
  | {
      readonly kind: 'enum';
      readonly name: string;
      readonly size: 1 | 2 | 4 | 8;
      readonly signed: boolean;
      readonly values: readonly { readonly name: string; readonly value: number }[];
    }
  | { readonly kind: 'fwd'; readonly name: string; readonly union: boolean }
  | { readonly kind: 'typedef'; readonly name: string; readonly target: BtfTypeSpec | null }
  | { readonly kind: 'volatile' | 'const' | 'restrict'; readonly target: BtfTypeSpec | null }
  | {
      readonly kind: 'func_proto';
      readonly ret: BtfTypeSpec | null;
      readonly params: readonly { readonly name: string; readonly type: BtfTypeSpec | null }[];
    };

/** One member of a BTF struct or union; `bitSize` set only for bitfields. */
export interface BtfMemberSpec {
  readonly name: string;
  readonly type: BtfTypeSpec;
  readonly bitOffset: number;
  readonly bitSize?: number;
}

/** A map definition, written to `.maps` and described in BTF the way libbpf's `__uint`/`__type` do. */
export interface MapSpec {
  /** Symbol and kernel map name: at most 15 characters of [A-Za-z0-9_]. */
  readonly name: string;
  /** BPF_MAP_TYPE_* number (e.g. 18 SOCKHASH). */
  readonly type: number;
  /** Key as a BTF type (written as `__type(key, T)`) or a byte size (`__uint(key_size, N)`). */
  readonly key: BtfTypeSpec | number;
  /** Value as a BTF type or a byte size. */
  readonly value: BtfTypeSpec | number;
  readonly maxEntries: number;
  /** BPF_F_* map flags; omitted from the definition when 0. */
  readonly flags?: number;
  /** LIBBPF_PIN_BY_NAME when 'by_name'; omitted when 'none' or absent. */
  readonly pinning?: 'none' | 'by_name';
}

/** A source location of one instruction, carried into `.BTF.ext` line_info. */
export interface SourceLine {
  /** Index (in instructions, not slots) into the program's insns; never the second slot of ld_imm64. */
  readonly insn: number;
  /** File name as written into BTF strings (relative to the project root for DSL programs). */
  readonly file: string;
  /** The text of the source line. */
  readonly text: string;
  /** 1-based line number. */
  readonly line: number;
  /** 1-based column (at most 1023 is representable). */
  readonly col: number;
}

/** A reference from an `ld_imm64` (pseudo `imm64`, imm 0 in the bytes) to a map, relocated at load. */
export interface MapReference {
  /** Index (in instructions) of the ld_imm64 within the program. */
  readonly insn: number;
  /** Name of the referenced map (a MapSpec name of the same object). */
  readonly map: string;
}

/** One program: a GLOBAL FUNC symbol in its section. */
export interface ProgramSpec {
  /** Symbol and kernel program name: at most 15 characters of [A-Za-z0-9_]. */
  readonly name: string;
  /** ELF section name, which tells loaders the program type (`sockops`, `sk_msg`, …). */
  readonly section: string;
  readonly insns: readonly Insn[];
  readonly mapRefs: readonly MapReference[];
  /** Line info, sorted by insn, first at insn 0 when present. */
  readonly lines?: readonly SourceLine[];
  /** Pointee type of the context argument in the program's BTF FUNC_PROTO (`T` in `int f(T *ctx)`; void when absent). */
  readonly ctxType?: BtfTypeSpec;
  /** Name of the context parameter in BTF (defaults to `ctx`). */
  readonly ctxName?: string;
}

/** A whole relocatable eBPF object. */
export interface ObjectSpec {
  readonly license: string;
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
}
