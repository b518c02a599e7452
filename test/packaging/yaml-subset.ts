/**
 * A parser for the YAML subset our deploy manifests use, so the tests can check them without a
 * YAML dependency (the project has none, and adding one for three static checks is not worth it):
 * block mappings and sequences by indentation, `- key: value` items, plain, single- and
 * double-quoted scalars, flow sequences of scalars (`["a", "b"]`), `#` comments and `---`-free
 * single documents. Anything else (anchors, multi-line scalars, flow mappings) is refused with the
 * line number, so a manifest cannot silently use a construct the tests do not understand.
 */

/** A parsed YAML value of the subset. */
export type YamlValue =
  | string
  | number
  | boolean
  | null
  | YamlValue[]
  | { [key: string]: YamlValue };

interface Line {
  readonly no: number;
  readonly indent: number;
  readonly text: string;
}

/** A construct outside the subset, or malformed input. */
export class YamlSubsetError extends Error {
  override readonly name = 'YamlSubsetError';
}

function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || text[i - 1] === ' ')) return text.slice(0, i);
  }
  return text;
}

function scalar(raw: string, no: number): YamlValue {
  const t = raw.trim();
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2)
      throw new YamlSubsetError(`line ${no}: unterminated string`);
    return JSON.parse(t) as string;
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2)
      throw new YamlSubsetError(`line ${no}: unterminated string`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (t.startsWith('[')) {
    if (!t.endsWith(']')) throw new YamlSubsetError(`line ${no}: unterminated flow sequence`);
    const inner = t.slice(1, -1).trim();
    return inner === '' ? [] : splitFlow(inner, no).map((x) => scalar(x, no));
  }
  if (/^[{&*!|>%@`]/.test(t))
    throw new YamlSubsetError(`line ${no}: ${JSON.stringify(t)} is outside the subset`);
  if (t === '' || t === '~' || t === 'null') return null;
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return t;
}

function splitFlow(inner: string, no: number): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{')
      throw new YamlSubsetError(`line ${no}: nested flow collections are outside the subset`);
    else if (c === ',') {
      parts.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(inner.slice(start));
  return parts;
}

/** `key: rest` → [key, rest], or undefined when the line is not a mapping entry. */
function splitKey(text: string): [string, string] | undefined {
  const m = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"'#:][^:#]*?)\s*:(?:\s+(.*))?$/.exec(text);
  if (!m?.[1]) return undefined;
  const key = m[1].startsWith('"') || m[1].startsWith("'") ? String(scalar(m[1], 0)) : m[1];
  return [key, m[2] ?? ''];
}

/** Parses one document of the subset. */
export function parseYamlSubset(text: string): YamlValue {
  const lines: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.includes('\t'))
      throw new YamlSubsetError(`line ${i + 1}: tabs are not allowed in YAML indentation`);
    const body = stripComment(raw).trimEnd();
    if (body.trim() === '') return;
    if (body === '---' || body === '...')
      throw new YamlSubsetError(`line ${i + 1}: document markers are outside the subset`);
    lines.push({ no: i + 1, indent: body.length - body.trimStart().length, text: body.trim() });
  });
  if (lines.length === 0) return null;
  let pos = 0;

  function block(indent: number): YamlValue {
    const first = lines[pos];
    if (!first) return null;
    return first.text === '-' || first.text.startsWith('- ') ? sequence(indent) : mapping(indent);
  }

  function valueAfter(rest: string, parentIndent: number, no: number): YamlValue {
    if (rest !== '') return scalar(rest, no);
    const next = lines[pos];
    if (!next || next.indent < parentIndent) return null;
    // A sequence may sit at the same indentation as its key (`key:\n- a`).
    if (next.indent === parentIndent && !next.text.startsWith('-')) return null;
    if (next.indent === parentIndent) return sequence(next.indent);
    return block(next.indent);
  }

  function mapping(indent: number): YamlValue {
    const out: { [key: string]: YamlValue } = {};
    while (pos < lines.length) {
      const line = lines[pos];
      if (!line || line.indent < indent) break;
      if (line.indent > indent)
        throw new YamlSubsetError(`line ${line.no}: unexpected indentation`);
      if (line.text.startsWith('- ') || line.text === '-') break;
      const kv = splitKey(line.text);
      if (!kv)
        throw new YamlSubsetError(
          `line ${line.no}: expected "key: value", got ${JSON.stringify(line.text)}`,
        );
      if (kv[0] in out) throw new YamlSubsetError(`line ${line.no}: duplicate key ${kv[0]}`);
      pos += 1;
      out[kv[0]] = valueAfter(kv[1], indent, line.no);
    }
    return out;
  }

  function sequence(indent: number): YamlValue {
    const out: YamlValue[] = [];
    while (pos < lines.length) {
      const line = lines[pos];
      if (!line || line.indent !== indent || !(line.text === '-' || line.text.startsWith('- '))) {
        if (line && line.indent > indent)
          throw new YamlSubsetError(`line ${line.no}: unexpected indentation`);
        break;
      }
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        pos += 1;
        out.push(valueAfter('', indent + 1, line.no));
      } else if (
        splitKey(rest) &&
        !rest.startsWith('"') &&
        !rest.startsWith("'") &&
        !rest.startsWith('[')
      ) {
        // `- key: value` starts a mapping whose keys sit at the column after "- ".
        const itemIndent = line.indent + (line.text.length - rest.length);
        lines[pos] = { no: line.no, indent: itemIndent, text: rest };
        out.push(mapping(itemIndent));
      } else {
        pos += 1;
        out.push(scalar(rest, line.no));
      }
    }
    return out;
  }

  const value = block(lines[0]?.indent ?? 0);
  const left = lines[pos];
  if (left)
    throw new YamlSubsetError(`line ${left.no}: unexpected content ${JSON.stringify(left.text)}`);
  return value;
}
