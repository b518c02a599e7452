/**
 * `loadObject`: an eBPF ELF object (ours or clang's) made live in the kernel, the libbpf way, as
 * one ordered pipeline (shared/spec/elf-btf-bpf.md §4.8):
 *
 *   1. read the ELF (src/asm `readObject`): programs, relocations, `.maps` BTF definitions, BTF;
 *   2. plan each program: type from its section name, subprograms (bpf-to-bpf calls) appended,
 *      requirements probed (`checkObjectSupport`) so a missing feature is named before anything loads;
 *   3. BTF: DATASEC fix-ups (`fixupDatasecs`), BPF_BTF_LOAD — on failure warn and go on without it;
 *   4. maps: BPF_MAP_CREATE, or reuse/pin by name under `pinDir` (LIBBPF_PIN_BY_NAME);
 *   5. relocate: each map `ld_imm64` gets src_reg = BPF_PSEUDO_MAP_FD (1) and imm = the map fd;
 *   6. func_info/line_info from `.BTF.ext`, rewritten from section byte offsets to per-program
 *      instruction indexes, passed with prog_btf_fd;
 *   7. BPF_PROG_LOAD (no log first, then a growing log; VerifierError on rejection).
 *
 * On any failure everything created so far is closed, and maps this call pinned are unpinned.
 */
import { readFileSync } from 'node:fs';
import { programBtfExt } from '../asm/btf-ext.js';
import { fixupDatasecs } from '../asm/btf-maps.js';
import { type BpfObjectFile, type ObjectProgram, readObject } from '../asm/object-reader.js';
import { btfLoad, type ProgLoadRequest, progLoad } from './commands.js';
import { BpfError, type LoadedLineInfo, LoaderError } from './errors.js';
import { BpfProgram, Fd, LoadedObject } from './fd.js';
import { ensureBpffs, ensurePinDir, pinPath, unpin } from './fs.js';
import { type BpfMap, createMap, createOrReuseMap, type MapDefinition } from './maps.js';
import { checkObjectSupport, type ObjectRequirements } from './probes.js';
import { isAutoloadOff, knownSectionNames, programTypeOfSection } from './sections.js';
import { type BpfSyscall, systemSyscall } from './syscall.js';

/** Options of `loadObject`. */
export interface LoadObjectOptions {
  /** Kernel interface (default: the real one through koffi; tests pass a fake). */
  readonly sys?: BpfSyscall;
  /**
   * Directory (inside bpffs) for maps declared with `pinning = LIBBPF_PIN_BY_NAME`: a compatible
   * map pinned there is reused, an incompatible one refused, a missing one created and pinned.
   * Default: the bpffs root (e.g. /sys/fs/bpf), as libbpf does.
   */
  readonly pinDir?: string;
  /** Use these maps instead of creating the object's maps of the same name (sharing maps). */
  readonly maps?: Readonly<Record<string, BpfMap>>;
  /** Load only these programs (by name); default every program. */
  readonly programs?: readonly string[];
  /** Program type per program name, for sections whose name does not tell it. */
  readonly programTypes?: Readonly<
    Record<string, { progType: number; expectedAttachType?: number }>
  >;
  /** Verifier log level for every program (0 = log only on failure; see `ProgLoadRequest`). */
  readonly logLevel?: number;
  /** Initial verifier log size in bytes. */
  readonly logSize?: number;
  /** Load without BTF (no func/line info) even when the object has it. */
  readonly noBtf?: boolean;
  /** Probe the kernel for the object's program types, map types and helpers first (default true). */
  readonly checkSupport?: boolean;
  /** Receives warnings (BTF refused, map created without BTF types, …). Default: console.warn. */
  readonly onWarning?: (message: string) => void;
}

/** A program of the object as it will be loaded. */
export interface PlannedProgram {
  readonly name: string;
  readonly section: string;
  readonly progType: number;
  readonly expectedAttachType: number;
  /** Main program then appended subprograms, as instruction bytes (maps not yet relocated). */
  readonly insns: Uint8Array;
  /** Map relocations: slot index of the ld_imm64 and the map name. */
  readonly mapRelocations: readonly { readonly slot: number; readonly map: string }[];
  /** func_info records (slot index, FUNC type id) for the whole program, subprograms included. */
  readonly funcInfo: readonly { readonly slot: number; readonly typeId: number }[];
  /** line_info records (slot index, string offsets, line, col). */
  readonly lineInfo: readonly {
    readonly slot: number;
    readonly fileNameOff: number;
    readonly lineOff: number;
    readonly line: number;
    readonly col: number;
  }[];
  /** Line info with strings, for VerifierError source mapping. */
  readonly sourceLines: readonly LoadedLineInfo[];
  /** Helper ids called. */
  readonly helpers: readonly number[];
}

