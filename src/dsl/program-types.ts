/**
 * The program types the DSL builds, with what each implies: the ELF section name libbpf maps to
 * the type, the context struct, and the return values the verifier accepts.
 */
import { SK_MSG_CTX, SOCK_OPS_CTX } from './ctx.js';

/** Facts about one program type. */
export interface ProgramTypeInfo {
  /** ELF section name; libbpf derives prog_type and expected_attach_type from it (exact match). */
  readonly section: string;
  /** BPF_PROG_TYPE_* number. */
  readonly progType: number;
  /** BPF_* expected attach type libbpf uses for the section. */
  readonly attachType: number;
  /** The context struct in r1 at entry. */
  readonly ctx: typeof SOCK_OPS_CTX | typeof SK_MSG_CTX;
  /** Inclusive range the verifier requires of r0 at exit, or null when it does not check. */
  readonly returnRange: readonly [number, number] | null;
  /** Kernel version that introduced the program type. */
  readonly since: string;
}

/** The program types, keyed by their libbpf section name. */
export const PROGRAM_TYPES = {
  /** BPF_PROG_TYPE_SOCK_OPS, attached to a cgroup v2 (BPF_CGROUP_SOCK_OPS). */
  sockops: {
    section: 'sockops',
    progType: 13,
    attachType: 3,
    ctx: SOCK_OPS_CTX,
    returnRange: [0, 1],
    since: '4.13',
  },
  /** BPF_PROG_TYPE_SK_MSG, attached to a SOCKMAP/SOCKHASH (BPF_SK_MSG_VERDICT); returns SK_PASS 1 / SK_DROP 0. */
  sk_msg: {
    section: 'sk_msg',
    progType: 16,
    attachType: 7,
    ctx: SK_MSG_CTX,
    returnRange: null,
    since: '4.17',
  },
} as const satisfies Record<string, ProgramTypeInfo>;

/** Name of a program type the DSL builds (its libbpf section name). */
export type ProgramTypeName = keyof typeof PROGRAM_TYPES;

/** The context schema of a program type. */
export type CtxOf<P extends ProgramTypeName> = (typeof PROGRAM_TYPES)[P]['ctx'];

/** BPF_SOCK_OPS_* callback numbers (the `op` field of bpf_sock_ops). */
export { SockOpsOp } from '../asm/uapi.js';

/** sk_msg verdicts. */
export const SkAction = { DROP: 0, PASS: 1 } as const;

/** Address families as they appear in the `family` ctx fields. */
export const AddressFamily = { INET: 2, INET6: 10 } as const;

/** Flags of map updates (BPF_ANY / BPF_NOEXIST / BPF_EXIST) and of msg/sk redirects. */
export const BpfFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, F_INGRESS: 1 } as const;
