/**
 * `tsbpf verify FILE.o [--log-level 1|2] [--json]`: loads every program of an eBPF object into the
 * kernel without attaching it, one program at a time (so one rejection does not hide the others),
 * and prints per program either `ok` with the verifier's statistics or the rejection explained:
 * source location from the object's line_info, code frame, failing instruction with its registers,
 * and a hint. Exit status 0 when every program passes, 1 otherwise, 2 on a usage error.
 *
 * Maps are created for the load and closed after it; maps the object pins by name are pinned in a
 * private bpffs directory that is removed afterwards, so verifying leaves nothing in the kernel.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfError, LoaderError, VerifierError } from '../loader/errors.js';
import { ensureBpffs, removePinDir } from '../loader/fs.js';
import { loadObject, parseObject, planPrograms } from '../loader/object-loader.js';
import { type BpfSyscall, systemSyscall } from '../loader/syscall.js';
import {
  explainVerifierError,
  formatStats,
  parseVerifierLog,
  type VerifierExplanation,
  type VerifierStats,
} from '../loader/verifier/index.js';
import type { CommandIo } from './dump.js';

/** Usage text of `tsbpf verify`. */
export const VERIFY_USAGE = 'usage: tsbpf verify FILE.o [--log-level 1|2] [--json]';

/** The outcome of loading one program. */
export interface VerifyProgramResult {
  readonly program: string;
  readonly section: string;
  /** Instruction slots of the loaded program (main program plus appended subprograms). */
  readonly insns: number;
  readonly ok: boolean;
  /** The verifier's statistics, from the log (the load asks for the stats bit). */
  readonly stats?: VerifierStats;
  /** The rejection explained, when the verifier refused the program. */
  readonly explanation?: VerifierExplanation;
  /** Any other failure (privileges, unsupported program type, map creation): its message. */
  readonly error?: string;
}

/** Options of `verifyObject`. */
export interface VerifyOptions {
  /** Verifier log level: 1 (instructions) or 2 (every state); the stats bit is always added. */
  readonly logLevel?: 1 | 2;
  /** Kernel interface (default: the real one). */
  readonly sys?: BpfSyscall;
  /** Receives the loader's warnings (BTF refused, …). */
  readonly onWarning?: (message: string) => void;
  /** Directories to find source files in (default: the cwd, then the object's directory). */
  readonly sourceRoots?: readonly string[];
  /**
   * Probe the kernel for the object's program types, map types and helpers before loading
   * (default false: a helper the program type does not offer is then explained by the verifier as
   * the program's mistake, instead of being reported as something the kernel lacks).
   */
  readonly checkSupport?: boolean;
}

/** BPF_LOG_STATS: adds `verification time`, `stack depth` and the `processed` line. */
const LOG_STATS = 4;

/** Loads each program of the object at `path` on its own and reports how the verifier took it. */
export function verifyObject(path: string, options: VerifyOptions = {}): VerifyProgramResult[] {
  const sys = options.sys ?? systemSyscall();
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new LoaderError(
      'ERR_BAD_OBJECT',
      `cannot read object ${path}: ${(err as Error).message}`,
    );
  }
  const object = parseObject(bytes);
  const plans = planPrograms(object);
  const roots = options.sourceRoots ?? [process.cwd(), dirname(path)];
  const pinsByName = object.maps.some((m) => m.pinning === 'by_name');
  const pinDir = pinsByName ? join(ensureBpffs(sys), `tsbpf-verify-${process.pid}`) : undefined;
  if (pinDir !== undefined) mkdirSync(pinDir, { recursive: true });
  try {
    return plans.map((plan): VerifyProgramResult => {
      const base = { program: plan.name, section: plan.section, insns: plan.insns.length / 8 };
      try {
        using loaded = loadObject(bytes, {
          sys,
          programs: [plan.name],
          logLevel: (options.logLevel ?? 1) | LOG_STATS,
          ...(pinDir === undefined ? {} : { pinDir }),
          ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
          checkSupport: options.checkSupport ?? false,
        });
        const log = loaded.program(plan.name).verifierLog;
        return { ...base, ok: true, stats: parseVerifierLog(log).stats };
      } catch (err) {
        if (err instanceof VerifierError) {
          const explanation = explainVerifierError(err, { section: plan.section, roots });
          return { ...base, ok: false, stats: explanation.log.stats, explanation };
        }
        if (err instanceof BpfError || err instanceof LoaderError) {
          return { ...base, ok: false, error: err.message };
        }
        throw err;
      }
    });
  } finally {
    if (pinDir !== undefined) removePinDir(sys, pinDir);
  }
}

