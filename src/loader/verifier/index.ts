/**
 * Verifier-log debugging: parse the kernel verifier's log, classify the error with a hint, map the
 * failing instruction to source through line_info and format the annotated explanation.
 */
export {
  type CtxAccessExplanation,
  type CtxAccessProblem,
  type CtxField,
  type CtxKind,
  ctxKindOfSection,
  explainCtxAccess,
} from './ctx-fields.js';
export {
  DEFAULT_MAX_LOG_CHARS,
  type ExplainOptions,
  explainVerifierError,
  explainVerifierLog,
  formatStats,
  type LocatedInsn,
  type VerifierErrorLike,
  type VerifierExplanation,
} from './explain.js';
export {
  type DiagnoseOptions,
  diagnoseVerifierLog,
  type VerifierDiagnosis,
  type VerifierErrorKind,
} from './hints.js';
export {
  type BranchEntry,
  type ErrorEntry,
  type FuncEntry,
  type InsnEntry,
  type LiveRegsEntry,
  type NoteCategory,
  type NoteEntry,
  type ParseVerifierLogOptions,
  parseVerifierLog,
  type ReportEntry,
  type SourceEntry,
  type StateEntry,
  type StatsEntry,
  sourceForInsn,
  stateBeforeInsn,
  type VerifierLog,
  type VerifierLogEntry,
  type VerifierStats,
} from './log-parser.js';
export {
  formatVerifierState,
  parseRegisterValue,
  parseVerifierState,
  type RegisterEntry,
  type RegisterValue,
  type StackSlotEntry,
  type VerifierState,
} from './register-state.js';
export type { VerifierReport, VerifierReportSection } from './report.js';
export {
  type CodeFrameOptions,
  formatCodeFrame,
  type LineInfoRecord,
  lineInfoInSlots,
  locateInsn,
  readSourceLines,
  type SourceLocation,
  type SourceSearch,
} from './source-map.js';
