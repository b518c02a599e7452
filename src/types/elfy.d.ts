/**
 * Types for `elfy` 1.0 (untyped CommonJS): only what src/asm/elf-reader.ts uses. elfy decodes the
 * ELF header and section table; 64-bit `addralign`/`entsize` are read from the wrong offsets (46/54
 * instead of 48/56) and `flags` become a lossy name map, so the reader takes those three from the
 * raw section headers itself.
 */
declare module 'elfy' {
  /** One section as elfy decodes it; `type` is a lower-case name ('progbits') or the raw number. */
  export interface ElfySection {
    name: string;
    type: string | number;
    flags: Record<string, boolean>;
    addr: number;
    off: number;
    size: number;
    link: number;
    info: number;
    addralign: number;
    entsize: number;
    data: Buffer;
  }

  /** The decoded file: header fields (names or numbers) and the section table. */
  export interface ElfyFile {
    class: string;
    endian: string;
    type: string | undefined;
    machine: string | undefined;
    shoff: number;
    shnum: number;
    shstrndx: number;
    body: { programs: unknown[]; sections: ElfySection[] };
  }

  /** Parses an ELF file; throws plain Errors (or assertion errors) on malformed input. */
  export function parse(buf: Buffer): ElfyFile;

  /** elfy's number-to-name tables; `sectType` maps sh_type values to the names used in `type`. */
  export const constants: { sectType: Record<number, string> };

  const elfy: { parse: typeof parse; constants: typeof constants };
  export default elfy;
}