/** `29 insns, processed 29 insns (limit 1000000), 1 states (peak 1), 166 usec, stack 24 bytes` */
function statsLine(r: VerifyProgramResult): string {
  const stats = r.stats === undefined ? '' : formatStats(r.stats);
  return `${r.insns} insns${stats === '' ? '' : `, ${stats}`}`;
}

/** The human-readable report: one block per program. */
export function formatVerifyReport(file: string, results: readonly VerifyProgramResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.ok) {
      out.push(`ok    ${r.program} (${r.section}): ${statsLine(r)}`);
      continue;
    }
    out.push(`FAIL  ${r.program} (${r.section})`);
    if (r.explanation !== undefined) {
      out.push(r.explanation.text.replace(/^/gm, '  '));
    } else if (r.error !== undefined) {
      out.push(`  ${r.error}`);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  out.push(
    failed === 0
      ? `${file}: all ${results.length} program(s) passed the verifier`
      : `${file}: ${failed} of ${results.length} program(s) rejected`,
  );
  return `${out.join('\n')}\n`;
}

/** The machine-readable report (`--json`): plain data, no functions or class instances. */
export function verifyReportJson(file: string, results: readonly VerifyProgramResult[]): unknown {
  return {
    file,
    ok: results.every((r) => r.ok),
    programs: results.map((r) => {
      const e = r.explanation;
      return {
        program: r.program,
        section: r.section,
        ok: r.ok,
        insns: r.insns,
        ...(r.stats === undefined ? {} : { stats: r.stats }),
        ...(r.error === undefined ? {} : { error: r.error }),
        ...(e === undefined
          ? {}
          : {
              rejection: {
                summary: e.summary,
                errorLines: e.log.errorLines,
                ...(e.diagnosis === undefined
                  ? {}
                  : {
                      kind: e.diagnosis.kind,
                      title: e.diagnosis.title,
                      explanation: e.diagnosis.explanation,
                      hint: e.diagnosis.hint,
                    }),
                ...(e.failingInsn === undefined
                  ? {}
                  : { insn: { index: e.failingInsn.index, text: e.failingInsn.text } }),
                ...(e.at?.location === undefined ? {} : { location: e.at.location }),
                ...(e.related === undefined
                  ? {}
                  : {
                      related: {
                        index: e.related.index,
                        role: e.related.role,
                        ...(e.related.location === undefined
                          ? {}
                          : { location: e.related.location }),
                      },
                    }),
                registers: Object.fromEntries(e.registers.map((reg) => [reg.name, reg.value.text])),
                stack: Object.fromEntries(e.stackSlots.map((s) => [`fp${s.offset}`, s.text])),
              },
            }),
      };
    }),
  };
}

/** Runs `tsbpf verify` with the arguments after the command name; returns the exit code. */
export function runVerify(
  args: readonly string[],
  io: CommandIo,
  options: Pick<VerifyOptions, 'sys' | 'checkSupport'> = {},
): number {
  let parsed: ReturnType<typeof parseVerifyArgs>;
  try {
    parsed = parseVerifyArgs(args);
  } catch (err) {
    io.stderr(`tsbpf verify: ${(err as Error).message}\n${VERIFY_USAGE}\n`);
    return 2;
  }
  const warnings: string[] = [];
  let results: VerifyProgramResult[];
  try {
    results = verifyObject(parsed.file, {
      logLevel: parsed.logLevel,
      ...options,
      onWarning: (m) => warnings.push(m),
    });
  } catch (err) {
    if (err instanceof LoaderError || err instanceof BpfError) {
      io.stderr(`tsbpf verify: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  for (const w of warnings) io.stderr(`tsbpf verify: warning: ${w}\n`);
  if (parsed.json)
    io.stdout(`${JSON.stringify(verifyReportJson(parsed.file, results), null, 2)}\n`);
  else io.stdout(formatVerifyReport(parsed.file, results));
  return results.every((r) => r.ok) ? 0 : 1;
}

/** Parses `FILE.o [--log-level 1|2] [--json]`; throws with a message on bad arguments. */
export function parseVerifyArgs(args: readonly string[]): {
  file: string;
  logLevel: 1 | 2;
  json: boolean;
} {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { 'log-level': { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1 || positionals[0] === undefined) {
    throw new Error(`expected one object file, got ${positionals.length}`);
  }
  const level = values['log-level'] ?? '1';
  if (level !== '1' && level !== '2') throw new Error(`--log-level must be 1 or 2, not ${level}`);
  return { file: positionals[0], logLevel: level === '1' ? 1 : 2, json: values.json === true };
}
