/**
 * `.BTF.ext`: per-section function info, line info and CO-RE relocations that point into `.BTF`.
 * Layout (shared/spec/elf-btf-bpf.md §3, libbpf `btf_ext_parse_hdr`/`btf_ext_setup_info`):
 *
 *     struct btf_ext_header {          32 bytes as clang 14 writes it, little-endian
 *       +0  u16 magic = 0xeb9f; +2 u8 version = 1; +3 u8 flags = 0
 *       +4  u32 hdr_len                 >= 24; >= 32 when the core_relo fields are present
 *       +8  u32 func_info_off  +12 u32 func_info_len    offsets relative to the END of the header,
 *       +16 u32 line_info_off  +20 u32 line_info_len    4-aligned; len 0 = subsection absent
 *       +24 u32 core_relo_off  +28 u32 core_relo_len
 *     }
 *     subsection:  u32 rec_size, then one or more
 *                  { u32 sec_name_off (ELF section name in .BTF strings); u32 num_info (> 0);
 *                    num_info records of rec_size bytes }
 *
 *     bpf_func_info  (min 8):  u32 insn_off; u32 type_id (a FUNC)
 *     bpf_line_info  (min 16): u32 insn_off; u32 file_name_off; u32 line_off;
 *                              u32 line_col = line << 10 | col (col 0..1023)
 *     bpf_core_relo  (min 16): u32 insn_off; u32 type_id; u32 access_str_off; u32 kind
 *
 * In an ELF object `insn_off` is a BYTE offset from the start of the ELF section; BPF_PROG_LOAD wants
 * an instruction index from the start of the program (see `programBtfExt`). Records longer than the
 * minimum keep their extra bytes in `tail` so that decode/encode round-trips.
 */
import type { Btf } from './btf.js';
import { BTF_MAGIC } from './btf.js';
import { hex } from './btf-types.js';

/** Size of the `.BTF.ext` header this module writes (with the core_relo fields). */
export const BTF_EXT_HEADER_SIZE = 32;
/** Minimum record sizes per subsection. */
export const BTF_EXT_MIN_REC_SIZE = { funcInfo: 8, lineInfo: 16, coreRelo: 16 } as const;
/** Largest column representable in `line_col`. */
export const BTF_LINE_COL_MAX = 0x3ff;
/** Largest line number representable in `line_col`. */
export const BTF_LINE_MAX = 0x3fffff;

/** What went wrong reading or writing `.BTF.ext`. */
export type BtfExtErrorCode =
  | 'BTF_EXT_TRUNCATED'
  | 'BTF_EXT_BAD_MAGIC'
  | 'BTF_EXT_UNSUPPORTED'
  | 'BTF_EXT_BAD_HEADER'
  | 'BTF_EXT_BAD_RECORD'
  | 'BTF_EXT_BAD_REFERENCE'
  | 'BTF_EXT_INVALID_INPUT';

/** A `.BTF.ext` error; `offset` is the byte offset in the `.BTF.ext` data when it is about bytes. */
export class BtfExtError extends Error {
  override readonly name = 'BtfExtError';
  readonly code: BtfExtErrorCode;
  readonly offset: number | undefined;

  constructor(code: BtfExtErrorCode, message: string, offset?: number) {
    super(message);
    this.code = code;
    this.offset = offset;
  }
}

/** One `bpf_func_info` record. */
export interface BtfFuncInfo {
  /** Byte offset in the ELF section (instruction index once converted for the kernel). */
  readonly insnOff: number;
  /** The FUNC type id. */
  readonly typeId: number;
  /** Bytes of a record longer than 8, after the known fields. */
  readonly tail?: Uint8Array;
}

/** One `bpf_line_info` record, with `line_col` split into line and column. */
export interface BtfLineInfo {
  readonly insnOff: number;
  /** Offset of the file name in the `.BTF` strings. */
  readonly fileNameOff: number;
  /** Offset of the source line text in the `.BTF` strings (0 = none). */
  readonly lineOff: number;
  readonly line: number;
  readonly col: number;
  readonly tail?: Uint8Array;
}