function badObject(message: string): LoaderError {
  return new LoaderError('ERR_BAD_OBJECT', message);
}

/** Reads an object, wrapping the reader's errors in a `LoaderError` ERR_BAD_OBJECT. */
export function parseObject(input: Uint8Array | string): BpfObjectFile {
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = readFileSync(input);
    } catch (err) {
      throw badObject(`cannot read object ${input}: ${(err as Error).message}`);
    }
  } else {
    bytes = input;
  }
  try {
    return readObject(bytes);
  } catch (err) {
    const where = typeof input === 'string' ? input : 'object';
    const e = new LoaderError('ERR_BAD_OBJECT', `${where}: ${(err as Error).message}`);
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
}

/** Raw bytes of a program (as in the ELF section). */
function programBytes(obj: BpfObjectFile, p: ObjectProgram): Uint8Array {
  const section = obj.elf.sections[p.sectionIndex];
  if (!section) throw badObject(`program ${p.name}: section ${p.sectionIndex} missing`);
  return section.data.subarray(p.offset, p.offset + p.size);
}

/** The program of section `sectionName` containing byte `offset`. */
function programAt(
  obj: BpfObjectFile,
  sectionName: string,
  offset: number,
): ObjectProgram | undefined {
  return obj.programs.find(
    (p) => p.section === sectionName && offset >= p.offset && offset < p.offset + p.size,
  );
}

/**
 * Plans the loadable programs of `obj`: type from the section, subprograms appended after the
 * main program with call offsets fixed (libbpf's `bpf_object__reloc_code`), func/line info in
 * slots of the combined program.
 */
export function planPrograms(
  obj: BpfObjectFile,
  options: Pick<LoadObjectOptions, 'programs' | 'programTypes'> = {},
): PlannedProgram[] {
  const wanted = options.programs ? new Set(options.programs) : undefined;
  const plans: PlannedProgram[] = [];
  for (const main of obj.programs) {
    if (main.subprogram) continue;
    if (wanted ? !wanted.has(main.name) : isAutoloadOff(main.section)) continue;
    const type = options.programTypes?.[main.name] ?? programTypeOfSection(main.section);
    if (!type) {
      throw badObject(
        `cannot tell the program type of ${main.name} from its section '${main.section}'; ` +
          `known section names: ${knownSectionNames().join(', ')} (or pass options.programTypes)`,
      );
    }
    plans.push(planOne(obj, main, type.progType, type.expectedAttachType ?? 0));
  }
  if (wanted) {
    for (const name of wanted) {
      if (!plans.some((p) => p.name === name)) {
        throw new LoaderError(
          'ERR_BAD_ARGUMENT',
          `no program '${name}' in the object (programs: ${obj.programs
            .filter((p) => !p.subprogram)
            .map((p) => p.name)
            .join(', ')})`,
        );
      }
    }
  }
  return plans;
}

