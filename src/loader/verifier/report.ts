/**
 * The structured failure report newer kernels append to the verifier log (Linux commit
 * ce7c9f6c599b, reported for v7.3 by cilium/ebpf#2105/#2111; not printed by 6.18):
 *
 * ```
 * Verification failed: Register Type Safety: Unreadable register
 *
 * Reason:
 *   R0 has never been initialized on this path, so the verifier cannot use it as an input.
 *
 * At:
 *   insn 0
 *         | ^-- error: R0 is not readable
 *   Instruction context:
 *   >>> 0 | (95) exit
 *
 * Suggestion:
 *   Initialize R0 on every path before this instruction.
 * ```
 *
 * A headline `Verification failed: <category>: <title>`, then sections: a `Name:` line at column 0
 * followed by lines indented by two spaces. Sections this parser does not know are kept by name.
 */

/** One `Name:` section of the report with its lines (two-space indent removed). */
export interface VerifierReportSection {
  readonly name: string;
  readonly lines: readonly string[];
}

/** The kernel's structured failure report. */
export interface VerifierReport {
  /** The text after `Verification failed: `. */
  readonly headline: string;
  /** The part of the headline before the last `: ` (e.g. `Register Type Safety`). */
  readonly category?: string;
  /** The part of the headline after the last `: ` (e.g. `Unreadable register`). */
  readonly title: string;
  /** The `Reason:` section joined into one paragraph. */
  readonly reason?: string;
  /** The `Suggestion:` section joined into one paragraph. */
  readonly suggestion?: string;
  /** The instruction index from the `At:` section (`insn 0`). */
  readonly insn?: number;
  readonly sections: readonly VerifierReportSection[];
}

/** True for the report's first line. */
export function isReportHeadline(line: string): boolean {
  return line.startsWith('Verification failed: ');
}

const SECTION_HEADER = /^([A-Z][A-Za-z0-9 ]*):$/;

/**
 * Parses the report starting at `lines[start]` (a headline). Returns the report and the index of
 * the first line after it (the first line at column 0 that is neither blank nor a section header).
 */
export function parseVerifierReport(
  lines: readonly string[],
  start: number,
): { report: VerifierReport; end: number } {
  const headline = (lines[start] ?? '').slice('Verification failed: '.length).trim();
  const cut = headline.lastIndexOf(': ');
  const sections: { name: string; lines: string[] }[] = [];
  let current: { name: string; lines: string[] } | undefined;
  let i = start + 1;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const header = SECTION_HEADER.exec(line);
    if (header?.[1] !== undefined) {
      current = { name: header[1], lines: [] };
      sections.push(current);
      continue;
    }
    if (current !== undefined && /^\s/.test(line)) {
      current.lines.push(line.startsWith('  ') ? line.slice(2) : line.trimStart());
      continue;
    }
    break;
  }
  const paragraph = (name: string) => {
    const section = sections.find((s) => s.name === name);
    return section === undefined ? undefined : section.lines.map((l) => l.trim()).join(' ');
  };
  const at = sections.find((s) => s.name === 'At');
  const insnLine = at?.lines.map((l) => /^insn (\d+)\b/.exec(l.trim())).find((m) => m !== null);
  const reason = paragraph('Reason');
  const suggestion = paragraph('Suggestion');
  const report: VerifierReport = {
    headline,
    title: cut < 0 ? headline : headline.slice(cut + 2),
    sections,
    ...(cut < 0 ? {} : { category: headline.slice(0, cut) }),
    ...(reason === undefined ? {} : { reason }),
    ...(suggestion === undefined ? {} : { suggestion }),
    ...(insnLine?.[1] === undefined ? {} : { insn: Number(insnLine[1]) }),
  };
  return { report, end: i };
}
