/** Errors of the benchmark harness: each says what failed and what to do about it. */

/** What went wrong while benchmarking. */
export type BenchErrorCode =
  | 'EBENCH_NOT_ROOT'
  | 'EBENCH_TOOL'
  | 'EBENCH_CC'
  | 'EBENCH_RUN'
  | 'EBENCH_OPTION';

/** A benchmark step failed; `code` tells which kind. */
export class BenchError extends Error {
  constructor(
    readonly code: BenchErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BenchError';
  }
}
