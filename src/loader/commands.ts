/**
 * Typed bpf(2) commands: each function encodes its attr (attr.ts), makes the call through a
 * `BpfSyscall`, frees the memory it allocated, and turns a failure into a `BpfError` that says
 * what to do. Functions return raw fds (numbers); fd.ts and the layers above own them.
 */
import {
  decodeBtfLoadLogTrueSize,
  decodeInfoLen,
  decodeMapInfo,
  decodeNextId,
  decodeProgInfo,
  decodeProgLoadLogTrueSize,
  decodeProgQuery,
  decodeProgTestRun,
  encodeBtfLoad,
  encodeId,
  encodeInfoByFd,
  encodeLinkCreate,
  encodeLinkDetach,
  encodeMapCreate,
  encodeMapElem,
  encodeObj,
  encodeProgAttach,
  encodeProgInfoRequest,
  encodeProgLoad,
  encodeProgQuery,
  encodeProgTestRun,
  MAP_INFO_SIZE,
  type MapCreateAttr,
  type MapInfo,
  PROG_INFO_SIZE,
  type ProgInfo,
} from './attr.js';
import { BpfCmd, type BpfCommandName } from './constants.js';
import {
  BpfError,
  type BpfErrorContext,
  Errno,
  type LoadedLineInfo,
  VerifierError,
} from './errors.js';
import { allocCopy, type BpfSyscall, type NativeMemory, withMemory } from './syscall.js';

/** Issues one bpf(2) command; returns its result or throws a `BpfError`. */
export function bpfCall(
  sys: BpfSyscall,
  command: BpfCommandName,
  attr: Uint8Array,
  ctx: BpfErrorContext = {},
): number {
  const ret = sys.bpf(BpfCmd[command], attr);
  if (ret < 0) throw new BpfError(command, -ret, ctx);
  return ret;
}

/** Issues one bpf(2) command; returns its result or `-errno` (for callers that expect failures). */
export function bpfTry(sys: BpfSyscall, command: BpfCommandName, attr: Uint8Array): number {
  return sys.bpf(BpfCmd[command], attr);
}

const encoder = new TextEncoder();

/** A NUL-terminated C string in native memory (caller frees). */
function allocCString(sys: BpfSyscall, s: string): NativeMemory {
  const enc = encoder.encode(s);
  const mem = sys.alloc(enc.length + 1);
  mem.bytes.set(enc);
  return mem;
}

// ---- maps -------------------------------------------------------------------------------------

/** BPF_MAP_CREATE: returns the new map fd. */
export function mapCreate(sys: BpfSyscall, attr: MapCreateAttr): number {
  return bpfCall(sys, 'MAP_CREATE', encodeMapCreate(attr), attr.name ? { name: attr.name } : {});
}

/** BPF_MAP_LOOKUP_ELEM: the value, or undefined when the key is absent. */
export function mapLookup(
  sys: BpfSyscall,
  mapFd: number,
  key: Uint8Array,
  valueSize: number,
): Uint8Array | undefined {
  return withMemory(sys, [key.length, valueSize], ([k, v]) => {
    k!.bytes.set(key);
    const ret = sys.bpf(
      BpfCmd.MAP_LOOKUP_ELEM,
      encodeMapElem({ mapFd, key: k!.address, value: v!.address }),
    );
    if (ret === -Errno.ENOENT) return undefined;
    if (ret < 0) throw new BpfError('MAP_LOOKUP_ELEM', -ret);
    return v!.bytes.slice();
  });
}

/** BPF_MAP_UPDATE_ELEM with flags ANY 0 / NOEXIST 1 / EXIST 2. */
export function mapUpdate(
  sys: BpfSyscall,
  mapFd: number,
  key: Uint8Array,
  value: Uint8Array,
  flags = 0,
): void {
  withMemory(sys, [key.length, value.length], ([k, v]) => {
    k!.bytes.set(key);
    v!.bytes.set(value);
    bpfCall(
      sys,
      'MAP_UPDATE_ELEM',
      encodeMapElem({ mapFd, key: k!.address, value: v!.address, flags: BigInt(flags) }),
    );
  });
}