function planOne(
  obj: BpfObjectFile,
  main: ObjectProgram,
  progType: number,
  expectedAttachType: number,
): PlannedProgram {
  // Layout: main program first, then each subprogram once, in the order first called.
  const parts: { prog: ObjectProgram; startSlot: number }[] = [{ prog: main, startSlot: 0 }];
  let totalSlots = main.size / 8;
  const chunks: Uint8Array[] = [programBytes(obj, main).slice()];
  const mapRelocations: { slot: number; map: string }[] = [];
  const helpers = new Set<number>();

  /** Slot in the combined program of byte `offset` of section `section` (appending its function). */
  const placeCallee = (
    caller: ObjectProgram,
    section: string,
    offset: number,
    at: number,
  ): number => {
    const callee = programAt(obj, section, offset);
    if (!callee) {
      throw badObject(
        `program ${caller.name}: call at instruction ${at} goes to ${section}+${offset}, where no function is`,
      );
    }
    let part = parts.find((p) => p.prog === callee);
    if (!part) {
      part = { prog: callee, startSlot: totalSlots };
      parts.push(part);
      chunks.push(programBytes(obj, callee).slice());
      totalSlots += callee.size / 8;
    }
    return part.startSlot + (offset - callee.offset) / 8;
  };

  for (let i = 0; i < parts.length; i++) {
    const { prog, startSlot } = parts[i]!;
    const bytes = chunks[i]!;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const insn of prog.insns) {
      if (insn.kind === 'call' && insn.target === 'helper') helpers.add(insn.imm);
    }
    // Calls clang resolved itself (to a function of the same section, no relocation): the
    // callee is at the call's section offset + (imm + 1) slots, as libbpf computes it.
    const relocated = new Set(prog.relocations.map((r) => r.offset));
    for (let at = 0; at < bytes.length; at += 8) {
      if (bytes[at] !== 0x85 || (bytes[at + 1] ?? 0) >> 4 !== 1 || relocated.has(at)) continue;
      const imm = view.getInt32(at + 4, true);
      const slot = at / 8;
      const dest = placeCallee(prog, prog.section, prog.offset + (slot + 1 + imm) * 8, slot);
      view.setInt32(at + 4, dest - (startSlot + slot + 1), true);
    }
    for (const rel of prog.relocations) {
      const slot = rel.offset / 8;
      const opcode = bytes[rel.offset];
      if (rel.target.kind === 'map') {
        if (opcode !== 0x18) {
          throw badObject(
            `program ${prog.name}: relocation against map ${rel.target.map} at instruction ${slot} ` +
              `is on opcode 0x${(opcode ?? 0).toString(16)}, not an ld_imm64 (0x18)`,
          );
        }
        mapRelocations.push({ slot: startSlot + slot, map: rel.target.map });
        continue;
      }
      const target = rel.target;
      const srcReg = (bytes[rel.offset + 1] ?? 0) >> 4;
      if (opcode === 0x85 && srcReg === 1 && target.section !== undefined) {
        // bpf-to-bpf call: the callee starts at symbol value + (imm + 1) slots (clang leaves
        // imm = -1 for function symbols and the in-section offset for section symbols).
        const imm = view.getInt32(rel.offset + 4, true);
        const dest = placeCallee(prog, target.section, target.value + (imm + 1) * 8, slot);
        view.setInt32(rel.offset + 4, dest - (startSlot + slot + 1), true);
        continue;
      }
      if (opcode === 0x18 && target.section && /^\.(data|rodata|bss)/.test(target.section)) {
        throw new LoaderError(
          'ERR_UNSUPPORTED',
          `program ${prog.name} uses global data in ${target.section} (symbol ${target.name}); ` +
            'the loader supports maps declared in .maps only',
        );
      }
      throw new LoaderError(
        'ERR_UNSUPPORTED',
        `program ${prog.name}: relocation type ${rel.type} against ${target.name} at instruction ${slot} ` +
          `(opcode 0x${(opcode ?? 0).toString(16)}) is not supported (externs, kfuncs and CO-RE are not)`,
      );
    }
  }

  const insns = new Uint8Array(totalSlots * 8);
  parts.forEach((p, i) => {
    insns.set(chunks[i]!, p.startSlot * 8);
  });

  // func/line info: libbpf drops all of .BTF.ext for the program when the main program lacks it.
  const funcInfo: { slot: number; typeId: number }[] = [];
  const lineInfo: PlannedProgram['lineInfo'][number][] = [];
  const sourceLines: LoadedLineInfo[] = [];
  const ext = obj.btfExt;
  if (ext && obj.btf && main.funcInfo.length > 0) {
    const raw = programLineRecords(obj, parts);
    let complete = true;
    for (const p of parts) {
      if (p.prog.funcInfo.length === 0) complete = false;
      for (const f of p.prog.funcInfo) {
        funcInfo.push({ slot: p.startSlot + (p.prog.slots[f.insn] ?? 0), typeId: f.typeId });
      }
      for (const l of p.prog.lineInfo) {
        sourceLines.push({
          insn: p.startSlot + (p.prog.slots[l.insn] ?? 0),
          file: l.file,
          line: l.line,
          col: l.col,
          text: l.text,
        });
      }
    }
    if (complete) lineInfo.push(...raw);
    else funcInfo.length = 0;
  }
  return {
    name: main.name,
    section: main.section,
    progType,
    expectedAttachType,
    insns,
    mapRelocations,
    funcInfo,
    lineInfo,
    sourceLines,
    helpers: [...helpers].sort((a, b) => a - b),
  };
}

