/**
 * Kernel ABI numbers the loader speaks: bpf(2) commands, program, map and attach types, flags.
 * Values are the kernel's UAPI `enum bpf_cmd`, `enum bpf_prog_type`, `enum bpf_map_type` and
 * `enum bpf_attach_type` (include/uapi/linux/bpf.h), checked against shared/spec/elf-btf-bpf.md §4.
 * Only what the loader uses or reports is listed; unknown numbers are still accepted everywhere
 * (the kernel is the judge), they just print as numbers.
 */

/** bpf(2) command numbers (`enum bpf_cmd`). */
export const BpfCmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  BTF_LOAD: 18,
  LINK_CREATE: 28,
  LINK_DETACH: 34,
} as const;

/** Name of a bpf(2) command we issue, e.g. `'PROG_LOAD'`. */
export type BpfCommandName = keyof typeof BpfCmd;

/** The name of a command number (for messages); unknown numbers print as `cmd N`. */
export function commandName(cmd: number): string {
  for (const [name, value] of Object.entries(BpfCmd)) if (value === cmd) return name;
  return `cmd ${cmd}`;
}

/** Program types (`enum bpf_prog_type`). */
export const ProgType = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  CGROUP_SOCK: 9,
  LWT_IN: 10,
  LWT_OUT: 11,
  LWT_XMIT: 12,
  SOCK_OPS: 13,
  SK_SKB: 14,
  CGROUP_DEVICE: 15,
  SK_MSG: 16,
  RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18,
  LWT_SEG6LOCAL: 19,
  LIRC_MODE2: 20,
  SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22,
  CGROUP_SYSCTL: 23,
  RAW_TRACEPOINT_WRITABLE: 24,
  CGROUP_SOCKOPT: 25,
  TRACING: 26,
  STRUCT_OPS: 27,
  EXT: 28,
  LSM: 29,
  SK_LOOKUP: 30,
  SYSCALL: 31,
  NETFILTER: 32,
} as const;

/** Map types (`enum bpf_map_type`). */
export const MapType = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;

/** Attach types (`enum bpf_attach_type`), the ones a sockops/sk_msg loader meets. */
export const AttachType = {
  CGROUP_INET_INGRESS: 0,
  CGROUP_INET_EGRESS: 1,
  CGROUP_INET_SOCK_CREATE: 2,
  CGROUP_SOCK_OPS: 3,
  SK_SKB_STREAM_PARSER: 4,
  SK_SKB_STREAM_VERDICT: 5,
  CGROUP_DEVICE: 6,
  SK_MSG_VERDICT: 7,
  CGROUP_INET4_BIND: 8,
  CGROUP_INET6_BIND: 9,
  CGROUP_INET4_CONNECT: 10,
  CGROUP_INET6_CONNECT: 11,
  SK_SKB_VERDICT: 38,
} as const;

/** Flags of PROG_ATTACH / LINK_CREATE for cgroup programs. */
export const AttachFlags = {
  /** Another program may replace this one in a descendant cgroup. */
  ALLOW_OVERRIDE: 1,
  /** Several programs run in this cgroup, in attach order. */
  ALLOW_MULTI: 2,
  /** Replace `replace_bpf_fd` atomically (with ALLOW_MULTI). */
  REPLACE: 4,
} as const;

/** MAP_UPDATE_ELEM flags. */
export const UpdateFlags = {
  /** Create or replace. */
  ANY: 0,
  /** Create only; EEXIST if the key exists. */
  NOEXIST: 1,
  /** Replace only; ENOENT if the key does not exist. */
  EXIST: 2,
} as const;

/** PROG_LOAD log_level bits. */
export const LogLevel = {
  /** Instructions and states at branch points. */
  LEVEL1: 1,
  /** Every instruction with its full register state (very verbose). */
  LEVEL2: 2,
  /** Verification statistics only. */
  STATS: 4,
} as const;

/** OBJ_GET file flags. */
export const ObjFlags = { RDONLY: 8, WRONLY: 16 } as const;

/** PROG_QUERY query_flags: report the programs that run for the cgroup, inherited ones included. */
export const QUERY_EFFECTIVE = 1;

/** The key of a program, map or attach type number in one of the tables above, or `type N`. */
export function nameOf(table: Readonly<Record<string, number>>, value: number): string {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return `type ${value}`;
}
