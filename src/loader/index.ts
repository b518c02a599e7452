/**
 * Public API of the loader (`tsbpf/loader`): bpf(2) through koffi, eBPF objects made live in the
 * kernel, explicit fd ownership, pinning, bpffs/cgroup2 discovery, attach/detach/query for sock_ops
 * and sk_msg, feature probes, typed map access, and errors that say what to do. Verifier-log
 * explanations live in ./verifier and are re-exported here.
 *
 * Typical use:
 *
 *     using obj = loadObject('dist/bpf/sockaccel.o', { pinDir: '/sys/fs/bpf/tsbpf' });
 *     using ops = SockOps.from(obj.program('bpf_sockops')).attach('/sys/fs/cgroup/unified/app');
 *     using msg = SkMsg.from(obj.program('bpf_redir')).attach(obj.map('sock_ops_map'));
 */

// Attach, detach, query.
export {
  type AttachedProgram,
  type AttachQuery,
  attachFlagsOf,
  type CgroupAttachMode,
  type CgroupAttachOptions,
  type MapAttachOptions,
  queryAttached,
  SkMsg,
  SockOps,
} from './attach.js';
// attr layouts.
export * from './attr.js';
// Typed commands.
export {
  type BtfLoadResult,
  bpfCall,
  bpfTry,
  btfLoad,
  getNextId,
  INITIAL_LOG_SIZE,
  isProgramFd,
  linkCreate,
  linkDetach,
  MAX_LOG_SIZE,
  mapCreate,
  mapDelete,
  mapGetFdById,
  mapGetNextKey,
  mapInfo,
  mapLookup,
  mapUpdate,
  objGet,
  objGetTry,
  objPin,
  type ProgLoadRequest,
  type ProgLoadResult,
  progAttach,
  progDetach,
  progGetFdById,
  progInfo,
  progLoad,
  progQuery,
  progTestRun,
  type QueryResult,
  type TestRunOptions,
  type TestRunResult,
} from './commands.js';
// Kernel ABI numbers.
export {
  AttachFlags,
  AttachType,
  BpfCmd,
  type BpfCommandName,
  commandName,
  LogLevel,
  MapType,
  nameOf,
  ObjFlags,
  ProgType,
  QUERY_EFFECTIVE,
  UpdateFlags,
} from './constants.js';

// Errors.
export {
  BpfError,
  type BpfErrorContext,
  Errno,
  type ErrnoName,
  errnoName,
  explainBpfFailure,
  failingInsnIndex,
  type LoadedLineInfo,
  LoaderError,
  type LoaderErrorCode,
  VerifierError,
  type VerifierErrorInit,
  verifierSummary,
} from './errors.js';

// Owned resources.
export {
  type AttachmentKind,
  BpfLink,
  BpfProgram,
  Fd,
  LoadedObject,
  openPinnedLink,
  openPinnedProgram,
} from './fd.js';

// Filesystems and pinning.
export {
  checkPinName,
  DEFAULT_BPFFS,
  ensureBpffs,
  ensureCgroup2,
  ensurePinDir,
  type MountEntry,
  mountContaining,
  mountsOf,
  openCgroup,
  PRIVATE_CGROUP2,
  parseMountInfo,
  pinPath,
  removePinDir,
  unpin,
} from './fs.js';

// Maps.
export {
  BpfMap,
  bytesCodec,
  createMap,
  createOrReuseMap,
  definitionOf,
  type MapCodec,
  type MapDefinition,
  openPinnedMap,
  pinnedMapMismatch,
  possibleCpuCount,
  TypedMap,
  u32Codec,
  u64Codec,
} from './maps.js';

// Object loading.
export {
  checkObject,
  type LoadObjectOptions,
  loadObject,
  objectRequirements,
  type PlannedProgram,
  parseObject,
  planPrograms,
  relocateMaps,
} from './object-loader.js';
// Feature probes.
export {
  checkObjectSupport,
  FeatureProbes,
  featureProbes,
  HELPER_NAMES,
  helperName,
  type ObjectRequirements,
} from './probes.js';
export {
  isAutoloadOff,
  knownSectionNames,
  programTypeOfSection,
  SECTION_DEFS,
  type SectionProgramType,
} from './sections.js';
// The system call layer (swap in a fake for tests).
export {
  allocCopy,
  type BpfSyscall,
  errnoOfNodeError,
  KoffiSyscall,
  type NativeMemory,
  NR_BPF_ARM64,
  NR_BPF_X86_64,
  systemSyscall,
  withMemory,
} from './syscall.js';

// Verifier-log explanations.
export * from './verifier/index.js';
