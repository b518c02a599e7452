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

/** A source file as locations name it: root-relative name and lines; null = not a user file. */
interface UserFile {
  readonly file: string;
  readonly lines: readonly string[] | null;
}

/** Mapped file names (as a formatted frame spells them) to the user file, once per file. */
const userFiles = new Map<string, UserFile | null>();

function userFileOf(raw: string): UserFile | null {
  let known = userFiles.get(raw);
  if (known === undefined) {
    const path = toPath(raw);
    known =
      path === null || isDslFrame(path) || path.includes(`${sep}node_modules${sep}`)
        ? null
        : { file: relative(projectRootOf(path), path).split(sep).join('/'), lines: linesOf(path) };
    userFiles.set(raw, known);
  }
  return known;
}

/**
 * Resolves a formatted one-frame stack ("Error\n    at …") to a user location, or null when the
 * frame is inside src/dsl, inside node_modules, or not a file.
 */
function resolveFrame(formatted: string): SourceLocation | null {
  const frame = formatted.slice(formatted.indexOf('\n') + 1);
  const m = FRAME.exec(frame);
  if (!m) return null;
  const user = userFileOf(m[1] ?? '');
  if (user === null) return null;
  const line = Number(m[2]);
  const col = Number(m[3]);
  return { file: user.file, line, col, text: user.lines?.[line - 1] ?? '' };
}

/** A V8 call site (the structured frame `Error.prepareStackTrace` receives). */
type CallSite = NodeJS.CallSite;

/**
 * Frames captured first: enough for a DSL call made by user code (the DSL method, sometimes a DSL
 * wrapper or two, then the user's frame), and far cheaper than a full trace: capturing is paid at
 * every DSL call. When the user frame lies deeper (DSL calls made through a library in
 * node_modules, or long chains of DSL wrappers) the capture is repeated with DEEP_FRAMES.
 */
export const SHALLOW_FRAMES = 4;
/** Frames of the fallback capture (beyond them the location is unknown). */
export const DEEP_FRAMES = 63;

/**
 * Resolved frames by generated script, then by position (line * 2^32 + column). Rebuilding a
 * program captures the same positions again, and formatting a frame through source maps is the
 * expensive part; a frame outside user code is cached as null.
 */
const resolvedFrames = new Map<string, Map<number, SourceLocation | null>>();

/** Whether a generated script lies in src/dsl, by script name (saves a URL parse per frame). */
const dslScripts = new Map<string, boolean>();

function isDslScript(script: string): boolean {
  let dsl = dslScripts.get(script);
  if (dsl === undefined) {
    const generated = toPath(script);
    dsl = generated !== null && isDslFrame(generated);
    dslScripts.set(script, dsl);
  }
  return dsl;
}

/** Captures the structured call sites of an Error instead of formatting them. */
function callSitesHook(_error: Error, sites: CallSite[]): CallSite[] {
  return sites;
}

/** What one capture found: the user's location, or null when none of its frames was one. */
interface Capture {
  readonly loc: SourceLocation | null;
  /** Whether the trace was cut at the limit (deeper frames were not looked at). */
  readonly truncated: boolean;
}

/**
 * Captures up to `limit` frames above captureLocation as structured call sites (taken at once
 * through a prepareStackTrace hook, so no stack is ever formatted as a whole) and returns the
 * innermost user frame among them. Returns undefined when the runtime gives no structured sites.
 */
function captureSites(limit: number): Capture | undefined {
  const format = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  const holder: { stack?: unknown } = {};
  Error.prepareStackTrace = callSitesHook;
  Error.stackTraceLimit = limit;
  let sites: unknown;
  try {
    Error.captureStackTrace(holder, captureLocation);
    // V8 formats a stack on its first read, through the hook installed at that moment.
    sites = holder.stack;
  } finally {
    Error.prepareStackTrace = format;
    Error.stackTraceLimit = savedLimit;
  }
  // Resolved after the hook and limit are restored: formatting a new frame runs the installed
  // hook (source maps, a test runner's), which must see the runtime as its caller left it.
  if (!Array.isArray(sites)) return undefined;
  return { loc: firstUserFrame(sites as CallSite[], format), truncated: sites.length >= limit };
}

/**
 * The innermost frame outside src/dsl and node_modules. Frames whose generated script is in
 * src/dsl are skipped without formatting (a DSL module maps to a DSL source); every other frame
 * is formatted alone (once per generated position) and filtered on its mapped path, as a full
 * stack trace would be.
 */
function firstUserFrame(
  sites: readonly CallSite[],
  format: typeof Error.prepareStackTrace,
): SourceLocation | null {
  for (const site of sites) {
    const script = site.getFileName() ?? '';
    if (isDslScript(script)) continue;
    let byPosition = resolvedFrames.get(script);
    if (byPosition === undefined) {
      byPosition = new Map();
      resolvedFrames.set(script, byPosition);
    }
    // Line and column, not the cheaper character offset: a script re-run under the same name with
    // new contents (a watch mode) must not map an old offset to a stale line.
    const position = (site.getLineNumber() ?? 0) * 2 ** 32 + (site.getColumnNumber() ?? 0);
    let loc = byPosition.get(position);
    if (loc === undefined) {
      loc = resolveFrame(formatOne(site, format));
      byPosition.set(position, loc);
    }
    if (loc !== null) return loc;
  }
  return null;
}

/**
 * Formats one call site exactly as the installed hook formats a whole stack (so source maps and
 * test runners' rewriting apply), without paying for the other frames.
 */
function formatOne(site: CallSite, format: typeof Error.prepareStackTrace): string {
  if (format) {
    // The probe only gives the hook its "Error" header line: capture no frames for it.
    const saved = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const probe = new Error();
    Error.stackTraceLimit = saved;
    return String(format(probe, [site]));
  }
  return `Error\n    at ${String(site)}`;
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
 * The location of the innermost stack frame outside src/dsl (and outside node_modules): the
 * user's DSL call. Resolved at once: a DSL call site seen before costs a capture of a few frames
 * and two map lookups; one seen for the first time is formatted through the installed stack hook
 * (source maps) once per process. The returned object is shared by every call from that position.
 */
export function captureLocation(): SourceLocation {
  const shallow = captureSites(SHALLOW_FRAMES);
  if (shallow === undefined) return captureFormatted();
  if (shallow.loc !== null) return shallow.loc;
  if (!shallow.truncated) return UNKNOWN_LOCATION;
  return captureSites(DEEP_FRAMES)?.loc ?? UNKNOWN_LOCATION;
}

/** The fallback when the runtime does not hand out structured call sites: parse a formatted trace. */
function captureFormatted(): SourceLocation {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = DEEP_FRAMES;
  const holder: { stack?: unknown } = {};
  try {
    Error.captureStackTrace(holder, captureLocation);
  } finally {
    Error.stackTraceLimit = saved;
  }
  return resolveFormatted(String(holder.stack ?? ''));
}
