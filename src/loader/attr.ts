/**
 * `union bpf_attr` layouts, one encoder per command, with exact offsets and sizes (verified on
 * Linux 6.18, see shared/spec/elf-btf-bpf.md §4). Every encoder returns a zeroed buffer of the
 * command's size (offsetofend of the last field we know) with only the given fields set: the
 * kernel copies min(size, its own attr size) and refuses non-zero bytes after the last field a
 * command uses (EINVAL) or after the end of its own attr (E2BIG), so zero is always the safe filler.
 *
 * All fields are little-endian; pointers are `__aligned_u64` addresses (bigint) of memory obtained
 * from `BpfSyscall.alloc`. Decoders read the fields the kernel writes back.
 */

/** Little-endian field writer over a zeroed attr buffer. */
class AttrWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }
  u32(off: number, v: number | undefined): this {
    if (v !== undefined) this.#view.setUint32(off, v >>> 0, true);
    return this;
  }
  u64(off: number, v: bigint | number | undefined): this {
    if (v !== undefined) this.#view.setBigUint64(off, BigInt(v), true);
    return this;
  }
  /** A NUL-terminated name in a fixed `char[len]` field (the kernel takes at most len-1 chars). */
  name(off: number, len: number, s: string | undefined): this {
    if (s === undefined) return this;
    const enc = new TextEncoder().encode(s);
    this.bytes.set(enc.subarray(0, len - 1), off);
    return this;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Reads a NUL-terminated string from a fixed `char[len]` field. */
function readName(b: Uint8Array, off: number, len: number): string {
  const raw = b.subarray(off, off + len);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
}

// ---------------------------------------------------------------------------------------------
// BPF_MAP_CREATE (0)
//
//   0 map_type u32 | 4 key_size u32 | 8 value_size u32 | 12 max_entries u32 | 16 map_flags u32
//  20 inner_map_fd u32 | 24 numa_node u32 | 28 map_name[16] | 44 map_ifindex u32 | 48 btf_fd u32
//  52 btf_key_type_id u32 | 56 btf_value_type_id u32 | 60 btf_vmlinux_value_type_id u32
//  64 map_extra u64 | (72 value_type_btf_obj_fd, 76 map_token_fd: not used)

/** Size of the MAP_CREATE attr we pass (offsetofend map_extra). */
export const MAP_CREATE_ATTR_SIZE = 72;

/** Fields of BPF_MAP_CREATE. */
export interface MapCreateAttr {
  readonly mapType: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags?: number;
  readonly innerMapFd?: number;
  readonly numaNode?: number;
  /** At most 15 characters of [A-Za-z0-9_.]. */
  readonly name?: string;
  readonly btfFd?: number;
  readonly btfKeyTypeId?: number;
  readonly btfValueTypeId?: number;
  readonly mapExtra?: bigint;
}

/** Encodes BPF_MAP_CREATE. */
export function encodeMapCreate(a: MapCreateAttr): Uint8Array {
  return new AttrWriter(MAP_CREATE_ATTR_SIZE)
    .u32(0, a.mapType)
    .u32(4, a.keySize)
    .u32(8, a.valueSize)
    .u32(12, a.maxEntries)
    .u32(16, a.mapFlags)
    .u32(20, a.innerMapFd)
    .u32(24, a.numaNode)
    .name(28, 16, a.name)
    .u32(48, a.btfFd)
    .u32(52, a.btfKeyTypeId)
    .u32(56, a.btfValueTypeId)
    .u64(64, a.mapExtra).bytes;
}

// ---------------------------------------------------------------------------------------------
// BPF_MAP_LOOKUP_ELEM (1) / UPDATE_ELEM (2) / DELETE_ELEM (3) / GET_NEXT_KEY (4)
//
//   0 map_fd u32 | 4 pad | 8 key u64 ptr | 16 value (or next_key) u64 ptr | 24 flags u64
//
// DELETE must leave `value` zero and GET_NEXT_KEY must leave `flags` zero (CHECK_ATTR).

/** Size of the element-command attr (offsetofend flags). */
export const MAP_ELEM_ATTR_SIZE = 32;

/** Fields of the element commands. */
export interface MapElemAttr {
  readonly mapFd: number;
  /** Address of key_size bytes (0 for GET_NEXT_KEY = "first key"). */
  readonly key: bigint;
  /** Address of the value (LOOKUP/UPDATE) or next-key output buffer (GET_NEXT_KEY); 0 for DELETE. */
  readonly value?: bigint;
  /** UPDATE: ANY 0 / NOEXIST 1 / EXIST 2; LOOKUP: BPF_F_LOCK 4 only. */
  readonly flags?: bigint;
}

/** Encodes MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM or MAP_GET_NEXT_KEY. */
export function encodeMapElem(a: MapElemAttr): Uint8Array {
  return new AttrWriter(MAP_ELEM_ATTR_SIZE)
    .u32(0, a.mapFd)
    .u64(8, a.key)
    .u64(16, a.value)
    .u64(24, a.flags).bytes;
}

// ---------------------------------------------------------------------------------------------
// BPF_PROG_LOAD (5)
//
//   0 prog_type u32 | 4 insn_cnt u32 | 8 insns u64 | 16 license u64 | 24 log_level u32
//  28 log_size u32 | 32 log_buf u64 | 40 kern_version u32 | 44 prog_flags u32 | 48 prog_name[16]
//  64 prog_ifindex u32 | 68 expected_attach_type u32 | 72 prog_btf_fd u32
//  76 func_info_rec_size u32 | 80 func_info u64 | 88 func_info_cnt u32 | 92 line_info_rec_size u32
//  96 line_info u64 | 104 line_info_cnt u32 | 108 attach_btf_id u32 | 112 attach_prog_fd u32
// 116 core_relo_cnt u32 | 120 fd_array u64 | 128 core_relos u64 | 136 core_relo_rec_size u32
// 140 log_true_size u32 (out, 6.4+; written only when the attr is at least 144 bytes)

/** Size of the PROG_LOAD attr we pass: 144, so that 6.4+ kernels write log_true_size back. */
export const PROG_LOAD_ATTR_SIZE = 144;

/** Fields of BPF_PROG_LOAD. */
export interface ProgLoadAttr {
  readonly progType: number;
  /** Number of 8-byte instruction slots. */
  readonly insnCnt: number;
  readonly insns: bigint;
  /** Address of a NUL-terminated license string. */
  readonly license: bigint;
  readonly logLevel?: number;
  readonly logSize?: number;
  readonly logBuf?: bigint;
  readonly kernVersion?: number;
  readonly progFlags?: number;
  readonly name?: string;
  readonly expectedAttachType?: number;
  readonly progBtfFd?: number;
  readonly funcInfoRecSize?: number;
  readonly funcInfo?: bigint;
  readonly funcInfoCnt?: number;
  readonly lineInfoRecSize?: number;
  readonly lineInfo?: bigint;
  readonly lineInfoCnt?: number;
}

/** Encodes BPF_PROG_LOAD. */
export function encodeProgLoad(a: ProgLoadAttr): Uint8Array {
  return new AttrWriter(PROG_LOAD_ATTR_SIZE)
    .u32(0, a.progType)
    .u32(4, a.insnCnt)
    .u64(8, a.insns)
    .u64(16, a.license)
    .u32(24, a.logLevel)
    .u32(28, a.logSize)
    .u64(32, a.logBuf)
    .u32(40, a.kernVersion)
    .u32(44, a.progFlags)
    .name(48, 16, a.name)
    .u32(68, a.expectedAttachType)
    .u32(72, a.progBtfFd)
    .u32(76, a.funcInfoRecSize)
    .u64(80, a.funcInfo)
    .u32(88, a.funcInfoCnt)
    .u32(92, a.lineInfoRecSize)
    .u64(96, a.lineInfo)
    .u32(104, a.lineInfoCnt).bytes;
}

/** log_true_size written back by PROG_LOAD (0 on kernels before 6.4). */
export function decodeProgLoadLogTrueSize(attr: Uint8Array): number {
  return view(attr).getUint32(140, true);
}

// ---------------------------------------------------------------------------------------------
// BPF_OBJ_PIN (6) / BPF_OBJ_GET (7)
//
//   0 pathname u64 ptr | 8 bpf_fd u32 | 12 file_flags u32 | 16 path_fd u32

/** Size of the OBJ_PIN / OBJ_GET attr (offsetofend path_fd). */
export const OBJ_ATTR_SIZE = 20;

/** Fields of OBJ_PIN and OBJ_GET. */
export interface ObjAttr {
  /** Address of a NUL-terminated path inside bpffs. */
  readonly pathname: bigint;
  /** PIN: the fd to pin; GET: 0. */
  readonly bpfFd?: number;
  /** GET: 0, RDONLY 8 or WRONLY 16. */
  readonly fileFlags?: number;
}

/** Encodes OBJ_PIN or OBJ_GET. */
export function encodeObj(a: ObjAttr): Uint8Array {
  return new AttrWriter(OBJ_ATTR_SIZE).u64(0, a.pathname).u32(8, a.bpfFd).u32(12, a.fileFlags)
    .bytes;
}

// ---------------------------------------------------------------------------------------------
// BPF_PROG_ATTACH (8) / BPF_PROG_DETACH (9)
//
//   0 target_fd u32 | 4 attach_bpf_fd u32 | 8 attach_type u32 | 12 attach_flags u32
//  16 replace_bpf_fd u32 | 20 relative_fd u32 | 24 expected_revision u64

/** Size of the PROG_ATTACH / PROG_DETACH attr (offsetofend expected_revision). */
export const PROG_ATTACH_ATTR_SIZE = 32;

/** Fields of PROG_ATTACH and PROG_DETACH. */
export interface ProgAttachAttr {
  /** A cgroup v2 directory fd, or a SOCKMAP/SOCKHASH map fd. */
  readonly targetFd: number;
  /** The program fd (DETACH: 0 only for exclusive cgroup attachments). */
  readonly attachBpfFd?: number;
  readonly attachType: number;
  readonly attachFlags?: number;
  readonly replaceBpfFd?: number;
}

/** Encodes PROG_ATTACH or PROG_DETACH. */
export function encodeProgAttach(a: ProgAttachAttr): Uint8Array {
  return new AttrWriter(PROG_ATTACH_ATTR_SIZE)
    .u32(0, a.targetFd)
    .u32(4, a.attachBpfFd)
    .u32(8, a.attachType)
    .u32(12, a.attachFlags)
    .u32(16, a.replaceBpfFd).bytes;
}

// ---------------------------------------------------------------------------------------------
// BPF_PROG_TEST_RUN (10)
//
//   0 prog_fd u32 | 4 retval u32 (out) | 8 data_size_in u32 | 12 data_size_out u32 (in/out)
//  16 data_in u64 | 24 data_out u64 | 32 repeat u32 | 36 duration u32 (out) | 40 ctx_size_in u32
//  44 ctx_size_out u32 (in/out) | 48 ctx_in u64 | 56 ctx_out u64 | 64 flags u32 | 68 cpu u32
//  72 batch_size u32

/** Size of the PROG_TEST_RUN attr (offsetofend batch_size). */
export const PROG_TEST_RUN_ATTR_SIZE = 76;

/** Fields of PROG_TEST_RUN. */
export interface ProgTestRunAttr {
  readonly progFd: number;
  readonly dataSizeIn?: number;
  readonly dataSizeOut?: number;
  readonly dataIn?: bigint;
  readonly dataOut?: bigint;
  readonly repeat?: number;
  readonly ctxSizeIn?: number;
  readonly ctxSizeOut?: number;
  readonly ctxIn?: bigint;
  readonly ctxOut?: bigint;
  readonly flags?: number;
}

/** Encodes PROG_TEST_RUN. */
export function encodeProgTestRun(a: ProgTestRunAttr): Uint8Array {
  return new AttrWriter(PROG_TEST_RUN_ATTR_SIZE)
    .u32(0, a.progFd)
    .u32(8, a.dataSizeIn)
    .u32(12, a.dataSizeOut)
    .u64(16, a.dataIn)
    .u64(24, a.dataOut)
    .u32(32, a.repeat)
    .u32(40, a.ctxSizeIn)
    .u32(44, a.ctxSizeOut)
    .u64(48, a.ctxIn)
    .u64(56, a.ctxOut)
    .u32(64, a.flags).bytes;
}

/** What PROG_TEST_RUN writes back. */
export interface ProgTestRunResult {
  readonly retval: number;
  readonly dataSizeOut: number;
  /** Average run time per repetition, in nanoseconds. */
  readonly duration: number;
  readonly ctxSizeOut: number;
}

/** Decodes the output fields of PROG_TEST_RUN. */
export function decodeProgTestRun(attr: Uint8Array): ProgTestRunResult {
  const v = view(attr);
  return {
    retval: v.getUint32(4, true),
    dataSizeOut: v.getUint32(12, true),
    duration: v.getUint32(36, true),
    ctxSizeOut: v.getUint32(44, true),
  };
}

// ---------------------------------------------------------------------------------------------
// BPF_PROG_GET_NEXT_ID (11) / BPF_MAP_GET_NEXT_ID (12) / BPF_PROG_GET_FD_BY_ID (13) /
// BPF_MAP_GET_FD_BY_ID (14)
//
//   0 start_id / prog_id / map_id u32 | 4 next_id u32 (out) | 8 open_flags u32

/** Size of the id-command attr (offsetofend open_flags). */
export const ID_ATTR_SIZE = 12;

/** Encodes PROG/MAP_GET_NEXT_ID (`id` = start id) or PROG/MAP_GET_FD_BY_ID (`id` = object id). */
export function encodeId(id: number, openFlags?: number): Uint8Array {
  return new AttrWriter(ID_ATTR_SIZE).u32(0, id).u32(8, openFlags).bytes;
}

/** next_id written back by *_GET_NEXT_ID. */
export function decodeNextId(attr: Uint8Array): number {
  return view(attr).getUint32(4, true);
}

// ---------------------------------------------------------------------------------------------
// BPF_OBJ_GET_INFO_BY_FD (15)
//
//   0 bpf_fd u32 | 4 info_len u32 (in: buffer size; out: bytes the kernel filled) | 8 info u64

/** Size of the OBJ_GET_INFO_BY_FD attr. */
export const INFO_ATTR_SIZE = 16;

/** Encodes OBJ_GET_INFO_BY_FD. */
export function encodeInfoByFd(bpfFd: number, infoLen: number, info: bigint): Uint8Array {
  return new AttrWriter(INFO_ATTR_SIZE).u32(0, bpfFd).u32(4, infoLen).u64(8, info).bytes;
}

/** info_len written back by OBJ_GET_INFO_BY_FD. */
export function decodeInfoLen(attr: Uint8Array): number {
  return view(attr).getUint32(4, true);
}

/** sizeof(struct bpf_map_info) on 6.18. */
export const MAP_INFO_SIZE = 104;

/** `struct bpf_map_info`, the fields a loader needs. */
export interface MapInfo {
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly name: string;
  readonly ifindex: number;
  readonly btfId: number;
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  readonly mapExtra: bigint;
}

/**
 * Decodes `struct bpf_map_info`:
 *
 *   0 type | 4 id | 8 key_size | 12 value_size | 16 max_entries | 20 map_flags | 24 name[16]
 *  40 ifindex | 44 btf_vmlinux_value_type_id | 48 netns_dev u64 | 56 netns_ino u64 | 64 btf_id
 *  68 btf_key_type_id | 72 btf_value_type_id | 76 btf_vmlinux_id | 80 map_extra u64
 *  88 hash u64 | 96 hash_size | (104)
 */
export function decodeMapInfo(b: Uint8Array): MapInfo {
  const v = view(b);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    mapFlags: v.getUint32(20, true),
    name: readName(b, 24, 16),
    ifindex: v.getUint32(40, true),
    btfId: v.getUint32(64, true),
    btfKeyTypeId: v.getUint32(68, true),
    btfValueTypeId: v.getUint32(72, true),
    mapExtra: v.getBigUint64(80, true),
  };
}

