/**
 * A hand-assembled socket-redirect object, built directly from Insn values (no DSL): the sock_ops
 * program records ACTIVE/PASSIVE_ESTABLISHED sockets in a SOCKHASH under their 5-tuple key
 * (sock_hash_update, helper 70), the sk_msg program redirects each message to the peer socket
 * (msg_redirect_hash, helper 71). Line info points into a pseudo-C "source" describing each step.
 */
import fc from 'fast-check';
import type { Insn, Reg, Size } from '../../src/asm/insn.js';
import type {
  BtfTypeSpec,
  MapSpec,
  ObjectSpec,
  ProgramSpec,
  SourceLine,
} from '../../src/asm/object-spec.js';
import { arbInsn } from './arbitraries.js';

const mov = (dst: Reg, src: Reg): Insn => ({
  kind: 'alu',
  width: 64,
  op: 'mov',
  dst,
  src: { reg: src },
});
const movImm = (dst: Reg, imm: number): Insn => ({
  kind: 'alu',
  width: 64,
  op: 'mov',
  dst,
  src: { imm },
});
const addImm = (dst: Reg, imm: number): Insn => ({
  kind: 'alu',
  width: 64,
  op: 'add',
  dst,
  src: { imm },
});
const rshImm = (dst: Reg, imm: number): Insn => ({
  kind: 'alu',
  width: 64,
  op: 'rsh',
  dst,
  src: { imm },
});
const be16 = (dst: Reg): Insn => ({ kind: 'endian', order: 'be', bits: 16, dst });
const ldx = (size: Size, dst: Reg, src: Reg, off: number): Insn => ({
  kind: 'ldx',
  size,
  signed: false,
  dst,
  src,
  off,
});
const stx = (size: Size, dst: Reg, off: number, src: Reg): Insn => ({
  kind: 'stx',
  size,
  dst,
  src,
  off,
});
const mapAddress = (dst: Reg): Insn => ({ kind: 'ld_imm64', pseudo: 'imm64', dst, imm: 0n });
const call = (helper: number): Insn => ({ kind: 'call', target: 'helper', imm: helper, off: 0 });
const exit: Insn = { kind: 'exit' };

const u32: BtfTypeSpec = {
  kind: 'typedef',
  name: '__u32',
  target: { kind: 'int', name: 'unsigned int', size: 4, signed: false },
};
const u16: BtfTypeSpec = {
  kind: 'typedef',
  name: '__u16',
  target: { kind: 'int', name: 'unsigned short', size: 2, signed: false },
};
const u8: BtfTypeSpec = {
  kind: 'typedef',
  name: '__u8',
  target: { kind: 'int', name: 'unsigned char', size: 1, signed: false },
};

/** `struct sock_key`, 20 bytes: the 5-tuple key of the SOCKHASH (same layout as the clang fixture). */
export const SOCK_KEY: BtfTypeSpec = {
  kind: 'struct',
  name: 'sock_key',
  size: 20,
  members: [
    { name: 'sip4', type: u32, bitOffset: 0 },
    { name: 'dip4', type: u32, bitOffset: 32 },
    { name: 'family', type: u8, bitOffset: 64 },
    { name: 'pad1', type: u8, bitOffset: 72 },
    { name: 'pad2', type: u16, bitOffset: 80 },
    { name: 'sport', type: u32, bitOffset: 96 },
    { name: 'dport', type: u32, bitOffset: 128 },
  ],
};

/** The pseudo-C file name carried in line info. */
export const SAMPLE_FILE = 'sock_redirect.c';

/** Zeroes the 20-byte key at r10-24 (u64, u64, u32) using r2 = 0. */
const zeroKey: Insn[] = [
  movImm(2, 0),
  stx('dw', 10, -24, 2),
  stx('dw', 10, -16, 2),
  stx('w', 10, -8, 2),
];

/**
 * sock_ops: on op 4 (ACTIVE_ESTABLISHED) or 5 (PASSIVE_ESTABLISHED) store the socket under
 * {local ip, remote ip, family 1, local port, remote port}; always return 0.
 */