/** BPF_MAP_DELETE_ELEM: true if the key was there. */
export function mapDelete(sys: BpfSyscall, mapFd: number, key: Uint8Array): boolean {
  return withMemory(sys, [key.length], ([k]) => {
    k!.bytes.set(key);
    const ret = sys.bpf(BpfCmd.MAP_DELETE_ELEM, encodeMapElem({ mapFd, key: k!.address }));
    if (ret === -Errno.ENOENT) return false;
    if (ret < 0) throw new BpfError('MAP_DELETE_ELEM', -ret);
    return true;
  });
}

/** BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key when undefined), or undefined at the end. */
export function mapGetNextKey(
  sys: BpfSyscall,
  mapFd: number,
  key: Uint8Array | undefined,
  keySize: number,
): Uint8Array | undefined {
  return withMemory(sys, [keySize, keySize], ([k, next]) => {
    if (key) k!.bytes.set(key);
    const ret = sys.bpf(
      BpfCmd.MAP_GET_NEXT_KEY,
      encodeMapElem({ mapFd, key: key ? k!.address : 0n, value: next!.address }),
    );
    if (ret === -Errno.ENOENT) return undefined;
    if (ret < 0) throw new BpfError('MAP_GET_NEXT_KEY', -ret);
    return next!.bytes.slice();
  });
}

// ---- pinning ----------------------------------------------------------------------------------

/** BPF_OBJ_PIN: pins `fd` at `path` (inside bpffs; parents must exist). */
export function objPin(sys: BpfSyscall, fd: number, path: string): void {
  const p = allocCString(sys, path);
  try {
    bpfCall(sys, 'OBJ_PIN', encodeObj({ pathname: p.address, bpfFd: fd }), { path });
  } finally {
    sys.free(p);
  }
}

/** BPF_OBJ_GET: a new fd for the object pinned at `path`. */
export function objGet(sys: BpfSyscall, path: string, fileFlags = 0): number {
  const p = allocCString(sys, path);
  try {
    return bpfCall(sys, 'OBJ_GET', encodeObj({ pathname: p.address, fileFlags }), { path });
  } finally {
    sys.free(p);
  }
}

/** BPF_OBJ_GET that returns `-errno` instead of throwing (to test whether a pin exists). */
export function objGetTry(sys: BpfSyscall, path: string, fileFlags = 0): number {
  const p = allocCString(sys, path);
  try {
    return sys.bpf(BpfCmd.OBJ_GET, encodeObj({ pathname: p.address, fileFlags }));
  } finally {
    sys.free(p);
  }
}

// ---- info and ids -----------------------------------------------------------------------------

/** BPF_OBJ_GET_INFO_BY_FD for a map. */
export function mapInfo(sys: BpfSyscall, mapFd: number): MapInfo {
  return withMemory(sys, [MAP_INFO_SIZE], ([info]) => {
    bpfCall(sys, 'OBJ_GET_INFO_BY_FD', encodeInfoByFd(mapFd, MAP_INFO_SIZE, info!.address));
    return decodeMapInfo(info!.bytes);
  });
}

/** BPF_OBJ_GET_INFO_BY_FD for a program, with the ids of the maps it uses. */
export function progInfo(sys: BpfSyscall, progFd: number): ProgInfo & { mapIds: number[] } {
  // First ask for the count, then for the ids (the kernel fills at most the capacity given).
  const first = withMemory(sys, [PROG_INFO_SIZE], ([info]) => {
    bpfCall(sys, 'OBJ_GET_INFO_BY_FD', encodeInfoByFd(progFd, PROG_INFO_SIZE, info!.address));
    return decodeProgInfo(info!.bytes);
  });
  if (first.nrMapIds === 0) return { ...first, mapIds: [] };
  const n = first.nrMapIds;
  return withMemory(sys, [PROG_INFO_SIZE, 4 * n], ([info, ids]) => {
    info!.bytes.set(encodeProgInfoRequest(ids!.address, n));
    const attr = encodeInfoByFd(progFd, PROG_INFO_SIZE, info!.address);
    bpfCall(sys, 'OBJ_GET_INFO_BY_FD', attr);
    const decoded = decodeProgInfo(info!.bytes.subarray(0, decodeInfoLen(attr)));
    const dv = new DataView(ids!.bytes.buffer, ids!.bytes.byteOffset, ids!.bytes.byteLength);
    const mapIds: number[] = [];
    for (let i = 0; i < Math.min(n, decoded.nrMapIds); i++) mapIds.push(dv.getUint32(4 * i, true));
    return { ...decoded, mapIds };
  });
}