/** line_info records of every part, with string offsets, in slots of the combined program. */
function programLineRecords(
  obj: BpfObjectFile,
  parts: readonly { prog: ObjectProgram; startSlot: number }[],
): PlannedProgram['lineInfo'][number][] {
  const out: PlannedProgram['lineInfo'][number][] = [];
  if (!obj.btfExt || !obj.btf) return out;
  for (const { prog, startSlot } of parts) {
    const ext = programBtfExt(obj.btfExt, obj.btf, prog.section, prog.offset, prog.size);
    for (const r of ext.lineInfo) {
      out.push({
        slot: startSlot + r.insnOff,
        fileNameOff: r.fileNameOff,
        lineOff: r.lineOff,
        line: r.line,
        col: r.col,
      });
    }
  }
  return out;
}

/** What `obj` needs from the kernel (program types with their helpers, map types). */
export function objectRequirements(
  obj: BpfObjectFile,
  plans?: readonly PlannedProgram[],
): ObjectRequirements {
  const planned = plans ?? planPrograms(obj);
  return {
    programs: planned.map((p) => ({ progType: p.progType, helpers: p.helpers })),
    mapTypes: obj.maps.map((m) => m.type),
  };
}

/**
 * Probes the kernel for everything `input` needs (program types, helpers per program type, map
 * types) and throws `LoaderError` ERR_UNSUPPORTED naming exactly what is missing; loads nothing.
 * `loadObject` does this itself unless `checkSupport: false`.
 */
export function checkObject(
  input: Uint8Array | string,
  options: Pick<LoadObjectOptions, 'sys' | 'programs' | 'programTypes'> = {},
): void {
  const obj = parseObject(input);
  checkObjectSupport(
    options.sys ?? systemSyscall(),
    objectRequirements(obj, planPrograms(obj, options)),
  );
}

/** Encodes func_info records (rec size 8: insn_off, type_id). */
function encodeFuncInfo(records: PlannedProgram['funcInfo']): Uint8Array {
  const out = new Uint8Array(records.length * 8);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => {
    v.setUint32(i * 8, r.slot, true);
    v.setUint32(i * 8 + 4, r.typeId, true);
  });
  return out;
}

/** Encodes line_info records (rec size 16: insn_off, file_name_off, line_off, line << 10 | col). */
function encodeLineInfo(records: PlannedProgram['lineInfo']): Uint8Array {
  const out = new Uint8Array(records.length * 16);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => {
    v.setUint32(i * 16, r.slot, true);
    v.setUint32(i * 16 + 4, r.fileNameOff, true);
    v.setUint32(i * 16 + 8, r.lineOff, true);
    v.setUint32(i * 16 + 12, ((r.line << 10) | (r.col & 0x3ff)) >>> 0, true);
  });
  return out;
}

/** Patches every map ld_imm64 of `plan`: src_reg = BPF_PSEUDO_MAP_FD (1), imm = the map fd. */
export function relocateMaps(plan: PlannedProgram, fdOf: (map: string) => number): Uint8Array {
  const insns = plan.insns.slice();
  const view = new DataView(insns.buffer);
  for (const r of plan.mapRelocations) {
    const at = r.slot * 8;
    insns[at + 1] = (1 << 4) | ((insns[at + 1] ?? 0) & 0x0f);
    view.setInt32(at + 4, fdOf(r.map), true);
  }
  return insns;
}

/**
 * Loads an eBPF object into the kernel (see the module comment for the pipeline). Returns a
 * `LoadedObject` owning every fd; close it (or `using`) when done — pinned maps and attached
 * programs stay in the kernel.
 */
