/**
 * A deliberately broken DSL program and what tsbpf must say about it. Each case module builds its
 * object with the build-time checks off (`program(…, { check: false })`), so the kernel's verifier
 * is the one that rejects it, and marks the TypeScript line the explanation must point at with a
 * `// ← verifier` comment (several lines when the verifier may stop at any of them, as in a loop it
 * walks until its instruction limit). test/kernel/verifier-cases.test.ts loads every case.
 */
import type { BpfObject } from '../../src/dsl/index.js';
import type { VerifierErrorKind } from '../../src/loader/verifier/index.js';

/** The marker the expected line carries. */
export const MARKER = '// ← verifier';

/** One broken program and the expected explanation. */
export interface VerifierCase {
  /** What the program gets wrong, in a sentence. */
  readonly description: string;
  /** The object holding the broken program (and its maps). */
  readonly object: BpfObject;
  /** The program the verifier rejects. */
  readonly program: string;
  readonly kind: VerifierErrorKind;
  readonly title: string;
  /** Words the explanation (the "why") must contain, to prove it is about this program. */
  readonly explains: readonly string[];
  /** The error needs a loader without CAP_PERFMON/CAP_SYS_ADMIN (uninitialised stack reads). */
  readonly unprivileged?: boolean;
  /** This case module's URL (import.meta.url), where the marker line is. */
  readonly url: string;
}