/** sizeof(struct bpf_prog_info) on 6.18. */
export const PROG_INFO_SIZE = 232;

/** `struct bpf_prog_info`, the fields a loader reports. */
export interface ProgInfo {
  readonly type: number;
  readonly id: number;
  /** The program tag (SHA of the instructions) as 16 hex digits. */
  readonly tag: string;
  readonly jitedProgLen: number;
  readonly xlatedProgLen: number;
  /** Nanoseconds since boot when the program was loaded. */
  readonly loadTime: bigint;
  readonly createdByUid: number;
  readonly nrMapIds: number;
  readonly name: string;
  readonly gplCompatible: boolean;
  readonly btfId: number;
  readonly funcInfoRecSize: number;
  readonly nrFuncInfo: number;
  readonly nrLineInfo: number;
  readonly lineInfoRecSize: number;
  readonly runTimeNs: bigint;
  readonly runCnt: bigint;
  readonly verifiedInsns: number;
}

/**
 * Decodes `struct bpf_prog_info`:
 *
 *   0 type | 4 id | 8 tag[8] | 16 jited_prog_len | 20 xlated_prog_len | 24 jited_prog_insns u64
 *  32 xlated_prog_insns u64 | 40 load_time u64 | 48 created_by_uid | 52 nr_map_ids
 *  56 map_ids u64 | 64 name[16] | 80 ifindex | 84 gpl_compatible:1 | 88 netns_dev u64
 *  96 netns_ino u64 | 104 nr_jited_ksyms | 108 nr_jited_func_lens | 112 jited_ksyms u64
 * 120 jited_func_lens u64 | 128 btf_id | 132 func_info_rec_size | 136 func_info u64
 * 144 nr_func_info | 148 nr_line_info | 152 line_info u64 | 160 jited_line_info u64
 * 168 nr_jited_line_info | 172 line_info_rec_size | 176 jited_line_info_rec_size
 * 180 nr_prog_tags | 184 prog_tags u64 | 192 run_time_ns u64 | 200 run_cnt u64
 * 208 recursion_misses u64 | 216 verified_insns | 220 attach_btf_obj_id | 224 attach_btf_id | (232)
 */