/** One `bpf_core_relo` record (CO-RE relocation). */
export interface BtfCoreRelo {
  readonly insnOff: number;
  readonly typeId: number;
  /** Offset of the access string ("0:1:2") in the `.BTF` strings. */
  readonly accessStrOff: number;
  /** `enum bpf_core_relo_kind` (0 FIELD_BYTE_OFFSET … 13 TYPE_MATCHES). */
  readonly kind: number;
  readonly tail?: Uint8Array;
}

/** The records of one ELF section (`btf_ext_info_sec`). */
export interface BtfExtSection<R> {
  /** Offset of the ELF section name in the `.BTF` strings. */
  readonly secNameOff: number;
  readonly records: readonly R[];
}

/** One subsection: its record size and the per-ELF-section record lists. */
export interface BtfExtInfo<R> {
  readonly recSize: number;
  readonly sections: readonly BtfExtSection<R>[];
}

/** Decoded (or to-be-encoded) `.BTF.ext`. */
export interface BtfExt {
  readonly funcInfo: BtfExtInfo<BtfFuncInfo>;
  readonly lineInfo: BtfExtInfo<BtfLineInfo>;
  readonly coreRelo: BtfExtInfo<BtfCoreRelo>;
}

interface SubsectionSpec<R> {
  readonly key: keyof BtfExt;
  readonly desc: string;
  readonly minRecSize: number;
  readonly read: (view: DataView, at: number) => R;
  readonly write: (view: DataView, at: number, rec: R) => void;
}

const FUNC_INFO: SubsectionSpec<BtfFuncInfo> = {
  key: 'funcInfo',
  desc: 'func_info',
  minRecSize: BTF_EXT_MIN_REC_SIZE.funcInfo,
  read: (v, at) => ({ insnOff: v.getUint32(at, true), typeId: v.getUint32(at + 4, true) }),
  write: (v, at, r) => {
    v.setUint32(at, u32(r.insnOff, 'func_info insnOff'), true);
    v.setUint32(at + 4, u32(r.typeId, 'func_info typeId'), true);
  },
};

const LINE_INFO: SubsectionSpec<BtfLineInfo> = {
  key: 'lineInfo',
  desc: 'line_info',
  minRecSize: BTF_EXT_MIN_REC_SIZE.lineInfo,
  read: (v, at) => {
    const lineCol = v.getUint32(at + 12, true);
    return {
      insnOff: v.getUint32(at, true),
      fileNameOff: v.getUint32(at + 4, true),
      lineOff: v.getUint32(at + 8, true),
      line: lineCol >>> 10,
      col: lineCol & BTF_LINE_COL_MAX,
    };
  },
  write: (v, at, r) => {
    v.setUint32(at, u32(r.insnOff, 'line_info insnOff'), true);
    v.setUint32(at + 4, u32(r.fileNameOff, 'line_info fileNameOff'), true);
    v.setUint32(at + 8, u32(r.lineOff, 'line_info lineOff'), true);
    v.setUint32(at + 12, encodeLineCol(r.line, r.col), true);
  },
};

const CORE_RELO: SubsectionSpec<BtfCoreRelo> = {
  key: 'coreRelo',
  desc: 'core_relo',
  minRecSize: BTF_EXT_MIN_REC_SIZE.coreRelo,
  read: (v, at) => ({
    insnOff: v.getUint32(at, true),
    typeId: v.getUint32(at + 4, true),
    accessStrOff: v.getUint32(at + 8, true),
    kind: v.getUint32(at + 12, true),
  }),
  write: (v, at, r) => {
    v.setUint32(at, u32(r.insnOff, 'core_relo insnOff'), true);
    v.setUint32(at + 4, u32(r.typeId, 'core_relo typeId'), true);
    v.setUint32(at + 8, u32(r.accessStrOff, 'core_relo accessStrOff'), true);
    v.setUint32(at + 12, u32(r.kind, 'core_relo kind'), true);
  },
};

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new BtfExtError(
      'BTF_EXT_INVALID_INPUT',
      `BTF.ext encode: ${what} is ${value}, expected an integer 0..2^32-1`,
    );
  }
  return value;
}

