/**
 * `buildSockops(options)`: the socket acceleration object — the sock_ops and sk_msg programs and
 * their maps — as ELF bytes ready for any loader (ours, libbpf, bpftool), with a listing of every
 * instruction and the TypeScript line behind it, and metadata about the maps.
 */
import type { ObjectSpec } from '../asm/object-spec.js';
import { bpfObject, type MapDef, type Program, program } from '../dsl/index.js';
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
  /** Disassembly with the TypeScript source line of each instruction (formatted on first read). */
  readonly listing: string;
  /** The object before it became bytes (programs with their instructions and map references). */
  readonly object: ObjectSpec;
  readonly maps: readonly SockopsMapInfo[];
  readonly programs: { readonly sockops: SockopsProgramInfo; readonly skMsg: SockopsProgramInfo };
  /** The options with every default applied. */
  readonly options: ResolvedSockopsOptions;
}

/** Builds the socket acceleration object for `options` (see SockopsOptions for each option). */
export function buildSockops(options: SockopsOptions = {}): BuiltSockops {
  const o = resolveSockopsOptions(options);
  const maps = declareSockopsMaps(o);
  const sockops = program('sockops', o.programNames.sockops, (b) => emitSockOps(b, maps, o));
  const skMsg = program('sk_msg', o.programNames.skMsg, (b) => emitSkMsg(b, maps, o));
  const roles: [SockopsMapRole, MapDef | undefined][] = [
    ['sockhash', maps.sockhash],
    ['endpoints', maps.cilium?.endpoints],
    ['services', maps.cilium?.services],
    ['ipcache', maps.cilium?.ipcache],
    ['policy', maps.cilium?.policy],
    ['stats', maps.stats],
  ];
  const declared = roles.flatMap(([role, m]) => (m ? [{ role, def: m }] : []));
  const object = bpfObject({
    license: SOCKOPS_LICENSE,
    programs: [sockops, skMsg],
    maps: declared.map((m) => m.def),
  });
  const info = (p: Program): SockopsProgramInfo => ({
    name: p.name,
    section: p.section,
    insns: p.insns.length,
  });
  // The listing is formatted on first read: most callers (loaders, `tsbpf build` without a
  // listing) never look at it, and formatting every instruction was a tenth of a build.
  let listing: string | undefined;
  return {
    elf: object.toElf(),
    get listing(): string {
      listing ??= object.listing();
      return listing;
    },
    object: object.spec,
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