export function decodeProgInfo(b: Uint8Array): ProgInfo {
  const v = view(b);
  let tag = '';
  for (const byte of b.subarray(8, 16)) tag += byte.toString(16).padStart(2, '0');
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    tag,
    jitedProgLen: v.getUint32(16, true),
    xlatedProgLen: v.getUint32(20, true),
    loadTime: v.getBigUint64(40, true),
    createdByUid: v.getUint32(48, true),
    nrMapIds: v.getUint32(52, true),
    name: readName(b, 64, 16),
    gplCompatible: (v.getUint32(84, true) & 1) === 1,
    btfId: v.getUint32(128, true),
    funcInfoRecSize: v.getUint32(132, true),
    nrFuncInfo: v.getUint32(144, true),
    nrLineInfo: v.getUint32(148, true),
    lineInfoRecSize: v.getUint32(172, true),
    runTimeNs: v.getBigUint64(192, true),
    runCnt: v.getBigUint64(200, true),
    verifiedInsns: v.getUint32(216, true),
  };
}

/**
 * A bpf_prog_info request that also asks for the program's map ids: `nr_map_ids` @52 = capacity,
 * `map_ids` @56 = address of a u32 array (the kernel writes the real count back into nr_map_ids).
 */
export function encodeProgInfoRequest(mapIds: bigint, capacity: number): Uint8Array {
  return new AttrWriter(PROG_INFO_SIZE).u32(52, capacity).u64(56, mapIds).bytes;
}

