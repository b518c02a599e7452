/**
 * Finds where a test wrote a DSL call, so tests can assert the exact file:line:col an error names
 * without hard-coding line numbers: mark the line with a trailing `// @<marker>` comment.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `file:line:col` of the DSL call on the line ending with `// @marker`: V8 reports a method call at
 * the method name, so the column is that of `mov` in `b.mov(...)` (of `load` in `b.ctx.load(...)`).
 */
export function whereMarked(testFileUrl: string, marker: string): string {
  const path = fileURLToPath(testFileUrl);
  const lines = readFileSync(path, 'utf8').split('\n');
  const index = lines.findIndex((l) => l.trimEnd().endsWith(`// @${marker}`));
  if (index < 0) throw new Error(`no line marked // @${marker}`);
  const text = lines[index] as string;
  const call = /\bb(?:\.[A-Za-z_]\w*)*\.([A-Za-z_]\w*)\(/.exec(text);
  if (!call) throw new Error(`no b.<method>( call on the line marked // @${marker}`);
  const col = call.index + call[0].length - 1 - (call[1] as string).length + 1;
  const rel = path.slice(path.indexOf('/test/') + 1);
  return `${rel}:${index + 1}:${col}`;
}
