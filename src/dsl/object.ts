/**
 * The object builder: programs and maps (with a license) to an ObjectSpec, and through the asm
 * room's `writeObject` to the bytes of a relocatable ELF object that bpftool/libbpf and our loader
 * load. Maps referenced by the programs are collected automatically.
 */
import type { ObjectSpec } from '../asm/object-spec.js';
import { writeObject } from '../asm/object-writer.js';
import { DslError } from './errors.js';
import type { MapDef } from './maps.js';
import type { Program } from './program.js';
import { captureLocation } from './source-location.js';

/** The license generated objects declare unless told otherwise (GPL-compatible: all helpers usable). */
export const DEFAULT_LICENSE = 'Dual BSD/GPL';

/** What `bpfObject()` takes. */
export interface ObjectOptions {
  readonly programs: readonly Program[];
  /** Maps to include even if no program references them. */
  readonly maps?: readonly MapDef[];
  /** License string (default "Dual BSD/GPL"). */
  readonly license?: string;
}

/** A built object: its spec, and its ELF bytes on demand. */
export interface BpfObject {
  /** The object as the ELF writer takes it. */
  readonly spec: ObjectSpec;
  /** Every map of the object, by name. */
  readonly maps: ReadonlyMap<string, MapDef>;
  /** The programs, in order. */
  readonly programs: readonly Program[];
  /** The relocatable ELF object (sections per shared/spec/elf-btf-bpf.md §7). */
  toElf(): Uint8Array;
  /** Listing of every program. */
  listing(): string;
}

/**
 * Collects programs and maps into an object. Two different maps (or programs) with one name are an
 * error naming the second declaration.
 */
export function bpfObject(options: ObjectOptions): BpfObject {
  const loc = captureLocation();
  const maps = new Map<string, MapDef>();
  const addMap = (m: MapDef) => {
    const seen = maps.get(m.name);
    if (seen && seen !== m) {
      throw new DslError(
        'DUPLICATE_NAME',
        `two different maps are named ${m.name} (declared at ${seen.location.file}:${seen.location.line} and ${m.location.file}:${m.location.line})`,
        loc,
      );
    }
    maps.set(m.name, m);
  };
  const names = new Set<string>();
  for (const p of options.programs) {
    if (names.has(p.name)) {
      throw new DslError('DUPLICATE_NAME', `two programs are named ${p.name}`, loc);
    }
    names.add(p.name);
    p.maps.forEach(addMap);
  }
  (options.maps ?? []).forEach(addMap);
  const spec: ObjectSpec = {
    license: options.license ?? DEFAULT_LICENSE,
    programs: options.programs.map((p) => p.toSpec()),
    maps: [...maps.values()].map((m) => m.toSpec()),
  };
  return {
    spec,
    maps,
    programs: options.programs,
    toElf: () => writeObject(spec),
    listing: () => options.programs.map((p) => p.listing()).join('\n'),
  };
}