// ---------------------------------------------------------------------------------------------
// BPF_PROG_QUERY (16)
//
//   0 target_fd u32 | 4 attach_type u32 | 8 query_flags u32 | 12 attach_flags u32 (out)
//  16 prog_ids u64 ptr | 24 prog_cnt u32 (in: capacity, out: count) | 28 pad
//  32 prog_attach_flags u64 ptr | 40 link_ids u64 ptr | 48 link_attach_flags u64 ptr
//  56 revision u64 (out)

/** Size of the PROG_QUERY attr (offsetofend revision). */
export const PROG_QUERY_ATTR_SIZE = 64;

/** Fields of PROG_QUERY. */
export interface ProgQueryAttr {
  readonly targetFd: number;
  readonly attachType: number;
  readonly queryFlags?: number;
  /** Address of a u32[progCnt] array for the program ids. */
  readonly progIds?: bigint;
  readonly progCnt?: number;
}

/** Encodes PROG_QUERY. */
export function encodeProgQuery(a: ProgQueryAttr): Uint8Array {
  return new AttrWriter(PROG_QUERY_ATTR_SIZE)
    .u32(0, a.targetFd)
    .u32(4, a.attachType)
    .u32(8, a.queryFlags)
    .u64(16, a.progIds)
    .u32(24, a.progCnt).bytes;
}

