/**
 * `buildSockops(options)`: the socket acceleration object — the sock_ops and sk_msg programs and
 * their maps — as ELF bytes ready for any loader (ours, libbpf, bpftool), with a listing of every
 * instruction and the TypeScript line behind it, and metadata about the maps.
 */
import { formatInsn } from '../asm/disasm.js';
import { slotCount } from '../asm/insn.js';
import type { ObjectSpec, ProgramSpec, SourceLine } from '../asm/object-spec.js';
import { writeObject } from '../asm/object-writer.js';
import { assemble } from '../dsl/assemble.js';
import { ProgramBuilder } from '../dsl/builder.js';
import { checkProgram } from '../dsl/check.js';
import { DslError, ProgramCheckError } from '../dsl/errors.js';
import type { MapDef } from '../dsl/maps.js';
import { PROGRAM_TYPES, type ProgramTypeName } from '../dsl/program-types.js';
import { declareSockopsMaps, type SockopsMapRole } from './maps.js';
import {
  type ResolvedSockopsOptions,
  resolveSockopsOptions,
  type SockopsOptions,
} from './options.js';
import { emitSkMsg } from './sk-msg.js';
import { emitSockOps } from './sock-ops.js';

/** The license the programs declare (sock_hash_update and msg_redirect_hash need GPL-compatible). */
export const SOCKOPS_LICENSE = 'Dual BSD/GPL';

/** One map of a build, as loaders and operators need to know it. */
export interface SockopsMapInfo {
  /** What the map is for. */
  readonly role: SockopsMapRole;
  /** Kernel map name (and pin name). */
  readonly name: string;
  /** BPF_MAP_TYPE_* number. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinning: 'none' | 'by_name';
}

/** One program of a build. */
export interface SockopsProgramInfo {
  /** Kernel program name (the ELF symbol). */
  readonly name: string;
  /** ELF section: `sockops` or `sk_msg`. */
  readonly section: string;
  /** Number of instructions (ld_imm64 counts once). */
  readonly insns: number;
}

/** What `buildSockops()` returns. */
export interface BuiltSockops {
  /** The relocatable ELF object. */
  readonly elf: Uint8Array;
  /** Disassembly with the TypeScript source line of each instruction. */
  readonly listing: string;
  /** The object before it became bytes (programs with their instructions and map references). */
  readonly object: ObjectSpec;
  readonly maps: readonly SockopsMapInfo[];
  readonly programs: { readonly sockops: SockopsProgramInfo; readonly skMsg: SockopsProgramInfo };
  /** The options with every default applied. */
  readonly options: ResolvedSockopsOptions;
}

/** One assembled program with what the listing needs. */
interface AssembledProgram {
  readonly spec: ProgramSpec;
  readonly maps: readonly MapDef[];
  readonly listing: string;
}

/**
 * Builds one program with the DSL: runs the body on a builder, resolves labels, runs the DSL's
 * build-time checks, and turns the source location of every instruction into line info.
 */
function assembleProgram<P extends ProgramTypeName>(
  type: P,
  name: string,
  body: (b: ProgramBuilder<P>) => void,
): AssembledProgram {
  const b = new ProgramBuilder(type, name);
  body(b);
  const { items, fallsOffAt } = b.finish();
  if (fallsOffAt) {
    throw new DslError('FALL_OFF_END', `program ${name} can fall off its end`, fallsOffAt);
  }
  const asm = assemble(items);
  const diagnostics = checkProgram({
    name,
    type,
    insns: asm.insns,
    locs: asm.locs,
    maps: asm.maps,
  });
  if (diagnostics.length > 0) throw new ProgramCheckError(name, diagnostics);
  const lines: SourceLine[] = [];
  const listing: string[] = [`${name} (section ${PROGRAM_TYPES[type].section}):`];
  let slot = 0;
  let last = '';
  asm.insns.forEach((insn, i) => {
    const loc = asm.locs[i];
    const where = loc ? `${loc.file}:${loc.line}` : '';
    if (loc && where !== last) {
      lines.push({
        insn: i,
        file: loc.file,
        text: loc.text,
        line: loc.line,
        col: Math.min(loc.col, 1023),
      });
      listing.push(`; ${where}  ${loc.text.trim()}`);
      last = where;
    }
    const map = asm.maps.get(i);
    listing.push(
      `${String(slot).padStart(5)}: ${formatInsn(insn)}${map ? `  ; map ${map.name}` : ''}`,
    );
    slot += slotCount(insn);
  });
  const maps = [...new Set(asm.maps.values())];
  return {
    spec: {
      name,
      section: PROGRAM_TYPES[type].section,
      insns: asm.insns,
      mapRefs: [...asm.maps].map(([insn, m]) => ({ insn, map: m.name })),
      lines,
    },
    maps,
    listing: listing.join('\n'),
  };
}

/** Builds the socket acceleration object for `options` (see SockopsOptions for each option). */
export function buildSockops(options: SockopsOptions = {}): BuiltSockops {
  const o = resolveSockopsOptions(options);
  const maps = declareSockopsMaps(o);
  const sockops = assembleProgram('sockops', o.programNames.sockops, (b) =>
    emitSockOps(b, maps, o),
  );
  const skMsg = assembleProgram('sk_msg', o.programNames.skMsg, (b) => emitSkMsg(b, maps, o));
  const roles: [SockopsMapRole, MapDef | undefined][] = [
    ['sockhash', maps.sockhash],
    ['endpoints', maps.cilium?.endpoints],
    ['services', maps.cilium?.services],
    ['ipcache', maps.cilium?.ipcache],
    ['policy', maps.cilium?.policy],
    ['stats', maps.stats],
  ];
  const declared = roles.flatMap(([role, m]) => (m ? [{ role, def: m }] : []));
  const object: ObjectSpec = {
    license: SOCKOPS_LICENSE,
    programs: [sockops.spec, skMsg.spec],
    maps: declared.map((m) => m.def.toSpec()),
  };
  const info = (p: AssembledProgram): SockopsProgramInfo => ({
    name: p.spec.name,
    section: p.spec.section,
    insns: p.spec.insns.length,
  });
  return {
    elf: writeObject(object),
    listing: `${sockops.listing}\n\n${skMsg.listing}\n`,
    object,
    maps: declared.map(({ role, def }) => ({
      role,
      name: def.name,
      type: def.typeId,
      keySize: def.keySize,
      valueSize: def.valueSize,
      maxEntries: def.maxEntries,
      flags: def.flags,
      pinning: def.pinning,
    })),
    programs: { sockops: info(sockops), skMsg: info(skMsg) },
    options: o,
  };
}
