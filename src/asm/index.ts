/**
 * Public API of the eBPF byte layer (`tsbpf/asm`): the instruction model, its encoding, decoding
 * and llvm-objdump-style disassembly. Other modules of src/asm append their exports below.
 */

// BTF, .BTF.ext, BTF map definitions and string tables.
export * from './btf.js';
export * from './btf-builder.js';
export * from './btf-dump.js';
export * from './btf-ext.js';
export * from './btf-maps.js';
export * from './btf-program.js';
export {
  type BtfArray,
  type BtfComposite,
  type BtfDatasec,
  type BtfDeclTag,
  type BtfEnum,
  type BtfEnum64,
  BtfError,
  type BtfErrorCode,
  type BtfFloat,
  type BtfFunc,
  type BtfFuncLinkage,
  type BtfFuncProto,
  type BtfFwd,
  type BtfInt,
  type BtfIntEncoding,
  BtfKind,
  type BtfKindName,
  type BtfMember,
  type BtfPtr,
  type BtfType,
  type BtfTypeRef,
  type BtfTypeTag,
  type BtfVar,
  type BtfVarLinkage,
  type BtfVarSecinfo,
} from './btf-types.js';
export * from './decode.js';
export * from './disasm.js';
export * from './elf.js';
export * from './elf-reader.js';
export * from './elf-writer.js';
export * from './encode.js';
export * from './insn.js';
export * from './insn-errors.js';
export * from './object-reader.js';
export type * from './object-spec.js';
export * from './object-writer.js';
export * from './opcodes.js';
export * from './string-table.js';
export * from './uapi.js';