export function loadObject(
  input: Uint8Array | string,
  options: LoadObjectOptions = {},
): LoadedObject {
  const sys = options.sys ?? systemSyscall();
  const warn = options.onWarning ?? ((m: string) => console.warn(`tsbpf: ${m}`));
  const obj = parseObject(input);
  const plans = planPrograms(obj, options);
  for (const r of plans.flatMap((p) => p.mapRelocations)) {
    if (!obj.maps.some((m) => m.name === r.map)) {
      throw badObject(`a program references map ${r.map}, which .maps does not define`);
    }
  }
  if (options.checkSupport ?? true) checkObjectSupport(sys, objectRequirements(obj, plans));

  const maps = new Map<string, BpfMap>();
  const programs = new Map<string, BpfProgram>();
  const pinnedHere: string[] = [];
  const createdDirs: string[] = [];
  let btfFd: Fd | undefined;
  try {
    // 3. BTF
    if (obj.btf && !options.noBtf) {
      let fixed: Uint8Array | undefined;
      try {
        const sizes = new Map(obj.elf.sections.map((s) => [s.name, s.size] as const));
        const symbols = new Map(
          obj.elf.symbols
            .filter((s) => s.type === 1 && s.bind !== 0)
            .map((s) => [s.name, s.value] as const),
        );
        fixed = fixupDatasecs(obj.btf.bytes, sizes, symbols);
      } catch (err) {
        warn(`BTF fix-up failed (${(err as Error).message}); loading without BTF`);
      }
      if (fixed) {
        const res = btfLoad(sys, fixed);
        // Missing privileges are not a BTF problem: going on without BTF would only fail later.
        if (!res.ok && res.error.errno === 'EPERM') throw res.error;
        if (res.ok) btfFd = new Fd(sys, res.fd, 'object BTF');
        else
          warn(
            `the kernel refused the object's BTF (${res.error.message}); loading without BTF (no func/line info)`,
          );
      }
    }

    // 4. maps
    for (const m of obj.maps) {
      const given = options.maps?.[m.name];
      if (given) {
        maps.set(m.name, given);
        continue;
      }
      const def: MapDefinition = {
        name: m.name,
        type: m.type,
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
        flags: m.mapFlags,
        mapExtra: BigInt(m.mapExtra),
        numaNode: m.numaNode,
        ...(btfFd && m.keyTypeId && m.valueTypeId
          ? { btf: { fd: btfFd.value, keyTypeId: m.keyTypeId, valueTypeId: m.valueTypeId } }
          : {}),
      };
      if (m.pinning === 'by_name') {
        const dir = options.pinDir ?? ensureBpffs(sys);
        const created = ensurePinDir(sys, dir);
        if (created !== undefined) createdDirs.push(created);
        const path = pinPath(dir, m.name);
        const { map, reused } = createOrReuseMap(sys, def, path);
        if (!reused) pinnedHere.push(path);
        maps.set(m.name, map);
      } else {
        maps.set(m.name, createMapFallingBackWithoutBtf(sys, def, warn));
      }
    }

    // 5–7. programs
    for (const plan of plans) {
      const insns = relocateMaps(plan, (name) => maps.get(name)!.fd.value);
      const withBtf = btfFd !== undefined && plan.funcInfo.length > 0;
      const req: ProgLoadRequest = {
        progType: plan.progType,
        expectedAttachType: plan.expectedAttachType,
        name: plan.name.slice(0, 15),
        insns,
        license: obj.license ?? '',
        ...(withBtf
          ? {
              btfFd: btfFd!.value,
              funcInfo: { records: encodeFuncInfo(plan.funcInfo), recSize: 8 },
              ...(plan.lineInfo.length > 0
                ? { lineInfo: { records: encodeLineInfo(plan.lineInfo), recSize: 16 } }
                : {}),
            }
          : {}),
        sourceLines: plan.sourceLines,
        ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
        ...(options.logSize !== undefined ? { logSize: options.logSize } : {}),
      };
      const { fd, log } = progLoad(sys, req);
      programs.set(
        plan.name,
        new BpfProgram(sys, fd, {
          name: plan.name,
          type: plan.progType,
          expectedAttachType: plan.expectedAttachType,
          section: plan.section,
          log,
        }),
      );
    }
  } catch (err) {
    for (const p of programs.values()) p.close();
    for (const [name, m] of maps) if (!options.maps?.[name]) m.close();
    btfFd?.close();
    for (const path of pinnedHere) {
      try {
        unpin(sys, path);
      } catch {
        // best effort: the original error matters more
      }
    }
    for (const dir of createdDirs.reverse()) sys.removeTree(dir);
    throw err;
  }
  return new LoadedObject({
    maps,
    programs,
    ...(btfFd ? { btfFd } : {}),
    license: obj.license ?? '',
  });
}

/** Creates a map; if the kernel refuses its BTF key/value types, warns and creates it without. */
function createMapFallingBackWithoutBtf(
  sys: BpfSyscall,
  def: MapDefinition,
  warn: (m: string) => void,
): BpfMap {
  try {
    return createMap(sys, def);
  } catch (err) {
    if (!def.btf || !(err instanceof BpfError) || err.errno === 'EPERM') throw err;
    warn(
      `map ${def.name}: the kernel refused its BTF types (${err.errno}); creating it without BTF`,
    );
    const { btf: _drop, ...plain } = def;
    return createMap(sys, plain);
  }
}
