/**
 * ELF64 constants and record layouts for relocatable eBPF objects (little-endian, e_machine EM_BPF),
 * shared by the ELF writer and reader. Only what eBPF objects use is named here; the reader keeps
 * unknown values as plain numbers. Byte layouts (offsets in bytes, all fields little-endian):
 *
 * ELF header, 64 bytes:
 *
 *     0x00 e_ident[16]  7f 'E' 'L' 'F' | class 2 (64-bit) | data 1 (LSB) | version 1 | osabi 0 | pad
 *     0x10 e_type u16   1 = ET_REL          0x12 e_machine u16  247 = EM_BPF
 *     0x14 e_version u32 1                  0x18 e_entry u64    0
 *     0x20 e_phoff u64  0                   0x28 e_shoff u64    section header table offset
 *     0x30 e_flags u32  0                   0x34 e_ehsize u16   64
 *     0x36 e_phentsize u16 0                0x38 e_phnum u16    0
 *     0x3a e_shentsize u16 64               0x3c e_shnum u16    sections incl. index 0
 *     0x3e e_shstrndx u16  index of the section holding section names
 *
 * Section header, 64 bytes:
 *
 *     0x00 sh_name u32 (offset in shstrtab)  0x04 sh_type u32    0x08 sh_flags u64
 *     0x10 sh_addr u64 (0)                   0x18 sh_offset u64  0x20 sh_size u64
 *     0x28 sh_link u32                       0x2c sh_info u32    0x30 sh_addralign u64
 *     0x38 sh_entsize u64
 *
 * Symbol (Elf64_Sym), 24 bytes:
 *
 *     0x00 st_name u32  0x04 st_info u8 = bind << 4 | type  0x05 st_other u8  0x06 st_shndx u16
 *     0x08 st_value u64 0x10 st_size u64
 *
 * Relocation (Elf64_Rel), 16 bytes:
 *
 *     0x00 r_offset u64  0x08 r_info u64 = symbol index << 32 | type
 */

/** Size of the ELF64 file header. */
export const ELF_HEADER_SIZE = 64;
/** Size of one ELF64 section header. */
export const SECTION_HEADER_SIZE = 64;
/** Size of one ELF64 program header (relocatable objects have none; the reader bounds-checks them). */
export const PROGRAM_HEADER_SIZE = 56;
/** Size of one Elf64_Sym. */
export const SYMBOL_SIZE = 24;
/** Size of one Elf64_Rel. */
export const REL_SIZE = 16;
/** Size of one Elf64_Rela (recognised, not used by eBPF loaders). */
export const RELA_SIZE = 24;

/** The four magic bytes at offset 0. */
export const ELF_MAGIC: readonly number[] = [0x7f, 0x45, 0x4c, 0x46];
/** e_ident[EI_CLASS] for 64-bit objects. */
export const ELFCLASS64 = 2;
/** e_ident[EI_DATA] for little-endian objects. */
export const ELFDATA2LSB = 1;
/** e_ident[EI_VERSION] and e_version. */
export const EV_CURRENT = 1;
/** e_type of relocatable objects. */
export const ET_REL = 1;
/** e_machine of eBPF objects (libbpf also accepts 0, written by old LLVM). */
export const EM_BPF = 247;
/** e_machine 0 (EM_NONE), accepted by libbpf for objects from old LLVM versions. */
export const EM_NONE = 0;

/** Section types (sh_type). */
export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  NOBITS: 8,
  REL: 9,
  /** `.llvm_addrsig`, ignored by loaders. */
  LLVM_ADDRSIG: 0x6fff4c03,
} as const;

/** Section flags (sh_flags bits). */
export const SHF = {
  WRITE: 0x1,
  ALLOC: 0x2,
  EXECINSTR: 0x4,
  MERGE: 0x10,
  STRINGS: 0x20,
  INFO_LINK: 0x40,
  EXCLUDE: 0x80000000,
} as const;

/** Special section indexes (st_shndx). */
export const SHN = {
  UNDEF: 0,
  LORESERVE: 0xff00,
  ABS: 0xfff1,
  COMMON: 0xfff2,
  XINDEX: 0xffff,
} as const;

/** Symbol bindings (st_info >> 4). */
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;

/** Symbol types (st_info & 0xf). */
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;

/** Symbol visibility (st_other & 3). */
export const STV = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 } as const;

/** LLVM's BPF relocation types (kernel Documentation/bpf/llvm_reloc.rst). */
export const R_BPF = {
  NONE: 0,
  /** `ld_imm64` of a map or global address: 32-bit imm of the first slot. */
  R_BPF_64_64: 1,
  /** 64-bit data (DWARF, data pointers). */
  R_BPF_64_ABS64: 2,
  /** 32-bit data (DWARF). */
  R_BPF_64_ABS32: 3,
  /** `.BTF`/`.BTF.ext` fields; no dynamic-loader meaning. */
  R_BPF_64_NODYLD32: 4,
  /** bpf-to-bpf `call`: imm = (S + A) / 8 - 1. */
  R_BPF_64_32: 10,
} as const;

/** One entry of the symbol table, as read or written. */
export interface ElfSymbol {
  readonly name: string;
  /** STB_* binding. */
  readonly bind: number;
  /** STT_* type. */
  readonly type: number;
  /** st_other (visibility in the low 2 bits). */
  readonly other: number;
  /** st_shndx: the defining section index, or an SHN_* value. */
  readonly sectionIndex: number;
  readonly value: number;
  readonly size: number;
}

/** One Elf64_Rel entry. */
export interface ElfRelocation {
  /** Byte offset in the target section (for R_BPF_64_64: of the first slot of the ld_imm64). */
  readonly offset: number;
  /** Index into the symbol table. */
  readonly symbol: number;
  /** R_BPF_* type. */
  readonly type: number;
}