/** What PROG_QUERY writes back. */
export interface ProgQueryResult {
  readonly attachFlags: number;
  readonly progCnt: number;
  readonly revision: bigint;
}

/** Decodes the output fields of PROG_QUERY. */
export function decodeProgQuery(attr: Uint8Array): ProgQueryResult {
  const v = view(attr);
  return {
    attachFlags: v.getUint32(12, true),
    progCnt: v.getUint32(24, true),
    revision: v.getBigUint64(56, true),
  };
}

// ---------------------------------------------------------------------------------------------
// BPF_BTF_LOAD (18)
//
//   0 btf u64 ptr | 8 btf_log_buf u64 ptr | 16 btf_size u32 | 20 btf_log_size u32
//  24 btf_log_level u32 | 28 btf_log_true_size u32 (out, 6.4+) | 32 btf_flags | 36 btf_token_fd

/** Size of the BTF_LOAD attr (offsetofend btf_log_true_size). */
export const BTF_LOAD_ATTR_SIZE = 32;

/** Fields of BTF_LOAD. */
export interface BtfLoadAttr {
  readonly btf: bigint;
  readonly btfSize: number;
  readonly logBuf?: bigint;
  readonly logSize?: number;
  readonly logLevel?: number;
}

/** Encodes BTF_LOAD. */
export function encodeBtfLoad(a: BtfLoadAttr): Uint8Array {
  return new AttrWriter(BTF_LOAD_ATTR_SIZE)
    .u64(0, a.btf)
    .u64(8, a.logBuf)
    .u32(16, a.btfSize)
    .u32(20, a.logSize)
    .u32(24, a.logLevel).bytes;
}