/** `line_col` of a line-info record: `line << 10 | col`; throws when either does not fit. */
export function encodeLineCol(line: number, col: number): number {
  if (!Number.isInteger(line) || line < 0 || line > BTF_LINE_MAX) {
    throw new BtfExtError(
      'BTF_EXT_INVALID_INPUT',
      `BTF.ext encode: line ${line} does not fit line_col (0..${BTF_LINE_MAX})`,
    );
  }
  if (!Number.isInteger(col) || col < 0 || col > BTF_LINE_COL_MAX) {
    throw new BtfExtError(
      'BTF_EXT_INVALID_INPUT',
      `BTF.ext encode: column ${col} does not fit line_col (0..${BTF_LINE_COL_MAX}); clamp long lines`,
    );
  }
  return ((line << 10) | col) >>> 0;
}

/** Number of bytes of one encoded subsection (0 when it has no sections). */
function subsectionSize<R>(info: BtfExtInfo<R>): number {
  if (info.sections.length === 0) return 0;
  let n = 4;
  for (const s of info.sections) n += 8 + s.records.length * info.recSize;
  return n;
}

function writeSubsection<R extends { readonly tail?: Uint8Array }>(
  out: Uint8Array,
  view: DataView,
  at: number,
  info: BtfExtInfo<R>,
  spec: SubsectionSpec<R>,
): void {
  if (info.sections.length === 0) return;
  const { recSize } = info;
  if (!Number.isInteger(recSize) || recSize < spec.minRecSize || recSize % 4 !== 0) {
    throw new BtfExtError(
      'BTF_EXT_INVALID_INPUT',
      `BTF.ext encode: ${spec.desc} record size ${recSize} must be a multiple of 4 and at least ${spec.minRecSize}`,
    );
  }
  view.setUint32(at, recSize, true);
  let p = at + 4;
  for (const sec of info.sections) {
    if (sec.records.length === 0) {
      throw new BtfExtError(
        'BTF_EXT_INVALID_INPUT',
        `BTF.ext encode: ${spec.desc} section (name offset ${sec.secNameOff}) has no records; libbpf rejects empty sections, leave it out`,
      );
    }
    view.setUint32(p, u32(sec.secNameOff, `${spec.desc} secNameOff`), true);
    view.setUint32(p + 4, sec.records.length, true);
    p += 8;
    for (const rec of sec.records) {
      spec.write(view, p, rec);
      // Records without a tail leave the zero bytes of `out` (most records: no array per record).
      const tail = rec.tail;
      if (tail !== undefined) {
        const tailLen = recSize - spec.minRecSize;
        if (tail.length > tailLen) {
          throw new BtfExtError(
            'BTF_EXT_INVALID_INPUT',
            `BTF.ext encode: ${spec.desc} record has ${tail.length} tail bytes but the record size ${recSize} leaves room for ${tailLen}`,
          );
        }
        out.set(tail, p + spec.minRecSize);
      }
      p += recSize;
    }
  }
}

/**
 * Encodes `.BTF.ext` with a 32-byte header (core_relo fields present, zero when there are no
 * CO-RE relocations) and the subsections in the order func_info, line_info, core_relo.
 */
