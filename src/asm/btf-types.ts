/**
 * The id-based BTF model: one record per type id, as `.BTF` stores it (kinds 1-19 of the kernel's
 * `linux/btf.h`), with names already looked up in the string section. Type id 0 is `void` and has
 * no record; `types[i]` of a decoded BTF has id `i + 1`.
 *
 * Every record on disk starts with the same 12-byte header (little-endian):
 *
 *     +0  u32 name_off       byte offset into the string section, 0 = anonymous
 *     +4  u32 info           bits  0-15 vlen, 24-28 kind, 31 kind_flag (16-23, 29-30 zero)
 *     +8  u32 size_or_type   a size in bytes or a type id, depending on the kind
 *
 * followed by kind-specific data (see the record-size table in btf.ts).
 */

/** BTF kind numbers (`BTF_KIND_*`). */
export const BtfKind = {
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const;

/** Name of a BTF kind in the id-based model. */
export type BtfKindName = keyof typeof BtfKind;

/** INT encoding (at most one bit: 1 SIGNED, 2 CHAR, 4 BOOL; 0 none). */
export type BtfIntEncoding = 'none' | 'signed' | 'char' | 'bool';

/** FUNC linkage, stored in vlen: 0 static, 1 global, 2 extern. */
export type BtfFuncLinkage = 'static' | 'global' | 'extern';

/** VAR linkage: 0 static, 1 global (allocated in the object), 2 extern. */
export type BtfVarLinkage = 'static' | 'global' | 'extern';

/** INT: `size` bytes, the value in `bits` bits starting at bit `bitOffset`. */
export interface BtfInt {
  readonly kind: 'int';
  readonly name: string;
  readonly size: number;
  readonly bitOffset: number;
  readonly bits: number;
  readonly encoding: BtfIntEncoding;
}

/** PTR to `type` (0 = void). */
export interface BtfPtr {
  readonly kind: 'ptr';
  readonly name: string;
  readonly type: number;
}

/** ARRAY of `nelems` elements of `type`, indexed by the INT `indexType`. */
export interface BtfArray {
  readonly kind: 'array';
  readonly name: string;
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

/** One member of a STRUCT or UNION. `bitSize` is non-zero only for bitfields of a kind_flag record. */
export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  readonly bitSize: number;
}

/**
 * STRUCT or UNION of `size` bytes. With `kindFlag` set each member's 32-bit offset field holds
 * `bitSize << 24 | bitOffset`; without it, the whole field is the bit offset and `bitSize` is 0.
 */
export interface BtfComposite {
  readonly kind: 'struct' | 'union';
  readonly name: string;
  readonly size: number;
  readonly kindFlag: boolean;
  readonly members: readonly BtfMember[];
}

/** ENUM with 32-bit values; `signed` is the kind_flag (values read as s32 instead of u32). */
export interface BtfEnum {
  readonly kind: 'enum';
  readonly name: string;
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly { readonly name: string; readonly value: number }[];
}

/** ENUM64 with 64-bit values; `signed` is the kind_flag. */
export interface BtfEnum64 {
  readonly kind: 'enum64';
  readonly name: string;
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly { readonly name: string; readonly value: bigint }[];
}

/** Forward declaration of a struct (or a union when `union`, the kind_flag). */
export interface BtfFwd {
  readonly kind: 'fwd';
  readonly name: string;
  readonly union: boolean;
}

/** TYPEDEF, VOLATILE, CONST, RESTRICT: a name or qualifier for `type` (0 = void). */
export interface BtfTypeRef {
  readonly kind: 'typedef' | 'volatile' | 'const' | 'restrict';
  readonly name: string;
  readonly type: number;
}

/** TYPE_TAG `name` on `type`; `kindFlag` marks an `__attribute__` style tag (newer kernels). */
export interface BtfTypeTag {
  readonly kind: 'type_tag';
  readonly name: string;
  readonly type: number;
  readonly kindFlag: boolean;
}

/** DECL_TAG `name` on `type`, on member/parameter `componentIdx` (-1 = the type itself). */
export interface BtfDeclTag {
  readonly kind: 'decl_tag';
  readonly name: string;
  readonly type: number;
  readonly componentIdx: number;
  readonly kindFlag: boolean;
}

/** FUNC `name` whose signature is the FUNC_PROTO `type`. */
export interface BtfFunc {
  readonly kind: 'func';
  readonly name: string;
  readonly type: number;
  readonly linkage: BtfFuncLinkage;
}

/** FUNC_PROTO: return type (0 = void) and parameters (a last param of type 0 means `...`). */
export interface BtfFuncProto {
  readonly kind: 'func_proto';
  readonly name: string;
  readonly returnType: number;
  readonly params: readonly { readonly name: string; readonly type: number }[];
}

/** VAR: a global variable `name` of `type`. */
export interface BtfVar {
  readonly kind: 'var';
  readonly name: string;
  readonly type: number;
  readonly linkage: BtfVarLinkage;
}

/** One variable of a DATASEC: the VAR id, its byte offset in the section and its size. */
export interface BtfVarSecinfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

/** DATASEC: an ELF data section (`.maps`, `license`, …) of `size` bytes and its variables. */
export interface BtfDatasec {
  readonly kind: 'datasec';
  readonly name: string;
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}

/** FLOAT of `size` bytes. */
export interface BtfFloat {
  readonly kind: 'float';
  readonly name: string;
  readonly size: number;
}

/** One BTF type record in the id-based model. */
export type BtfType =
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfFwd
  | BtfTypeRef
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag
  | BtfTypeTag
  | BtfEnum64;

/** What went wrong in BTF (and map definition) encoding, decoding or lookups. */
export type BtfErrorCode =
  | 'BTF_TRUNCATED'
  | 'BTF_BAD_MAGIC'
  | 'BTF_UNSUPPORTED'
  | 'BTF_BAD_HEADER'
  | 'BTF_BAD_STRINGS'
  | 'BTF_BAD_TYPE'
  | 'BTF_BAD_REFERENCE'
  | 'BTF_INVALID_INPUT'
  | 'BTF_NOT_FOUND'
  | 'BTF_NO_SIZE'
  | 'BTF_MAP_DEFINITION'
  | 'BTF_FIXUP';

/** A BTF error; `offset` is the byte offset in the `.BTF` data when the error is about bytes. */
export class BtfError extends Error {
  override readonly name = 'BtfError';
  readonly code: BtfErrorCode;
  readonly offset: number | undefined;

  constructor(code: BtfErrorCode, message: string, offset?: number) {
    super(message);
    this.code = code;
    this.offset = offset;
  }
}

/** `0x1f` style hex for byte offsets in messages. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
