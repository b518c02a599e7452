/**
 * NUL-separated string tables, as used by BTF's string section and ELF's `.strtab`/`.shstrtab`.
 *
 * Layout (offsets are byte offsets from the start of the table):
 *
 *     offset 0       1         5
 *            +------+---------+------------+--
 *            | \0   | i n t \0| s k _ m s g \0 ...
 *            +------+---------+------------+--
 *
 * Offset 0 is always the empty string; every string is UTF-8 followed by one NUL; the last byte of a
 * non-empty table is NUL. The builder stores each distinct string once.
 */

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** Raised when a string cannot be put into a table (it contains a NUL byte). */
export class StringTableError extends Error {
  /** Machine-readable reason. */
  readonly code = 'STRING_TABLE_NUL' as const;
  override readonly name = 'StringTableError';
}

/**
 * The UTF-8 bytes of `s` followed by a NUL. ASCII strings (names, and almost every source line
 * that line info records) are copied directly: TextEncoder's call overhead was a measurable part
 * of writing an object, which adds hundreds of strings.
 */
function nulTerminated(s: string): Uint8Array {
  const n = s.length;
  const ascii = new Uint8Array(n + 1);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) {
      const bytes = utf8Encoder.encode(s);
      const chunk = new Uint8Array(bytes.length + 1);
      chunk.set(bytes, 0);
      return chunk;
    }
    ascii[i] = c;
  }
  return ascii;
}

/** Builds a string table; `add` returns the byte offset of a string, sharing identical strings. */
export class StringTableBuilder {
  readonly #offsets = new Map<string, number>([['', 0]]);
  readonly #chunks: Uint8Array[] = [new Uint8Array(1)];
  #size = 1;

  /** Adds `s` (once) and returns its offset; the empty string is offset 0. */
  add(s: string): number {
    const known = this.#offsets.get(s);
    if (known !== undefined) return known;
    if (s.includes('\0')) {
      throw new StringTableError(
        `string table: ${JSON.stringify(s)} contains a NUL byte; table strings are NUL-terminated, remove it`,
      );
    }
    const offset = this.#size;
    const chunk = nulTerminated(s);
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    this.#offsets.set(s, offset);
    return offset;
  }

  /** Offset of a string already added, or undefined. */
  offsetOf(s: string): number | undefined {
    return this.#offsets.get(s);
  }

  /** Current size of the table in bytes (at least 1: the leading NUL). */
  get size(): number {
    return this.#size;
  }

  /** The table bytes: a NUL, then every added string with its NUL, in insertion order. */
  encode(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

/** Read access to an encoded string table; never reads outside the given bytes. */
export class StringTable {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /**
   * The string starting at `offset` (up to the next NUL), or undefined when `offset` is outside
   * the table or the string is not NUL-terminated inside it.
   */
  get(offset: number): string | undefined {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.bytes.length) return undefined;
    const end = this.bytes.indexOf(0, offset);
    if (end < 0) return undefined;
    return utf8Decoder.decode(this.bytes.subarray(offset, end));
  }

  /** Size of the table in bytes. */
  get size(): number {
    return this.bytes.length;
  }
}
