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

function resolve(stack: string): SourceLocation {
  for (const frame of stack.split('\n').slice(1)) {
    const m = FRAME.exec(frame);
    if (!m) continue;
    const path = toPath(m[1] ?? '');
    if (path === null || isDslFrame(path) || path.includes(`${sep}node_modules${sep}`)) continue;
    const line = Number(m[2]);
    const col = Number(m[3]);
    const text = linesOf(path)?.[line - 1] ?? '';
    const file = relative(projectRootOf(path), path).split(sep).join('/');
    return { file, line, col, text };
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
    this.#resolved ??= resolve(this.#error.stack ?? '');
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
