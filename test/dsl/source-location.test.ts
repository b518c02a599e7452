/**
 * captureLocation() captures only a few frames first (SHALLOW_FRAMES, the common case: a DSL call
 * made by user code) and captures again with DEEP_FRAMES when none of them is a user frame: these
 * tests call it through more non-user frames than the shallow capture holds (a library in
 * node_modules) and check that the user's line is still found.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLocation } from '../../src/dsl/index.js';
import {
  DEEP_FRAMES,
  SHALLOW_FRAMES,
  type SourceLocation,
  UNKNOWN_LOCATION,
} from '../../src/dsl/source-location.js';

/** Calls `fn` under `depth` nested frames of a module that lives in a node_modules directory. */
type Nest = (depth: number, fn: () => SourceLocation) => SourceLocation;

let dir = '';
let nest: Nest;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbpf-test-loc-'));
  const pkg = join(dir, 'node_modules', 'nest-frames');
  mkdirSync(pkg, { recursive: true });
  // Not tail calls (the `[0]`), so every level keeps its own frame.
  writeFileSync(
    join(pkg, 'index.mjs'),
    'export function nest(depth, fn) {\n  return depth === 0 ? fn() : [nest(depth - 1, fn)][0];\n}\n',
  );
  ({ nest } = (await import(pathToFileURL(join(pkg, 'index.mjs')).href)) as { nest: Nest });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const source = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');

function expectThisLine(loc: SourceLocation, marker: string): void {
  expect(loc.file).toBe('test/dsl/source-location.test.ts');
  expect(source[loc.line - 1]?.trimEnd().endsWith(`// @${marker}`)).toBe(true);
  expect(loc.text).toBe(source[loc.line - 1]);
}

describe('captureLocation beyond the shallow capture', () => {
  it('skips frames in node_modules and finds the user frame within the shallow capture', () => {
    const loc = nest(0, () => nest(0, captureLocation)); // @shallow
    expectThisLine(loc, 'shallow');
  });

  it('captures again, deeper, when the shallow frames hold no user frame', () => {
    const depth = SHALLOW_FRAMES + 5;
    expect(depth + 2).toBeLessThan(DEEP_FRAMES);
    const loc = nest(depth, captureLocation); // @deep
    expectThisLine(loc, 'deep');
    // The same position again is served from the cache, as the same location.
    const again = [0, 1].map(() => nest(depth, captureLocation)); // @again
    expect(again[0]).toEqual(again[1]);
    expectThisLine(again[0] as SourceLocation, 'again');
  });

  it('reports an unknown location when even the deep capture holds no user frame', () => {
    expect(nest(DEEP_FRAMES + 5, captureLocation)).toEqual(UNKNOWN_LOCATION);
  });
});