export const SOCKOPS_INSNS: readonly Insn[] = [
  /* 0 */ mov(6, 1),
  /* 1 */ ldx('w', 2, 6, 0),
  /* 2 */ { kind: 'jump', width: 64, op: 'jeq', dst: 2, src: { imm: 4 }, off: 1 },
  /* 3 */ { kind: 'jump', width: 64, op: 'jne', dst: 2, src: { imm: 5 }, off: 23 },
  /* 4 */ ...zeroKey,
  /* 8 */ ldx('w', 2, 6, 28),
  /* 9 */ stx('w', 10, -24, 2),
  /* 10 */ ldx('w', 2, 6, 24),
  /* 11 */ stx('w', 10, -20, 2),
  /* 12 */ movImm(2, 1),
  /* 13 */ stx('b', 10, -16, 2),
  /* 14 */ ldx('w', 2, 6, 68),
  /* 15 */ be16(2),
  /* 16 */ stx('w', 10, -12, 2),
  /* 17 */ ldx('w', 2, 6, 64),
  /* 18 */ rshImm(2, 16),
  /* 19 */ stx('w', 10, -8, 2),
  /* 20 */ mov(1, 6),
  /* 21 */ mapAddress(2),
  /* 22 */ mov(3, 10),
  /* 23 */ addImm(3, -24),
  /* 24 */ movImm(4, 0),
  /* 25 */ call(70),
  /* 26 */ movImm(0, 0),
  /* 27 */ exit,
];

/** sk_msg: redirect to the socket stored under the mirrored key; return msg_redirect_hash's verdict. */
export const SK_MSG_INSNS: readonly Insn[] = [
  /* 0 */ mov(6, 1),
  /* 1 */ ...zeroKey,
  /* 5 */ ldx('w', 2, 6, 20),
  /* 6 */ stx('w', 10, -24, 2),
  /* 7 */ ldx('w', 2, 6, 24),
  /* 8 */ stx('w', 10, -20, 2),
  /* 9 */ movImm(2, 1),
  /* 10 */ stx('b', 10, -16, 2),
  /* 11 */ ldx('w', 2, 6, 60),
  /* 12 */ rshImm(2, 16),
  /* 13 */ stx('w', 10, -12, 2),
  /* 14 */ ldx('w', 2, 6, 64),
  /* 15 */ be16(2),
  /* 16 */ stx('w', 10, -8, 2),
  /* 17 */ mov(1, 6),
  /* 18 */ mapAddress(2),
  /* 19 */ mov(3, 10),
  /* 20 */ addImm(3, -24),
  /* 21 */ movImm(4, 1),
  /* 22 */ call(71),
  /* 23 */ exit,
];

const line = (insn: number, lineNo: number, col: number, text: string): SourceLine => ({
  insn,
  file: SAMPLE_FILE,
  line: lineNo,
  col,
  text,
});

/** Line info of the sock_ops program (lines 10-19 of the pseudo source). */
export const SOCKOPS_LINES: readonly SourceLine[] = [
  line(0, 10, 1, 'int bpf_sockops(struct bpf_sock_ops *skops) {'),
  line(1, 11, 5, '    if (skops->op != 4 && skops->op != 5) return 0;'),
  line(4, 12, 5, '    struct sock_key key = {};'),
  line(8, 13, 5, '    key.sip4 = skops->local_ip4;'),
  line(10, 14, 5, '    key.dip4 = skops->remote_ip4;'),
  line(12, 15, 5, '    key.family = 1;'),
  line(14, 16, 5, '    key.sport = bpf_htons(skops->local_port);'),
  line(17, 17, 5, '    key.dport = skops->remote_port >> 16;'),
  line(20, 18, 5, '    bpf_sock_hash_update(skops, &sock_ops_map, &key, BPF_ANY);'),
  line(26, 19, 5, '    return 0;'),
];