export function encodeBtfExt(ext: BtfExt): Uint8Array {
  const funcLen = subsectionSize(ext.funcInfo);
  const lineLen = subsectionSize(ext.lineInfo);
  const coreLen = subsectionSize(ext.coreRelo);
  if (funcLen + lineLen + coreLen === 0) {
    throw new BtfExtError(
      'BTF_EXT_INVALID_INPUT',
      'BTF.ext encode: nothing to encode (no func_info, line_info or core_relo sections); omit the .BTF.ext section instead',
    );
  }
  const out = new Uint8Array(BTF_EXT_HEADER_SIZE + funcLen + lineLen + coreLen);
  const view = new DataView(out.buffer);
  view.setUint16(0, BTF_MAGIC, true);
  view.setUint8(2, 1);
  view.setUint8(3, 0);
  view.setUint32(4, BTF_EXT_HEADER_SIZE, true);
  view.setUint32(8, 0, true);
  view.setUint32(12, funcLen, true);
  view.setUint32(16, funcLen, true);
  view.setUint32(20, lineLen, true);
  view.setUint32(24, funcLen + lineLen, true);
  view.setUint32(28, coreLen, true);
  writeSubsection(out, view, BTF_EXT_HEADER_SIZE, ext.funcInfo, FUNC_INFO);
  writeSubsection(out, view, BTF_EXT_HEADER_SIZE + funcLen, ext.lineInfo, LINE_INFO);
  writeSubsection(out, view, BTF_EXT_HEADER_SIZE + funcLen + lineLen, ext.coreRelo, CORE_RELO);
  return out;
}

function readSubsection<R extends { readonly tail?: Uint8Array }>(
  bytes: Uint8Array,
  view: DataView,
  hdrLen: number,
  off: number,
  len: number,
  headerField: number,
  spec: SubsectionSpec<R>,
): BtfExtInfo<R> {
  if (len === 0) return { recSize: spec.minRecSize, sections: [] };
  if (off % 4 !== 0) {
    throw new BtfExtError(
      'BTF_EXT_BAD_HEADER',
      `BTF.ext: ${spec.desc}_off ${off} at offset ${hex(headerField)} is not a multiple of 4`,
      headerField,
    );
  }
  const start = hdrLen + off;
  const end = start + len;
  if (end > bytes.length) {
    throw new BtfExtError(
      'BTF_EXT_TRUNCATED',
      `BTF.ext: ${spec.desc} (offset ${off}, length ${len}, header offset ${hex(headerField)}) runs past the end of the data (${bytes.length} bytes)`,
      headerField,
    );
  }
  if (len < 4) {
    throw new BtfExtError(
      'BTF_EXT_TRUNCATED',
      `BTF.ext: ${spec.desc} at offset ${hex(start)} is ${len} bytes, too short for its u32 record size`,
      start,
    );
  }
  const recSize = view.getUint32(start, true);
  if (recSize < spec.minRecSize || recSize % 4 !== 0) {
    throw new BtfExtError(
      'BTF_EXT_BAD_RECORD',
      `BTF.ext: ${spec.desc} record size ${recSize} at offset ${hex(start)} must be a multiple of 4 and at least ${spec.minRecSize}`,
      start,
    );
  }
  if (len === 4) {
    throw new BtfExtError(
      'BTF_EXT_BAD_RECORD',
      `BTF.ext: ${spec.desc} at offset ${hex(start)} has a record size but no sections (libbpf rejects this)`,
      start,
    );
  }
  const sections: BtfExtSection<R>[] = [];
  let p = start + 4;
  while (p < end) {
    const left = end - p;
    if (left < 8) {
      throw new BtfExtError(
        'BTF_EXT_TRUNCATED',
        `BTF.ext: ${spec.desc} section header at offset ${hex(p)} needs 8 bytes, ${left} left`,
        p,
      );
    }
    const secNameOff = view.getUint32(p, true);
    const numInfo = view.getUint32(p + 4, true);
    if (numInfo === 0) {
      throw new BtfExtError(
        'BTF_EXT_BAD_RECORD',
        `BTF.ext: ${spec.desc} section at offset ${hex(p)} has num_info 0, expected at least one record`,
        p + 4,
      );
    }
    // Checked before allocating: num_info records must fit in what is left of the subsection.
    if (numInfo * recSize > left - 8) {
      throw new BtfExtError(
        'BTF_EXT_TRUNCATED',
        `BTF.ext: ${spec.desc} section at offset ${hex(p)} declares ${numInfo} records of ${recSize} bytes, but only ${left - 8} bytes are left`,
        p + 4,
      );
    }
    const records: R[] = [];
    let r = p + 8;
    for (let i = 0; i < numInfo; i++) {
      const rec = spec.read(view, r);
      records.push(
        recSize > spec.minRecSize
          ? { ...rec, tail: bytes.slice(r + spec.minRecSize, r + recSize) }
          : rec,
      );
      r += recSize;
    }
    sections.push({ secNameOff, records });
    p = r;
  }
  return { recSize, sections };
}