/**
 * Whether `fd` is a program: OBJ_GET_INFO_BY_FD answers for any bpf object, in the struct of the
 * object's kind, and writes back how many bytes that struct has. `bpf_prog_info` has been over
 * 160 bytes for years (232 on 6.18) while map, BTF and link info are at most 104, so the length
 * tells the kind without a second system call.
 */
export function isProgramFd(sys: BpfSyscall, fd: number): boolean {
  return withMemory(sys, [PROG_INFO_SIZE], ([info]) => {
    const attr = encodeInfoByFd(fd, PROG_INFO_SIZE, info!.address);
    bpfCall(sys, 'OBJ_GET_INFO_BY_FD', attr);
    return decodeInfoLen(attr) > 160;
  });
}

/** BPF_PROG_GET_FD_BY_ID: a new fd for the loaded program `id`. */
export function progGetFdById(sys: BpfSyscall, id: number): number {
  return bpfCall(sys, 'PROG_GET_FD_BY_ID', encodeId(id), { name: `id ${id}` });
}

/** BPF_MAP_GET_FD_BY_ID: a new fd for the map `id`. */
export function mapGetFdById(sys: BpfSyscall, id: number): number {
  return bpfCall(sys, 'MAP_GET_FD_BY_ID', encodeId(id), { name: `id ${id}` });
}

/** BPF_PROG_GET_NEXT_ID / BPF_MAP_GET_NEXT_ID: the next id after `startId`, or undefined at the end. */
export function getNextId(
  sys: BpfSyscall,
  command: 'PROG_GET_NEXT_ID' | 'MAP_GET_NEXT_ID',
  startId: number,
): number | undefined {
  const attr = encodeId(startId);
  const ret = sys.bpf(BpfCmd[command], attr);
  if (ret === -Errno.ENOENT) return undefined;
  if (ret < 0) throw new BpfError(command, -ret);
  return decodeNextId(attr);
}

// ---- attach -----------------------------------------------------------------------------------

/** BPF_PROG_ATTACH. */
export function progAttach(
  sys: BpfSyscall,
  targetFd: number,
  progFd: number,
  attachType: number,
  attachFlags = 0,
  replaceFd = 0,
): void {
  bpfCall(
    sys,
    'PROG_ATTACH',
    encodeProgAttach({
      targetFd,
      attachBpfFd: progFd,
      attachType,
      attachFlags,
      replaceBpfFd: replaceFd,
    }),
  );
}

/** BPF_PROG_DETACH (progFd 0 detaches an exclusive cgroup attachment). */
export function progDetach(
  sys: BpfSyscall,
  targetFd: number,
  progFd: number,
  attachType: number,
): void {
  bpfCall(sys, 'PROG_DETACH', encodeProgAttach({ targetFd, attachBpfFd: progFd, attachType }));
}

/** What is attached to a target, from BPF_PROG_QUERY. */
export interface QueryResult {
  /** Program ids, in run order. */
  readonly ids: number[];
  /** Flags of the attachment (0 exclusive, 1 override, 2 multi). */
  readonly attachFlags: number;
  /** Attachment revision (6.6+; 0 before). */
  readonly revision: bigint;
}

/** BPF_PROG_QUERY: ids of the programs attached to `targetFd` with `attachType`. */
export function progQuery(
  sys: BpfSyscall,
  targetFd: number,
  attachType: number,
  queryFlags = 0,
): QueryResult {
  // Ask for the count first, then for that many ids (retry if it grew in between).
  for (let capacity = 0; ; ) {
    const res = withMemory(sys, [Math.max(4, 4 * capacity)], ([ids]) => {
      const attr = encodeProgQuery({
        targetFd,
        attachType,
        queryFlags,
        progIds: capacity > 0 ? ids!.address : 0n,
        progCnt: capacity,
      });
      const ret = sys.bpf(BpfCmd.PROG_QUERY, attr);
      if (ret < 0 && !(ret === -Errno.ENOSPC && capacity > 0)) {
        throw new BpfError('PROG_QUERY', -ret);
      }
      const out = decodeProgQuery(attr);
      const dv = new DataView(ids!.bytes.buffer, ids!.bytes.byteOffset, ids!.bytes.byteLength);
      const list: number[] = [];
      for (let i = 0; i < Math.min(capacity, out.progCnt); i++)
        list.push(dv.getUint32(4 * i, true));
      return { out, list, full: ret >= 0 };
    });
    if (res.out.progCnt <= capacity && res.full) {
      return { ids: res.list, attachFlags: res.out.attachFlags, revision: res.out.revision };
    }
    if (res.out.progCnt === 0) {
      return { ids: [], attachFlags: res.out.attachFlags, revision: res.out.revision };
    }
    capacity = res.out.progCnt;
  }
}