/** Line info of the sk_msg program (lines 30-37 of the pseudo source). */
export const SK_MSG_LINES: readonly SourceLine[] = [
  line(0, 30, 1, 'int bpf_redir(struct sk_msg_md *msg) {'),
  line(1, 31, 5, '    struct sock_key key = {};'),
  line(5, 32, 5, '    key.sip4 = msg->remote_ip4;'),
  line(7, 33, 5, '    key.dip4 = msg->local_ip4;'),
  line(9, 34, 5, '    key.family = 1;'),
  line(11, 35, 5, '    key.sport = msg->remote_port >> 16;'),
  line(14, 36, 5, '    key.dport = bpf_htons(msg->local_port);'),
  line(17, 37, 12, '    return bpf_msg_redirect_hash(msg, &sock_ops_map, &key, BPF_F_INGRESS);'),
];

/** The whole object: two programs, one SOCKHASH (type 18) keyed by `struct sock_key`. */
export function sockRedirectSpec(): ObjectSpec {
  return {
    license: 'Dual BSD/GPL',
    maps: [{ name: 'sock_ops_map', type: 18, key: SOCK_KEY, value: 4, maxEntries: 65535 }],
    programs: [
      {
        name: 'bpf_sockops',
        section: 'sockops',
        insns: SOCKOPS_INSNS,
        mapRefs: [{ insn: 21, map: 'sock_ops_map' }],
        lines: SOCKOPS_LINES,
        ctxType: { kind: 'fwd', name: 'bpf_sock_ops', union: false },
        ctxName: 'skops',
      },
      {
        name: 'bpf_redir',
        section: 'sk_msg',
        insns: SK_MSG_INSNS,
        mapRefs: [{ insn: 18, map: 'sock_ops_map' }],
        lines: SK_MSG_LINES,
        ctxType: { kind: 'fwd', name: 'sk_msg_md', union: false },
        ctxName: 'msg',
      },
    ],
  };
}

/** Maps of the random objects: a HASH, an ARRAY and a SOCKHASH with a struct key. */
export const SAMPLE_MAPS: readonly MapSpec[] = [
  { name: 'm0', type: 1, key: 4, value: 8, maxEntries: 1 },
  { name: 'm1', type: 2, key: 4, value: 8, maxEntries: 2, flags: 1024 },
  { name: 'm2', type: 18, key: SOCK_KEY, value: 4, maxEntries: 3, pinning: 'by_name' },
];

/** A map reference site: the plain `ld_imm64 imm 0` the loader patches. */
const mapSite: Insn = { kind: 'ld_imm64', pseudo: 'imm64', dst: 1, imm: 0n };

/**
 * Random programs for object round trips: 1-4 programs named p0.. in three sections (so sections
 * are shared), bodies of any instruction of the ISA plus map reference sites, an exit, and line
 * info on every n-th instruction (or none).
 */
export const arbProgramSpecs: fc.Arbitrary<ProgramSpec[]> = fc
  .integer({ min: 1, max: 4 })
  .chain((n) =>
    fc.tuple(
      ...Array.from({ length: n }, (_, index) =>
        fc
          .record({
            section: fc.constantFrom('sockops', 'sk_msg', 'xdp'),
            body: fc.array(
              fc.oneof(
                { arbitrary: arbInsn, weight: 4 },
                { arbitrary: fc.constant(mapSite), weight: 1 },
              ),
              {
                minLength: 1,
                maxLength: 30,
              },
            ),
            lineEvery: fc.integer({ min: 1, max: 5 }),
            withLines: fc.boolean(),
            mapPick: fc.nat(),
          })
          .map(({ section, body, lineEvery, withLines, mapPick }): ProgramSpec => {
            const insns: Insn[] = [...body, { kind: 'exit' }];
            const mapRefs = insns.flatMap((insn, i) =>
              insn === mapSite
                ? [{ insn: i, map: SAMPLE_MAPS[(mapPick + i) % SAMPLE_MAPS.length]?.name ?? 'm0' }]
                : [],
            );
            const lines: SourceLine[] = withLines
              ? insns.flatMap((_, i) =>
                  i % lineEvery === 0
                    ? [
                        {
                          insn: i,
                          file: `src/p${index}.ts`,
                          line: 10 + i,
                          col: (i % 80) + 1,
                          text: `step ${i} of p${index}`,
                        },
                      ]
                    : [],
                )
              : [];
            return { name: `p${index}`, section, insns, mapRefs, lines };
          }),
      ),
    ),
  );