/** btf_log_true_size written back by BTF_LOAD. */
export function decodeBtfLoadLogTrueSize(attr: Uint8Array): number {
  return view(attr).getUint32(28, true);
}

// ---------------------------------------------------------------------------------------------
// BPF_LINK_CREATE (28) / BPF_LINK_DETACH (34)
//
// LINK_CREATE: 0 prog_fd (or map_fd) u32 | 4 target_fd u32 | 8 attach_type u32 | 12 flags u32
//              16 (cgroup) relative_fd u32 | 24 expected_revision u64
// LINK_DETACH: 0 link_fd u32

/** Size of the LINK_CREATE attr (offsetofend of the cgroup member's expected_revision). */
export const LINK_CREATE_ATTR_SIZE = 32;

/** Fields of LINK_CREATE. */
export interface LinkCreateAttr {
  readonly progFd: number;
  readonly targetFd: number;
  readonly attachType: number;
  readonly flags?: number;
}

/** Encodes LINK_CREATE. */
export function encodeLinkCreate(a: LinkCreateAttr): Uint8Array {
  return new AttrWriter(LINK_CREATE_ATTR_SIZE)
    .u32(0, a.progFd)
    .u32(4, a.targetFd)
    .u32(8, a.attachType)
    .u32(12, a.flags).bytes;
}

/** Encodes LINK_DETACH. */
export function encodeLinkDetach(linkFd: number): Uint8Array {
  return new AttrWriter(4).u32(0, linkFd).bytes;
}
