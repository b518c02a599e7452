/**
 * src/vm: an eBPF interpreter for tests and for explaining programs. It runs the same `Insn[]` the
 * DSL emits, in Node, with simulated sock_ops / sk_msg contexts, maps and helpers, so property tests
 * can check the bytecode itself against a reference model.
 *
 * ```ts
 * const ctx = sockOpsContext({ family: 'ipv4', localAddress: '10.0.0.1', remoteAddress: '10.0.0.2',
 *   localPort: 40000, remotePort: 80 }, SockOpsOp.ACTIVE_ESTABLISHED_CB);
 * const sockets = new SockHashMap({ name: 'sock_ops_map', keySize: 44, maxEntries: 65535 });
 * const { r0, calls } = runProgram(program.insns, { ctx, maps: [sockets], mapRefs: program.mapRefs });
 * ```
 */
export {
  AF_INET,
  AF_INET6,
  type Connection,
  isV4Mapped,
  parseIpv4,
  parseIpv6,
  type SocketAddresses,
  socketAddresses,
  type VmSocket,
} from './connection.js';
export {
  BPF_SOCK_SIZE,
  BpfSockOffset,
  bpfSockAccess,
  type CtxPointerField,
  type ProgramType,
  remotePortField,
  SK_MSG_MD_SIZE,
  SkMsgOffset,
  SOCK_OPS_SIZE,
  type SockOpsExtras,
  SockOpsOffset,
  SockOpsOp,
  skMsgAccess,
  skMsgContext,
  socketFilterContext,
  sockOpsAccess,
  sockOpsContext,
  type VmContext,
} from './context.js';
export { VmError, type VmErrorCode, type VmLocation } from './errors.js';
export { formatTrace } from './explain.js';
export {
  BUILTIN_HELPERS,
  type HelperCall,
  type HelperCallDetail,
  type HelperDef,
  type HelperEnv,
  type HelperImpl,
  type HelperState,
  helperName,
  mapArg,
  type Redirect,
} from './helpers.js';
export {
  DEFAULT_MAX_INSNS,
  MAX_CALL_FRAMES,
  MAY_GOTO_BUDGET,
  type RunOptions,
  type RunResult,
  runProgram,
  runProgramSpec,
  STACK_SIZE,
  type TraceStep,
} from './interpreter.js';
export {
  ArrayMap,
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  Errno,
  HashMap,
  isSocketMap,
  isValueMap,
  LpmTrieMap,
  lpmKey,
  MAP_TYPE_IDS,
  type MapShape,
  type OutputRecord,
  PerCpuArrayMap,
  PerfEventArrayMap,
  RingBufMap,
  SockArrayMap,
  type SocketMap,
  SockHashMap,
  u32Key,
  type ValueMap,
  type VmMap,
  type VmMapType,
} from './maps.js';
export { type CtxAccessCheck, Memory, type Region, type RegionKind } from './memory.js';
export {
  aluResult,
  byteSwap,
  endianResult,
  immOperand,
  jumpTaken,
  lowBits,
  movsxResult,
  negResult,
  signedBits,
  toU64,
} from './semantics.js';
