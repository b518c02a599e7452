/**
 * Text dump of decoded BTF in the raw format of `bpftool btf dump file X` (bpftool 7.1), so that our
 * decoding can be compared with bpftool's line by line:
 *
 *     [1] PTR '(anon)' type_id=3
 *     [2] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED
 *     [6] STRUCT 'sock_key' size=20 vlen=7
 *     	'sip4' type_id=7 bits_offset=0
 *
 * Member, value, parameter and variable lines start with a tab. Like bpftool, a name prints as
 * `(anon)` only when its name_off is 0 (read from the record bytes), so a non-zero offset of an
 * empty string prints `''`.
 */
import { match } from 'ts-pattern';
import type { Btf } from './btf.js';
import type { BtfType } from './btf-types.js';

/** Quotes `name` as bpftool does; `(anon)` when the name_off u32 at byte `at` of the BTF is 0. */
function quotedAt(btf: Btf, at: number, name: string): string {
  const view = new DataView(btf.bytes.buffer, btf.bytes.byteOffset, btf.bytes.byteLength);
  return view.getUint32(at, true) === 0 ? "'(anon)'" : `'${name}'`;
}

/** The bpftool raw dump line(s) of type `id` of `btf`, without a trailing newline. */
export function formatBtfType(btf: Btf, id: number): string {
  const t = btf.type(id);
  const rec = btf.recordOffset(id);
  const head = `[${id}] ${t.kind.toUpperCase()} ${quotedAt(btf, rec, t.name)}`;
  return head + formatBody(btf, t, rec + 12);
}

/** `data` is the byte offset of the record's kind-specific data (after the 12-byte header). */
function formatBody(btf: Btf, t: BtfType, data: number): string {
  const quoted = (entrySize: number, i: number, name: string) =>
    quotedAt(btf, data + entrySize * i, name);
  return match(t)
    .with(
      { kind: 'int' },
      (x) =>
        ` size=${x.size} bits_offset=${x.bitOffset} nr_bits=${x.bits} encoding=${x.encoding === 'none' ? '(none)' : x.encoding.toUpperCase()}`,
    )
    .with(
      { kind: 'ptr' },
      { kind: 'const' },
      { kind: 'volatile' },
      { kind: 'restrict' },
      { kind: 'typedef' },
      { kind: 'type_tag' },
      (x) => ` type_id=${x.type}`,
    )
    .with(
      { kind: 'array' },
      (x) => ` type_id=${x.type} index_type_id=${x.indexType} nr_elems=${x.nelems}`,
    )
    .with({ kind: 'struct' }, { kind: 'union' }, (x) => {
      let s = ` size=${x.size} vlen=${x.members.length}`;
      for (const [i, m] of x.members.entries()) {
        s += `\n\t${quoted(12, i, m.name)} type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitSize !== 0) s += ` bitfield_size=${m.bitSize}`;
      }
      return s;
    })
    .with({ kind: 'enum' }, (x) => {
      let s = ` encoding=${x.signed ? 'SIGNED' : 'UNSIGNED'} size=${x.size} vlen=${x.values.length}`;
      for (const [i, v] of x.values.entries()) s += `\n\t${quoted(8, i, v.name)} val=${v.value}`;
      return s;
    })
    .with({ kind: 'enum64' }, (x) => {
      let s = ` encoding=${x.signed ? 'SIGNED' : 'UNSIGNED'} size=${x.size} vlen=${x.values.length}`;
      for (const [i, v] of x.values.entries()) {
        s += `\n\t${quoted(12, i, v.name)} val=${v.value}${x.signed ? 'LL' : 'ULL'}`;
      }
      return s;
    })
    .with({ kind: 'fwd' }, (x) => ` fwd_kind=${x.union ? 'union' : 'struct'}`)
    .with({ kind: 'func' }, (x) => ` type_id=${x.type} linkage=${x.linkage}`)
    .with({ kind: 'func_proto' }, (x) => {
      let s = ` ret_type_id=${x.returnType} vlen=${x.params.length}`;
      for (const [i, p] of x.params.entries()) s += `\n\t${quoted(8, i, p.name)} type_id=${p.type}`;
      return s;
    })
    .with({ kind: 'var' }, (x) => ` type_id=${x.type}, linkage=${x.linkage}`)
    .with({ kind: 'datasec' }, (x) => {
      let s = ` size=${x.size} vlen=${x.vars.length}`;
      for (const v of x.vars) {
        const vt = btf.type(v.type);
        const vtName = quotedAt(btf, btf.recordOffset(v.type), vt.name);
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${vt.kind.toUpperCase()} ${vtName})`;
      }
      return s;
    })
    .with({ kind: 'float' }, (x) => ` size=${x.size}`)
    .with({ kind: 'decl_tag' }, (x) => ` type_id=${x.type} component_idx=${x.componentIdx}`)
    .exhaustive();
}

/** The whole BTF in bpftool's raw dump format, one type after another, ending in a newline. */
export function dumpBtf(btf: Btf): string {
  let out = '';
  for (let id = 1; id <= btf.typeCount; id++) out += `${formatBtfType(btf, id)}\n`;
  return out;
}
