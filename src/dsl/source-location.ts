/**
 * Where a DSL call was made: captured from a V8 stack trace at each public DSL call, so every
 * instruction knows the TypeScript line that produced it. Locations go into `.BTF.ext` line_info
 * (the kernel's verifier log and `bpftool prog dump xlated … linum` then show TypeScript lines)
 * and into every DslError.
 *
 * Stack traces point at TypeScript sources when the runtime applies source maps (vitest, tsx,
 * `node --enable-source-maps`); under plain compiled JavaScript they point at the .js files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A TypeScript call site: file relative to the project root, 1-based line and column, line text. */
export interface SourceLocation {
  /** Path relative to the project root (the nearest directory above the file with a package.json). */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  /** 1-based column number. */
  readonly col: number;
  /** The text of that source line (without the line break), or '' when the file cannot be read. */
  readonly text: string;
}

/** Renders a location as `file:line:col`. */
export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

/** The location used when no user frame can be found (e.g. a program built from eval'd code). */
export const UNKNOWN_LOCATION: SourceLocation = { file: '<unknown>', line: 0, col: 0, text: '' };

const dslDir = dirname(fileURLToPath(import.meta.url));

// One V8 frame: "    at fn (file:line:col)", "    at file:line:col", "    at async fn (file:…)".
const FRAME = /^\s*at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/;

const fileLines = new Map<string, readonly string[] | null>();
const projectRoots = new Map<string, string>();

function linesOf(file: string): readonly string[] | null {
  let lines = fileLines.get(file);
  if (lines === undefined) {
    try {
      lines = readFileSync(file, 'utf8').split(/\r?\n/);
    } catch {
      lines = null;
    }
    fileLines.set(file, lines);
  }
  return lines;
}

/** The nearest ancestor directory of `file` holding a package.json (else the file's directory). */
function projectRootOf(file: string): string {
  const start = dirname(file);
  const cached = projectRoots.get(start);
  if (cached !== undefined) return cached;
  let dir = start;
  let root = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      root = dir;
      break;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  projectRoots.set(start, root);
  return root;
}

function toPath(raw: string): string | null {
  if (raw.startsWith('file://')) {
    try {
      return fileURLToPath(raw);
    } catch {
      return null;
    }
  }
  return isAbsolute(raw) ? raw : null;
}

function isDslFrame(path: string): boolean {
  return path.startsWith(dslDir + sep);
}

/**
 * Resolves a formatted one-frame stack ("Error\n    at …") to a user location, or null when the
 * frame is inside src/dsl, inside node_modules, or not a file.
 */
function resolveFrame(formatted: string): SourceLocation | null {
  const frame = formatted.slice(formatted.indexOf('\n') + 1);
  const m = FRAME.exec(frame);
  if (!m) return null;
  const path = toPath(m[1] ?? '');
  if (path === null || isDslFrame(path) || path.includes(`${sep}node_modules${sep}`)) return null;
  const line = Number(m[2]);
  const col = Number(m[3]);
  const text = linesOf(path)?.[line - 1] ?? '';
  const file = relative(projectRootOf(path), path).split(sep).join('/');
  return { file, line, col, text };
}

/** A V8 call site (the structured frame `Error.prepareStackTrace` receives). */
type CallSite = NodeJS.CallSite;

/**
 * Resolved frames by generated position (script, line, column). Rebuilding a program captures the
 * same positions again, and formatting a frame through source maps is the expensive part; a frame
 * outside user code is cached as null.
 */
const resolvedFrames = new Map<string, SourceLocation | null>();

/** Captures the structured call sites of an Error instead of formatting them. */
function callSitesHook(_error: Error, sites: CallSite[]): CallSite[] {
  return sites;
}

/**
 * The structured call sites of `error`, taken on the first read of its `.stack` (V8 formats a
 * stack lazily, through whatever `Error.prepareStackTrace` is installed at that moment), and the
 * hook that would have formatted them (node's own, source-map aware one, or a test runner's).
 */
function callSitesOf(error: Error): { sites: CallSite[]; format: typeof Error.prepareStackTrace } {
  const format = Error.prepareStackTrace;
  Error.prepareStackTrace = callSitesHook;
  let sites: unknown;
  try {
    sites = error.stack;
  } finally {
    Error.prepareStackTrace = format;
  }
  return { sites: Array.isArray(sites) ? (sites as CallSite[]) : [], format };
}

/**
 * Formats one call site exactly as the installed hook formats a whole stack (so source maps and
 * test runners' rewriting apply), without paying for the other frames.
 */
function formatOne(site: CallSite, format: typeof Error.prepareStackTrace): string {
  const probe = new Error();
  if (format) return String(format(probe, [site]));
  return `Error\n    at ${String(site)}`;
}

/**
 * The innermost frame of `error` outside src/dsl and node_modules. Frames whose generated script
 * is in src/dsl are skipped without formatting (a DSL module maps to a DSL source); every other
 * frame is formatted alone and filtered on its mapped path, as a full stack trace would be.
 */
function resolve(error: Error): SourceLocation {
  const { sites, format } = callSitesOf(error);
  if (sites.length === 0) return resolveFormatted(error.stack ?? '');
  for (const site of sites) {
    const script = site.getFileName() ?? '';
    const generated = toPath(script);
    if (generated !== null && isDslFrame(generated)) continue;
    const key = `${script}:${site.getLineNumber()}:${site.getColumnNumber()}`;
    let loc = resolvedFrames.get(key);
    if (loc === undefined) {
      loc = resolveFrame(formatOne(site, format));
      resolvedFrames.set(key, loc);
    }
    if (loc !== null) return loc;
  }
  return UNKNOWN_LOCATION;
}

/** Resolves an already formatted stack (when structured call sites are unavailable). */
function resolveFormatted(stack: string): SourceLocation {
  for (const frame of stack.split('\n').slice(1)) {
    const loc = resolveFrame(`\n${frame}`);
    if (loc !== null) return loc;
  }
  return UNKNOWN_LOCATION;
}

/**
 * A location resolved on first use: capturing an Error is cheap, formatting its stack (with
 * source maps) is not, and many locations (instructions of programs built only to be counted, or
 * rejected early) are never looked at.
 */
class CapturedLocation implements SourceLocation {
  readonly #error: Error;
  #resolved: SourceLocation | undefined;

  constructor(error: Error) {
    this.#error = error;
  }

  #get(): SourceLocation {
    this.#resolved ??= resolve(this.#error);
    return this.#resolved;
  }

  get file(): string {
    return this.#get().file;
  }
  get line(): number {
    return this.#get().line;
  }
  get col(): number {
    return this.#get().col;
  }
  get text(): string {
    return this.#get().text;
  }
}

/**
 * The location of the innermost stack frame outside src/dsl (and outside node_modules): the
 * user's DSL call. Captured eagerly, resolved lazily on first read.
 */
export function captureLocation(): SourceLocation {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  const error = new Error();
  Error.stackTraceLimit = saved;
  return new CapturedLocation(error);
}
