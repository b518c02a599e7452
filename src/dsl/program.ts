/**
 * `program()`: runs a DSL body against a fresh builder, assembles it, runs the build-time checks and
 * returns the program with its instructions, per-instruction TypeScript locations, map references
 * and the ProgramSpec the ELF writer takes.
 */
import type { Insn } from '../asm/insn.js';
import type { MapReference, ProgramSpec, SourceLine } from '../asm/object-spec.js';
import { assemble } from './assemble.js';
import { ProgramBuilder } from './builder.js';
import { checkProgram } from './check.js';
import { DslError, ProgramCheckError } from './errors.js';
import { formatListing } from './listing.js';
import type { MapDef } from './maps.js';
import { PROGRAM_TYPES, type ProgramTypeName } from './program-types.js';
import { captureLocation, type SourceLocation } from './source-location.js';

/** Options of `program()`. */
export interface ProgramOptions {
  /** Run the build-time checks (default true). Turn off only to build deliberately broken programs. */
  readonly check?: boolean;
  /** Name of the ctx parameter in the program's BTF signature (default `ctx`). */
  readonly ctxName?: string;
}

const NAME = /^[A-Za-z0-9_]{1,15}$/;

/** A built program: instructions plus where each came from. */
export class Program<P extends ProgramTypeName = ProgramTypeName> {
  /** Program (symbol and kernel) name. */
  readonly name: string;
  /** Program type. */
  readonly type: P;
  /** ELF section name (tells loaders the program type). */
  readonly section: string;
  /** The instructions (ld_imm64 is one instruction of two slots). */
  readonly insns: readonly Insn[];
  /** The DSL call behind each instruction. */
  readonly locations: readonly SourceLocation[];
  /** The map used by each map-referencing ld_imm64, by instruction index. */
  readonly mapUses: ReadonlyMap<number, MapDef>;
  /** Where `program()` was called. */
  readonly location: SourceLocation;
  readonly #ctxName: string;

  /** Use `program()`. */
  constructor(
    name: string,
    type: P,
    insns: readonly Insn[],
    locations: readonly SourceLocation[],
    mapUses: ReadonlyMap<number, MapDef>,
    location: SourceLocation,
    ctxName: string,
  ) {
    this.name = name;
    this.type = type;
    this.section = PROGRAM_TYPES[type].section;
    this.insns = insns;
    this.locations = locations;
    this.mapUses = mapUses;
    this.location = location;
    this.#ctxName = ctxName;
  }

  /** Distinct maps the program references, in first-use order. */
  get maps(): readonly MapDef[] {
    return [...new Set(this.mapUses.values())];
  }

  /** Number of 8-byte instruction slots (ld_imm64 counts 2). */
  get slots(): number {
    return this.insns.reduce((n, i) => n + (i.kind === 'ld_imm64' ? 2 : 1), 0);
  }

  /** Line info: one record where the source location changes (first at instruction 0). */
  get lines(): readonly SourceLine[] {
    const out: SourceLine[] = [];
    let prev: SourceLocation | undefined;
    this.locations.forEach((loc, insn) => {
      if (prev && prev.file === loc.file && prev.line === loc.line && prev.col === loc.col) return;
      prev = loc;
      out.push({
        insn,
        file: loc.file,
        text: loc.text,
        line: loc.line,
        col: Math.min(loc.col, 1023),
      });
    });
    return out;
  }

  /** The program as the ELF object writer takes it. */
  toSpec(): ProgramSpec {
    const mapRefs: MapReference[] = [...this.mapUses].map(([insn, m]) => ({ insn, map: m.name }));
    return {
      name: this.name,
      section: this.section,
      insns: this.insns,
      mapRefs,
      lines: this.lines,
      ctxType: { kind: 'fwd', name: PROGRAM_TYPES[this.type].ctx.struct, union: false },
      ctxName: this.#ctxName,
    };
  }

  /** Text listing: each instruction with the TypeScript line that produced it. */
  listing(): string {
    return formatListing(this);
  }
}

/**
 * Builds a program of type `type` (`'sockops'`, `'sk_msg'`) named `name` (1–15 characters of
 * [A-Za-z0-9_]) from `body`, which receives the builder:
 *
 *     const p = program('sk_msg', 'redir', (b) => {
 *       const key = b.stack(SockKey);
 *       b.ctx.load(r2, 'remote_ip4');
 *       b.store(key, 'dip4', r2);
 *       b.call.msgRedirectHash(r1, sockMap, key, BpfFlags.F_INGRESS);
 *       b.ret(SkAction.PASS);
 *     });
 *
 * Throws DslError for misuse found while building, ProgramCheckError (listing every problem with
 * its file:line:col) when the build-time checks reject the program.
 */
export function program<P extends ProgramTypeName>(
  type: P,
  name: string,
  body: (b: ProgramBuilder<P>) => void,
  options: ProgramOptions = {},
): Program<P> {
  const location = captureLocation();
  if (!NAME.test(name)) {
    throw new DslError(
      'INVALID_NAME',
      `program name '${name}' must be 1-15 characters of [A-Za-z0-9_] (the kernel keeps 15, bpffs pin paths reject '.')`,
      location,
    );
  }
  if (!(type in PROGRAM_TYPES)) {
    throw new DslError(
      'INVALID_OPERAND',
      `unknown program type '${String(type)}' (known: ${Object.keys(PROGRAM_TYPES).join(', ')})`,
      location,
    );
  }
  const b = new ProgramBuilder(type, name);
  body(b);
  const { items, fallsOffAt } = b.finish();
  const asm = assemble(items);
  const prog = new Program(
    name,
    type,
    asm.insns,
    asm.locs,
    asm.maps,
    location,
    options.ctxName ?? 'ctx',
  );
  if (options.check ?? true) {
    const diags = checkProgram({ name, type, insns: asm.insns, locs: asm.locs, maps: asm.maps });
    if (fallsOffAt) {
      diags.unshift({
        code: 'FALL_OFF_END',
        detail:
          'execution falls off the end of the program body here: end every path with b.ret() or b.exit()',
        location: fallsOffAt,
      });
    }
    if (diags.length > 0) throw new ProgramCheckError(name, diags);
  }
  return prog;
}