/**
 * Decodes and validates `.BTF.ext` bytes. With `btf`, also checks that section names, file names,
 * source lines and access strings are inside its string section and func_info type ids are FUNCs.
 */
export function decodeBtfExt(bytes: Uint8Array, btf?: Btf): BtfExt {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8) {
    throw new BtfExtError(
      'BTF_EXT_TRUNCATED',
      `BTF.ext: header at offset 0x0 needs at least 8 bytes (magic to hdr_len), only ${bytes.length} present`,
      0,
    );
  }
  const magic = view.getUint16(0, true);
  if (magic !== BTF_MAGIC) {
    throw new BtfExtError(
      'BTF_EXT_BAD_MAGIC',
      `BTF.ext: magic at offset 0x0 is ${hex(magic)}, expected 0xeb9f (bytes 9f eb, little-endian)`,
      0,
    );
  }
  const version = view.getUint8(2);
  if (version !== 1) {
    throw new BtfExtError(
      'BTF_EXT_UNSUPPORTED',
      `BTF.ext: version at offset 0x2 is ${version}, expected 1`,
      2,
    );
  }
  const flags = view.getUint8(3);
  if (flags !== 0) {
    throw new BtfExtError(
      'BTF_EXT_UNSUPPORTED',
      `BTF.ext: flags at offset 0x3 are ${hex(flags)}, expected 0`,
      3,
    );
  }
  const hdrLen = view.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > bytes.length) {
    throw new BtfExtError(
      'BTF_EXT_BAD_HEADER',
      `BTF.ext: hdr_len at offset 0x4 is ${hdrLen}, expected 24..${bytes.length} (at least through line_info_len, at most the data size)`,
      4,
    );
  }
  if (hdrLen === bytes.length) {
    throw new BtfExtError(
      'BTF_EXT_TRUNCATED',
      `BTF.ext: no data after the ${hdrLen}-byte header`,
      hdrLen,
    );
  }
  const funcInfo = readSubsection(
    bytes,
    view,
    hdrLen,
    view.getUint32(8, true),
    view.getUint32(12, true),
    8,
    FUNC_INFO,
  );
  const lineInfo = readSubsection(
    bytes,
    view,
    hdrLen,
    view.getUint32(16, true),
    view.getUint32(20, true),
    16,
    LINE_INFO,
  );
  const coreRelo =
    hdrLen >= 32
      ? readSubsection(
          bytes,
          view,
          hdrLen,
          view.getUint32(24, true),
          view.getUint32(28, true),
          24,
          CORE_RELO,
        )
      : { recSize: CORE_RELO.minRecSize, sections: [] };
  const ext: BtfExt = { funcInfo, lineInfo, coreRelo };
  if (btf !== undefined) checkBtfExtReferences(ext, btf);
  return ext;
}