/** BPF_LINK_CREATE: returns the link fd. */
export function linkCreate(
  sys: BpfSyscall,
  progFd: number,
  targetFd: number,
  attachType: number,
  flags = 0,
): number {
  return bpfCall(sys, 'LINK_CREATE', encodeLinkCreate({ progFd, targetFd, attachType, flags }));
}

/** BPF_LINK_DETACH: detaches a link while its fd stays open. */
export function linkDetach(sys: BpfSyscall, linkFd: number): void {
  bpfCall(sys, 'LINK_DETACH', encodeLinkDetach(linkFd));
}

// ---- BTF --------------------------------------------------------------------------------------

/** BPF_BTF_LOAD result: the fd, or the errno and the kernel's BTF log when it was refused. */
export type BtfLoadResult =
  | { readonly ok: true; readonly fd: number }
  | { readonly ok: false; readonly error: BpfError; readonly log: string };

/** BPF_BTF_LOAD; on failure reloads with a log so the caller can tell why. */
export function btfLoad(sys: BpfSyscall, btf: Uint8Array): BtfLoadResult {
  const data = allocCopy(sys, btf);
  try {
    const ret = sys.bpf(BpfCmd.BTF_LOAD, encodeBtfLoad({ btf: data.address, btfSize: btf.length }));
    if (ret >= 0) return { ok: true, fd: ret };
    let logSize = 64 * 1024;
    for (let attempt = 0; attempt < 8; attempt++) {
      const result = withMemory(sys, [logSize], ([log]) => {
        const attr = encodeBtfLoad({
          btf: data.address,
          btfSize: btf.length,
          logBuf: log!.address,
          logSize,
          logLevel: 1,
        });
        const r = sys.bpf(BpfCmd.BTF_LOAD, attr);
        return { r, log: cString(log!.bytes), trueSize: decodeBtfLoadLogTrueSize(attr) };
      });
      if (result.r >= 0) return { ok: true, fd: result.r };
      if (result.r === -Errno.ENOSPC && logSize < MAX_LOG_SIZE) {
        logSize = Math.min(MAX_LOG_SIZE, Math.max(result.trueSize, logSize * 2));
        continue;
      }
      const lastLine = result.log.trimEnd().split('\n').pop() ?? '';
      return {
        ok: false,
        error: new BpfError('BTF_LOAD', -result.r, { detail: lastLine }),
        log: result.log,
      };
    }
    return { ok: false, error: new BpfError('BTF_LOAD', Errno.ENOSPC), log: '' };
  } finally {
    sys.free(data);
  }
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

// ---- PROG_LOAD --------------------------------------------------------------------------------

/** The kernel refuses log buffers larger than UINT32_MAX >> 2 bytes. */
export const MAX_LOG_SIZE = 0xffffffff >>> 2;
/** First log buffer size when a load fails (grown to log_true_size on ENOSPC). */
export const INITIAL_LOG_SIZE = 256 * 1024;
/** How many times a PROG_LOAD interrupted with EAGAIN is retried. */
const EAGAIN_RETRIES = 10;

/** What `progLoad` needs: the program in kernel form. */
export interface ProgLoadRequest {
  readonly progType: number;
  readonly expectedAttachType?: number;
  /** Program name (at most 15 characters are passed). */
  readonly name: string;
  /** Instruction bytes, 8 per slot, map fds already patched in. */
  readonly insns: Uint8Array;
  readonly license: string;
  readonly kernVersion?: number;
  readonly progFlags?: number;
  /** BTF fd for func_info/line_info (0 or undefined: load without them). */
  readonly btfFd?: number;
  /** func_info records (insn_off as instruction index) and their size. */
  readonly funcInfo?: { readonly records: Uint8Array; readonly recSize: number };
  /** line_info records (insn_off as instruction index) and their size. */
  readonly lineInfo?: { readonly records: Uint8Array; readonly recSize: number };
  /** Line info for VerifierError source mapping. */
  readonly sourceLines?: readonly LoadedLineInfo[];
  /**
   * Verifier log level (bits: 1 LEVEL1, 2 LEVEL2, 4 STATS). 0 (default): load without a log and
   * ask for a level-1 log only if the load fails. Non-zero: load with that log from the start and
   * return it.
   */
  readonly logLevel?: number;
  /** Initial log buffer size in bytes (grown as needed). */
  readonly logSize?: number;
}

/** A loaded program fd, with the verifier log when one was asked for. */
export interface ProgLoadResult {
  readonly fd: number;
  readonly log: string;
}

/**
 * BPF_PROG_LOAD the libbpf way: first without a log (fast, and a valid program never fails for
 * a log that is too small); on failure again with a log that grows to `log_true_size` on ENOSPC
 * (doubling on kernels before 6.4), so the whole log is kept however large; EAGAIN (the verifier
 * interrupted by a signal) is retried. A rejection with a log throws `VerifierError`, any other
 * failure `BpfError`.
 */
export function progLoad(sys: BpfSyscall, req: ProgLoadRequest): ProgLoadResult {
  if (req.insns.length % 8 !== 0) {
    throw new RangeError(
      `program ${req.name}: ${req.insns.length} bytes is not whole instructions`,
    );
  }
  const mems: NativeMemory[] = [];
  const own = (m: NativeMemory) => {
    mems.push(m);
    return m;
  };
  try {
    const insns = own(allocCopy(sys, req.insns));
    const license = own(allocCString(sys, req.license));
    const withBtf = req.btfFd !== undefined && req.btfFd > 0;
    const func = withBtf && req.funcInfo ? own(allocCopy(sys, req.funcInfo.records)) : undefined;
    const line = withBtf && req.lineInfo ? own(allocCopy(sys, req.lineInfo.records)) : undefined;
    const attempt = (
      logLevel: number,
      log: NativeMemory | undefined,
    ): { ret: number; attr: Uint8Array } => {
      const attr = encodeProgLoad({
        progType: req.progType,
        insnCnt: req.insns.length / 8,
        insns: insns.address,
        license: license.address,
        logLevel: log ? logLevel : 0,
        logSize: log ? log.bytes.length : 0,
        logBuf: log ? log.address : 0n,
        kernVersion: req.kernVersion,
        progFlags: req.progFlags,
        name: req.name,
        expectedAttachType: req.expectedAttachType,
        progBtfFd: withBtf ? req.btfFd : 0,
        funcInfoRecSize: func ? req.funcInfo!.recSize : 0,
        funcInfo: func ? func.address : 0n,
        funcInfoCnt: func ? req.funcInfo!.records.length / req.funcInfo!.recSize : 0,
        lineInfoRecSize: line ? req.lineInfo!.recSize : 0,
        lineInfo: line ? line.address : 0n,
        lineInfoCnt: line ? req.lineInfo!.records.length / req.lineInfo!.recSize : 0,
      });
      let ret = sys.bpf(BpfCmd.PROG_LOAD, attr);
      for (let i = 0; ret === -Errno.EAGAIN && i < EAGAIN_RETRIES; i++) {
        ret = sys.bpf(BpfCmd.PROG_LOAD, attr);
      }
      return { ret, attr };
    };

    const wantLog = (req.logLevel ?? 0) !== 0;
    if (!wantLog) {
      const first = attempt(0, undefined);
      if (first.ret >= 0) return { fd: first.ret, log: '' };
      // EPERM etc. are not the program's fault: the log would only repeat them.
      if (
        first.ret !== -Errno.EACCES &&
        first.ret !== -Errno.EINVAL &&
        first.ret !== -Errno.E2BIG
      ) {
        throw new BpfError('PROG_LOAD', -first.ret, { name: req.name });
      }
    }
    const level = wantLog ? req.logLevel! : 1;
    let size = Math.min(MAX_LOG_SIZE, req.logSize ?? INITIAL_LOG_SIZE);
    for (;;) {
      const log = sys.alloc(size);
      try {
        const { ret, attr } = attempt(level, log);
        const text = cString(log.bytes);
        if (ret >= 0) return { fd: ret, log: text };
        const trueSize = decodeProgLoadLogTrueSize(attr);
        if (ret === -Errno.ENOSPC && size < MAX_LOG_SIZE && (trueSize === 0 || trueSize > size)) {
          size = Math.min(MAX_LOG_SIZE, trueSize > size ? trueSize : size * 2);
          continue;
        }
        if (
          (ret === -Errno.EACCES || ret === -Errno.EINVAL || ret === -Errno.E2BIG) &&
          text !== ''
        ) {
          throw new VerifierError({
            progName: req.name,
            errno: -ret,
            log: text,
            insnCount: req.insns.length / 8,
            progType: req.progType,
            ...(req.sourceLines ? { lineInfo: req.sourceLines } : {}),
          });
        }
        throw new BpfError('PROG_LOAD', -ret, {
          name: req.name,
          ...(text ? { detail: text.trimEnd().split('\n').pop() } : {}),
        });
      } finally {
        sys.free(log);
      }
    }
  } finally {
    for (const m of mems) sys.free(m);
  }
}

// ---- PROG_TEST_RUN ----------------------------------------------------------------------------

/** Input of `progTestRun`. */
export interface TestRunOptions {
  /** Packet bytes (data_in). */
  readonly dataIn?: Uint8Array;
  /** Context struct bytes (ctx_in), for program types that take one. */
  readonly ctxIn?: Uint8Array;
  /** Run this many times (duration is the average); default 1. */
  readonly repeat?: number;
  /** Capacity for data_out (default: dataIn length + 256, room for XDP head adjustments). */
  readonly dataOutSize?: number;
  /** Capacity for ctx_out (default: ctxIn length). */
  readonly ctxOutSize?: number;
}

/** Output of `progTestRun`. */
export interface TestRunResult {
  /** The program's return value (r0, truncated to u32). */
  readonly retval: number;
  /** Average run time per repetition in nanoseconds. */
  readonly duration: number;
  /** The packet after the program ran. */
  readonly dataOut: Uint8Array;
  /** The context after the program ran (empty without ctxIn). */
  readonly ctxOut: Uint8Array;
}

/**
 * BPF_PROG_TEST_RUN (cmd 10): runs a loaded program on `dataIn`/`ctxIn` in the kernel. Works for
 * socket filters, XDP, tc and a few others; sock_ops and sk_msg have no test runner (ENOTSUPP).
 */
export function progTestRun(sys: BpfSyscall, progFd: number, opts: TestRunOptions): TestRunResult {
  const dataIn = opts.dataIn ?? new Uint8Array(0);
  const ctxIn = opts.ctxIn;
  const outSize = opts.dataOutSize ?? (dataIn.length > 0 ? dataIn.length + 256 : 0);
  const ctxOutSize = opts.ctxOutSize ?? ctxIn?.length ?? 0;
  return withMemory(
    sys,
    [dataIn.length, outSize, ctxIn?.length ?? 0, ctxOutSize],
    ([din, dout, cin, cout]) => {
      din!.bytes.set(dataIn);
      if (ctxIn) cin!.bytes.set(ctxIn);
      const attr = encodeProgTestRun({
        progFd,
        dataSizeIn: dataIn.length,
        dataIn: dataIn.length > 0 ? din!.address : 0n,
        dataSizeOut: outSize,
        dataOut: outSize > 0 ? dout!.address : 0n,
        repeat: opts.repeat ?? 1,
        ctxSizeIn: ctxIn?.length ?? 0,
        ctxIn: ctxIn ? cin!.address : 0n,
        ctxSizeOut: ctxOutSize,
        ctxOut: ctxOutSize > 0 ? cout!.address : 0n,
      });
      bpfCall(sys, 'PROG_TEST_RUN', attr);
      const out = decodeProgTestRun(attr);
      return {
        retval: out.retval,
        duration: out.duration,
        dataOut: dout!.bytes.slice(0, Math.min(out.dataSizeOut, outSize)),
        ctxOut: cout!.bytes.slice(0, Math.min(out.ctxSizeOut, ctxOutSize)),
      };
    },
  );
}