/** Checks string offsets and type ids of `ext` against `btf`; throws BTF_EXT_BAD_REFERENCE. */
export function checkBtfExtReferences(ext: BtfExt, btf: Btf): void {
  const str = (off: number, what: string) => {
    if (btf.strings.get(off) === undefined) {
      throw new BtfExtError(
        'BTF_EXT_BAD_REFERENCE',
        `BTF.ext: ${what} string offset ${off} is outside the .BTF string section (${btf.strings.size} bytes)`,
      );
    }
  };
  for (const sub of [ext.funcInfo, ext.lineInfo, ext.coreRelo] as const) {
    for (const sec of sub.sections) str(sec.secNameOff, 'section name');
  }
  for (const sec of ext.funcInfo.sections) {
    for (const r of sec.records) {
      const t = r.typeId >= 1 ? btf.types[r.typeId - 1] : undefined;
      if (t?.kind !== 'func') {
        throw new BtfExtError(
          'BTF_EXT_BAD_REFERENCE',
          `BTF.ext: func_info of section ${JSON.stringify(btf.strings.get(sec.secNameOff))} at insn_off ${r.insnOff} has type id ${r.typeId}, which is not a FUNC`,
        );
      }
    }
  }
  for (const sec of ext.lineInfo.sections) {
    for (const r of sec.records) {
      str(r.fileNameOff, `line_info (insn_off ${r.insnOff}) file name`);
      str(r.lineOff, `line_info (insn_off ${r.insnOff}) line text`);
    }
  }
  for (const sec of ext.coreRelo.sections) {
    for (const r of sec.records) {
      str(r.accessStrOff, `core_relo (insn_off ${r.insnOff}) access`);
      if (r.typeId > btf.typeCount) {
        throw new BtfExtError(
          'BTF_EXT_BAD_REFERENCE',
          `BTF.ext: core_relo at insn_off ${r.insnOff} refers to type id ${r.typeId}, but there are only ${btf.typeCount} types`,
        );
      }
    }
  }
}

/** Instruction index of a byte offset into a program section (8 bytes per instruction slot). */
export function insnIndexOfByteOffset(byteOffset: number): number {
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0) {
    throw new BtfExtError(
      'BTF_EXT_BAD_RECORD',
      `BTF.ext: insn_off ${byteOffset} is not a multiple of 8 (instruction slots are 8 bytes)`,
    );
  }
  return byteOffset / 8;
}

/** func_info and line_info of one program, insn_off converted to instruction indexes, for BPF_PROG_LOAD. */
export interface ProgramBtfExt {
  readonly funcInfoRecSize: number;
  readonly funcInfo: readonly BtfFuncInfo[];
  readonly lineInfoRecSize: number;
  readonly lineInfo: readonly BtfLineInfo[];
}

/**
 * Picks the records of the program occupying bytes `[start, start + size)` of ELF section
 * `sectionName` and rewrites their `insn_off` from section byte offsets to instruction indexes
 * relative to the program start, as libbpf does before BPF_PROG_LOAD.
 */
export function programBtfExt(
  ext: BtfExt,
  btf: Btf,
  sectionName: string,
  start: number,
  size: number,
): ProgramBtfExt {
  const pick = <R extends { readonly insnOff: number }>(info: BtfExtInfo<R>): R[] => {
    const out: R[] = [];
    for (const sec of info.sections) {
      if (btf.strings.get(sec.secNameOff) !== sectionName) continue;
      for (const r of sec.records) {
        if (r.insnOff < start || r.insnOff >= start + size) continue;
        out.push({ ...r, insnOff: insnIndexOfByteOffset(r.insnOff - start) });
      }
    }
    return out;
  };
  return {
    funcInfoRecSize: ext.funcInfo.recSize,
    funcInfo: pick(ext.funcInfo),
    lineInfoRecSize: ext.lineInfo.recSize,
    lineInfo: pick(ext.lineInfo),
  };
}

/** A line-info record with its strings looked up: file, source text, line and column. */
export interface SourcePosition {
  readonly file: string;
  readonly text: string;
  readonly line: number;
  readonly col: number;
}

/** Looks up the file name and source text of a line-info record in `btf`. */
export function describeLineInfo(btf: Btf, rec: BtfLineInfo): SourcePosition {
  return {
    file: btf.str(rec.fileNameOff),
    text: btf.str(rec.lineOff),
    line: rec.line,
    col: rec.col,
  };
}
